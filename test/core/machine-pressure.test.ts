// The whole-machine detectors on literal samples: low memory (earlyoom's rule), watermark
// starvation (seed 003, rate-limited), PSI "full" pressure, and the history they keep; and, over
// random sample sequences, the same verdicts as the plain O(n) detectors they replaced.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { appendSample, emptyHistory, type MachineHistory } from "../../src/core/machine-history.js";
import {
  BELOW_LOW_SAMPLE_INTERVAL_MS,
  belowLowSampleIntervalMs,
  detectMachinePressure,
  lowMemory,
  memoryPressure,
  starvationSpanNeeded,
  watermarkStarvation,
  type DetectContext,
  type MachineGuardConfig,
  type MachineSample,
} from "../../src/core/machine-pressure.js";
import { MAX_WINDOW_MS, MAX_WINDOW_SAMPLES } from "../../src/core/tunable-keys.js";
import { DEFAULT_ENGINE_OPTIONS } from "../../src/engine/engine-options.js";
import { machineSample } from "../support/machine-samples.js";
import { oracleDetectMachinePressure, oracleMemoryPressure, oraclePruneHistory, oracleWatermarkStarvation } from "./machine-pressure-oracle.js";

const MIB = 1024 * 1024;

// The warn and terminate levels are off here: these tests are about the detectors at the kill
// level (test/core/machine-levels.test.ts has the levels).
const CONFIG: MachineGuardConfig = {
  warnAvailablePct: 0,
  warnSwapFreePct: 0,
  terminateAvailablePct: 0,
  terminateSwapFreePct: 0,
  lowAvailablePct: 5,
  lowSwapFreePct: 5,
  criticalAvailablePct: 1.5,
  starvationWindowMs: 1000,
  starvationKillIntervalMs: 60_000,
  psiFullPct: 60,
  psiWindowMs: 30_000,
};

const config = (o: Partial<MachineGuardConfig> = {}): MachineGuardConfig => ({ ...CONFIG, ...o });
const NEVER = { lastStarvationKillAtMs: null };

/** The history the engine would keep after these samples, appended one by one under `cfg`. */
function historyOf(samples: readonly MachineSample[], cfg: MachineGuardConfig = CONFIG): MachineHistory {
  const history = emptyHistory();
  for (const s of samples) appendSample(history, s, cfg);
  return history;
}

/** The samples a history keeps. */
function kept(history: MachineHistory): MachineSample[] {
  return history.entries.slice(history.oldest).map((e) => e.sample);
}

const sample = machineSample;

/**
 * Samples every `stepMs` from `fromMs` to `toMs` inclusive, free below min (4 MiB of a min of 8:
 * at min/2, where atomic allocations start failing, unless `freeBytes` says otherwise), counters
 * rising by the given steps.
 */
function starving(fromMs: number, toMs: number, o: { stepMs?: number; reclaimStep?: number; stallStep?: number; freeBytes?: number } = {}): MachineSample[] {
  const stepMs = o.stepMs ?? 250;
  const out: MachineSample[] = [];
  for (let t = fromMs, i = 0; t <= toMs; t += stepMs, i++) {
    out.push(sample({ atMs: t, freeBytes: o.freeBytes ?? 4 * MIB, reclaimedPagesTotal: 1000 + i * (o.reclaimStep ?? 500), allocStallsTotal: 50 + i * (o.stallStep ?? 7) }));
  }
  return out;
}

/** Free memory just below min (8 MiB): the whole window is needed there. */
const JUST_BELOW_MIN = 8 * MIB - 4096;

