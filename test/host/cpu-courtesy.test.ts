// Long work at the raised priority pauses now and then, so that whoever waits on that CPU can run.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { COURTESY_PAUSE_MS, COURTESY_SLICE_MS, CpuCourtesy, THREAD_CLOCK, type CourtesyClock } from "../../src/host/linux/cpu-courtesy.js";

/** A clock that moves only when told, and blocks by moving itself. */
function fakeClock(): CourtesyClock & { t: number; blocks: number[] } {
  const clock = {
    t: 1000,
    blocks: [] as number[],
    now: () => clock.t,
    block: (ms: number) => {
      clock.blocks.push(ms);
      clock.t += ms;
    },
  };
  return clock;
}

describe("cpu courtesy", () => {
  it("pauses after each slice of work at the raised priority, counting the slice from the last pause", () => {
    const clock = fakeClock();
    const courtesy = new CpuCourtesy(() => true, clock);
    courtesy.begin();
    // 35 steps of 1 ms each: pauses after 10, 20 and 30 ms of work.
    for (let i = 0; i < 35; i++) {
      clock.t += 1;
      courtesy.step();
    }
    assert.deepEqual(clock.blocks, [COURTESY_PAUSE_MS, COURTESY_PAUSE_MS, COURTESY_PAUSE_MS]);
    assert.equal(courtesy.totalGivenBackMs(), 3 * COURTESY_PAUSE_MS);
  });

  it("work shorter than a slice never pauses, and a new run counts from its own start (the thread may have slept between)", () => {
    const clock = fakeClock();
    const courtesy = new CpuCourtesy(() => true, clock);
    for (let run = 0; run < 5; run++) {
      courtesy.begin();
      for (let i = 0; i < COURTESY_SLICE_MS - 1; i++) {
        clock.t += 1;
        courtesy.step();
      }
      clock.t += 1000; // asleep until the next run
    }
    assert.deepEqual(clock.blocks, []);
  });

  it("never pauses at the start priority (routine work competes as an equal) or before any run began", () => {
    const clock = fakeClock();
    let raised = false;
    const courtesy = new CpuCourtesy(() => raised, clock);
    clock.t += 100;
    courtesy.step();
    courtesy.begin();
    clock.t += 100;
    courtesy.step();
    assert.deepEqual(clock.blocks, []);
    raised = true;
    courtesy.step();
    assert.deepEqual(clock.blocks, [COURTESY_PAUSE_MS]);
  });

  it("the thread's own block lasts about as long as asked (a futex wait)", () => {
    const start = THREAD_CLOCK.now();
    for (let i = 0; i < 10; i++) THREAD_CLOCK.block(COURTESY_PAUSE_MS);
    const tookMs = THREAD_CLOCK.now() - start;
    assert.ok(tookMs >= 10 * COURTESY_PAUSE_MS * 0.9, `${tookMs.toFixed(2)} ms for ten pauses`);
    assert.ok(tookMs < 1000, `${tookMs.toFixed(2)} ms for ten pauses`);
  });
});
