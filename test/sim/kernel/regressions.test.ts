// Regression tests for kernel-model defects, one literal scenario each.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Kernel } from "../../../src/sim/kernel/kernel.js";
import { simulate, simulateSync } from "../../../src/sim/kernel/simulate.js";
import type { MemcgEvents } from "../../../src/sim/kernel/state.js";
import type { KernelVersion, Scenario, Step } from "../../../src/sim/scenario.js";
import { cgroup, dormant, fault, forever, policy, scenario, task } from "./build.js";
import { seed002 } from "./seeds.js";

const syscall = (pages: number, pagesPerMs: number): Step => ({ op: "alloc", pages, pagesPerMs, context: "GFP_KERNEL", charge: "syscall" });

/** Run without an agent and return the run plus each memcg's memory.events at the end. */
function runWithEvents(s: Scenario, version: KernelVersion): { run: ReturnType<typeof simulateSync>; events: Map<string, MemcgEvents> } {
  let kernel: Kernel | null = null;
  const run = simulateSync(s, policy(version, version), { observe: (k) => (kernel = k) });
  const events = new Map<string, MemcgEvents>();
  for (const m of (kernel as Kernel | null)?.memcgs.values() ?? []) events.set(m.path, { ...m.events });
  return { run, events };
}

describe("tick scheduling", () => {
  it("a fractional tick (0.7 ms) always advances the clock (tick n at n × tickMs)", () => {
    const s = scenario("tick 0.7", {
      durationMs: 200,
      tickMs: 0.7,
      machine: { pages: 16384, min: 128 },
      tasks: [task("a", { main: [fault(2000, 10)] })],
    });
    let last = -1;
    let instants = 0;
    const run = simulateSync(s, policy("today", "today"), {
      observe: (k) => {
        assert.ok(k.nowMs > last, `time went from ${last} to ${k.nowMs}`);
        last = k.nowMs;
        assert.ok(++instants < 10_000, "no hang");
      },
    });
    assert.equal(run.result.livelock, false);
    assert.ok(last > 190, `reached ${last} ms`);
  });
});

/** /job (limit 1000) with /job/sub; hog in /job/sub is killed, other keeps faulting while the victim's exit_mmap crawls. */
function pendingVictimScenario(version: 1 | 2): Scenario {
  return scenario(`pending victim v${version}`, {
    durationMs: 1000,
    machine: { pages: 16384, min: 128, exitMmapMsPerKiPage: 1_000_000 },
    cgroups: [cgroup("/job", 1000, { version }), cgroup("/job/sub", null, { version })],
    tasks: [
      task("hog", { main: [forever([fault(100, 5)])] }, { cgroup: "/job/sub", anon: 800 }),
      task("other", { main: [forever([fault(100, 5)])] }, { cgroup: "/job", anon: 100 }),
    ],
  });
}

describe("memory.events", () => {
  it("oom rises at every memcg OOM invocation, also while the victim is pending", () => {
    const { run, events } = runWithEvents(pendingVictimScenario(2), "today");
    assert.deepEqual(run.result.killed, ["hog"]);
    const job = events.get("/job");
    assert.ok(job);
    assert.equal(job.oomKill, 1);
    assert.ok(job.oom >= 50, `oom ${job.oom}: one per tick of the other task's retries`);
  });

  it("v2: events are hierarchical up to, not including, the root", () => {
    const { events } = runWithEvents(pendingVictimScenario(2), "today");
    assert.equal(events.get("/job/sub")?.oomKill, 1);
    assert.equal(events.get("/job")?.oomKill, 1);
    assert.deepEqual(events.get("/"), { low: 0, high: 0, max: 0, oom: 0, oomKill: 0, oomGroupKill: 0 });
  });

  it("v1: oom_kill and the other counters are local to the memcg", () => {
    const { run, events } = runWithEvents(pendingVictimScenario(1), "today");
    assert.deepEqual(run.result.killed, ["hog"]);
    assert.equal(events.get("/job/sub")?.oomKill, 1);
    assert.equal(events.get("/job")?.oomKill, 0);
    assert.ok((events.get("/job")?.oom ?? 0) > 0);
    assert.equal(events.get("/job/sub")?.oom, 0, "the OOM was /job's");
    assert.deepEqual(events.get("/"), { low: 0, high: 0, max: 0, oom: 0, oomKill: 0, oomGroupKill: 0 });
  });
});