describe("lowMemory", () => {
  it("the test config is the shipped default at the kill level, so these numbers are the daemon's", () => {
    const { enabled: _e, sampleIntervalMs: _s, idleSampleIntervalMs: _i, terminateGraceMs: _g, killUnit: _u, ...defaults } = DEFAULT_ENGINE_OPTIONS.machineGuard;
    assert.deepEqual({ ...defaults, warnAvailablePct: 0, warnSwapFreePct: 0, terminateAvailablePct: 0, terminateSwapFreePct: 0 }, CONFIG);
  });

  it("fires below lowAvailablePct on a machine without swap, with the numbers in the reason", () => {
    const v = lowMemory(sample({ availableBytes: 40 * MIB }), CONFIG);
    assert.ok(v);
    assert.equal(v.kind, "low-memory");
    assert.equal(v.critical, false, "3.9% is above the critical 1.5%");
    assert.equal(v.heldBack, undefined);
    assert.match(v.reason, /available 40\.0 MiB of 1024\.0 MiB \(3\.9% < 5%\), no swap/);
  });

  it("does not fire at or above the threshold", () => {
    assert.equal(lowMemory(sample({ availableBytes: 52 * MIB }), CONFIG), null, "5.08%");
    assert.equal(lowMemory(sample({ totalBytes: 1000 * MIB, availableBytes: 50 * MIB }), CONFIG), null, "exactly 5% is not below 5%");
  });

  it("does not fire while plenty of swap is free, and fires once swap free is low too", () => {
    const low = { availableBytes: 20 * MIB, swapTotalBytes: 2048 * MIB };
    assert.equal(lowMemory(sample({ ...low, swapFreeBytes: 1024 * MIB }), CONFIG), null, "half the swap free: not out of memory");
    assert.equal(lowMemory(sample({ ...low, swapFreeBytes: 103 * MIB }), CONFIG), null, "5.03% swap free is not below 5%");
    const v = lowMemory(sample({ ...low, swapFreeBytes: 50 * MIB }), CONFIG);
    assert.ok(v);
    assert.equal(v.kind, "low-memory");
    assert.match(v.reason, /swap free 50\.0 MiB of 2048\.0 MiB \(2\.4%\)/);
  });

  it("is critical below criticalAvailablePct (with swap low too), not above it", () => {
    assert.equal(lowMemory(sample({ availableBytes: 15 * MIB }), CONFIG)?.critical, true, "1.46%");
    assert.equal(lowMemory(sample({ availableBytes: 16 * MIB }), CONFIG)?.critical, false, "1.56%");
    assert.equal(lowMemory(sample({ availableBytes: 0 }), CONFIG)?.critical, true);
    assert.equal(lowMemory(sample({ availableBytes: 10 * MIB, swapTotalBytes: 1024 * MIB, swapFreeBytes: 10 * MIB }), CONFIG)?.critical, true);
  });

  it("lowAvailablePct 0 turns the rule off, even with nothing available", () => {
    assert.equal(lowMemory(sample({ availableBytes: 0 }), config({ lowAvailablePct: 0 })), null);
  });
});

