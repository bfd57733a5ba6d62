// The machine detectors as they were before the history was kept incrementally: each walks the
// whole history per sample (O(n)), which is too slow at a sample a millisecond but plain to read.
// Kept as the reference the fast detectors must agree with, verdict for verdict.

import { lowMemory, starvationSpanNeeded, type DetectContext, type MachineGuardConfig, type MachineSample, type MachineVerdict } from "../../src/core/machine-pressure.js";

const MIB = 1024 * 1024;
const mib = (bytes: number): string => `${(bytes / MIB).toFixed(1)} MiB`;
const pct = (part: number, whole: number): number => (whole > 0 ? (100 * part) / whole : 0);

/** The samples a detector still needs: the newest, and those within the longest window before it. */
export function oraclePruneHistory(history: readonly MachineSample[], config: MachineGuardConfig): MachineSample[] {
  const newest = history.at(-1);
  if (newest === undefined) return [];
  const keepMs = Math.max(config.starvationWindowMs, config.psiWindowMs);
  let first = history.length - 1;
  while (first > 0 && newest.atMs - (history[first] as MachineSample).atMs < keepMs) first--;
  return history.slice(first);
}

export function oracleWatermarkStarvation(history: readonly MachineSample[], config: MachineGuardConfig, context: DetectContext): MachineVerdict | null {
  const newest = history.at(-1);
  if (newest === undefined || config.starvationWindowMs <= 0) return null;
  let start = history.length - 1;
  while (start > 0 && (history[start - 1] as MachineSample).freeBytes < (history[start - 1] as MachineSample).minWatermarkBytes) start--;
  const first = history[start] as MachineSample;
  // How long the streak must last at its depth is the rule's own formula (tested on its own); what
  // is checked here is the streak it is applied to.
  const needed = starvationSpanNeeded(newest, config.starvationWindowMs);
  if (newest.freeBytes >= newest.minWatermarkBytes || newest.atMs - first.atMs < needed.ms) return null;
  const reclaimed = newest.reclaimedPagesTotal - first.reclaimedPagesTotal;
  const stalls = newest.allocStallsTotal - first.allocStallsTotal;
  if (reclaimed <= 0 || stalls <= 0) return null;
  const spanMs = newest.atMs - first.atMs;
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

export function oracleMemoryPressure(history: readonly MachineSample[], config: MachineGuardConfig, context: DetectContext = { lastStarvationKillAtMs: null }): MachineVerdict | null {
  const newest = history.at(-1);
  if (newest === undefined || config.psiFullPct <= 0 || newest.psiFullTotalUs === null) return null;
  const since = context.lastKillAtMs ?? null;
  let base: MachineSample | undefined;
  for (const s of history) {
    if (since !== null && s.atMs < since) continue;
    if (s.psiFullTotalUs !== null && newest.atMs - s.atMs >= config.psiWindowMs) base = s;
  }
  if (base === undefined || base.psiFullTotalUs === null) return null;
  const spanMs = newest.atMs - base.atMs;
  const fullPct = pct((newest.psiFullTotalUs - base.psiFullTotalUs) / 1000, spanMs);
  if (fullPct < config.psiFullPct) return null;
  return {
    kind: "memory-pressure",
    critical: true,
    reason: `every task stalled on memory ${fullPct.toFixed(1)}% of the last ${Math.round(spanMs)} ms (PSI full, threshold ${config.psiFullPct}%)`,
  };
}

export function oracleDetectMachinePressure(history: readonly MachineSample[], config: MachineGuardConfig, context: DetectContext): MachineVerdict {
  const newest = history.at(-1);
  if (newest === undefined) return { kind: "ok", critical: false, reason: "no sample yet" };
  const starvation = oracleWatermarkStarvation(history, config, context);
  let pressure = oracleMemoryPressure(history, config, context);
  // The stall of a starvation held back by its rate limit is held back with it.
  if (pressure !== null && starvation?.heldBack !== undefined) pressure = { ...pressure, heldBack: `the stall is that of the watermark starvation held back (${starvation.heldBack})` };
  const fired = [starvation, pressure, lowMemory(newest, config)].filter((v): v is MachineVerdict => v !== null);
  const acting = fired.find((v) => v.heldBack === undefined);
  return acting ?? fired[0] ?? { kind: "ok", critical: false, reason: `available ${mib(newest.availableBytes)}, free ${mib(newest.freeBytes)}` };
}
