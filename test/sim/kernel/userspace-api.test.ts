// The user-space API an agent (oomwarden's engine, via src/host/sim) drives: procfs/cgroupfs
// reads, v1 OOM notifications, v2 events, pidfd kills, process_mrelease and exit notification,
// all in virtual time, with promise-driven agents settled after each instant.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { simulate } from "../../../src/sim/kernel/simulate.js";
import type { MreleaseResult, UserspaceAgent, UserspaceApi } from "../../../src/sim/userspace-api.js";
import type { Scenario } from "../../../src/sim/scenario.js";
import { cgroup, dormant, fault, forever, idle, policy, scenario, task } from "./build.js";

const oomwarden = policy("agent", "today", [], { kind: "oomwarden", managedCgroups: ["/job"], options: {} });

function jobScenario(version: 1 | 2, o: { writerQueued?: boolean } = {}): Scenario {
  const worker: Record<string, Step[]> = { main: [{ op: "sleep", ms: 100 }, forever([fault(64, 2)])] };
  if (o.writerQueued) {
    // Readers hold mmap_sem through long compaction while a writer waits: a blocking read lock queues behind it.
    worker.compaction = [forever([{ op: "lock", lock: "mmap_sem", mode: "read" }, { op: "sleep", ms: 400 }, { op: "unlock", lock: "mmap_sem" }])];
    worker.mmap = [{ op: "sleep", ms: 5 }, forever([{ op: "lock", lock: "mmap_sem", mode: "write" }, { op: "sleep", ms: 1 }, { op: "unlock", lock: "mmap_sem" }, { op: "sleep", ms: 5 }])];
  }
  return scenario("job", {
    durationMs: 5000,
    machine: { pages: 16384, min: 128, exitMmapMsPerKiPage: 10 },
    cgroups: [cgroup("/job", 2048, { version, oomKillDisable: false }), cgroup("/job/sub", null, { version })],
    tasks: [
      task("worker", worker, { cgroup: "/job", anon: 1500 }),
      task("helper", { main: dormant }, { cgroup: "/job/sub", anon: 100, innocent: true }),
      task("outsider", { main: idle }, { anon: 100, innocent: true }),
    ],
  });
}
type Step = import("../../../src/sim/scenario.js").Step;

/** A minimal v1 handler agent: takes the kernel killer over, kills the biggest task, reaps it, waits for its exit. */
function handlerAgent(log: string[], results: { mrelease?: MreleaseResult; exitAtMs?: number; killAtMs?: number }): (api: UserspaceApi) => UserspaceAgent {
  return (api) => {
    let unwatch = (): void => {};
    return {
      start() {
        assert.equal(api.setOomKillDisable("/job", true), true);
        unwatch = api.onOomNotification("/job", async () => {
          const cg = api.cgroup("/job");
          if (!cg?.underOom || results.killAtMs !== undefined) return;
          log.push(`notified at ${api.nowMs()} usage ${cg.usagePages}/${cg.limitPages}`);
          const procs = api.cgroupPids("/job").map((pid) => api.process(pid)).filter((p) => p !== null);
          const victim = procs.sort((a, b) => b.rssPages - a.rssPages)[0];
          assert.ok(victim);
          assert.equal(api.kill(victim.pid, victim.startTimeTicks + 1), "ESRCH", "a different start time is another process");
          assert.equal(api.kill(victim.pid, victim.startTimeTicks), "ok");
          results.killAtMs = api.nowMs();
          api.onExit(victim.pid, () => {
            results.exitAtMs = api.nowMs();
          });
          results.mrelease = await new Promise<MreleaseResult>((resolve) => api.mrelease(victim.pid, victim.startTimeTicks, resolve));
          log.push(`reaped at ${api.nowMs()}`);
        });
      },
      stop() {
        unwatch();
      },
    };
  };
}

