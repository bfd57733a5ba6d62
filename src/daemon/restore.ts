// `oomwarden restore`: gives back the original oom_kill_disable of every cgroup a daemon took over
// and could not restore itself (it was killed by SIGKILL, or the machine lost power mid-way).
// Meant for systemd's ExecStopPost=, or by hand; a running daemon's cgroups are left alone.

import { readFileSync } from "node:fs";
import { createLinuxHost } from "../host/linux/linux-host.js";
import type { CgroupRef } from "../engine/host.js";
import { giveBackRaisedLimit } from "../engine/soft-limit.js";
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
  /** A removed cgroup has nothing left to restore: it is forgotten. */
  const each = (cgroups: string[], forget: (cgroup: string) => void, restore: (ref: CgroupRef, cgroup: string) => { ok: boolean; message: string }): void => {
    for (const cgroup of cgroups) {
      const ref = host.resolveCgroup(cgroup);
      if (!ref.ok) {
        out(`${cgroup}: ${ref.error.message}; forgotten`);
        forget(cgroup);
        continue;
      }
      const done = restore(ref.value, cgroup);
      if (!done.ok) problems++;
      out(`${cgroup}: ${done.message}`);
    }
  };
  each(
    entries.map(([cgroup]) => cgroup),
    (cgroup) => ledger.forget(cgroup),
    (ref, cgroup) => {
      const original = ledger.recall(cgroup) ?? false;
      const restored = host.restoreOom(ref, { previousOomKillDisable: original, notes: [] });
      if (!restored.ok) return { ok: false, message: restored.error.message };
      ledger.forget(cgroup);
      return { ok: true, message: `oom_kill_disable restored to ${original ? 1 : 0}` };
    },
  );
  each(
    limits.map(([cgroup]) => cgroup),
    (cgroup) => ledger.forgetLimit(cgroup),
    (ref, cgroup) => {
      const original = ledger.recallLimit(cgroup);
      const given = giveBackRaisedLimit(ref, host, ledger);
      if (given === null || !given.ok) return given ?? { ok: true, message: "nothing to restore" };
      return { ok: true, message: `memory limit restored to ${original === null ? "none" : `${original} bytes`} (soft-limit mode had raised it)` };
    },
  );
  return problems > 0 ? 1 : 0;
}

function isRunningOomwarden(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("oomwarden") || readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("cli/main.js");
  } catch {
    return false;
  }
}
