// `oomwarden restore`: gives back the original oom_kill_disable (and soft-limit mode's original
// limit) of every cgroup a daemon took over and could not restore itself (it was killed by
// SIGKILL, or the machine lost power mid-way). Meant for systemd's ExecStopPost=, or by hand.
// Whether a daemon still owns these cgroups is the state directory's lock, not any pid: restore
// takes that lock itself, so it refuses while a daemon holds it, and no daemon starts mid-way.

import { createLinuxHost } from "../host/linux/linux-host.js";
import type { CgroupRef } from "../engine/host.js";
import { giveBackRaisedLimit } from "../engine/soft-limit.js";
import { FileLedger } from "./file-ledger.js";
import { defaultStateDir, ledgerPathIn } from "./paths.js";
import { claimStateDir } from "./state-dir-lock.js";

export function runRestore(options: { stateDir: string | null }, out: (line: string) => void): number {
  const stateDir = options.stateDir ?? defaultStateDir();
  const owner = claimStateDir(stateDir, "restore");
  if (owner.kind === "held") {
    out(
      owner.command === "restore"
        ? `${owner.holder} is restoring from the state directory ${stateDir} now; nothing was done here`
        : `${owner.holder} holds the state directory ${stateDir}: it manages the cgroups listed there and restores them itself when it stops; stop it instead`,
    );
    return 1;
  }
  if (owner.kind === "failed") {
    out(`${owner.message}; nothing was restored, since without the lock a daemon could be using these cgroups`);
    return 1;
  }
  // "absent": no state directory, so no ledger either, and nobody can hold it.
  try {
    return restoreFrom(ledgerPathIn(stateDir), out);
  } finally {
    if (owner.kind === "owned") owner.release();
  }
}

function restoreFrom(path: string, out: (line: string) => void): number {
  let problems = 0;
  const read = FileLedger.readExisting(path, (message) => {
    problems++;
    out(message);
  });
  if (!read.ok) {
    out(`${read.error.message}; nothing was restored: repair the file, or give the cgroups it lists their oom_kill_disable and memory limit back by hand and remove it`);
    return 1;
  }
  const ledger = read.value;
  const entries = Object.keys(ledger.all());
  const limits = Object.keys(ledger.allLimits());
  if (entries.length === 0 && limits.length === 0) {
    out(`nothing to restore (${path} lists no cgroup)`);
    return 0;
  }
  const host = createLinuxHost();
  /**
   * A removed cgroup has nothing left to restore: it is forgotten. Removed means ENOENT inside a
   * mounted memory hierarchy: a path that cannot be resolved for any other reason (the hierarchy
   * not mounted here, no permission, an unreadable mount table) may name a live cgroup, and its
   * original must not be lost. One that a daemon of another state directory manages now is left
   * alone (and stays listed) until that daemon lets it go.
   */
  const each = (cgroups: string[], forget: (cgroup: string) => void, restore: (ref: CgroupRef, cgroup: string) => { ok: boolean; message: string }): void => {
    for (const cgroup of cgroups) {
      const ref = host.resolveCgroup(cgroup);
      if (!ref.ok) {
        if (ref.error.code === "ENOENT") {
          out(`${ref.error.message}: removed, nothing to restore; forgotten`);
          forget(cgroup);
        } else {
          problems++;
          out(`${ref.error.message}; not restored, still listed`);
        }
        continue;
      }
      const claim = host.claimCgroup(ref.value);
      if (!claim.ok) {
        problems++;
        out(`${cgroup}: ${claim.error.message}; not restored, still listed`);
        continue;
      }
      try {
        const done = restore(ref.value, cgroup);
        if (!done.ok) problems++;
        out(`${cgroup}: ${done.message}`);
      } finally {
        claim.value();
      }
    }
  };
  each(
    entries,
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
    limits,
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
