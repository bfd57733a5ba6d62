// The machine's memory levels, pure: how low MemAvailable and free swap are, as one of
//
//   warn       journaled (once an episode), nothing is signalled;
//   terminate  the best victim gets SIGTERM and a grace period to exit on its own (save its
//              state, close its files), then SIGKILL if memory is still short;
//   kill       SIGKILL at once, no grace (and a victim in its grace gets it now).
//
// A level is reached when available RAM is below its share of RAM and free swap below its share
// of swap (with no swap, RAM alone): a machine that still has swap to page out to is not out of
// memory yet, and one with swap left but RAM exhausted will fill that swap within seconds, which
// the swap share then sees. Both are read at every sample, so swap (or zram) added or removed
// while the daemon runs counts from the next sample on. A share of 0 turns its level off.

import type { MachinePressure } from "./types.js";
import { progressStepBytes } from "./victim-tracker.js";

export type MemoryLevel = "warn" | "terminate" | "kill";

/** Levels from the least to the most severe. */
export const MEMORY_LEVELS: readonly MemoryLevel[] = ["warn", "terminate", "kill"];
const ACTING_LEVELS: readonly MemoryLevel[] = ["terminate", "kill"];

export interface MemoryLevelsConfig {
  warnAvailablePct: number;
  warnSwapFreePct: number;
  terminateAvailablePct: number;
  terminateSwapFreePct: number;
  /** The kill level (its key names predate the other levels). */
  lowAvailablePct: number;
  lowSwapFreePct: number;
}

export interface LevelThresholds {
  availablePct: number;
  swapFreePct: number;
}

export function levelThresholds(level: MemoryLevel, config: MemoryLevelsConfig): LevelThresholds {
  switch (level) {
    case "warn":
      return { availablePct: config.warnAvailablePct, swapFreePct: config.warnSwapFreePct };
    case "terminate":
      return { availablePct: config.terminateAvailablePct, swapFreePct: config.terminateSwapFreePct };
    case "kill":
      return { availablePct: config.lowAvailablePct, swapFreePct: config.lowSwapFreePct };
  }
}

export interface LevelReading {
  /** The most severe level reached (null: none). */
  level: MemoryLevel | null;
  /** Plain words with the numbers, for the journal: "available 80.0 MiB of 1024.0 MiB (7.8% < 10%), no swap: terminate level". */
  reason: string;
  /** The same without the level's name at the end: what a projection's words follow. */
  facts: string;
}

const MIB = 1024 * 1024;
const mib = (bytes: number): string => `${(bytes / MIB).toFixed(1)} MiB`;
export const percentOf = (part: number, whole: number): number => (whole > 0 ? (100 * part) / whole : 0);

/** Free swap below the share, or no swap at all (then RAM alone decides). */
export function swapBelow(s: MachinePressure, freePct: number): boolean {
  return s.swapTotalBytes === 0 || percentOf(s.swapFreeBytes, s.swapTotalBytes) < freePct;
}

function reached(s: MachinePressure, thresholds: LevelThresholds): boolean {
  return thresholds.availablePct > 0 && percentOf(s.availableBytes, s.totalBytes) < thresholds.availablePct && swapBelow(s, thresholds.swapFreePct);
}

function swapWords(s: MachinePressure): string {
  if (s.swapTotalBytes === 0) return "no swap";
  return `swap free ${mib(s.swapFreeBytes)} of ${mib(s.swapTotalBytes)} (${percentOf(s.swapFreeBytes, s.swapTotalBytes).toFixed(1)}%)`;
}

/** The most severe level the sample reaches. */
export function memoryLevel(s: MachinePressure, config: MemoryLevelsConfig): LevelReading {
  const availablePct = percentOf(s.availableBytes, s.totalBytes);
  for (const level of [...MEMORY_LEVELS].reverse()) {
    const thresholds = levelThresholds(level, config);
    if (!reached(s, thresholds)) continue;
    const facts = `available ${mib(s.availableBytes)} of ${mib(s.totalBytes)} (${availablePct.toFixed(1)}% < ${thresholds.availablePct}%), ${swapWords(s)}`;
    return { level, reason: `${facts}: ${level} level`, facts };
  }
  const facts = `available ${mib(s.availableBytes)} of ${mib(s.totalBytes)} (${availablePct.toFixed(1)}%), ${swapWords(s)}`;
  return { level: null, reason: facts, facts };
}

