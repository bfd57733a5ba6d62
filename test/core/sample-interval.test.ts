// The adaptive sampling interval as a pure function: headroom to the next acting level over the
// faster of the measured fall and the assumed fill rate, within its bounds.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { MemoryLevelsConfig } from "../../src/core/machine-levels.js";
import type { MachineSample } from "../../src/core/machine-pressure.js";
import { fallRateBytesPerMs, nextSampleDelayMs, type SampleIntervalConfig } from "../../src/core/sample-interval.js";
import { machineSample } from "../support/machine-samples.js";

const MIB = 1024 * 1024;
const LEVELS: MemoryLevelsConfig = { warnAvailablePct: 15, warnSwapFreePct: 20, terminateAvailablePct: 10, terminateSwapFreePct: 10, lowAvailablePct: 5, lowSwapFreePct: 5 };
const BOUNDS: SampleIntervalConfig = { minMs: 20, maxMs: 1000, nearMs: 250, belowLowMs: 40, assumedFillBytesPerMs: 2 * MIB };

/** A 10 GiB machine (the terminate line at 1024 MiB, the kill line at 512 MiB). */
function at(atMs: number, availableMiB: number, o: Partial<MachineSample> = {}): MachineSample {
  return machineSample({ atMs, totalBytes: 10240 * MIB, availableBytes: availableMiB * MIB, freeBytes: availableMiB * MIB, minWatermarkBytes: 16 * MIB, lowWatermarkBytes: 20 * MIB, ...o });
}

describe("adaptive sampling interval", () => {
  it("headroom over the assumed rate while memory does not fall", () => {
    // 1024 MiB above the terminate line at 2 MiB/ms: 512 ms.
    assert.equal(nextSampleDelayMs([at(0, 2048), at(1000, 2048)], LEVELS, BOUNDS), 512);
    // Plentiful: bounded by maxMs.
    assert.equal(nextSampleDelayMs([at(0, 9000)], LEVELS, BOUNDS), 1000);
  });

  it("a fall faster than the assumed rate shortens it in proportion", () => {
    // 4 GiB in 1024 ms: 4 MiB/ms, twice the assumed rate. Memory is judged where it will be when a
    // decision at the next sample (minMs, 20 ms, away) would signal: 80 MiB lower, so 944 MiB of
    // headroom at 4 MiB/ms: 236 ms.
    const falling = [at(0, 6144), at(1024, 2048)];
    assert.equal(fallRateBytesPerMs(falling), 4 * MIB);
    assert.equal(nextSampleDelayMs(falling, LEVELS, BOUNDS), 236);
  });

  it("the fastest fall to the newest sample counts: a hog that began a moment ago is not averaged away over the second", () => {
    // Over the second: 200 MiB in 1000 ms; over the last 100 ms: 100 MiB.
    assert.equal(fallRateBytesPerMs([at(0, 6000), at(900, 5900), at(1000, 5800)]), MIB);
    // Steady: the second's rate.
    assert.equal(fallRateBytesPerMs([at(0, 6000), at(900, 5100), at(1000, 5000)]), MIB);
    // Memory that came back in the last interval, or stayed level: the fall has stopped, none is projected.
    assert.equal(fallRateBytesPerMs([at(0, 6000), at(900, 4000), at(1000, 5000)]), 0);
    assert.equal(fallRateBytesPerMs([at(0, 6000), at(900, 4000), at(1000, 4000)]), 0);
  });

  it("a rise counts as no fall", () => {
    assert.equal(fallRateBytesPerMs([at(0, 1000), at(500, 3000)]), 0);
    assert.equal(nextSampleDelayMs([at(0, 1000), at(500, 2048)], LEVELS, BOUNDS), 512);
  });

  it("between terminate and kill it measures to the kill line; below the last line, to MemAvailable running out, at most the near interval", () => {
    assert.equal(nextSampleDelayMs([at(0, 612)], LEVELS, BOUNDS), 50);
    assert.equal(nextSampleDelayMs([at(0, 300)], LEVELS, BOUNDS), 150);
    assert.equal(nextSampleDelayMs([at(0, 40)], LEVELS, BOUNDS), 20);
    assert.equal(nextSampleDelayMs([at(0, 510)], LEVELS, BOUNDS), 250);
  });

  it("never below minMs; near the low watermark at most the near interval, below it at most belowLowMs", () => {
    assert.equal(nextSampleDelayMs([at(0, 1030)], LEVELS, BOUNDS), 20);
    assert.equal(nextSampleDelayMs([at(0, 5000, { freeBytes: 30 * MIB })], LEVELS, BOUNDS), 250);
    assert.equal(nextSampleDelayMs([at(0, 5000, { freeBytes: 10 * MIB })], LEVELS, BOUNDS), 40);
    // Denser already: the levels' interval stands.
    assert.equal(nextSampleDelayMs([at(0, 1030, { freeBytes: 10 * MIB })], LEVELS, BOUNDS), 20);
  });

  it("with a decision's lead, the headroom is measured from where memory will be when its signal lands", () => {
    // 4 MiB/ms for 1024 ms to 2048 MiB; a decision of 128 ms taken at the next sample, 20 ms away,
    // lands 592 MiB lower, 432 MiB above the terminate line: 108 ms.
    const falling = [at(0, 6144), at(1024, 2048)];
    assert.equal(nextSampleDelayMs(falling, LEVELS, BOUNDS, 128), 108);
    // The lead is taken from the measured fall only: memory that does not fall is not projected.
    assert.equal(nextSampleDelayMs([at(0, 2048), at(1000, 2048)], LEVELS, BOUNDS, 128), 512);
  });
});
