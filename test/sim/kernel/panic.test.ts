import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { simulate } from "../../../src/sim/kernel/simulate.js";
import { cgroup, dormant, fault, forever, policy, scenario, task } from "./build.js";

describe("nothing killable", () => {
  it("a global OOM with only OOM_SCORE_ADJ_MIN tasks left panics and ends the run", async () => {
    const s = scenario("panic", {
      durationMs: 10_000,
      machine: { pages: 2048, min: 32 },
      tasks: [task("init-like", { main: [forever([fault(64, 4)])] }, { anon: 100, oomScoreAdj: -1000 }), task("daemon", { main: dormant }, { anon: 50, oomScoreAdj: -1000 })],
    });
    for (const version of ["2018", "today"] as const) {
      const r = await simulate(s, policy(version, version));
      assert.equal(r.result.panic, true);
      assert.deepEqual(r.result.killed, []);
      assert.equal(r.result.livelock, false);
      assert.equal(r.result.recoveredMs, null);
      const panic = r.events.find((e) => e.kind === "panic");
      assert.ok(panic && panic.tMs < 1000);
      assert.equal(r.events[r.events.length - 1]?.kind, "panic", "nothing happens after the panic");
    }
  });

  it("a memcg OOM with nothing killable never panics (today forces the charge)", async () => {
    const s = scenario("memcg nothing", {
      durationMs: 2000,
      machine: { pages: 8192, min: 32 },
      cgroups: [cgroup("/c", 512, { version: 2 })],
      tasks: [task("immune", { main: [fault(600, 4), ...dormant] }, { cgroup: "/c", anon: 100, oomScoreAdj: -1000 })],
    });
    const r = await simulate(s, policy("today", "today"));
    assert.equal(r.result.panic, false);
    assert.deepEqual(r.result.killed, []);
    assert.ok(r.events.some((e) => e.kind === "oom" && /nothing killable/.test(e.detail)));
  });
});

describe("memory.oom.group", () => {
  it("a v2 memcg OOM kills the whole group, except OOM_SCORE_ADJ_MIN members", async () => {
    const s = scenario("group", {
      durationMs: 3000,
      machine: { pages: 8192, min: 32 },
      cgroups: [cgroup("/svc", 1024, { version: 2, oomGroup: true })],
      tasks: [
        task("leader", { main: [forever([fault(32, 2)])] }, { cgroup: "/svc", anon: 400 }),
        task("helper", { main: dormant }, { cgroup: "/svc", anon: 100 }),
        task("guard", { main: dormant }, { cgroup: "/svc", anon: 50, oomScoreAdj: -1000 }),
        task("outside", { main: dormant }, { anon: 100, innocent: true }),
      ],
    });
    const r = await simulate(s, policy("today", "today"));
    assert.deepEqual(r.result.killed, ["leader", "helper"]);
    assert.ok(r.events.some((e) => e.kind === "kill" && e.subject === "helper" && /oom.group/.test(e.detail)));
  });
});
