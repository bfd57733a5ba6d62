// `oomwarden restore`: gives back the original oom_kill_disable of every cgroup a daemon took over
// and could not restore itself (it was killed by SIGKILL, or the machine lost power mid-way).
// Meant for systemd's ExecStopPost=, or by hand; a running daemon's cgroups are left alone.

import { readFileSync } from "node:fs";
import { createLinuxHost } from "../host/linux/linux-host.js";
import { limitBlockedByUsage } from "../engine/soft-limit.js";
import { FileLedger } from "./file-ledger.js";
import { defaultStateDir, ledgerPathIn } from "./paths.js";

export function runRestore(options: { stateDir: string | null }, out: (line: string) => void): number {
  const path = ledgerPathIn(options.stateDir ?? defaultStateDir());
  let problems = 0;
  const ledger = new FileLedger(path, (message) => {
    problems++;
    out(message);
  });
  const entries = Object.entries(ledger.all());
  const limits = Object.entries(ledger.allLimits());
  if (entries.length === 0 && limits.length === 0) {
    out(`nothing to restore (${path} lists no cgroup)`);
    return problems > 0 ? 1 : 0;
  }
  if (ledger.ownerPid !== null && ledger.ownerPid !== process.pid && isRunningOomwarden(ledger.ownerPid)) {
    out(`oomwarden (pid ${ledger.ownerPid}) is still running and manages these cgroups; stop it instead (it restores them itself)`);
    return 1;
  }
  const host = createLinuxHost();
  for (const [cgroup, original] of entries) {
    const ref = host.resolveCgroup(cgroup);
    if (!ref.ok) {
      // A removed cgroup has nothing left to restore.
      out(`${cgroup}: ${ref.error.message}; forgotten`);
      ledger.forget(cgroup);
      continue;
    }
    const restored = host.restoreOom(ref.value, { previousOomKillDisable: original, notes: [] });
    if (restored.ok) {
      ledger.forget(cgroup);
      out(`${cgroup}: oom_kill_disable restored to ${original ? 1 : 0}`);
    } else {
      problems++;
      out(`${cgroup}: ${restored.error.message}`);
    }
  }
  for (const [cgroup, original] of limits) {
    const ref = host.resolveCgroup(cgroup);
    if (!ref.ok) {
      out(`${cgroup}: ${ref.error.message}; forgotten`);
      ledger.forgetLimit(cgroup);
      continue;
    }
    const blocked = limitBlockedByUsage(ref.value, host, original);
    if (blocked !== null) {
      problems++;
      out(`${cgroup}: ${blocked}`);
      continue;
    }
    const restored = host.setMemoryLimit(ref.value, original);
    if (restored.ok) {
      ledger.forgetLimit(cgroup);
      out(`${cgroup}: memory limit restored to ${original === null ? "none" : `${original} bytes`} (soft-limit mode had raised it)`);
    } else {
      problems++;
      out(`${cgroup}: ${restored.error.message}`);
    }
  }
  return problems > 0 ? 1 : 0;
}

function isRunningOomwarden(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("oomwarden") || readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("cli/main.js");
  } catch {
    return false;
  }
}