describe("watermarkStarvation", () => {
  it("fires when free stays below min for the whole window while reclaim and direct-reclaim stalls rise", () => {
    const history = starving(0, 1000);
    const v = watermarkStarvation(historyOf(history), CONFIG, NEVER);
    assert.ok(v);
    assert.equal(v.kind, "watermark-starvation");
    assert.equal(v.critical, true);
    assert.equal(v.heldBack, undefined);
    // 5 samples: 4 steps of 500 pages and 7 stalls.
    assert.match(v.reason, /free 4\.0 MiB below the min watermark 8\.0 MiB for 1000 ms while reclaim freed 2000 pages and allocations entered direct reclaim 28 times/);
    assert.match(v.reason, /; free is 100% of the way down to min\/2, where atomic allocations start failing: 200 ms below min is starvation there$/);
  });

  it("a dip just below min shorter than the window gives no verdict", () => {
    const shallow = { freeBytes: JUST_BELOW_MIN };
    assert.equal(watermarkStarvation(historyOf(starving(0, 750, shallow)), CONFIG, NEVER), null, "750 ms of a 1000 ms window");
    // A page below min: 999 ms needed.
    assert.equal(watermarkStarvation(historyOf(starving(0, 990, { ...shallow, stepMs: 10 })), CONFIG, NEVER), null, "990 ms just below min");
    assert.equal(watermarkStarvation(historyOf(starving(0, 1000, { ...shallow, stepMs: 10 })), CONFIG, NEVER)?.kind, "watermark-starvation", "1000 ms");
    // Free above min at 250 ms: the streak only starts at 500 ms.
    const interrupted = starving(0, 1250, shallow);
    interrupted[1] = { ...(interrupted[1] as MachineSample), freeBytes: 9 * MIB };
    assert.equal(watermarkStarvation(historyOf(interrupted), CONFIG, NEVER), null, "streak 500..1250 ms is 750 ms");
    // The same history once the streak has lasted the window fires.
    const longer = [...interrupted, ...starving(1500, 1500, shallow).map((s) => ({ ...s, reclaimedPagesTotal: 99_999, allocStallsTotal: 9_999 }))];
    assert.equal(watermarkStarvation(historyOf(longer), CONFIG, NEVER)?.kind, "watermark-starvation");
  });

  it("the deeper free is below min, the shorter the streak that is starvation: the window times the headroom left above min/2, a fifth of it at least", () => {
    // min 8 MiB, min/2 4 MiB: at 7 MiB a quarter of the way down, at 6 half way, at 4 and below at the floor.
    for (const [freeMiB, neededMs] of [
      [7, 750],
      [6, 500],
      [5, 250],
      [4.4, 200],
      [4, 200],
      [1, 200],
    ] as const) {
      const at = { freeBytes: freeMiB * MIB, stepMs: 10 };
      assert.equal(watermarkStarvation(historyOf(starving(0, neededMs - 10, at)), CONFIG, NEVER), null, `${freeMiB} MiB: not after ${neededMs - 10} ms`);
      const v = watermarkStarvation(historyOf(starving(0, neededMs, at)), CONFIG, NEVER);
      assert.equal(v?.kind, "watermark-starvation", `${freeMiB} MiB: after ${neededMs} ms`);
      assert.match(v?.reason ?? "", new RegExp(`: ${neededMs} ms below min is starvation there$`));
    }
  });

  it("judges the streak by its newest sample: free that keeps falling shortens what is needed as it goes", () => {
    // From just below min down to the floor over 400 ms, sampled every 40 ms (as below the low watermark).
    const falling = starving(0, 400, { stepMs: 40 }).map((s, i) => ({ ...s, freeBytes: 8 * MIB - (i + 1) * 0.4 * MIB }));
    const firstVerdictAt = falling.findIndex((_, i) => watermarkStarvation(historyOf(falling.slice(0, i + 1)), CONFIG, NEVER) !== null);
    // At 240 ms free is 5.2 MiB: 300 ms needed; at 280 ms, 4.8 MiB: 200 ms needed, and 280 ms have passed.
    assert.equal(falling[firstVerdictAt]?.atMs, 280);
  });

  it("a dip to min/2 shorter than a fifth of the window gives no verdict, however deep", () => {
    assert.equal(watermarkStarvation(historyOf(starving(0, 160, { stepMs: 40, freeBytes: 0 })), CONFIG, NEVER), null, "160 ms at nothing free");
    assert.equal(watermarkStarvation(historyOf(starving(0, 200, { stepMs: 40, freeBytes: 0 })), CONFIG, NEVER)?.kind, "watermark-starvation");
  });

  it("the span needed is the whole window without a min watermark to measure the depth by", () => {
    assert.deepEqual(starvationSpanNeeded(sample({ freeBytes: 0, minWatermarkBytes: 0 }), 1000), { ms: 1000, words: "no min watermark to measure the depth by" });
    assert.equal(starvationSpanNeeded(sample({ freeBytes: 6 * MIB }), 3000).ms, 1500, "half way down: half of any window");
  });

  it("needs reclaim to be reclaiming: no pages reclaimed across the window, no verdict", () => {
    assert.equal(watermarkStarvation(historyOf(starving(0, 1000, { reclaimStep: 0 })), CONFIG, NEVER), null);
  });

  it("needs allocating tasks to enter direct reclaim: no stalls across the window, no verdict", () => {
    assert.equal(watermarkStarvation(historyOf(starving(0, 1000, { stallStep: 0 })), CONFIG, NEVER), null);
  });

  it("needs the newest sample below min", () => {
    const history = starving(0, 1250);
    history[history.length - 1] = { ...(history.at(-1) as MachineSample), freeBytes: 8 * MIB };
    assert.equal(watermarkStarvation(historyOf(history), CONFIG, NEVER), null, "free == min is not below min");
  });

  it("starvationWindowMs 0 turns the rule off", () => {
    assert.equal(watermarkStarvation(historyOf(starving(0, 5000), config({ starvationWindowMs: 0 })), config({ starvationWindowMs: 0 }), NEVER), null);
  });

  it("is held back within starvationKillIntervalMs of the last starvation kill, and acts after it", () => {
    const history = starving(60_000, 61_000);
    const held = watermarkStarvation(historyOf(history), CONFIG, { lastStarvationKillAtMs: 30_000 });
    assert.ok(held);
    assert.equal(held.kind, "watermark-starvation");
    assert.equal(
      held.heldBack,
      "one watermark-starvation kill per 60000 ms (the last 31000 ms ago): a flood must not turn oomwarden into a killing machine",
    );
    assert.equal(watermarkStarvation(historyOf(history), CONFIG, { lastStarvationKillAtMs: 1000 })?.heldBack, undefined, "exactly the interval ago: acts");
    assert.equal(watermarkStarvation(historyOf(history), CONFIG, { lastStarvationKillAtMs: 0 })?.heldBack, undefined);
  });
});

