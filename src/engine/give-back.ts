// Giving back what the takeover ledger lists: the original oom_kill_disable, the v2 guard band's
// original memory.high, and soft-limit mode's original limit, of each cgroup an oomwarden took over and could not restore itself (it was killed
// by SIGKILL, or the machine lost power). `oomwarden restore` gives back every entry; a starting
// daemon every entry it does not manage itself, since nobody else would while it runs.
//
// Each cgroup under its claim, like a daemon's takeover: one that another daemon manages now is
// left alone and stays listed until that daemon lets it go. An entry is forgotten only when there
// is nothing left to give back to: its cgroup was removed, or the one at its path now is another
// (made since, or on a later boot). A path that cannot be resolved for any other reason (the
// hierarchy not mounted here, no permission) may name a live cgroup, and keeps its entry.

import type { CgroupRef, Host } from "./host.js";
import { giveBackHigh } from "./guard-band.js";
import { giveBackRaisedLimit } from "./soft-limit.js";
import type { LedgerKey, TakeoverLedger } from "./takeover-ledger.js";

/** One line per cgroup and thing done; `problem` when something stays undone (the caller's exit code). */
export interface GiveBackLine {
  /** The ledger's path. */
  cgroup: string;
  problem: boolean;
  message: string;
}

/** Gives back the entries of `paths` (ledger paths); returns how many problems were said. */
export function giveBack(host: Host, ledger: TakeoverLedger, paths: string[], say: (line: GiveBackLine) => void): number {
  let problems = 0;
  for (const path of paths) {
    const tell = (problem: boolean, message: string): void => {
      if (problem) problems++;
      say({ cgroup: path, problem, message });
    };
    // Removed (ENOENT): forgotten. Anything else may hide a live cgroup: it stays listed.
    const unresolved = (error: { code: string; message: string }): void => {
      if (error.code === "ENOENT") forgetRemoved(ledger, path, error.message, tell);
      else tell(true, `${error.message}; not restored, still listed`);
    };
    const ref = host.resolveCgroup(path);
    if (!ref.ok) {
      unresolved(ref.error);
      continue;
    }
    const identity = host.identifyCgroup(ref.value);
    if (!identity.ok) {
      unresolved(identity.error);
      continue;
    }
    const key: LedgerKey = { path, identity: identity.value };
    const dropped = ledger.dropStale(key);
    if (dropped !== null) tell(false, dropped);
    if (!ledger.listedPaths().includes(path)) continue;
    const claim = host.claimCgroup(ref.value);
    if (!claim.ok) {
      tell(true, `${claim.error.message}; not restored, still listed`);
      continue;
    }
    try {
      giveBackOne(host, ledger, ref.value, key, tell);
    } finally {
      claim.value();
    }
  }
  return problems;
}

function forgetRemoved(ledger: TakeoverLedger, path: string, why: string, tell: (problem: boolean, message: string) => void): void {
  ledger.forgetAll(path);
  tell(false, `${why}: removed, nothing to restore; forgotten`);
}

/** Under the cgroup's claim. */
function giveBackOne(host: Host, ledger: TakeoverLedger, ref: CgroupRef, key: LedgerKey, tell: (problem: boolean, message: string) => void): void {
  const original = ledger.recall(key);
  if (original !== null) {
    const restored = host.restoreOom(ref, { previousOomKillDisable: original, notes: [] });
    if (restored.ok) {
      ledger.forget(key.path);
      tell(false, `${key.path}: oom_kill_disable restored to ${original ? 1 : 0}`);
    } else {
      tell(true, `${restored.error.message}; still listed`);
    }
  }
  // memory.high before the limit: a band left below the original limit would throttle for nothing.
  const high = giveBackHigh(ref, host, ledger, key);
  if (high !== null) tell(!high.ok, `${key.path}: ${high.message}`);
  const limit = giveBackRaisedLimit(ref, host, ledger, key);
  if (limit !== null) tell(!limit.ok, `${key.path}: ${limit.message}`);
}
