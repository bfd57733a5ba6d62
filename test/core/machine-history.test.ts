// The machine guard's history: what appendSample records for the detectors, and what one sample
// costs. At a sample a millisecond a 30 s window holds 30,000 samples; the cost is counted in
// samples read and written (never in wall-clock time), through a Proxy on the history's array.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { appendSample, emptyHistory, entryAtSeq, type HistoryEntry, type MachineHistory } from "../../src/core/machine-history.js";
import { detectMachinePressure, type DetectContext, type MachineGuardConfig, type MachineSample } from "../../src/core/machine-pressure.js";
import { DEFAULT_ENGINE_OPTIONS } from "../../src/engine/engine-options.js";

const MIB = 1024 * 1024;
const CONFIG: MachineGuardConfig = DEFAULT_ENGINE_OPTIONS.machineGuard;

function sample(atMs: number, o: Partial<MachineSample> = {}): MachineSample {
  return {
    atMs,
    totalBytes: 1024 * MIB,
    availableBytes: 20 * MIB,
    freeBytes: 4 * MIB,
    minWatermarkBytes: 8 * MIB,
    lowWatermarkBytes: 10 * MIB,
    swapTotalBytes: 0,
    swapFreeBytes: 0,
    reclaimedPagesTotal: atMs,
    allocStallsTotal: atMs,
    psiSomeTotalUs: atMs * 700,
    psiFullTotalUs: atMs * 700,
    ...o,
  };
}

/** A history whose array counts every element read or written (by index, as copyWithin does too). */
function countedHistory(): { history: MachineHistory; touched: () => number } {
  let touched = 0;
  // Array indices are the keys that start with a digit.
  const isIndex = (key: string | symbol): boolean => typeof key === "string" && key.charCodeAt(0) >= 48 && key.charCodeAt(0) <= 57;
  const entries = new Proxy<HistoryEntry[]>([], {
    get(target, key, receiver) {
      if (isIndex(key)) touched++;
      return Reflect.get(target, key, receiver);
    },
    set(target, key, value, receiver) {
      if (isIndex(key)) touched++;
      return Reflect.set(target, key, value, receiver);
    },
  });
  return { history: { entries, oldest: 0 }, touched: () => touched };
}

describe("appendSample: what it records", () => {
  it("numbers the samples, and keeps the start of the streak below min and the newest sample with PSI", () => {
    const history = emptyHistory();
    const free = [9, 4, 4, 9, 4, 4, 4];
    const psi = [1, null, 2, null, null, 3, null];
    free.forEach((f, i) => appendSample(history, sample(i * 10, { freeBytes: f * MIB, psiFullTotalUs: psi[i] ?? null }), CONFIG));
    assert.deepEqual(
      history.entries.map((e) => [e.seq, e.belowMinSinceSeq, e.psiSeq]),
      [
        [0, null, 0],
        [1, 1, 0],
        [2, 1, 2],
        [3, null, 2],
        [4, 4, 2],
        [5, 4, 5],
        [6, 4, 5],
      ],
    );
  });

  it("keeps positions across compaction: a seq still names its sample, and a dropped one none", () => {
    const history = emptyHistory();
    const windowed: MachineGuardConfig = { ...CONFIG, starvationWindowMs: 100, psiWindowMs: 100 };
    for (let t = 0; t <= 1000; t++) appendSample(history, sample(t), windowed);
    assert.ok(history.entries.length <= 2 * 101 + 1, `${history.entries.length} entries for 101 kept samples`);
    assert.equal(entryAtSeq(history, 1000)?.sample.atMs, 1000);
    assert.equal(entryAtSeq(history, 900)?.sample.atMs, 900, "the baseline a window old");
    assert.equal(entryAtSeq(history, 899), undefined, "dropped");
    assert.equal(entryAtSeq(history, 1001), undefined, "yet to come");
  });
});

describe("appendSample and the detectors: the cost of a sample", () => {
  it("100,000 samples at 1 ms with a 30 s window touch O(log n) samples each, amortized", () => {
    const { history, touched } = countedHistory();
    const samples = 100_000;
    const windowSamples = 30_001;
    // A binary search over 60,000 entries reads 16: one to prune, one for the pressure base, and a
    // handful of direct reads; a compaction reads and writes the 30,000 kept samples once every
    // 30,000 samples, about 2 per sample. The walks over the window this replaced touched ~30,000
    // per sample: the running total fails at once if one came back.
    const perSampleBound = 2 * Math.log2(2 * windowSamples) + 20;
    const compactionSlack = 2 * windowSamples;
    // Below min throughout (the streak outlasts the history), PSI present, a kill to measure after:
    // every detector's search runs at every sample.
    const context: DetectContext = { lastStarvationKillAtMs: 50_000, lastKillAtMs: 40_000 };
    let fired = 0;
    for (let t = 1; t <= samples; t++) {
      appendSample(history, sample(t), CONFIG);
      if (detectMachinePressure(history, CONFIG, context).kind !== "ok") fired++;
      if (touched() > perSampleBound * t + compactionSlack) assert.fail(`${touched()} samples touched by sample ${t}: more than ${perSampleBound.toFixed(0)} each`);
    }
    assert.ok(fired > samples / 2, `the detectors fired at ${fired} samples: their searches ran`);
    assert.equal(history.entries.length - history.oldest, windowSamples, "the window and its baseline are kept");
    assert.ok(history.entries.length <= 2 * windowSamples + 1, `${history.entries.length} entries: the dead front is dropped`);
    assert.ok(touched() / samples >= 2 * Math.log2(windowSamples), `${touched() / samples} per sample: the count sees the searches`);
  });
});
