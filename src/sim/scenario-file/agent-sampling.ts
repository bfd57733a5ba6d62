// How often an oomwarden policy's engine wakes up by itself in a run, from its `options` alone:
// its periodic loops (the machine guard's samples, a victim's observations, and with soft-limit
// mode one usage check per managed cgroup) each wake at most once per the smallest interval it may
// use. work.ts charges each wake-up; a file asking for a sample every millisecond over days is
// refused with the key that asks for it.

import { BELOW_LOW_SAMPLE_INTERVAL_MS } from "../../core/machine-pressure.js";
import type { UserspaceSpec } from "../scenario.js";

/**
 * The machine guard's shortest interval of its own: its samples while free memory is below the low
 * watermark, where the starvation rule must see a streak below min from its start (250 ms near a
 * threshold otherwise, 1 s when memory is plentiful). Taken from the pure rule that sets it.
 */
export const MACHINE_GUARD_FLOOR_MS = BELOW_LOW_SAMPLE_INTERVAL_MS;

/**
 * The other loops' shortest interval of their own: softLimitIntervalMs (100 ms) by default,
 * observeIntervalMs 250 ms. The simulator knows nothing of the engine, so the number is here; a
 * test checks both floors against the engine's defaults. An interval a file sets below a floor
 * counts instead.
 */
export const ENGINE_INTERVAL_FLOOR_MS = 100;

/** The option keys that set how often the engine wakes. */
export type IntervalKey = "machineSampleIntervalMs" | "observeIntervalMs" | "softLimitIntervalMs";

/** Loops that wake at the same interval. */
export interface SamplingLoops {
  /** The interval charged, and the option key that set it (null: the engine's own floor). */
  intervalMs: number;
  key: IntervalKey | null;
  loops: number;
}

export interface AgentSampling {
  /** The machine guard's samples. */
  machine: SamplingLoops;
  /** A victim's observations and, in soft-limit mode, one usage check per managed cgroup. */
  others: SamplingLoops;
  /** Wake-ups in the run at most, all loops together. */
  wakeUps: number;
}

/** The bound for one run of `durationMs` under an oomwarden user space; null for the others. */
export function agentSampling(userspace: UserspaceSpec, durationMs: number): AgentSampling | null {
  if (userspace.kind !== "oomwarden") return null;
  const options = userspace.options;
  // The smallest interval of the keys, the first on a tie; the floor when none is below it.
  const densest = (floorMs: number, keys: readonly IntervalKey[], loops: number): SamplingLoops => {
    let loop: SamplingLoops = { intervalMs: floorMs, key: null, loops };
    for (const k of keys) {
      const value = options[k];
      if (typeof value === "number" && value < loop.intervalMs) loop = { intervalMs: value, key: k, loops };
    }
    return loop;
  };
  const machine = densest(MACHINE_GUARD_FLOOR_MS, ["machineSampleIntervalMs"], 1);
  // A victim's observation; soft-limit mode checks every managed cgroup.
  const others = densest(ENGINE_INTERVAL_FLOOR_MS, ["observeIntervalMs", "softLimitIntervalMs"], 1 + (options.softLimit === true ? userspace.managedCgroups.length : 0));
  const wakeUps = [machine, others].reduce((sum, l) => sum + l.loops * (Math.floor(durationMs / l.intervalMs) + 1), 0);
  return { machine, others, wakeUps };
}

/** The loops that ask for most of the wake-ups (the machine guard's on a tie): what an error names. */
export function busiestLoops(sampling: AgentSampling): SamplingLoops {
  const { machine, others } = sampling;
  return others.loops / others.intervalMs > machine.loops / machine.intervalMs ? others : machine;
}
