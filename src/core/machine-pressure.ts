// Whole-machine detectors (low memory, watermark starvation, memory pressure), pure: a short history of
// machine samples in, a verdict out. The engine samples, keeps the history (machine-history.ts,
// which also prunes it) and acts. Each detector costs O(log n) in the samples of the window.
//
//   low-memory            MemAvailable below lowAvailablePct of RAM and, with swap, free swap
//                         below lowSwapFreePct of swap (earlyoom's rule: a machine that still has
//                         swap is not out of memory). One sample is enough: the threshold is the window.
//   watermark-starvation  free memory below the min watermark in every sample of a streak, while
//                         reclaim keeps reclaiming and allocating tasks keep entering direct reclaim
//                         (as reported in 2020: reclaim succeeds, yet user allocations loop). The
//                         streak must last starvationWindowMs just below min, less the deeper free
//                         is on its way down to min/2, where atomic allocations start failing (a
//                         fifth of it there). Rate-limited: the upstream objection to killing on this
//                         condition was a remote DoS through the OOM killer (a network flood), so
//                         at most one such kill per starvationKillIntervalMs.
//   memory-pressure       PSI "full" (every non-idle task stalled on memory) for at least
//                         psiFullPct of the last psiWindowMs.
//
// "critical" says whether the condition justifies a second victim while an earlier one is still
// alive but not making progress (a victim slow to exit must not cost an innocent its life while
// the machine can still wait for it).

import { entryAtSeq, newestEntry, newestKeptWhere, newestSample, oldestKept, type HistoryEntry, type HistoryView } from "./machine-history.js";
import { projectedLevel, swapBelow, type FallProjection, type MemoryLevel, type MemoryLevelsConfig } from "./machine-levels.js";
import type { MachinePressure } from "./types.js";

export interface MachineSample extends MachinePressure {
  atMs: number;
}

/** The memory levels (machine-levels.ts) and the rules beside them. */
export interface MachineGuardConfig extends MemoryLevelsConfig {
  /** A second victim while the first is still alive needs availability below this share (and swap as above). */
  criticalAvailablePct: number;
  /** How long free memory must stay below the min watermark. 0 turns the rule off. */
  starvationWindowMs: number;
  /** At most one watermark-starvation kill per this interval. */
  starvationKillIntervalMs: number;
  /** Share of psiWindowMs with every task stalled on memory that counts as pressure. 0 turns the rule off. */
  psiFullPct: number;
  psiWindowMs: number;
}

export type MachineVerdictKind = "ok" | "low-memory" | "watermark-starvation" | "memory-pressure";

export interface MachineVerdict {
  kind: MachineVerdictKind;
  critical: boolean;
  /** Plain words with the numbers that decided, for the journal. */
  reason: string;
  /**
   * low-memory: the level reached. terminate: SIGTERM and a grace period; kill (and every other
   * rule, which are all as urgent): SIGKILL at once.
   */
  level?: Exclude<MemoryLevel, "warn">;
  /** A rule fired but was held back (rate limit); says why. */
  heldBack?: string;
}

export interface DetectContext {
  /** When the last watermark-starvation kill was made (null: never). */
  lastStarvationKillAtMs: number | null;
  /**
   * When the last kill of any rule was made (null: never). The pressure rule measures only after
   * it: a window that still holds the stall before a kill would otherwise fire again on memory the
   * kill has already given back, and take one process after another.
   */
  lastKillAtMs?: number | null;
  /** The low-memory levels are judged where memory will be when a signal lands (machine-levels.ts). */
  projection?: FallProjection;
}

const MIB = 1024 * 1024;
const mib = (bytes: number): string => `${(bytes / MIB).toFixed(1)} MiB`;
const pct = (part: number, whole: number): number => (whole > 0 ? (100 * part) / whole : 0);

/** Low memory, judged on the newest sample: the terminate or the kill level (warn calls for no decision). */
export function lowMemory(s: MachinePressure, config: MachineGuardConfig, projection?: FallProjection): MachineVerdict | null {
  const reading = projectedLevel(s, config, projection);
  if (reading.level === null || reading.level === "warn") return null;
  return {
    kind: "low-memory",
    level: reading.level,
    critical: reading.level === "kill" && pct(s.availableBytes, s.totalBytes) < config.criticalAvailablePct && swapBelow(s, config.lowSwapFreePct),
    reason: reading.reason,
  };
}