/**
 * Memory keeps falling while a decision is made: a signal sent leadMs after the sample lands on a
 * machine bytesPerMs x leadMs lower. And a decision not taken at this sample is taken at the next
 * at the earliest, nextSampleMs later. The levels are judged where memory will be when the signal
 * of a decision taken at the next sample would land, so that the signal lands before the line,
 * never past it, and a hog filling the machine faster than a decision takes is met at the line,
 * not past it (or after the kernel's own OOM). Only the measured fall counts, never an assumed one.
 */
export interface FallProjection {
  /** MemAvailable's fall over the last second, bytes per ms (0 when rising). */
  bytesPerMs: number;
  /** How long a decision takes from its sample to its signal, as last measured. */
  leadMs: number;
  /** The least wait until the next sample (absent: 0, a decision judged for this sample alone). */
  nextSampleMs?: number;
}

/** How far ahead a projection judges: the wait for the next sample and a decision's lead. */
function projectionAheadMs(projection: FallProjection): number {
  return Math.max(0, projection.leadMs) + Math.max(0, projection.nextSampleMs ?? 0);
}

/** The sample as it will be that far ahead at the measured fall (swap is left as it is: it fills far slower). */
export function projectSample<T extends MachinePressure>(s: T, projection: FallProjection | undefined): T {
  if (projection === undefined || projection.bytesPerMs <= 0 || projectionAheadMs(projection) <= 0) return s;
  return { ...s, availableBytes: Math.max(0, s.availableBytes - projection.bytesPerMs * projectionAheadMs(projection)) };
}

/**
 * The most severe level the sample reaches now or, projected, by the time a signal lands. The
 * reason gives both when the projection decided: "available 180.0 MiB ... (18.7%), falling 640.0
 * MiB/s: 52.0 MiB (5.4% < 10%) when a signal lands (200 ms)", or, with a wait for the next sample,
 * "... when a signal decided a sample later would land (40 + 160 ms): terminate level".
 */
export function projectedLevel(s: MachinePressure, config: MemoryLevelsConfig, projection: FallProjection | undefined): LevelReading {
  const now = memoryLevel(s, config);
  const projected = projectSample(s, projection);
  if (projected === s || projection === undefined) return now;
  const then = memoryLevel(projected, config);
  if (then.level === null || atLeast(now.level, then.level)) return now;
  const thresholds = levelThresholds(then.level, config);
  const facts =
    `${now.facts}, falling ${mib(projection.bytesPerMs * 1000)}/s: ${mib(projected.availableBytes)} ` +
    `(${percentOf(projected.availableBytes, s.totalBytes).toFixed(1)}% < ${thresholds.availablePct}%) ${whenItLands(projection)}`;
  return { level: then.level, reason: `${facts}: ${then.level} level`, facts };
}

function whenItLands(projection: FallProjection): string {
  const nextSampleMs = Math.round(projection.nextSampleMs ?? 0);
  const leadMs = Math.round(projection.leadMs);
  return nextSampleMs > 0 ? `when a signal decided a sample later would land (${nextSampleMs} + ${leadMs} ms)` : `when a signal lands (${leadMs} ms)`;
}

/**
 * Whether memory came back between a low-memory decision and a later look: MemAvailable or free
 * swap rose by at least `minProgressBytes`. A machine hovering at a line, a reclaim pass giving a
 * MiB back and taking it again, has not come back, and a decision taken there stands.
 */
export function memoryCameBack(decided: MachinePressure, now: MachinePressure, minProgressBytes: number): boolean {
  const step = progressStepBytes(minProgressBytes);
  return now.availableBytes - decided.availableBytes >= step || now.swapFreeBytes - decided.swapFreeBytes >= step;
}

/**
 * How far MemAvailable (or free swap) must move, as a share of RAM, for the machine guard to read
 * the move as memory given back or taken again rather than reclaim going back and forth. At the
 * terminate line of a thrashing guest (1 GiB, a re-reader and a 20 MiB/s leak) MemAvailable rose
 * 1-4 MiB in a tenth of a second that way, and a decision undone on such a rise was taken again
 * 0.2-0.5 s later: 1% (10 MiB there) is above that noise and a fifth of the 5% between two levels.
 * The last look before a signal uses it (memoryCameBackBeforeSignal), and so does the question
 * whether memory is being filled again after a victim at the terminate level (memoryFellAgain); once a victim is gone,
 * memoryCameBack's minProgressBytes says whether its exit gave memory back.
 */
