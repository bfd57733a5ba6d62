// The machine guard's listing for growth, taken in slices with a pause between them (virtual time):
// the slices of one listing come a pause apart, the growth it measures is dated when it began, and
// a decision drops the listing under way rather than wait for it.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MemoryJournal } from "../../src/daemon/journal.js";
import { Engine } from "../../src/engine/engine.js";
import { joinDecisions } from "../../src/engine/journal-record.js";
import { ROUTINE_PAUSE_MS, ROUTINE_SLICE_MS } from "../../src/engine/sliced-listing.js";
import { FakeHost } from "./fake-host.js";

const MIB = 1024 * 1024;

/** A 1 GiB machine with an idle 300 MiB process and a 200 MiB one; MemAvailable as given. */
function machine(availableMiB: number): { host: FakeHost; journal: MemoryJournal; engine: Engine } {
  const host = new FakeHost(2);
  host.add({ pid: 100, comm: "idle", rssBytes: 300 * MIB });
  host.add({ pid: 200, comm: "grower", rssBytes: 200 * MIB });
  host.machineOtherUsedBytes = host.machineTotalBytes - host.usageBytes() - availableMiB * MIB;
  const journal = new MemoryJournal();
  const engine = new Engine(host, journal, { observeIntervalMs: 100, maxObservationsWithoutProgress: 5 });
  return { host, journal, engine };
}

describe("machine guard: the listing for growth in slices", () => {
  it("takes each listing a slice at a time, a pause apart, and none begins while one is under way", async () => {
    const { host, engine } = machine(600);
    host.routineListingSlices = 4;
    host.routineSliceCostMs = ROUTINE_SLICE_MS; // each slice takes its whole budget
    assert.ok(engine.guardMachine().ok);
    host.routineSlicesAtMs.length = 0; // none yet: the start lists whole (warm-up, rehearsal)
    const begun = host.routineListings.routine;
    await host.advance(12_000);
    engine.stop();
    const listings = host.routineListings.routine - begun;
    assert.ok(listings >= 2, `${listings} listings for growth in 12 s above the warn level`);
    assert.equal(host.routineSlicesAtMs.length, 4 * listings, "every listing to its last slice");
    for (let i = 0; i < host.routineSlicesAtMs.length; i += 4) {
      const slices = host.routineSlicesAtMs.slice(i, i + 4);
      const apart = slices.slice(1).map((at, j) => at - (slices[j] ?? 0));
      assert.deepEqual(apart, [1, 2, 3].map(() => ROUTINE_SLICE_MS + ROUTINE_PAUSE_MS), `slices at ${slices.join(", ")} ms`);
    }
  });

  it("measures growth across sliced listings: the process that grows is the victim, not the bigger idle one", async () => {
    // 140 MiB available (13.7%, below the warn level: a listing for growth once a second), the grower
    // taking 2 MiB every 100 ms: the terminate line (10%) about 2 s on. Without a rate the bigger
    // idle process would be the victim.
    const { host, journal, engine } = machine(140);
    host.routineListingSlices = 3;
    host.routineSliceCostMs = 2;
    assert.ok(engine.guardMachine().ok);
    for (let t = 0; t < 4000; t += 100) {
      const grower = host.processes.get(200);
      if (grower !== undefined && grower.alive) grower.rssBytes += 2 * MIB;
      await host.advance(100);
    }
    await engine.whenIdle();
    engine.stop();
    assert.ok(host.routineListings.routine >= 1, JSON.stringify(host.routineListings));
    const [first] = joinDecisions(journal.records);
    assert.equal(first?.victim?.comm, "grower", JSON.stringify(first?.candidates));
    assert.ok(host.alive(100), "the idle process lives");
  });

  it("a decision drops the listing under way: no slice of it after the decision began", async () => {
    const { host, journal, engine } = machine(400);
    host.routineListingSlices = 1000; // a listing far longer than the time to the decision
    host.routineSliceCostMs = ROUTINE_SLICE_MS;
    assert.ok(engine.guardMachine().ok);
    await host.advance(6000); // 39% available: a listing for growth every 5 s, one under way by now
    assert.ok(host.routineSlicesAtMs.length > 0, "a listing for growth is under way");
    // When the decision lists the processes for itself.
    const decisionListingsAtMs: number[] = [];
    const listWhole = host.listAllProcesses.bind(host);
    host.listAllProcesses = (options) => {
      decisionListingsAtMs.push(host.now());
      return listWhole(options);
    };
    host.machineOtherUsedBytes = host.machineTotalBytes - host.usageBytes() - 30 * MIB; // below the kill level
    const slicesBefore = host.routineSlicesAtMs.length;
    await host.advance(2000);
    await engine.whenIdle();
    engine.stop();
    const [decision] = joinDecisions(journal.records);
    assert.ok(decision !== undefined, "a decision");
    const decidedAtMs = decisionListingsAtMs[0] ?? Infinity;
    assert.ok(host.routineSlicesAtMs.length - slicesBefore < 100, "the listing did not run on to its end");
    assert.deepEqual(host.routineSlicesAtMs.filter((at) => at >= decidedAtMs), [], `slices after the decision's listing at ${decidedAtMs} ms`);
  });
});
