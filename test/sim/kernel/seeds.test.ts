// Each seed's documented bad outcome under the kernel baseline, and the good outcome under the
// seed's own proposal, on small literal scenarios (seeds.ts).

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { simulate } from "../../../src/sim/kernel/simulate.js";
import type { PolicySpec, Scenario, SimulationRun } from "../../../src/sim/scenario.js";
import { handlerNeedsJobState, handlerPolicy, seed000, seed001, seed002, seed003, seed004 } from "./seeds.js";

function policyNamed(s: Scenario, name: string): PolicySpec {
  const p = s.policies.find((x) => x.name === name);
  assert.ok(p, `policy ${name}`);
  return p;
}

async function run(s: Scenario, name: string): Promise<SimulationRun> {
  return simulate(s, policyNamed(s, name));
}

describe("seed 000: the reaper gives up and innocents die", () => {
  it("2018: the reaper fails 10 trylocks behind a queued writer, sets MMF_OOM_SKIP, and the unittest dies too", async () => {
    const r = await run(seed000(), "kernel-2018");
    assert.deepEqual(r.result.killed, ["hog", "unittest"]);
    assert.equal(r.result.innocentKilled, 1);
    const gaveUp = r.events.find((e) => e.kind === "reaper-gave-up" && e.subject === "hog");
    const hogExit = r.events.find((e) => e.kind === "exit" && e.subject === "hog");
    const secondKill = r.events.find((e) => e.kind === "kill" && e.subject === "unittest");
    assert.ok(gaveUp && hogExit && secondKill);
    assert.ok(secondKill.tMs < hogExit.tMs, "the second kill comes before the first victim even reached exit_mmap's end");
  });

  it("victim-timeout (10 s): exactly one kill, the hog", async () => {
    const r = await run(seed000(), "victim-timeout");
    assert.deepEqual(r.result.killed, ["hog"]);
    assert.equal(r.result.innocentKilled, 0);
    assert.ok(r.result.recoveredMs !== null && r.result.recoveredMs < 2000);
  });

  it("today's 2 s reaper delay also lets the hog exit by itself: one kill", async () => {
    const r = await run(seed000(), "kernel-today");
    assert.deepEqual(r.result.killed, ["hog"]);
  });
});

describe("seed 001: TIF_MEMDIE stall behind a lock", () => {
  for (const baseline of ["kernel-2018", "kernel-today"]) {
    it(`${baseline}: livelock, the victim waits for the lock the GFP_NOFS looper holds, nothing else is killed`, async () => {
      const s = seed001();
      const r = await run(s, baseline);
      assert.deepEqual(r.result.killed, ["db"]);
      assert.equal(r.result.livelock, true);
      assert.equal(r.result.recoveredMs, null);
      assert.ok(r.result.maxStallMs >= s.durationMs - 1000, `stalled ${r.result.maxStallMs} ms of ${s.durationMs}`);
      assert.equal(r.result.panic, false);
    });
  }

  it("victim-reserves: the looper gets the reserves, drops the lock, the victim exits; one kill, recovery", async () => {
    const r = await run(seed001(), "victim-reserves");
    assert.deepEqual(r.result.killed, ["db"]);
    assert.equal(r.result.livelock, false);
    assert.ok(r.result.recoveredMs !== null && r.result.recoveredMs < 1000, `recovered in ${r.result.recoveredMs} ms`);
  });

  it("with an explicit __GFP_NOFAIL the baseline kernel's own NOFAIL reserve fallback already breaks it (4.9+)", async () => {
    const r = await run(seed001("GFP_NOFS_NOFAIL"), "kernel-2018");
    assert.equal(r.result.livelock, false);
    assert.ok(r.result.recoveredMs !== null);
  });
});

