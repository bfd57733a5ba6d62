// Literal machine states for the pure tests: a machine sample with every field given, and the
// whole machine in the shape ranking expects (no limit, v2, no events).

import type { MachineSample } from "../../src/core/machine-pressure.js";
import { machineAsScope } from "../../src/core/machine-scope.js";
import type { CgroupSample, MachinePressure } from "../../src/core/types.js";

const MIB = 1024 * 1024;

/** A healthy 1 GiB machine without swap or PSI at t = 0; every field can be overridden. */
export function machineSample(o: Partial<MachineSample> = {}): MachineSample {
  return { atMs: 0, ...machinePressure(o) };
}

/** The same machine as a host reports it (no sample time); every field can be overridden. */
export function machinePressure(o: Partial<MachinePressure> = {}): MachinePressure {
  return {
    totalBytes: 1024 * MIB,
    availableBytes: 800 * MIB,
    freeBytes: 700 * MIB,
    minWatermarkBytes: 8 * MIB,
    lowWatermarkBytes: 10 * MIB,
    swapTotalBytes: 0,
    swapFreeBytes: 0,
    reclaimedPagesTotal: 0,
    allocStallsTotal: 0,
    psiSomeTotalUs: null,
    psiFullTotalUs: null,
    ...o,
  };
}

/** The whole machine as a scope: no limit, so oom_score_adj scales by the machine's pages. */
export function machineScope(): CgroupSample {
  return machineAsScope({ totalBytes: 0, availableBytes: 0 });
}