export const RECLAIM_NOISE_SHARE = 0.01;

/** The smallest move of memory that is not reclaim's noise: RECLAIM_NOISE_SHARE of RAM, or minProgressBytes where more. */
export function noiseFloorBytes(totalBytes: number, minProgressBytes: number): number {
  return Math.max(minProgressBytes, totalBytes * RECLAIM_NOISE_SHARE);
}

/** Whether memory came back far enough since a low-memory decision for its last look to call it off. */
export function memoryCameBackBeforeSignal(decided: MachinePressure, now: MachinePressure, minProgressBytes: number): boolean {
  return memoryCameBack(decided, now, noiseFloorBytes(decided.totalBytes, minProgressBytes));
}

/**
 * Whether MemAvailable fell from `peakBytes` (its highest since the last victim was gone) far enough
 * to say something is filling memory again, at the level memory is at. At the kill level the
 * kernel's own OOM is near and any fall past minProgressBytes counts; at the terminate level there
 * is time to be sure, and only a fall past the noise floor does. Forty workers in a 1 GiB guest
 * took what each victim gave back within milliseconds (its exit showed no memory back at all), and
 * then 1% of RAM in a quarter of a second: the terminate level's next victim waits that long, the
 * kill level's does not.
 */
export function memoryFellAgain(peakBytes: number, now: MachinePressure, minProgressBytes: number, level: Exclude<MemoryLevel, "warn">): boolean {
  return peakBytes - now.availableBytes > refillFallBytes(level, now.totalBytes, minProgressBytes);
}

/** How far MemAvailable must fall from its peak after a victim, at `level`, before memoryFellAgain says so. */
export function refillFallBytes(level: Exclude<MemoryLevel, "warn">, totalBytes: number, minProgressBytes: number): number {
  return level === "kill" ? minProgressBytes : noiseFloorBytes(totalBytes, minProgressBytes);
}

/**
 * How near the kill level's line (the kernel's own OOM where that level is off) memory must be, at
 * its measured fall, for a decision to race it. A fast hog crosses the 5% between the terminate
 * and the kill lines of a 1 GiB machine in under 100 ms, a steady one (40 MiB/s) in over a second.
 */
export const RACING_WITHIN_MS = 1000;

/**
 * Whether a decision races memory running out: the machine critical or at the kill level, or the
 * kill level's line less than RACING_WITHIN_MS away at the measured fall. Such a decision gives no
 * CPU back to others on its way (Host.beginUrgentWork): a neighbour late by some tens of ms costs
 * less than the kernel's OOM killer, and the stall before it, that a slower decision meets.
 */
export function racesMemory(s: MachinePressure, config: MemoryLevelsConfig, fallBytesPerMs: number, critical: boolean): boolean {
  if (critical || memoryLevel(s, config).level === "kill") return true;
  if (fallBytesPerMs <= 0) return false;
  const killLineBytes = (config.lowAvailablePct / 100) * s.totalBytes;
  return (s.availableBytes - killLineBytes) / fallBytesPerMs < RACING_WITHIN_MS;
}

/** Whether `level` is at least as severe as `than`. */
export function atLeast(level: MemoryLevel | null, than: MemoryLevel): boolean {
  return level !== null && MEMORY_LEVELS.indexOf(level) >= MEMORY_LEVELS.indexOf(than);
}

/**
 * Bytes of MemAvailable above the line of the next level that acts (terminate, kill) from `s`
 * (null: none lies ahead): what the adaptive sampling measures its headroom to. The warn level
 * only journals, and may be noticed a sample late.
 */
export function bytesAboveNextLevel(s: MachinePressure, config: MemoryLevelsConfig): number | null {
  const current = memoryLevel(s, config).level;
  let nearest: number | null = null;
  for (const level of ACTING_LEVELS) {
    if (atLeast(current, level)) continue;
    const { availablePct } = levelThresholds(level, config);
    if (availablePct <= 0) continue;
    const lineBytes = (availablePct / 100) * s.totalBytes;
    const above = Math.max(0, s.availableBytes - lineBytes);
    nearest = nearest === null ? above : Math.min(nearest, above);
  }
  return nearest;
}
