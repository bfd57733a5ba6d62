import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { simulate } from "../../../src/sim/kernel/simulate.js";
import { cgroup, dormant, policy, scenario, task } from "./build.js";

const p = policy("p", "today");

describe("scenarios the model cannot run are refused with the culprit named", () => {
  it("an undeclared lock", async () => {
    const s = scenario("bad lock", { durationMs: 100, machine: { pages: 1000, min: 10 }, tasks: [task("a", { t: [{ op: "lock", lock: "nope", mode: "read" }] })] });
    await assert.rejects(simulate(s, p), /task "a" thread "t": lock "nope"/);
  });

  it("a task in an undeclared cgroup", async () => {
    const s = scenario("bad cgroup", { durationMs: 100, machine: { pages: 1000, min: 10 }, tasks: [task("a", { t: dormant }, { cgroup: "/x" })] });
    await assert.rejects(simulate(s, p), /task "a": cgroup "\/x" is not declared/);
  });

  it("initial memory larger than a cgroup's limit or than the machine", async () => {
    const over = scenario("over", { durationMs: 100, machine: { pages: 1000, min: 10 }, cgroups: [cgroup("/c", 100)], tasks: [task("a", { t: dormant }, { cgroup: "/c", anon: 200 })] });
    await assert.rejects(simulate(over, p), /cgroup "\/c": the initial memory of its tasks exceeds its limit/);
    const big = scenario("big", { durationMs: 100, machine: { pages: 1000, min: 10 }, tasks: [task("a", { t: dormant }, { anon: 2000 })] });
    await assert.rejects(simulate(big, p), /does not fit/);
  });

  it("a handler naming an unknown task", async () => {
    const s = scenario("handler", { durationMs: 100, machine: { pages: 1000, min: 10 }, tasks: [task("a", { t: dormant })] });
    await assert.rejects(simulate(s, policy("h", "today", [], { kind: "handler", task: "ghost", cgroups: [], reactMs: 1 })), /handler task "ghost"/);
  });

  it("watermarks out of order and a zero tick", async () => {
    const s = scenario("wm", { durationMs: 100, machine: { pages: 1000, min: 100, low: 50 }, tasks: [] });
    await assert.rejects(simulate(s, p), /watermarks must satisfy/);
    await assert.rejects(simulate({ ...s, tickMs: 0 }, p), /tickMs must be > 0/);
  });
});
