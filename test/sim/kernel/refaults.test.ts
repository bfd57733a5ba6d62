// Thrashing: a task's file working set is refaulted once the page cache is smaller than the
// running tasks' working sets together, at the refault rate, as a memory stall.

import assert from "node:assert/strict";
import test from "node:test";
import { simulate } from "../../../src/sim/kernel/simulate.js";
import { forever, policy, scenario, task } from "./build.js";

const TODAY = policy("kernel-today", "today");

/** A task that does a little work every 100 ms (one page in, one page out), touching its working set. */
function worker(name: string, fileWorkingSet: number) {
  return task(
    name,
    { main: [forever([{ op: "alloc", pages: 1, pagesPerMs: 100, context: "GFP_KERNEL", charge: "fault" }, { op: "free", pages: 1 }, { op: "sleep", ms: 100 }])] },
    { anon: 100, fileWorkingSet, innocent: true },
  );
}

test("with the whole working set cached nothing is refaulted and nobody stalls", async () => {
  const s = scenario("cached", { machine: { pages: 100_000, min: 500, fileCachePages: 5_000 }, tasks: [worker("a", 2_000), worker("b", 2_000)], durationMs: 5_000 });
  const run = await simulate(s, TODAY);
  assert.equal(run.result.pressureFullMs, 0);
});

test("with the cache below the working sets each task refaults its share: a full stall at the refault rate, once, since the pages read back stay cached", async () => {
  // 4,000 pages of working set, 1,000 cached: each task misses 3/4 of its 2,000 = 1,500 pages, read
  // back at 16 pages/ms (the builder's rate) = about 94 ms, both tasks at once.
  const s = scenario("thrash", { machine: { pages: 100_000, min: 500, fileCachePages: 1_000 }, tasks: [worker("a", 2_000), worker("b", 2_000)], durationMs: 10_000 });
  const run = await simulate(s, TODAY);
  // Nothing evicts here: the pages read back stay cached, so the stall happens once in 10 s, not every 100 ms.
  assert.ok(run.result.pressureFullMs >= 80 && run.result.pressureFullMs <= 200, `full stall ${run.result.pressureFullMs} ms`);
  assert.equal(run.result.killed.length, 0);
});

test("the same thrashing scenario is deterministic", async () => {
  const s = scenario("thrash", { machine: { pages: 100_000, min: 500, fileCachePages: 1_000 }, tasks: [worker("a", 2_000), worker("b", 2_000)], durationMs: 2_000 });
  assert.equal(JSON.stringify(await simulate(s, TODAY)), JSON.stringify(await simulate(s, TODAY)));
});