describe("belowLowSampleIntervalMs", () => {
  const near = DEFAULT_ENGINE_OPTIONS.machineGuard.sampleIntervalMs;

  it("samples every 40 ms below the low watermark by default: five samples in the shortest starvation", () => {
    assert.equal(belowLowSampleIntervalMs(CONFIG, near), BELOW_LOW_SAMPLE_INTERVAL_MS);
    assert.equal(BELOW_LOW_SAMPLE_INTERVAL_MS, 40);
    assert.equal((CONFIG.starvationWindowMs * 0.2) / BELOW_LOW_SAMPLE_INTERVAL_MS, 5);
  });

  it("never more slowly than near a threshold, and not at all faster with the starvation rule off", () => {
    assert.equal(belowLowSampleIntervalMs(CONFIG, 10), 10);
    assert.equal(belowLowSampleIntervalMs(config({ starvationWindowMs: 0 }), near), near);
  });

  it("never so densely that the longest window allowed keeps more than MAX_WINDOW_SAMPLES samples", () => {
    assert.ok(MAX_WINDOW_MS / belowLowSampleIntervalMs(config({ psiWindowMs: MAX_WINDOW_MS }), near) <= MAX_WINDOW_SAMPLES);
  });
});

describe("memoryPressure (PSI full)", () => {
  const psi = (fullUs: (number | null)[], stepMs = 30_000): MachineHistory =>
    historyOf(fullUs.map((us, i) => sample({ atMs: i * stepMs, psiSomeTotalUs: us, psiFullTotalUs: us })));

  it("fires with 18 s of full stall in 30 s at psiFullPct 60", () => {
    const v = memoryPressure(psi([5_000_000, 23_000_000]), CONFIG);
    assert.ok(v);
    assert.equal(v.kind, "memory-pressure");
    assert.equal(v.critical, true);
    assert.match(v.reason, /60\.0% of the last 30000 ms \(PSI full, threshold 60%\)/);
  });

  it("does not fire with 12 s in 30 s", () => {
    assert.equal(memoryPressure(psi([5_000_000, 17_000_000]), CONFIG), null);
  });

  it("does not fire where PSI is unavailable (null totals)", () => {
    assert.equal(memoryPressure(psi([null, null]), CONFIG), null);
  });

  it("needs a sample at least a window old: a shorter history is not judged", () => {
    // 25 s of history, every millisecond of it stalled: still no verdict until the window is covered.
    assert.equal(memoryPressure(psi([0, 25_000_000], 25_000), CONFIG), null);
  });

  it("measures over the window, not since the oldest sample", () => {
    // 60 s of history: the first 30 s fully stalled, the last 30 s only 10 s of it.
    assert.equal(memoryPressure(psi([0, 30_000_000, 40_000_000]), CONFIG), null);
  });

  it("psiFullPct 0 turns the rule off", () => {
    assert.equal(memoryPressure(psi([0, 30_000_000]), config({ psiFullPct: 0 })), null);
  });
});

