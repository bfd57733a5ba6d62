import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { simulate } from "../../../src/sim/kernel/simulate.js";
import type { Scenario, TimelineEvent } from "../../../src/sim/scenario.js";
import { dormant, fault, forever, policy, scenario, task } from "./build.js";

/** A victim with mlocked memory (or a blockable mmu notifier) killed by a global OOM an allocator triggers. */
function victimScenario(o: { mlocked?: number; blockable?: boolean }): Scenario {
  return scenario("reaper", {
    durationMs: 6000,
    machine: { pages: 4096, min: 64, exitMmapMsPerKiPage: 10 },
    tasks: [
      task("holder", { main: [{ op: "lock", lock: "never", mode: "exclusive" }, ...dormant] }, { anon: 10, oomScoreAdj: -1000 }),
      // The victim cannot exit: its only thread waits for a lock nobody releases within the run.
      task("victim", { main: [{ op: "lock", lock: "never", mode: "exclusive" }] }, { anon: 3000, mlocked: o.mlocked ?? 0, blockableMmuNotifier: o.blockable ?? false }),
      task("allocator", { main: [{ op: "sleep", ms: 100 }, fault(2000, 10), ...dormant] }, { anon: 100, innocent: true }),
    ],
    locks: [{ name: "never", kind: "mutex" }],
  });
}

const of = (events: TimelineEvent[], kind: TimelineEvent["kind"], subject: string) => events.filter((e) => e.kind === kind && e.subject === subject);

describe("OOM reaper by kernel version", () => {
  it("2018 reaps at once and skips mlocked memory, then sets MMF_OOM_SKIP", async () => {
    const run = await simulate(victimScenario({ mlocked: 1000 }), policy("2018", "2018"));
    const kill = of(run.events, "kill", "victim")[0];
    const attempt = of(run.events, "reaper-attempt", "victim")[0];
    assert.ok(kill && attempt);
    assert.equal(attempt.tMs, kill.tMs, "no delay");
    assert.match(attempt.detail, /reaping 2000 pages \(1000 mlocked skipped\)/);
    assert.equal(of(run.events, "mmf-oom-skip", "victim").length, 1);
  });

  it("today waits OOM_REAPER_DELAY (2 s) and reaps mlocked memory too", async () => {
    const run = await simulate(victimScenario({ mlocked: 1000 }), policy("today", "today"));
    const kill = of(run.events, "kill", "victim")[0];
    const attempt = of(run.events, "reaper-attempt", "victim")[0];
    assert.ok(kill && attempt);
    assert.equal(attempt.tMs - kill.tMs, 2000);
    assert.match(attempt.detail, /reaping 3000 pages/);
  });

  it("2018 gives up at once on a blockable mmu notifier; today tries 10 times 100 ms apart, then gives up", async () => {
    const old = await simulate(victimScenario({ blockable: true }), policy("2018", "2018"));
    const oldKill = of(old.events, "kill", "victim")[0];
    const oldGaveUp = of(old.events, "reaper-gave-up", "victim")[0];
    assert.ok(oldKill && oldGaveUp);
    assert.equal(oldGaveUp.tMs, oldKill.tMs);
    assert.equal(of(old.events, "reaper-attempt", "victim").length, 0);

    const now = await simulate(victimScenario({ blockable: true }), policy("today", "today"));
    const kill = of(now.events, "kill", "victim")[0];
    const tries = of(now.events, "reaper-attempt", "victim");
    const gaveUp = of(now.events, "reaper-gave-up", "victim")[0];
    assert.ok(kill && gaveUp);
    assert.deepEqual(
      tries.map((e) => e.tMs - kill.tMs),
      [2000, 2100, 2200, 2300, 2400, 2500, 2600, 2700, 2800, 2900],
    );
    assert.equal(gaveUp.tMs - kill.tMs, 2900);
    // MMF_OOM_SKIP hides the stuck victim: the next OOM picks the allocator itself.
    assert.deepEqual(now.result.killed, ["victim", "allocator"]);
  });

  it("the victim-timeout proposal keeps the victim blocking new kills until the timeout", async () => {
    const run = await simulate(victimScenario({ blockable: true }), policy("timeout", "2018", [{ kind: "victim-timeout", timeoutMs: 4000 }]));
    const kill = of(run.events, "kill", "victim")[0];
    const skip = of(run.events, "mmf-oom-skip", "victim")[0];
    assert.ok(kill && skip);
    assert.equal(skip.tMs - kill.tMs, 4000);
    const second = of(run.events, "kill", "allocator")[0];
    assert.ok(second && second.tMs >= skip.tMs);
  });
});

describe("exit_mmap and the abort rule", () => {
  it("no second victim while the first one exits, even if that takes a while", async () => {
    const s = scenario("slow exit", {
      durationMs: 5000,
      machine: { pages: 4096, min: 64, exitMmapMsPerKiPage: 500 },
      tasks: [
        task("big", { main: [forever([fault(64, 8)])] }, { anon: 2000 }),
        task("small", { main: [{ op: "sleep", ms: 50 }, forever([fault(16, 2)])] }, { anon: 500, innocent: true }),
      ],
    });
    const run = await simulate(s, policy("today", "today"));
    assert.equal(run.result.killed[0], "big");
    const exit = run.events.find((e) => e.kind === "exit" && e.subject === "big");
    const kill = run.events.find((e) => e.kind === "kill" && e.subject === "big");
    assert.ok(exit && kill && exit.tMs - kill.tMs >= 900, "exit_mmap of ~2100 pages at 500 ms/KiPage takes about a second");
    const otherKills = run.events.filter((e) => e.kind === "kill" && e.subject !== "big" && e.tMs < exit.tMs);
    assert.deepEqual(otherKills, []);
  });
});
