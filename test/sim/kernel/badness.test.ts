import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Kernel } from "../../../src/sim/kernel/kernel.js";
import { oomBadness, oomTotalPages, selectVictim } from "../../../src/sim/kernel/oom-killer.js";
import { dormant, policy, scenario, task } from "./build.js";

function kernelWith(tasks: ReturnType<typeof task>[], version: "2018" | "today" = "today"): Kernel {
  const k = new Kernel(scenario("badness", { machine: { pages: 10_000, min: 100 }, tasks, durationMs: 1000 }), policy("p", version));
  k.stepInstant(); // t = 0: tasks start
  return k;
}

describe("oom_badness", () => {
  it("counts rss (anon + shared), swap entries and page tables", () => {
    const k = kernelWith([task("a", { main: dormant }, { anon: 300, shared: 50, pageTables: 7 })]);
    const a = k.tasksByName.get("a");
    assert.ok(a);
    a.mm.swapPages = 11;
    assert.equal(oomBadness(a, 10_000, "today"), 368);
  });

  it("adds oom_score_adj in units of totalpages/1000, dividing first", () => {
    const k = kernelWith([task("a", { main: dormant }, { anon: 300, oomScoreAdj: 500 }), task("b", { main: dormant }, { anon: 300, oomScoreAdj: -200 })]);
    const [a, b] = [k.tasksByName.get("a"), k.tasksByName.get("b")];
    assert.ok(a && b);
    // 10999 / 1000 -> 10 pages per unit, like the kernel's integer division.
    assert.equal(oomBadness(a, 10_999, "today"), 300 + 500 * 10);
    assert.equal(oomBadness(b, 10_999, "today"), 300 - 200 * 10);
    assert.equal(oomBadness(b, 10_999, "2018"), 1, "2018 floors a killable task at 1 point");
  });

  it("never picks OOM_SCORE_ADJ_MIN, a task without its mm, or an mm with MMF_OOM_SKIP", () => {
    const k = kernelWith([task("a", { main: dormant }, { anon: 300, oomScoreAdj: -1000 }), task("b", { main: dormant }, { anon: 100 })]);
    const [a, b] = [k.tasksByName.get("a"), k.tasksByName.get("b")];
    assert.ok(a && b);
    assert.equal(oomBadness(a, 10_000, "today"), null);
    b.mm.oomSkip = true;
    assert.equal(oomBadness(b, 10_000, "today"), null);
    b.mm.oomSkip = false;
    b.phase = "exiting";
    assert.equal(oomBadness(b, 10_000, "today"), null);
  });

  it("global totalpages is RAM + swap; a memcg's is its limit (at most RAM) + swap", () => {
    const k = kernelWith([]);
    assert.equal(oomTotalPages(k, null), 10_000);
    const m = k.root;
    assert.equal(oomTotalPages(k, m), 10_000);
  });

  it("selects the highest badness; equal points go to the later task in scan order", () => {
    const k = kernelWith([task("first", { main: dormant }, { anon: 200 }), task("second", { main: dormant }, { anon: 200 }), task("small", { main: dormant }, { anon: 10 })]);
    assert.equal(selectVictim(k, null)?.task.name, "second");
  });
});
