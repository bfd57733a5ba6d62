// The kernel's oom_score both ways: a badness's score, and the band of badness a score allows.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { badnessBoundsOf, oomScoreOf } from "../../src/core/oom-score.js";

describe("oom_score", () => {
  it("the kernel's scale: 0 unkillable, 666 for no memory, 1333 for all of it, 2000 for all of it at oom_score_adj +1000", () => {
    const total = 262_144;
    assert.equal(oomScoreOf(null, total), 0);
    assert.equal(oomScoreOf(0, total), 666);
    assert.equal(oomScoreOf(total, total), 1333);
    assert.equal(oomScoreOf(2 * total, total), 2000);
    // oom_score_adj -999 of an empty process: truncation towards zero keeps it above 0.
    assert.equal(oomScoreOf(-999 * Math.floor(total / 1000), total), 1);
  });

  it("a score's band holds every badness with that score, and nothing else", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 50_000_000 }), fc.double({ min: -0.999, max: 2, noNaN: true }), (total, share) => {
        const badness = Math.floor(share * total);
        const score = oomScoreOf(badness, total);
        const { lowPages, highPages } = badnessBoundsOf(score, total);
        assert.ok(lowPages <= badness && badness <= highPages, `${badness} in ${lowPages}..${highPages}`);
        assert.equal(oomScoreOf(highPages, total), score);
        assert.notEqual(oomScoreOf(highPages + 1, total), score);
        if (lowPages !== -Infinity) {
          assert.equal(oomScoreOf(lowPages, total), score);
          assert.notEqual(oomScoreOf(lowPages - 1, total), score);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("score 0 has no floor: it is also what a task the kernel will not kill shows", () => {
    const { lowPages, highPages } = badnessBoundsOf(0, 1_000_000);
    assert.equal(lowPages, -Infinity);
    assert.ok(highPages < -990_000, String(highPages));
  });
});
