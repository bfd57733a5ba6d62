// What a managed cgroup's takeovers have in common: each is one change to the cgroup's kernel
// settings (v1: the kernel's killer off; soft-limit mode: the hard limit raised; v2: the guard
// band on memory.high), made only once its original is in the takeover ledger, and undone in the
// reverse order they were made.

import type { Result } from "../core/result.js";

export interface CgroupTakeover {
  /** Puts the original back, and forgets it in the ledger once it is. */
  giveBack(): Result<void>;
  /** The cgroup is gone: nothing is written (the path may hold another cgroup now). */
  abandon(): void;
}

/**
 * Gives back every takeover, the last made first. Returns the first failure (the others are still
 * tried) and the takeovers still to give back, in the order they were made, for a later try.
 */
export function giveBackAll(takeovers: readonly CgroupTakeover[]): { result: Result<void>; left: CgroupTakeover[] } {
  let result: Result<void> = { ok: true, value: undefined };
  const left: CgroupTakeover[] = [];
  for (const takeover of [...takeovers].reverse()) {
    const given = takeover.giveBack();
    if (given.ok) continue;
    left.unshift(takeover);
    if (result.ok) result = given;
  }
  return { result, left };
}