/**
 * Where atomic allocations start failing, as a share of the min watermark. GFP_ATOMIC carries
 * __GFP_HIGH, which lets it use half of the min reserve (`min -= min / 2` in __zone_watermark_ok,
 * mm/page_alloc.c: ALLOC_HIGH, ALLOC_MIN_RESERVE since 6.3); not being able to block lets it go a
 * quarter of the rest lower (ALLOC_HARDER, ALLOC_NON_BLOCK since 6.3), to 3/8 of min. Half of min is
 * where the 2020 proposal stopped reclaiming ("GFP_ATOMIC will start failing soon"), the earlier
 * of the two, and the level the simulator lets atomic allocations reach.
 */
export const ATOMIC_FLOOR_SHARE_OF_MIN = 0.5;

/**
 * The shortest streak below min that is starvation, as a share of starvationWindowMs: the streak
 * needed once free memory is at min/2 or below. 200 ms at the default window, five samples at
 * BELOW_LOW_SAMPLE_INTERVAL_MS. Just below min the whole window is needed; in between, the window
 * times the share of the band from min/2 to min that free still has (half way down: half the
 * window). A dip that a burst caused and reclaim undoes is short (130-140 ms below min in
 * scenarios/003-atomic-burst-dip.yaml); the closer free is to where atomic allocations fail, the
 * more waiting out a dip costs.
 */
export const SHORTEST_STARVATION_SHARE = 0.2;

/**
 * How often the machine guard samples while free memory is below the low watermark (kswapd is
 * awake and behind), so that the starvation rule sees a streak below min begin, and its shortest
 * span in five samples. Under the simulated flood of the 2020 report free falls from min to min/2
 * in under 400 ms; sampled every 250 ms, the first sample below min came a quarter of a second
 * into the streak and the kill after atomic allocations had begun to fail. A sample reads four
 * procfs files (0.17 ms on our 2-core test host): 0.4% of a core, only while memory is that short.
 * An hour's window (MAX_WINDOW_MS) holds 90,000 samples at this interval, within MAX_WINDOW_SAMPLES.
 */
export const BELOW_LOW_SAMPLE_INTERVAL_MS = 40;

/**
 * The interval below the low watermark for a guard that samples every `nearIntervalMs` near a
 * threshold: never slower than that. With the starvation rule off there is nothing to sample
 * densely for.
 */
export function belowLowSampleIntervalMs(config: Pick<MachineGuardConfig, "starvationWindowMs">, nearIntervalMs: number): number {
  if (config.starvationWindowMs <= 0) return nearIntervalMs;
  return Math.min(nearIntervalMs, BELOW_LOW_SAMPLE_INTERVAL_MS);
}

/**
 * How long a streak below min must last, judged on its newest sample: the whole window just below
 * min, less the deeper free is (SHORTEST_STARVATION_SHARE); with the words for the journal.
 */
export function starvationSpanNeeded(newest: MachinePressure, windowMs: number): { ms: number; words: string } {
  const floorBytes = newest.minWatermarkBytes * ATOMIC_FLOOR_SHARE_OF_MIN;
  const bandBytes = newest.minWatermarkBytes - floorBytes;
  if (bandBytes <= 0) return { ms: windowMs, words: "no min watermark to measure the depth by" };
  const headroom = Math.min(1, Math.max(0, (newest.freeBytes - floorBytes) / bandBytes));
  const ms = windowMs * Math.max(SHORTEST_STARVATION_SHARE, headroom);
  return { ms, words: `free is ${Math.round(100 * (1 - headroom))}% of the way down to min/2, where atomic allocations start failing: ${Math.round(ms)} ms below min is starvation there` };
}

/**
 * Free below min in every sample of a streak as long as its depth asks for (starvationSpanNeeded),
 * with reclaim and direct-reclaim stalls both rising across it.
 */