describe("detectMachinePressure", () => {
  it("ok on a healthy machine, and on no sample at all", () => {
    assert.deepEqual(detectMachinePressure(emptyHistory(), CONFIG, NEVER), { kind: "ok", critical: false, reason: "no sample yet" });
    const v = detectMachinePressure(historyOf([sample()]), CONFIG, NEVER);
    assert.equal(v.kind, "ok");
    assert.equal(v.critical, false);
  });

  it("prefers a rule that may act over one held back by the rate limit", () => {
    const history = starving(60_000, 61_000).map((s) => ({ ...s, availableBytes: 20 * MIB }));
    const recent = { lastStarvationKillAtMs: 30_000 };
    const v = detectMachinePressure(historyOf(history), CONFIG, recent);
    assert.equal(v.kind, "low-memory");
    assert.equal(v.heldBack, undefined);
    // Without the low-memory rule, the held-back verdict is what is reported (so it can be journaled).
    const only = detectMachinePressure(historyOf(history, config({ lowAvailablePct: 0 })), config({ lowAvailablePct: 0 }), recent);
    assert.equal(only.kind, "watermark-starvation");
    assert.match(only.heldBack ?? "", /one watermark-starvation kill per 60000 ms/);
  });

  it("holds the memory stall of a starvation held back with it: a flood must not take, by the pressure rule, the process the rate limit spared", () => {
    // 30 s of starvation at the floor, every task stalled on memory, the last starvation kill 20 s ago.
    const flooded = starving(0, 30_000, { stepMs: 1000 }).map((s) => ({ ...s, psiSomeTotalUs: s.atMs * 1000, psiFullTotalUs: s.atMs * 1000 }));
    const recent = { lastStarvationKillAtMs: 10_000 };
    assert.equal(memoryPressure(historyOf(flooded), CONFIG, recent)?.heldBack, undefined, "alone, the pressure rule would act");
    const v = detectMachinePressure(historyOf(flooded), CONFIG, recent);
    assert.equal(v.kind, "watermark-starvation");
    assert.match(v.heldBack ?? "", /one watermark-starvation kill per 60000 ms/);
    // Past the interval the starvation acts, as it would have without the stall.
    const due = detectMachinePressure(historyOf(flooded), CONFIG, { lastStarvationKillAtMs: -30_000 });
    assert.equal(due.kind, "watermark-starvation");
    assert.equal(due.heldBack, undefined);
    // Pressure without starvation (free above min) still acts.
    const stalled = flooded.map((s) => ({ ...s, freeBytes: 100 * MIB }));
    assert.equal(detectMachinePressure(historyOf(stalled), CONFIG, recent).kind, "memory-pressure");
    assert.equal(detectMachinePressure(historyOf(stalled), CONFIG, recent).heldBack, undefined);
  });

  it("orders acting rules by severity: starvation, then pressure, then low memory", () => {
    const starvingLow = starving(0, 1000).map((s) => ({ ...s, availableBytes: 20 * MIB }));
    assert.equal(detectMachinePressure(historyOf(starvingLow), CONFIG, NEVER).kind, "watermark-starvation");
    const pressuredLow = [sample({ atMs: 0, psiFullTotalUs: 0, psiSomeTotalUs: 0 }), sample({ atMs: 30_000, availableBytes: 20 * MIB, psiFullTotalUs: 20_000_000, psiSomeTotalUs: 20_000_000 })];
    assert.equal(detectMachinePressure(historyOf(pressuredLow), CONFIG, NEVER).kind, "memory-pressure");
  });
});

describe("the history appendSample keeps", () => {
  it("keeps exactly one sample older than the longest window, and everything within it", () => {
    const at = [0, 10_000, 25_000, 35_000, 50_000, 62_000];
    const history = historyOf(at.map((atMs) => sample({ atMs })));
    // Longest window 30 s before 62 s is 32 s: 25 s is the one baseline before it.
    assert.deepEqual(kept(history).map((s) => s.atMs), [25_000, 35_000, 50_000, 62_000]);
  });

  it("uses the longest window of the two rules", () => {
    const samples = [0, 500, 1000, 1500, 2000, 2500].map((atMs) => sample({ atMs }));
    const short = config({ psiWindowMs: 1, starvationWindowMs: 1000 });
    assert.deepEqual(kept(historyOf(samples, short)).map((s) => s.atMs), [1500, 2000, 2500], "a sample exactly one window old is the baseline");
    assert.deepEqual(kept(historyOf(samples, config({ psiWindowMs: 10_000 }))).map((s) => s.atMs), [0, 500, 1000, 1500, 2000, 2500]);
  });

  it("an empty history has no sample; one sample is kept", () => {
    assert.deepEqual(kept(emptyHistory()), []);
    assert.deepEqual(kept(historyOf([sample({ atMs: 7 })])), [sample({ atMs: 7 })]);
  });

  it("a streak longer than the history kept is judged from the oldest sample kept", () => {
    const short = config({ psiWindowMs: 1 });
    const history = historyOf(starving(0, 20_000), short);
    assert.equal(history.entries[history.oldest]?.sample.atMs, 19_000, "one second (the starvation window) and its baseline");
    const v = watermarkStarvation(history, short, NEVER);
    assert.equal(v?.kind, "watermark-starvation");
    // 4 steps of 250 ms: 2000 pages and 28 stalls, as over the first second.
    assert.match(v?.reason ?? "", /for 1000 ms while reclaim freed 2000 pages and allocations entered direct reclaim 28 times/);
  });
});

// ----- property -----