describe("seed 002: kmem charges at the memcg hard limit", () => {
  it("2018 with chargeFailure enomem: syscalls keep failing with ENOMEM and nothing resolves it", async () => {
    const r = await run(seed002("enomem"), "kernel-2018");
    const enomem = r.result.allocFailures["memcg-syscall-enomem"] ?? 0;
    assert.ok(enomem >= 100, `${enomem} ENOMEMs`);
    assert.deepEqual(r.result.killed, []);
    assert.equal(r.result.recoveredMs, null);
  });

  it("overcharge-reconcile: no syscall fails; the reconcile OOM-kills the memcg's biggest task", async () => {
    const r = await run(seed002("enomem"), "overcharge");
    assert.equal(r.result.allocFailures["memcg-syscall-enomem"] ?? 0, 0);
    assert.deepEqual(r.result.killed, ["app"]);
    assert.equal(r.result.innocentKilled, 0);
    assert.ok(r.result.recoveredMs !== null && r.result.recoveredMs <= 200);
  });

  it("chargeFailure overcharge on the cgroup behaves like the proposal without it", async () => {
    const r = await run(seed002("overcharge"), "kernel-2018");
    assert.equal(r.result.allocFailures["memcg-syscall-enomem"] ?? 0, 0);
    assert.deepEqual(r.result.killed, ["app"]);
  });
});

describe("seed 003: GFP_ATOMIC keeps free memory between min/2 and min", () => {
  it("baseline: user allocations stall for seconds while free stays below min and atomic allocations fail", async () => {
    const s = seed003();
    const r = await run(s, "kernel-2018");
    assert.deepEqual(r.result.killed, []);
    assert.ok(r.result.maxStallMs >= 3500, `stall ${r.result.maxStallMs} ms`);
    assert.ok((r.result.allocFailures.GFP_ATOMIC ?? 0) >= 100);
    const min = s.memory.zones[0]?.minPages ?? 0;
    const during = r.samples.filter((x) => x.tMs >= 3000 && x.tMs <= 6000);
    assert.ok(during.length > 0 && during.every((x) => x.freePages < min && x.freePages >= min / 2), "free between ALLOC_HIGH and min");
  });

  it("kill-below-half-min: one kill of the big batch job, the app's stall ends within half a second", async () => {
    const r = await run(seed003(), "kill-below-half-min");
    assert.deepEqual(r.result.killed, ["batch"]);
    assert.equal(r.result.innocentKilled, 0);
    assert.ok(r.result.maxStallMs <= 600, `stall ${r.result.maxStallMs} ms`);
    assert.ok((r.result.allocFailures.GFP_ATOMIC ?? 0) < 10);
  });
});

describe("seed 004: user-space OOM handler deadlocks", () => {
  it("handler inside the OOMing memcg: its own fault waits in the OOM, the memcg hangs", async () => {
    const r = await simulate(seed004("inside"), handlerPolicy("handler"));
    assert.deepEqual(r.result.killed, []);
    assert.equal(r.result.livelock, true);
    assert.ok(r.events.some((e) => e.kind === "handler-notified"));
    assert.ok(!r.events.some((e) => e.kind === "handler-acted"));
  });

  it("handler outside but needing a lock the OOMing task holds: the memcg hangs", async () => {
    const r = await simulate(seed004("lock"), handlerPolicy("handler", [], { actionSteps: handlerNeedsJobState }));
    assert.deepEqual(r.result.killed, []);
    assert.equal(r.result.livelock, true);
  });

  it("handler outside needing nothing: it kills the worker after reactMs", async () => {
    const r = await simulate(seed004("outside"), handlerPolicy("handler"));
    assert.deepEqual(r.result.killed, ["worker"]);
    const notified = r.events.find((e) => e.kind === "handler-notified");
    const acted = r.events.find((e) => e.kind === "handler-acted");
    assert.ok(notified && acted && acted.tMs - notified.tMs >= 50 && acted.tMs - notified.tMs <= 70);
  });

  for (const where of ["inside", "lock"] as const) {
    it(`oom-delay (500 ms), handler ${where}: the kernel steps in after the delay; one kill, recovery`, async () => {
      const extra = where === "lock" ? { actionSteps: handlerNeedsJobState } : {};
      const r = await simulate(seed004(where), handlerPolicy("delay", [{ kind: "oom-delay", delayMs: 500 }], extra));
      assert.deepEqual(r.result.killed, ["worker"]);
      assert.equal(r.result.innocentKilled, 0);
      assert.equal(r.result.livelock, false);
      assert.ok(r.result.recoveredMs !== null && r.result.recoveredMs <= 700, `recovered in ${r.result.recoveredMs} ms`);
    });
  }
});
