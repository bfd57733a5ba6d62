// The peers bench's medians over runs: a kill before a line and a run without a late heartbeat are
// censored values (at most what the run could show), not missing ones.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { cellOf, cellRow, emptyRunMetrics, pairingsAheadOrEven, TABLE_HEADER, targets, type RunMetrics } from "../../bench/peers.js";

function run(n: number, over: Partial<RunMetrics>): RunMetrics {
  // A run with a kill 20 s in that reached neither line before it, unless `over` says otherwise.
  return { ...emptyRunMetrics("thrash", "oomwarden", n), startToFirstKillMs: 20_000, lowestAvailableMiB: 90, lowestAvailablePct: 9, kernelOomKills: 0, finished: true, ...over };
}

const column = (name: string): number => TABLE_HEADER.indexOf(name);

describe("peers bench: medians over runs", () => {
  it("a kill before the 10% line counts as 0, not as a missing run", () => {
    // Three kills after the line (400, 500, 600 ms) and two before it: the median of five is 400 ms;
    // leaving the two out would have made it 500.
    const runs = [400, 500, 600, null, null].map((ms, i) => run(i, { tenPctToKillMs: ms }));
    const cell = cellOf("thrash", "oomwarden", runs);
    assert.equal(cell.tenPctToKillMs, 400);
    assert.equal(cell.tenPctReached, 3);
    assert.equal(cellRow(cell)[column("10% -> kill s")], "0.40 (3/5)");
  });

  it("leaves out runs without a kill and runs where the line may have been crossed unseen", () => {
    const runs = [
      run(0, { tenPctToKillMs: 300 }),
      run(1, { tenPctToKillMs: 700 }),
      run(2, { startToFirstKillMs: null }), // no kill at all
      run(3, { tenPctUnseenWithinMs: 800 }), // killed inside a sampling gap that began above the line
    ];
    // The median is the nearest rank (the lower middle of an even count): 300 of [300, 700].
    assert.equal(cellOf("thrash", "oomwarden", runs).tenPctToKillMs, 300);
  });

  it("a line never reached before any kill is shown as not reached", () => {
    const cell = cellOf("thrash", "earlyoom", [run(0, {}), run(1, {})]);
    assert.equal(cell.fivePctToKillMs, 0);
    assert.equal(cellRow(cell)[column("5% -> kill s")], "not reached");
  });

  it("a run without a reported heartbeat gap had none over 50 ms: it counts, below every reported one", () => {
    // One run in ten with a 75 ms gap: the median is below what the heartbeat reports, not 75 ms.
    const few = cellOf("thrash", "earlyoom", [75, ...Array<null>(9).fill(null)].map((ms, i) => run(i, { heartbeatLongestGapMs: ms })));
    assert.equal(cellRow(few)[column("heartbeat gap s")], "<0.05");
    // Six in ten with gaps: the median (the fifth of ten, nearest rank) is the smallest of them.
    const many = cellOf("thrash", "oomwarden", [60, 70, 80, 90, 100, 110, null, null, null, null].map((ms, i) => run(i, { heartbeatLongestGapMs: ms })));
    assert.equal(many.heartbeatLongestGapMs, 60);
    assert.equal(cellRow(many)[column("heartbeat gap s")], "0.06");
  });

  it("the targets say how the runs pair up, not only which median is lower", () => {
    const cells = [
      cellOf("thrash", "oomwarden", [300, 310, 290].map((ms, i) => run(i, { workload: "thrash", tenPctToKillMs: ms }))),
      cellOf("thrash", "earlyoom", [280, 320, 305].map((ms, i) => run(i, { workload: "thrash", handler: "earlyoom", tenPctToKillMs: ms }))),
    ];
    // Medians 300 vs 305: met. Pairings won or tied: 300 beats 320 and 305, 310 beats 320, 290 beats 320 and 305.
    assert.deepEqual(pairingsAheadOrEven([300, 310, 290], [280, 320, 305]), { aheadOrEven: 5, pairings: 9 });
    const [line] = targets(cells, ["thrash"]);
    assert.match(line ?? "", /10%->kill 0\.30 s vs 0\.3\d s \(earlyoom\) \(met; ahead or even in 5 of 9 run pairings\)/);
    // Both heartbeats never late past what it reports: every pairing is even.
    assert.match(line ?? "", /heartbeat gap <0\.05 s vs <0\.05 s \(earlyoom\) \(met; ahead or even in 9 of 9 run pairings\)/);
  });
});
