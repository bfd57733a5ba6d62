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
  /** Plain words with the numbers, for the journal: "available 80.0 MiB of 1024.0 MiB (7.8% < 10%), no swap". */
  reason: string;
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
    return {
      level,
      reason: `available ${mib(s.availableBytes)} of ${mib(s.totalBytes)} (${availablePct.toFixed(1)}% < ${thresholds.availablePct}%), ${swapWords(s)}: ${level} level`,
    };
  }
  return { level: null, reason: `available ${mib(s.availableBytes)} of ${mib(s.totalBytes)} (${availablePct.toFixed(1)}%), ${swapWords(s)}` };
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