const configArb: fc.Arbitrary<MachineGuardConfig> = fc.record({
  warnAvailablePct: fc.constant(0),
  warnSwapFreePct: fc.constant(0),
  terminateAvailablePct: fc.constant(0),
  terminateSwapFreePct: fc.constant(0),
  lowAvailablePct: fc.constantFrom(0, 1, 5, 10, 50),
  lowSwapFreePct: fc.constantFrom(0, 5, 20),
  criticalAvailablePct: fc.constantFrom(0, 1.5, 5),
  starvationWindowMs: fc.constantFrom(0, 250, 1000, 3000),
  starvationKillIntervalMs: fc.constantFrom(0, 1000, 60_000),
  psiFullPct: fc.constantFrom(0, 10, 60, 100),
  psiWindowMs: fc.constantFrom(1, 500, 2000, 30_000),
});

interface Step {
  dtMs: number;
  availablePct: number;
  freePctOfMin: number;
  reclaimed: number;
  stalls: number;
  psiFullUs: number;
}

const stepArb: fc.Arbitrary<Step> = fc.record({
  dtMs: fc.integer({ min: 1, max: 2000 }),
  availablePct: fc.integer({ min: 0, max: 100 }),
  freePctOfMin: fc.integer({ min: 0, max: 400 }),
  reclaimed: fc.integer({ min: 0, max: 1000 }),
  stalls: fc.integer({ min: 0, max: 20 }),
  psiFullUs: fc.integer({ min: 0, max: 2_000_000 }),
});

/** Cumulative counters, increasing time; PSI totals null throughout or growing. */
function toHistory(steps: Step[], withPsi: boolean, swapTotalBytes: number): MachineSample[] {
  let t = 0;
  let reclaimed = 0;
  let stalls = 0;
  let psi = 0;
  return steps.map((s) => {
    t += s.dtMs;
    reclaimed += s.reclaimed;
    stalls += s.stalls;
    psi += Math.min(s.psiFullUs, s.dtMs * 1000);
    return sample({
      atMs: t,
      // Rounded up: a sample drawn at the threshold is at or above it, never a byte short.
      availableBytes: Math.ceil((s.availablePct / 100) * 1024 * MIB),
      freeBytes: Math.ceil((s.freePctOfMin / 100) * 8 * MIB),
      swapTotalBytes,
      swapFreeBytes: Math.round(swapTotalBytes / 2),
      reclaimedPagesTotal: reclaimed,
      allocStallsTotal: stalls,
      psiSomeTotalUs: withPsi ? psi : null,
      psiFullTotalUs: withPsi ? psi : null,
    });
  });
}

describe("property: random histories", () => {
  it("the verdict is deterministic and leaves the history alone; the history keeps the newest sample and one baseline at most", () => {
    fc.assert(
      fc.property(
        configArb,
        fc.array(stepArb, { minLength: 1, maxLength: 40 }),
        fc.boolean(),
        fc.constantFrom(0, 1024 * MIB),
        fc.option(fc.integer({ min: -100_000, max: 100_000 }), { nil: null }),
        (cfg, steps, withPsi, swap, lastKill) => {
          const samples = toHistory(steps, withPsi, swap);
          const history = historyOf(samples, cfg);
          const frozen = structuredClone(history);
          const context = { lastStarvationKillAtMs: lastKill };
          const first = detectMachinePressure(history, cfg, context);
          const second = detectMachinePressure(structuredClone(history), cfg, { ...context });
          assert.deepEqual(second, first);
          assert.deepEqual(history, frozen, "the detectors do not modify the history");
          // Only the rate-limited rule is ever held back; "ok" is never critical.
          if (first.heldBack !== undefined) assert.equal(first.kind, "watermark-starvation");
          if (first.kind === "ok") assert.equal(first.critical, false);

          const pruned = kept(history);
          assert.deepEqual(pruned.at(-1), samples.at(-1), "the newest sample is never dropped");
          assert.deepEqual(pruned, samples.slice(samples.length - pruned.length), "a suffix of the samples");
          const newest = samples.at(-1) as MachineSample;
          const keepMs = Math.max(cfg.starvationWindowMs, cfg.psiWindowMs);
          const old = pruned.filter((s) => newest.atMs - s.atMs >= keepMs);
          assert.ok(old.length <= 1, `at most one sample a window old or older, got ${old.length}`);
          if (pruned.length < samples.length) assert.equal(old.length, 1, "what was dropped leaves one baseline");
          // What is kept is kept again from scratch.
          assert.deepEqual(kept(historyOf(pruned, cfg)), pruned);
        },
      ),
      { seed: 42, numRuns: 300 },
    );
  });

  it("ok whenever every sample has enough available, free at or above min, and no PSI", () => {
    const healthyStep = stepArb.chain((s) =>
      fc.record({ availablePct: fc.integer({ min: 5, max: 100 }), freePctOfMin: fc.integer({ min: 100, max: 400 }) }).map((h) => ({ ...s, ...h })),
    );
    fc.assert(
      fc.property(configArb, fc.array(healthyStep, { minLength: 1, maxLength: 40 }), fc.option(fc.integer({ min: 0, max: 100_000 }), { nil: null }), (cfg0, steps, lastKill) => {
        // lowAvailablePct at most 5: every sample is at or above it.
        const cfg = { ...cfg0, lowAvailablePct: Math.min(cfg0.lowAvailablePct, 5) };
        for (const swap of [0, 1024 * MIB]) {
          const v = detectMachinePressure(historyOf(toHistory(steps, false, swap), cfg), cfg, { lastStarvationKillAtMs: lastKill });
          assert.equal(v.kind, "ok", `${v.kind}: ${v.reason}`);
          assert.equal(v.critical, false);
          assert.equal(v.heldBack, undefined);
        }
      }),
      { seed: 42, numRuns: 300 },
    );
  });
});

