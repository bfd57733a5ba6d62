// How often an oomwarden policy's engine wakes up by itself in a run, from its `options` alone:
// its periodic loops (the machine guard's samples, a victim's observations, and with soft-limit
// mode one usage check per managed cgroup) each wake at most once per the smallest of the
// intervals it may use. work.ts charges each wake-up; a file asking for a sample every
// millisecond over days is refused with the key that asks for it.

import type { UserspaceSpec } from "../scenario.js";

/**
 * At most the engine's shortest interval of its own: softLimitIntervalMs (100 ms) by default, the
 * machine guard's 250 ms near a threshold and 1 s otherwise, observeIntervalMs 250 ms. The
 * simulator knows nothing of the engine, so the number is here; a test checks it against the
 * engine's defaults. An interval a file sets below it counts instead.
 */
export const ENGINE_INTERVAL_FLOOR_MS = 100;

/** The option keys that set how often the engine wakes, in the order an error prefers them on a tie. */
export const INTERVAL_KEYS = ["machineSampleIntervalMs", "observeIntervalMs", "softLimitIntervalMs"] as const;
export type IntervalKey = (typeof INTERVAL_KEYS)[number];

export interface AgentSampling {
  /** The interval charged, and the option key that set it (null: the engine's own floor). */
  intervalMs: number;
  key: IntervalKey | null;
  /** Loops that may each wake once per interval. */
  loops: number;
  /** Wake-ups in the run at most, all loops together. */
  wakeUps: number;
}

/** The bound for one run of `durationMs` under an oomwarden user space; null for the others. */
export function agentSampling(userspace: UserspaceSpec, durationMs: number): AgentSampling | null {
  if (userspace.kind !== "oomwarden") return null;
  const options = userspace.options;
  let intervalMs = ENGINE_INTERVAL_FLOOR_MS;
  let key: IntervalKey | null = null;
  for (const k of INTERVAL_KEYS) {
    const value = options[k];
    if (typeof value === "number" && value < intervalMs) {
      intervalMs = value;
      key = k;
    }
  }
  // The machine guard and a victim's observation; soft-limit mode checks every managed cgroup.
  const loops = 2 + (options.softLimit === true ? userspace.managedCgroups.length : 0);
  return { intervalMs, key, loops, wakeUps: loops * (Math.floor(durationMs / intervalMs) + 1) };
}
