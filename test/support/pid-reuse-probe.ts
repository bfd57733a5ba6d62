// Run as pid 1 of a fresh pid namespace with its own /proc (`unshare --pid --fork --mount-proc
// node pid-reuse-probe.js`, see test/host/process-table-host.test.ts): there ns_last_pid can be
// set, so a pid is given to a second process on demand. It lists a `sleep` through a process
// table, keeps a raw fd of its /proc/PID/stat, kills it, starts another `sleep` on the same pid,
// reads the old fd and lists again. Prints one JSON line; everything it started dies with it.

import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { nodeLinuxFs } from "../../src/host/linux/linux-fs.js";
import { noCgroupPreference } from "../../src/host/linux/process-details.js";
import { ProcessTable } from "../../src/host/linux/process-table.js";

const listing = { skipKernelThreads: true, refreshStaleDetails: false, within: null };

async function startSleep(seconds: string): Promise<ChildProcess & { pid: number }> {
  const child = spawn("sleep", [seconds], { stdio: "ignore" });
  if (child.pid === undefined) throw new Error("sleep did not start");
  // Until exec, /proc/PID/cmdline is node's own.
  for (let i = 0; i < 400 && !readFileSync(`/proc/${child.pid}/cmdline`, "utf8").startsWith("sleep"); i++) await new Promise((r) => setTimeout(r, 5));
  return child as ChildProcess & { pid: number };
}

async function main(): Promise<void> {
  const table = new ProcessTable({ procRoot: "/proc", fs: nodeLinuxFs, now: () => performance.now(), clockTicksPerSecond: 100, maxKeptFds: 4096, hierarchy: "v2", cgroupPreference: noCgroupPreference });
  const first = await startSleep("1001");
  const pid = first.pid;
  const before = table.list([pid], listing).samples[0];
  const rawFd = nodeLinuxFs.openFile(`/proc/${pid}/stat`);
  if (!rawFd.ok) throw new Error(rawFd.error.message);
  const exited = new Promise((resolve) => first.once("exit", resolve));
  first.kill("SIGKILL");
  await exited;
  // The next pid handed out is ns_last_pid + 1.
  writeFileSync("/proc/sys/kernel/ns_last_pid", String(pid - 1));
  const second = await startSleep("1002");
  const oldFd = nodeLinuxFs.readOpenFile(rawFd.value);
  const after = table.list([pid], listing).samples[0];
  process.stdout.write(
    `${JSON.stringify({
      pid,
      secondPid: second.pid,
      oldFdRead: oldFd.ok ? "read" : oldFd.error.code,
      before: before && { startTimeTicks: before.startTimeTicks, cmdline: before.details?.cmdline },
      after: after && { startTimeTicks: after.startTimeTicks, cmdline: after.details?.cmdline },
      keptFds: table.keptFds,
    })}\n`,
  );
  second.kill("SIGKILL");
}

// `npm test` runs every file under test/ as a test file, this one too: outside its own pid
// namespace (where it is pid 1) it does nothing, and never sets the machine's ns_last_pid.
if (process.pid === 1) {
  main().catch((error: unknown) => {
    process.stdout.write(`${JSON.stringify({ error: String(error) })}\n`);
    process.exitCode = 1;
  });
}
