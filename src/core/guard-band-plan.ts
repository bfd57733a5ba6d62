// The v2 guard band: where memory.high goes, and when usage in it is an incident.
//
// cgroup v2 cannot turn its OOM killer off. memory.high gives user space the time instead: above
// it the kernel reclaims and then makes each allocating task sleep on its way back to user mode,
// for a time that grows with the square of the overage (mm/memcontrol.c, calculate_high_delay:
// about 64 * r^2 seconds per 64 pages charged at a relative overage r, at most 2 s at a time), and
// never OOM-kills for it. With memory.high a band below memory.max, a workload that outgrows its
// limit crawls through the band while oomwarden chooses; the kernel's killer at memory.max stays
// the backstop.

import type { Result } from "./result.js";

/**
 * The relative overage at which the kernel starts putting allocating tasks to sleep: below a
 * penalty of 10 ms (HZ / 100) per 64 pages it only reclaims, and 64 * r^2 s = 10 ms at r = 1/80.
 * Usage that reclaim keeps at memory.high (page cache) stays below this; usage past it is memory
 * the kernel could not reclaim, and the workload is being throttled: the incident.
 */
export const THROTTLE_OVERAGE = 1 / 80;

export interface GuardBandInput {
  /** memory.max, or the logical limit oomwarden enforces (soft-limit mode, or one the user gave). */
  limitBytes: number;
  /** Where the band ends below the limit: "below" puts memory.high bandPct below it; "at" puts it at the limit itself (soft-limit mode, whose hard limit was raised above it). */
  placement: "below" | "at";
  bandPct: number;
  /** memory.high as found (null: "max"). */
  originalHighBytes: number | null;
  pageSizeBytes: number;
}

export interface GuardBandPlan {
  /** memory.high to write (whole pages). */
  highBytes: number;
  /** The original was lower than the band would be: it stays, and the band starts there. */
  keepsOriginal: boolean;
  /** Usage above this is the incident. */
  incidentAboveBytes: number;
}

export function planGuardBand(input: GuardBandInput): Result<GuardBandPlan> {
  const { limitBytes, pageSizeBytes } = input;
  const bandBytes = input.placement === "at" ? 0 : Math.ceil((limitBytes * input.bandPct) / 100 / pageSizeBytes) * pageSizeBytes;
  const bandHighBytes = Math.floor((limitBytes - bandBytes) / pageSizeBytes) * pageSizeBytes;
  if (bandHighBytes < pageSizeBytes) {
    return { ok: false, error: { code: "EINVAL", message: `a guard band of ${input.bandPct}% leaves no room below the limit of ${limitBytes} bytes` } };
  }
  // A lower memory.high is the owner's own throttling: it stays, and is where the band starts.
  const keepsOriginal = input.originalHighBytes !== null && input.originalHighBytes < bandHighBytes;
  const highBytes = keepsOriginal ? (input.originalHighBytes as number) : bandHighBytes;
  return { ok: true, value: { highBytes, keepsOriginal, incidentAboveBytes: incidentThreshold(highBytes) } };
}

/** Usage above this (memory.high plus the overage the kernel starts to throttle at) is an incident. */
export function incidentThreshold(highBytes: number): number {
  return Math.floor(highBytes * (1 + THROTTLE_OVERAGE));
}
