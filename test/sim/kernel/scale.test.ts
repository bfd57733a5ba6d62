// The 1,000-task scenario, shortened to two virtual minutes: it runs, kills only leakers, and
// keeps its books straight. (Wall time for the full hour is measured outside the test suite.)

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { simulateSync } from "../../../src/sim/kernel/simulate.js";
import { thousandTasks } from "./scale.js";

describe("1,000 tasks", () => {
  it("two virtual minutes: leakers hit their memcg limits and only they are killed", () => {
    const s = thousandTasks(120_000);
    const p = s.policies[0];
    assert.ok(p);
    const run = simulateSync(s, p);
    assert.equal(run.result.panic, false);
    assert.equal(run.result.innocentKilled, 0);
    assert.ok(run.result.killed.length >= 5, `${run.result.killed.length} kills`);
    assert.ok(run.result.killed.every((n) => n.startsWith("leak")));
    assert.equal(run.result.livelock, false);
    assert.ok(run.simulatedEvents > 10_000);
  });
});