describe("memory pressure after a kill", () => {
  // Full stall 90% of the time for 60 s, a kill at 40 s, no stall after it.
  const history: MachineSample[] = [];
  for (let t = 0; t <= 60_000; t += 1_000) {
    const stalledUs = Math.min(t, 40_000) * 900;
    history.push(sample({ atMs: t, psiFullTotalUs: stalledUs, psiSomeTotalUs: stalledUs }));
  }
  const upTo = (ms: number): MachineHistory => historyOf(history.filter((s) => s.atMs <= ms));

  it("fires on the window before the kill", () => {
    assert.equal(memoryPressure(upTo(39_000), CONFIG, NEVER)?.kind, "memory-pressure");
  });
  it("without the kill's time, the stale window would fire again after it", () => {
    assert.equal(memoryPressure(upTo(45_000), CONFIG, NEVER)?.kind, "memory-pressure");
  });
  it("measures only after the last kill: nothing until a whole window has passed since it", () => {
    const sinceKill = { lastStarvationKillAtMs: null, lastKillAtMs: 40_000 };
    assert.equal(memoryPressure(upTo(45_000), CONFIG, sinceKill), null);
    assert.equal(memoryPressure(upTo(60_000), CONFIG, sinceKill), null, "a calm window after the kill");
    assert.equal(detectMachinePressure(upTo(45_000), CONFIG, sinceKill).kind, "ok");
  });
});

// ----- the same verdicts as the O(n) detectors they replaced (./machine-pressure-oracle.ts) -----

interface OracleStep {
  /** 0: a second sample at the same instant (the engine samples again while it handles one). */
  dtMs: number;
  availablePct: number;
  /** Mostly below the min watermark, so streaks outlast the windows. */
  freePctOfMin: number;
  reclaimed: number;
  stalls: number;
  psiFullUs: number;
  /** With mixed PSI: this sample has no totals. */
  psiMissing: boolean;
  /** The kills the context reports, this long before the sample (null: none)... */
  starvationKillAgoMs: number | null;
  killAgoMs: number | null;
  /** ... or the last kill at the time of the sample this many samples back, where a base may sit exactly. */
  killSamplesBack: number | null;
}

const oracleStepArb: fc.Arbitrary<OracleStep> = fc.record({
  dtMs: fc.oneof(
    { weight: 1, arbitrary: fc.constant(0) },
    { weight: 3, arbitrary: fc.integer({ min: 1, max: 300 }) },
    { weight: 2, arbitrary: fc.integer({ min: 1, max: 3000 }) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 4000 }).map((q) => q / 4) },
  ),
  availablePct: fc.integer({ min: 0, max: 100 }),
  freePctOfMin: fc.oneof({ weight: 5, arbitrary: fc.integer({ min: 0, max: 99 }) }, { weight: 1, arbitrary: fc.integer({ min: 100, max: 400 }) }),
  reclaimed: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 1000 })),
  stalls: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 20 })),
  psiFullUs: fc.integer({ min: 0, max: 3_000_000 }),
  psiMissing: fc.boolean(),
  starvationKillAgoMs: fc.option(fc.integer({ min: -1000, max: 70_000 }), { nil: null }),
  killAgoMs: fc.option(fc.integer({ min: -1000, max: 40_000 }), { nil: null }),
  killSamplesBack: fc.option(fc.nat(60), { nil: null, freq: 2 }),
});

