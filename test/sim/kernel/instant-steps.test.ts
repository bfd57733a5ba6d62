// A thread runs a bounded number of zero-time steps per virtual instant, however often it is woken
// at that instant: two threads handing a mutex back and forth without sleeping must let the clock
// advance (before, each hand-over woke the other thread with a fresh step allowance, and the run
// never left its first instant).

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { simulateSync } from "../../../src/sim/kernel/simulate.js";
import type { Step } from "../../../src/sim/scenario.js";
import { forever, policy, scenario, task } from "./build.js";

describe("zero-time steps per instant", () => {
  it("two threads trading a mutex at one instant still reach the end of the run", () => {
    // Three steps a pass: after 100 steps a thread stops holding the lock, so the other one queues
    // behind it and every unlock hands the mutex over at the same instant.
    const trade: Step[] = [forever([{ op: "lock", lock: "m", mode: "exclusive" }, { op: "unlock", lock: "m" }, { op: "unlock", lock: "m" }])];
    const durationMs = 1000;
    const tickMs = 10;
    const s = scenario("trade", { durationMs, tickMs, machine: { pages: 10_000, min: 10 }, locks: [{ name: "m", kind: "mutex" }], tasks: [task("a", { t1: trade, t2: trade })] });
    let lastMs = 0;
    let instants = 0;
    const run = simulateSync(s, policy("p", "today"), {
      observe: (k) => {
        lastMs = k.nowMs;
        instants++;
        // Each thread wakes at most a few times per instant; far fewer events than 100 steps each.
        assert.ok(k.simulatedEvents <= instants * 2 * 110, `${k.simulatedEvents} events after ${instants} instants`);
      },
    });
    assert.ok(lastMs >= durationMs - tickMs, `the clock reached ${lastMs} ms of ${durationMs}`);
    assert.ok(run.simulatedEvents <= (durationMs / tickMs + 1) * 2 * 110, `${run.simulatedEvents} events`);
  });
});