describe("syscall charges at the memcg limit", () => {
  it("today (4.19+): seed 002's syscall OOM-kills the hog and retries; no ENOMEM", async () => {
    const s = seed002("enomem");
    const r = await simulate(s, policy("kernel-today", "today"));
    assert.equal(r.result.allocFailures["memcg-syscall-enomem"] ?? 0, 0);
    assert.deepEqual(r.result.killed, ["app"]);
    assert.equal(r.result.innocentKilled, 0);
    assert.notEqual(r.result.recoveredMs, null);
  });

  it("2018 keeps failing seed 002's syscalls with ENOMEM", async () => {
    const r = await simulate(seed002("enomem"), policy("kernel-2018", "2018"));
    assert.ok((r.result.allocFailures["memcg-syscall-enomem"] ?? 0) >= 100);
    assert.deepEqual(r.result.killed, []);
  });

  function syscallAtLimit(o: { oomKillDisable?: boolean; adj?: number }): Scenario {
    return scenario("syscall at limit", {
      durationMs: 500,
      machine: { pages: 16384, min: 128 },
      cgroups: [cgroup("/job", 1000, { version: 1, oomKillDisable: o.oomKillDisable ?? false })],
      tasks: [task("app", { main: [syscall(200, 10), ...dormant] }, { cgroup: "/job", anon: 900, oomScoreAdj: o.adj ?? 0 })],
    });
  }

  it("today, v1 oom_kill_disable: ENOMEM (the OOM wait is for faults only)", () => {
    const { run } = runWithEvents(syscallAtLimit({ oomKillDisable: true }), "today");
    assert.equal(run.result.allocFailures["memcg-syscall-enomem"], 1);
    assert.deepEqual(run.result.killed, []);
  });

  it("today, nothing killable: the charge is forced", () => {
    const { run } = runWithEvents(syscallAtLimit({ adj: -1000 }), "today");
    assert.equal(run.result.allocFailures["memcg-syscall-enomem"] ?? 0, 0);
    assert.deepEqual(run.result.killed, []);
    assert.equal(run.result.livelock, false);
  });
});

describe("recovery after a refused charge", () => {
  it("a memcg that refused a syscall recovers when the refusing thread has left (2018)", () => {
    const s = scenario("refuse", {
      durationMs: 3000,
      machine: { pages: 16384, min: 128 },
      cgroups: [cgroup("/job", 1000, { version: 2 })],
      tasks: [
        task("hog", { main: dormant }, { cgroup: "/job", anon: 990 }),
        task("srv", { main: [syscall(50, 10)] }, { cgroup: "/job", innocent: true, startMs: 500 }),
      ],
    });
    const { run } = runWithEvents(s, "2018");
    assert.equal(run.result.allocFailures["memcg-syscall-enomem"], 1);
    assert.ok(run.result.recoveredMs !== null && run.result.recoveredMs <= 20, `recoveredMs ${run.result.recoveredMs}`);
  });

  it("the memcg recovers when it has room for the refused charge again, even if the thread stays", () => {
    const s = scenario("refuse then room", {
      durationMs: 3000,
      machine: { pages: 16384, min: 128 },
      cgroups: [cgroup("/job", 1000, { version: 2 })],
      tasks: [
        task("hog", { main: [{ op: "sleep", ms: 1000 }, { op: "free", pages: 500 }, ...dormant] }, { cgroup: "/job", anon: 990 }),
        task("srv", { main: [syscall(50, 10), ...dormant] }, { cgroup: "/job", startMs: 500 }),
      ],
    });
    const { run } = runWithEvents(s, "2018");
    assert.equal(run.result.allocFailures["memcg-syscall-enomem"], 1);
    assert.ok(run.result.recoveredMs !== null && run.result.recoveredMs >= 490 && run.result.recoveredMs <= 520, `recoveredMs ${run.result.recoveredMs}`);
  });
});

describe("exiting and dying tasks seen from user space", () => {
  function exitingScenario(): Scenario {
    return scenario("exiting", {
      durationMs: 1000,
      machine: { pages: 16384, min: 128, exitMmapMsPerKiPage: 1_000_000 },
      cgroups: [cgroup("/job", 4000, { version: 2 })],
      tasks: [
        task("big", { main: [{ op: "sleep", ms: 100 }] }, { cgroup: "/job", anon: 3000, pageTables: 10, innocent: true }),
        task(
          "dying",
          {
            main: [{ op: "sleep", ms: 100 }, { op: "exit" }],
            io: [{ op: "lock", lock: "mmap_sem", mode: "read" }, { op: "sleep", ms: 5000 }],
          },
          { cgroup: "/job", anon: 500, innocent: true },
        ),
      ],
    });
  }

  it("an exiting task shows no rss, swap or page tables; killing it or a dying task is not a kill", async () => {
    const seen: Record<string, unknown> = {};
    const run = await simulate(exitingScenario(), policy("agent", "today", [], { kind: "oomwarden", managedCgroups: ["/job"], options: {} }), {
      agent: (api) => ({
        start() {
          api.setTimer(200, () => {
            const pids = api.cgroupPids("/job");
            const procs = pids.map((pid) => api.process(pid));
            const big = procs.find((p) => p?.name === "big");
            const dying = procs.find((p) => p?.name === "dying");
            assert.ok(big && dying);
            seen.big = { state: big.state, rss: big.rssPages, swap: big.swapPages, pt: big.pageTablePages };
            seen.dyingKilled = dying.killed;
            seen.dyingRss = dying.rssPages;
            seen.killBig = api.kill(big.pid, big.startTimeTicks);
            seen.killDying = api.kill(dying.pid, dying.startTimeTicks);
          });
        },
        stop() {},
      }),
    });
    assert.deepEqual(seen.big, { state: "D", rss: 0, swap: 0, pt: 0 });
    assert.equal(seen.dyingKilled, true, "exit_group is a fatal signal");
    assert.equal(seen.dyingRss, 500, "still running: its mm is still there");
    assert.equal(seen.killBig, "ok");
    assert.equal(seen.killDying, "ok");
    assert.deepEqual(run.result.killed, []);
    assert.equal(run.result.innocentKilled, 0);
    assert.ok(!run.events.some((e) => e.kind === "userspace-kill"));
  });
});
