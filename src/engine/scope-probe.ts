// What "the scope" of a decision is when its victim is observed: a memory cgroup (its usage, and
// whether it is still out of memory) or the whole machine (memory in use, and whether the machine
// guard's condition still holds). Kill confirmation and the victim tracker read only this.

import type { Result } from "../core/result.js";
import type { CgroupRef, Host } from "./host.js";
import { atLimit } from "./outcome.js";

export interface ScopeReading {
  /** Memory in use in the scope; its fall is the victim's progress. */
  usageBytes: number;
  /** The condition that led to the kill still holds. */
  outOfMemory: boolean;
  /**
   * Whether the decision stands at the last look before its signal; outOfMemory where not given.
   * The machine holds a decision there against a rise of MemAvailable smaller than the noise of a
   * thrashing machine (machine-levels.ts RECLAIM_NOISE_SHARE).
   */
  standsBeforeSignal?: boolean;
  /**
   * Bad enough for a second victim while the first is alive but stalled. A memcg at its limit
   * always is (its tasks wait); the machine only below the guard's critical level (above it, it
   * can wait for a victim slow to exit).
   */
  critical: boolean;
}

export interface ScopeProbe {
  /** A failure means the scope is gone (a removed cgroup): nothing left to confirm. */
  read(): Result<ScopeReading>;
  /**
   * The readings are fresh samples with no kernel flag that lags behind an exit (the machine): a
   * victim's exit is judged at once, recovered or still out of memory. A v1 cgroup's under_oom may
   * still be set right after the exit (its waiters must retry their charge first), so it settles.
   */
  judgedAtExit?: boolean;
}

export function cgroupProbe(host: Host, ref: CgroupRef): ScopeProbe {
  return {
    read(): Result<ScopeReading> {
      const cgroup = host.readCgroup(ref);
      if (!cgroup.ok) return cgroup;
      const outOfMemory = ref.version === 1 ? cgroup.value.underOom : atLimit(cgroup.value);
      return { ok: true, value: { usageBytes: cgroup.value.usageBytes, outOfMemory, critical: outOfMemory } };
    },
  };
}
