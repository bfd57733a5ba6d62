// How often the machine guard lists processes for growth: never so seldom that a rate cannot be
// measured when a decision comes, however long a listing takes.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DEFAULT_GROWTH_CONFIG, ProcessGrowth } from "../../src/core/process-growth.js";
import { growthListingIntervalMs } from "../../src/engine/machine-guard.js";
import { processSample } from "../fixtures/process-sample.js";

const MIB = 1024 * 1024;

describe("growthListingIntervalMs", () => {
  it("once a second below the warn level; above it 5 s, longer for a dear listing (1% of a core), never past 60% of the growth window", () => {
    assert.equal(growthListingIntervalMs(false, 500), 1000);
    assert.equal(growthListingIntervalMs(true, 10), 5000);
    assert.equal(growthListingIntervalMs(true, 55), 5500);
    assert.equal(growthListingIntervalMs(true, 150), 0.6 * DEFAULT_GROWTH_CONFIG.windowMs, "150 ms would have meant 15 s");
  });

  it("listings that far apart, and a decision's own listing 2 s after the last, still give a process its rate", () => {
    const everyMs = growthListingIntervalMs(true, 1000);
    const growth = new ProcessGrowth();
    const worker = (atMs: number) => processSample({ pid: 1000, comm: "small", rssBytes: MIB + (atMs / 1000) * MIB, startTimeTicks: 1 });
    // The last listing's point and the decision's own, a whole interval and 2 s more apart.
    growth.record(1000, [worker(1000)]);
    const decisionAtMs = 1000 + everyMs + 2000;
    growth.record(decisionAtMs, [worker(decisionAtMs)]);
    assert.equal(growth.rates(decisionAtMs).bytesPerSec(worker(decisionAtMs)), MIB);
    // At the 15 s a 150 ms listing used to set, the point before is outside the window: no rate.
    const stale = new ProcessGrowth();
    stale.record(0, [worker(0)]);
    stale.record(15_000, [worker(15_000)]);
    assert.equal(stale.rates(15_000).bytesPerSec(worker(15_000)), null);
  });
});
