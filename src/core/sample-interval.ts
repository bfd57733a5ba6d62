// How long the machine guard may sleep before its next sample, pure. Memory is sampled as often as
// the next level could be reached: the headroom above that level's line divided by the fastest the
// machine could be filling it (the fall of MemAvailable over the last samples, or an assumed
// worst-case fill rate, whichever is faster), bounded below by what sampling costs and above by
// the idle interval. earlyoom does the same with fixed rates; measuring the fall as well means a
// hog faster than the assumption is met by denser samples, not by a late kill.

import { bytesAboveNextLevel, projectSample, type MemoryLevelsConfig } from "./machine-levels.js";
import type { MachineSample } from "./machine-pressure.js";

export interface SampleIntervalConfig {
  /** The densest sampling (each sample costs a few file reads). */
  minMs: number;
  /** The sparsest: memory plentiful and falling slowly, if at all. */
  maxMs: number;
  /** The longest wait below the last level (where the kernel's OOM is what lies ahead) or near the min watermark. */
  nearMs: number;
  /** Free below the low watermark: the starvation rule's own density (machine-pressure.ts). */
  belowLowMs: number;
  /** Fill rate assumed at least, in bytes per ms: a sudden hog on a machine that was idle. */
  assumedFillBytesPerMs: number;
}

/**
 * The fall of MemAvailable in bytes per ms: the fastest from any earlier sample of `recent` to the
 * newest (0 with fewer than two samples). Given a sample about a second back and the one just
 * before the newest, a steady fall is measured over the second and a hog that began a moment ago
 * over the last interval, where an average over the second would hide most of it. A fall that has
 * stopped is none: where the last interval shows MemAvailable level or rising (an allocation that
 * ended, reclaim giving a MiB back), nothing is projected, or one big allocation a moment ago
 * would be projected on for a whole second after it ended.
 */
export function fallRateBytesPerMs(recent: readonly MachineSample[]): number {
  const last = recent[recent.length - 1];
  const previous = recent[recent.length - 2];
  if (last === undefined || previous === undefined || previous.availableBytes <= last.availableBytes) return 0;
  let fastest = 0;
  for (const earlier of recent) {
    if (earlier.atMs >= last.atMs) continue;
    fastest = Math.max(fastest, (earlier.availableBytes - last.availableBytes) / (last.atMs - earlier.atMs));
  }
  return fastest;
}

/**
 * The delay before the next sample, in ms. `recent`: the last few samples, oldest first, the newest
 * last. leadMs: how long a decision takes to its signal; the levels are judged where memory will
 * be when the signal of a decision taken at the next sample (minMs away, at the least) would land,
 * at the measured fall (machine-levels.ts projectSample), so the headroom is measured from there too.
 */
export function nextSampleDelayMs(recent: readonly MachineSample[], levels: MemoryLevelsConfig, config: SampleIntervalConfig, leadMs = 0): number {
  const last = recent[recent.length - 1];
  if (last === undefined) return config.minMs;
  const fall = fallRateBytesPerMs(recent);
  const newest = projectSample(last, { bytesPerMs: fall, leadMs, nextSampleMs: config.minMs });
  const headroomBytes = bytesAboveNextLevel(newest, levels);
  const rate = Math.max(fall, config.assumedFillBytesPerMs);
  // Below the last line what lies ahead is the kernel's own OOM, where MemAvailable runs out: the
  // headroom is all of it, and the near interval the longest wait.
  let delayMs = headroomBytes === null ? Math.min(config.nearMs, clamp(newest.availableBytes / rate, config)) : clamp(headroomBytes / rate, config);
  // Free memory near the watermarks: the starvation rule needs its samples, whatever the levels say.
  if (newest.freeBytes < newest.lowWatermarkBytes) delayMs = Math.min(delayMs, config.belowLowMs);
  else if (newest.freeBytes < 2 * newest.lowWatermarkBytes) delayMs = Math.min(delayMs, config.nearMs);
  return delayMs;
}

function clamp(ms: number, config: SampleIntervalConfig): number {
  return Math.min(config.maxMs, Math.max(config.minMs, ms));
}
