// The whole machine in the shape ranking takes for a scope: no limit, so oom_score_adj scales by
// RAM + swap as in a global OOM, and no memory.events of its own.

import type { MachineSample } from "./machine-pressure.js";
import type { CgroupSample, MemoryEventCounters } from "./types.js";

/** memory.events with nothing counted: a scope without the file (the machine, v1). */
export const NO_MEMORY_EVENTS: Readonly<MemoryEventCounters> = Object.freeze({ low: 0, high: 0, max: 0, oom: 0, oomKill: 0, oomGroupKill: 0 });

/** The machine as a scope named "/": in use is RAM less MemAvailable. */
export function machineAsScope(sample: Pick<MachineSample, "totalBytes" | "availableBytes">): CgroupSample {
  return {
    path: "/",
    version: 2,
    usageBytes: sample.totalBytes - sample.availableBytes,
    limitBytes: null,
    highBytes: null,
    underOom: false,
    oomKillDisabled: false,
    events: { ...NO_MEMORY_EVENTS },
    oomGroup: false,
  };
}