export function watermarkStarvation(history: HistoryView, config: MachineGuardConfig, context: DetectContext): MachineVerdict | null {
  const entry = newestEntry(history);
  if (entry === undefined || config.starvationWindowMs <= 0 || entry.belowMinSinceSeq === null) return null;
  const newest = entry.sample;
  // The first sample of the streak below min; a streak longer than the history kept starts at its oldest sample.
  const first = (entryAtSeq(history, entry.belowMinSinceSeq) ?? (oldestKept(history) as HistoryEntry)).sample;
  const spanMs = newest.atMs - first.atMs;
  const needed = starvationSpanNeeded(newest, config.starvationWindowMs);
  if (spanMs < needed.ms) return null;
  const reclaimed = newest.reclaimedPagesTotal - first.reclaimedPagesTotal;
  const stalls = newest.allocStallsTotal - first.allocStallsTotal;
  if (reclaimed <= 0 || stalls <= 0) return null;
  const verdict: MachineVerdict = {
    kind: "watermark-starvation",
    critical: true,
    reason:
      `free ${mib(newest.freeBytes)} below the min watermark ${mib(newest.minWatermarkBytes)} for ${Math.round(spanMs)} ms ` +
      `while reclaim freed ${reclaimed} pages and allocations entered direct reclaim ${stalls} times; ${needed.words}`,
  };
  const last = context.lastStarvationKillAtMs;
  if (last !== null && newest.atMs - last < config.starvationKillIntervalMs) {
    verdict.heldBack = `one watermark-starvation kill per ${config.starvationKillIntervalMs} ms (the last ${Math.round(newest.atMs - last)} ms ago): a flood must not turn oomwarden into a killing machine`;
  }
  return verdict;
}

/** PSI "full" share of the window, from the cumulative totals. */
export function memoryPressure(history: HistoryView, config: MachineGuardConfig, context: DetectContext = { lastStarvationKillAtMs: null }): MachineVerdict | null {
  const newest = newestSample(history);
  if (newest === undefined || config.psiFullPct <= 0 || newest.psiFullTotalUs === null) return null;
  const since = context.lastKillAtMs ?? null;
  // The base: the newest sample at least a window old (the share is measured over about the
  // window, not more), with PSI totals, not before the last kill. Being a window old holds for
  // the oldest samples up to some point, found by binary search; the newest sample with PSI up
  // to there is recorded with it. If that one is before the kill, so is every older one.
  const windowOld = newestKeptWhere(history, (s) => newest.atMs - s.atMs >= config.psiWindowMs);
  const psiSeq = windowOld?.psiSeq ?? null;
  const base = psiSeq === null ? undefined : entryAtSeq(history, psiSeq)?.sample;
  if (base === undefined || base.psiFullTotalUs === null || (since !== null && base.atMs < since)) return null;
  const spanMs = newest.atMs - base.atMs;
  const fullPct = pct((newest.psiFullTotalUs - base.psiFullTotalUs) / 1000, spanMs);
  if (fullPct < config.psiFullPct) return null;
  return {
    kind: "memory-pressure",
    critical: true,
    reason: `every task stalled on memory ${fullPct.toFixed(1)}% of the last ${Math.round(spanMs)} ms (PSI full, threshold ${config.psiFullPct}%)`,
  };
}

/**
 * A memory stall during a watermark starvation held back by its rate limit is that starvation's:
 * the allocations looping in reclaim are what PSI counts. Held back with it, or a flood no kill can
 * fix would take, through the pressure rule, the process after the one the rate limit allowed.
 */
function floodStall(pressure: MachineVerdict | null, starvation: MachineVerdict | null): MachineVerdict | null {
  if (pressure === null || starvation?.heldBack === undefined) return pressure;
  return { ...pressure, heldBack: `the stall is that of the watermark starvation held back (${starvation.heldBack})` };
}

/** The first rule that fires, in order of severity: starvation, pressure, low memory. */
export function detectMachinePressure(history: HistoryView, config: MachineGuardConfig, context: DetectContext): MachineVerdict {
  const newest = newestSample(history);
  if (newest === undefined) return { kind: "ok", critical: false, reason: "no sample yet" };
  const starvation = watermarkStarvation(history, config, context);
  const fired = [starvation, floodStall(memoryPressure(history, config, context), starvation), lowMemory(newest, config, context.projection)].filter(
    (v): v is MachineVerdict => v !== null,
  );
  // A held-back rule must not hide another rule that may act.
  const acting = fired.find((v) => v.heldBack === undefined);
  return acting ?? fired[0] ?? { kind: "ok", critical: false, reason: `available ${mib(newest.availableBytes)}, free ${mib(newest.freeBytes)}` };
}
