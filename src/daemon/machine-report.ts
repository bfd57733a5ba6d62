// The built-in default's report: the machine's memory, the cgroups this user could manage, and how.

import type { LinuxHost } from "../host/linux/linux-host.js";

const GIB = 1024 ** 3;
const MAX_LISTED = 20;

export function describeMachine(host: LinuxHost, uid: number = process.getuid?.() ?? 0): string[] {
  const lines: string[] = [];
  const memory = host.readMachineMemory();
  if (memory.ok) {
    const m = memory.value;
    lines.push(
      `memory: ${(m.availableBytes / GIB).toFixed(1)} GiB available of ${(m.totalBytes / GIB).toFixed(1)} GiB; ` +
        `swap: ${(m.swapFreeBytes / GIB).toFixed(1)} GiB free of ${(m.swapTotalBytes / GIB).toFixed(1)} GiB`,
    );
  } else {
    lines.push(`memory: unknown (${memory.error.message})`);
  }
  const found = host.listMemoryCgroups();
  // Offering a cgroup whose takeover would fail with EACCES would only send the user into that error.
  const cgroups = found.filter((c) => c.writable);
  const who = uid === 0 ? "" : ` by uid ${uid}`;
  if (found.length === 0) {
    lines.push("no memory cgroups below the cgroup roots that could be managed");
  } else if (cgroups.length === 0) {
    lines.push(
      `none of the ${found.length} memory cgroups here can be managed${who}: taking one over writes its memory.oom_control (v1) or needs it delegated to this user (v2); run oomwarden as root`,
    );
  } else {
    const ofAll = cgroups.length < found.length ? ` of ${found.length}` : "";
    lines.push(`memory cgroups that could be managed${who} (${cgroups.length}${ofAll}):`);
    for (const c of cgroups.slice(0, MAX_LISTED)) {
      const limit = c.limitBytes === null ? "no limit" : `limit ${(c.limitBytes / 1024 ** 2).toFixed(0)} MiB`;
      lines.push(`  ${c.path}  (v${c.version}, ${(c.usageBytes / 1024 ** 2).toFixed(0)} MiB used, ${limit})`);
    }
    if (cgroups.length > MAX_LISTED) lines.push(`  ... and ${cgroups.length - MAX_LISTED} more`);
  }
  lines.push(`nothing is managed yet; to manage a cgroup: oomwarden run --cgroup ${exampleCgroupPath(host)} (repeatable), or list it under \`cgroups:\` in a --config file`);
  lines.push("observing machine memory; stop with Ctrl-C or SIGTERM");
  return lines;
}

/**
 * Where this machine's memory cgroups are: the v1 memory hierarchy where the controller is bound
 * there, else the v2 hierarchy (a machine that has left v1 must not be shown a v1 path).
 */
function exampleCgroupPath(host: LinuxHost): string {
  const mounts = host.mounts;
  if (mounts.v1Memory !== null) return `${mounts.v1Memory}/NAME`;
  if (mounts.v2 !== null) return `${mounts.v2}/NAME (a v2 cgroup with memory.max; NAME=SIZE for one without)`;
  return "/sys/fs/cgroup/NAME";
}