describe("user-space API", () => {
  it("reads procfs/cgroupfs-like snapshots", async () => {
    let checked = false;
    await simulate(jobScenario(1), oomwarden, {
      agent: (api) => ({
        start() {
          api.setTimer(50, () => {
            assert.equal(api.pageSizeBytes, 4096);
            const m = api.machine();
            assert.equal(m.totalPages, 16384);
            assert.ok(m.availablePages > 0 && m.availablePages <= m.totalPages);
            const pids = api.cgroupPids("/job");
            assert.equal(pids.length, 2, "recursive: /job and /job/sub");
            assert.deepEqual([...pids].sort((a, b) => a - b), pids);
            const worker = api.process(pids[0] ?? -1);
            assert.ok(worker);
            assert.equal(worker.name, "worker");
            assert.equal(worker.rssPages, 1500);
            assert.equal(worker.cgroup, "/job");
            assert.equal(worker.threads.length, 1);
            assert.equal(worker.state, "S", "sleeping interruptibly");
            assert.equal(worker.threads[0]?.waitingOn, "hrtimer_nanosleep");
            const cg = api.cgroup("/job");
            assert.ok(cg);
            assert.equal(cg.usagePages, 1600);
            assert.equal(cg.limitPages, 2048);
            assert.equal(api.cgroup("/nope"), null);
            assert.equal(api.process(1), null);
            checked = true;
          });
        },
        stop() {},
      }),
    });
    assert.ok(checked);
  });

  it("v1: notification when the memcg enters OOM; kill with start-time check; mrelease; exit", async () => {
    const log: string[] = [];
    const results: { mrelease?: MreleaseResult; exitAtMs?: number; killAtMs?: number } = {};
    const run = await simulate(jobScenario(1), oomwarden, { agent: handlerAgent(log, results) });
    assert.deepEqual(run.result.killed, ["worker"]);
    assert.ok(run.events.some((e) => e.kind === "userspace-kill" && e.subject === "worker"));
    assert.ok(!run.events.some((e) => e.kind === "kill"), "the kernel killer stayed disabled");
    assert.ok(results.mrelease?.ok, JSON.stringify(results.mrelease));
    assert.ok(results.killAtMs !== undefined && results.exitAtMs !== undefined && results.exitAtMs >= results.killAtMs);
    assert.match(log[0] ?? "", /^notified at \d+ usage \d+\/2048$/);
    assert.equal(run.result.livelock, false);
  });

  it("mrelease needs the mmap_sem for read: a queued writer delays it (FIFO), and it is EINVAL before the kill", async () => {
    const results: { mrelease?: MreleaseResult; killAtMs?: number } = {};
    let einval: MreleaseResult | undefined;
    await simulate(jobScenario(1, { writerQueued: true }), oomwarden, {
      agent: (api) => ({
        start() {
          api.setTimer(150, () => {
            const pid = api.cgroupPids("/job")[0] ?? -1;
            const p = api.process(pid);
            assert.ok(p);
            api.mrelease(pid, p.startTimeTicks, (r) => {
              einval = r;
            });
            assert.equal(api.kill(pid, p.startTimeTicks), "ok");
            results.killAtMs = api.nowMs();
            api.mrelease(pid, p.startTimeTicks, (r) => {
              results.mrelease = r;
            });
          });
        },
        stop() {},
      }),
    });
    assert.deepEqual(einval, { ok: false, code: "EINVAL" });
    const r = results.mrelease;
    assert.ok(r, "mrelease completed");
    // The victim exits once its readers finish compaction; mrelease either reaped after the queue drained or found the mm gone.
    if (r.ok) assert.ok(r.durationMs > 0, "waited for the queued writer");
    else assert.equal(r.code, "ESRCH");
  });

  it("onOomNotification fires at once when the memcg is already under OOM", async () => {
    const firedAt: number[] = [];
    const s = jobScenario(1);
    const [c0, c1] = s.cgroups;
    assert.ok(c0 && c1);
    s.cgroups = [{ ...c0, oomKillDisable: true }, c1];
    await simulate(s, oomwarden, {
      agent: (api) => ({
        start() {
          api.setTimer(2000, () => {
            assert.equal(api.cgroup("/job")?.underOom, true);
            assert.equal(api.cgroup("/job/sub")?.underOom, true, "a child of an OOMing memcg reads under_oom too");
            api.onOomNotification("/job", () => firedAt.push(api.nowMs()));
          });
        },
        stop() {},
      }),
    });
    assert.deepEqual(firedAt, [2000]);
  });

  it("v2: memory.events changes are notified; killCgroup kills the subtree", async () => {
    const seen: number[] = [];
    let killed: number[] = [];
    const run = await simulate(jobScenario(2), oomwarden, {
      agent: (api) => ({
        start() {
          assert.equal(api.setOomKillDisable("/job", true), false, "v2 has no oom_kill_disable");
          api.onEventsChange("/job", () => {
            const ev = api.cgroup("/job")?.events;
            if (ev && ev.oom > 0 && killed.length === 0) {
              seen.push(ev.oom);
              killed = api.killCgroup("/job/sub");
            }
          });
        },
        stop() {},
      }),
    });
    assert.ok(seen.length >= 1);
    assert.equal(killed.length, 1);
    assert.ok(run.result.killed.includes("helper"));
    assert.ok(run.result.killed.includes("worker"), "the kernel killer still acts on v2");
  });

  it("timers run in virtual time and can be cleared; promises settle within the instant", async () => {
    const order: string[] = [];
    await simulate(jobScenario(1), oomwarden, {
      agent: (api) => ({
        start() {
          const id = api.setTimer(30, () => order.push("cleared"));
          api.setTimer(20, async () => {
            order.push(`t20@${api.nowMs()}`);
            api.clearTimer(id);
            await Promise.resolve();
            await Promise.resolve();
            order.push(`after-await@${api.nowMs()}`);
          });
          api.setTimer(0, () => order.push(`t0@${api.nowMs()}`));
        },
        stop() {},
      }),
    });
    assert.deepEqual(order, ["t0@0", "t20@20", "after-await@20"]);
  });

  it("an oomwarden policy without an agent is refused with a message", async () => {
    await assert.rejects(simulate(jobScenario(1), oomwarden), /needs an agent/);
  });
});