const oracleConfigArb: fc.Arbitrary<MachineGuardConfig> = fc.record({
  warnAvailablePct: fc.constant(0),
  warnSwapFreePct: fc.constant(0),
  terminateAvailablePct: fc.constant(0),
  terminateSwapFreePct: fc.constant(0),
  lowAvailablePct: fc.constantFrom(0, 1, 5, 10, 50),
  lowSwapFreePct: fc.constantFrom(0, 5, 60),
  criticalAvailablePct: fc.constantFrom(0, 1.5, 5),
  starvationWindowMs: fc.constantFrom(0, 1, 250, 1000, 3000, 10_000),
  starvationKillIntervalMs: fc.constantFrom(0, 1000, 60_000),
  psiFullPct: fc.constantFrom(0, 10, 60, 100),
  psiWindowMs: fc.constantFrom(0.5, 1, 500, 2000, 7000, 30_000),
});

describe("property: the same verdicts as the O(n) detectors, at every sample", () => {
  it("kept samples, each detector and the combined verdict (kind, critical, heldBack, reason) agree with the oracle", () => {
    const seen = new Map<string, number>();
    const count = (what: string): void => void seen.set(what, (seen.get(what) ?? 0) + 1);
    fc.assert(
      fc.property(
        oracleConfigArb,
        fc.array(oracleStepArb, { minLength: 1, maxLength: 250, size: "max" }),
        fc.constantFrom("none", "all", "mixed"),
        fc.constantFrom(0, 1024 * MIB),
        (cfg, steps, psiMode, swapTotalBytes) => {
          const history = emptyHistory();
          let oracle: MachineSample[] = [];
          let t = 1000;
          let reclaimed = 0;
          let stalls = 0;
          let psi = 0;
          for (const step of steps) {
            t += step.dtMs;
            reclaimed += step.reclaimed;
            stalls += step.stalls;
            psi += Math.min(step.psiFullUs, step.dtMs * 1000);
            const psiTotal = psiMode === "none" || (psiMode === "mixed" && step.psiMissing) ? null : psi;
            const s = sample({
              atMs: t,
              availableBytes: Math.ceil((step.availablePct / 100) * 1024 * MIB),
              freeBytes: Math.ceil((step.freePctOfMin / 100) * 8 * MIB),
              swapTotalBytes,
              swapFreeBytes: Math.round(swapTotalBytes / 2),
              reclaimedPagesTotal: reclaimed,
              allocStallsTotal: stalls,
              psiSomeTotalUs: psiTotal,
              psiFullTotalUs: psiTotal,
            });
            appendSample(history, s, cfg);
            oracle = oraclePruneHistory([...oracle, s], cfg);
            assert.deepEqual(kept(history), oracle, "the samples kept");

            const atSample = step.killSamplesBack === null ? undefined : oracle[Math.max(0, oracle.length - 1 - step.killSamplesBack)]?.atMs;
            const context: DetectContext = {
              lastStarvationKillAtMs: step.starvationKillAgoMs === null ? null : t - step.starvationKillAgoMs,
              lastKillAtMs: atSample ?? (step.killAgoMs === null ? null : t - step.killAgoMs),
            };
            const starvation = watermarkStarvation(history, cfg, context);
            assert.deepEqual(starvation, oracleWatermarkStarvation(oracle, cfg, context), "watermark starvation");
            const pressure = memoryPressure(history, cfg, context);
            assert.deepEqual(pressure, oracleMemoryPressure(oracle, cfg, context), "memory pressure");
            const verdict = detectMachinePressure(history, cfg, context);
            assert.deepEqual(verdict, oracleDetectMachinePressure(oracle, cfg, context), "the verdict");
            count(verdict.kind + (verdict.heldBack === undefined ? "" : " held back"));
            if (starvation !== null) count(`starvation${starvation.heldBack === undefined ? "" : " held back"}`);
            if (pressure !== null) count("pressure");
            if (pressure === null && oracleMemoryPressure(oracle, cfg, { lastStarvationKillAtMs: null }) !== null) count("pressure only before the kill");
          }
        },
      ),
      { seed: 42, numRuns: 250 },
    );
    // Without these the agreement above would be vacuous for some rule.
    for (const what of ["ok", "low-memory", "watermark-starvation", "watermark-starvation held back", "memory-pressure", "starvation", "starvation held back", "pressure", "pressure only before the kill"]) {
      assert.ok((seen.get(what) ?? 0) >= 200, `${what}: seen ${seen.get(what) ?? 0} times (${JSON.stringify([...seen])})`);
    }
  });
});
