// cgroup v2 memory.high in the simulated kernel, through the user-space API: above it the charging
// thread reclaims and sleeps a penalty instead of being OOM-killed; memory.max and its OOM killer
// are unchanged; page cache is reclaimed rather than throttled; a high that is never crossed changes
// nothing.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { simulate, simulateSync } from "../../../src/sim/kernel/simulate.js";
import type { UserspaceApi } from "../../../src/sim/userspace-api.js";
import { cgroup, fault, forever, policy, scenario, task } from "./build.js";
import { highScenario, JOB, KERNEL_2018, LIMIT_PAGES, MIB, PARENT, runHigh } from "./high-workloads.js";

describe("memory.high throttles instead of killing", () => {
  it("a hog over high slows down, stays between high and max, counts high events, and is not OOM-killed", async () => {
    const { run, trace, highPages, firstHighMs } = await runHigh({ bandMiB: 16, rateMiBPerS: 400, durationMs: 10_000 });
    assert.ok(highPages !== null && firstHighMs !== null, "usage went over high");
    // Unthrottled, 400 MiB/s crosses a 16 MiB band in 40 ms.
    const after = trace.filter((x) => x.tMs >= firstHighMs + 1000);
    assert.ok(after.length > 0);
    for (const x of after) {
      assert.ok(x.cgroup.usagePages > highPages && x.cgroup.usagePages < LIMIT_PAGES, `at ${x.tMs} ms usage ${x.cgroup.usagePages} pages, high ${highPages}, max ${LIMIT_PAGES}`);
    }
    // Its rate: what it charged over the last 5 s, against 400 MiB/s.
    const last = trace[trace.length - 1]!;
    const fiveBefore = trace.find((x) => x.tMs >= last.tMs - 5000)!;
    const rateMiBPerS = (last.cgroup.usagePages - fiveBefore.cgroup.usagePages) / MIB / ((last.tMs - fiveBefore.tMs) / 1000);
    assert.ok(rateMiBPerS < 4, `still charging ${rateMiBPerS.toFixed(2)} MiB/s, a hundredth of its rate`);
    // The counter keeps rising while it is over.
    assert.ok(last.cgroup.events.high > fiveBefore.cgroup.events.high && fiveBefore.cgroup.events.high > 0);
    assert.equal(last.cgroup.events.max, 0, "never at its limit");
    assert.equal(last.cgroup.events.oom, 0);
    assert.deepEqual(run.result.killed, []);
    assert.ok(!run.events.some((e) => e.kind === "kill" || e.kind === "oom"));
    // The sleeps are visible to user space: D in mem_cgroup_handle_over_high, and PSI memory stall.
    const sleeping = after.filter((x) => x.hog?.threads[0]?.waitingOn === "mem_cgroup_handle_over_high");
    assert.ok(sleeping.length > after.length * 0.9, `throttled at ${sleeping.length} of ${after.length} looks`);
    assert.ok(sleeping.every((x) => x.hog?.state === "D"));
    const stallUs = last.psiSomeUs - fiveBefore.psiSomeUs;
    assert.ok(stallUs > 0.9 * (last.tMs - fiveBefore.tMs) * 1000, `PSI some ${stallUs} us over ${last.tMs - fiveBefore.tMs} ms`);
    assert.ok(run.result.pressureFullMs > 8000, `PSI full ${run.result.pressureFullMs} ms: the hog is the only task and it sleeps`);
    assert.equal(run.result.recoveredMs, 0, "throttling is not an OOM condition");
    assert.equal(run.result.livelock, false);
  });

  it("with a small band the hog still reaches max and the kernel's memcg OOM killer acts as before", async () => {
    const without = await runHigh({ bandMiB: null, rateMiBPerS: 400, durationMs: 5000 });
    const small = await runHigh({ bandMiB: 4, rateMiBPerS: 400, durationMs: 5000 });
    for (const r of [without, small]) {
      assert.deepEqual(r.run.result.killed, ["hog"]);
      assert.ok(r.run.events.some((e) => e.kind === "kill" && e.subject === "hog"));
      assert.equal(r.trace[r.trace.length - 1]!.cgroup.events.oomKill, 1);
    }
    const killAt = (r: typeof small): number => r.run.events.find((e) => e.kind === "kill")!.tMs;
    assert.ok(small.firstHighMs !== null && small.firstMaxMs !== null && small.firstMaxMs > small.firstHighMs);
    // Held back a little, not for long: the penalty at a 4 MiB band stays under 70 ms a batch.
    assert.ok(killAt(small) > killAt(without) + 100 && killAt(small) < killAt(without) + 1500, `killed at ${killAt(small)} ms, ${killAt(without)} ms without a high`);
    assert.equal(without.trace[without.trace.length - 1]!.cgroup.events.high, 0, "no high, no high events");
  });

  it("a page-cache writer is kept near high by reclaim and hardly throttled", async () => {
    // 800 MiB of page cache written at 50 MiB/s (reclaim: 128 MiB/s) through a 128 MiB cgroup.
    const { run, trace, highPages, firstHighMs } = await runHigh({ bandMiB: 8, rateMiBPerS: 50, fileBacked: true, durationMs: 20_000 });
    assert.ok(highPages !== null && firstHighMs !== null);
    const after = trace.filter((x) => x.tMs > firstHighMs);
    const maxUsage = Math.max(...after.map((x) => x.cgroup.usagePages));
    assert.ok(maxUsage <= highPages + 64, `usage peaked at ${maxUsage} pages, high ${highPages}: within a batch`);
    assert.ok(after.every((x) => x.cgroup.usagePages >= highPages - 64), "and stays near it: reclaim takes only what is over");
    const last = trace[trace.length - 1]!;
    assert.ok(last.cgroup.events.high > 1000, `reclaim ran at every batch over high (${last.cgroup.events.high} high events)`);
    assert.equal(last.cgroup.events.max, 0);
    assert.deepEqual(run.result.killed, []);
    assert.ok(run.result.pressureFullMs < 200, `PSI full ${run.result.pressureFullMs} ms in 20 s`);
    assert.ok(!after.some((x) => x.hog?.threads[0]?.waitingOn === "mem_cgroup_handle_over_high"), "never seen sleeping a penalty");
  });

  it("a writer faster than reclaim is throttled once reclaim cannot keep up", async () => {
    const { run, trace, highPages } = await runHigh({ bandMiB: 8, rateMiBPerS: 400, fileBacked: true, durationMs: 10_000 });
    assert.ok(highPages !== null);
    assert.ok(Math.max(...trace.map((x) => x.cgroup.usagePages)) > highPages + 64, "over high by more than a batch");
    assert.ok(run.result.pressureFullMs > 1000, `PSI full ${run.result.pressureFullMs} ms`);
    assert.deepEqual(run.result.killed, [], "reclaim plus throttling keep it off max");
  });

  it("an ancestor's high throttles its descendants; the event counts where high was crossed, and up", async () => {
    const { run, trace, highPages } = await runHigh({ bandMiB: 16, rateMiBPerS: 400, durationMs: 5000, highOnParent: true });
    assert.ok(highPages !== null);
    const last = trace[trace.length - 1]!;
    assert.ok(last.cgroup.usagePages > highPages && last.cgroup.usagePages < LIMIT_PAGES);
    assert.ok(last.cgroup.events.high > 0);
    assert.equal(last.cgroup.highPages, highPages);
    assert.deepEqual(run.result.killed, []);
    let childEvents = -1;
    await simulate(highScenario({ bandMiB: 16, rateMiBPerS: 400, durationMs: 3000, highOnParent: true }), policy("today", "today"), {
      agent: (api) => ({
        start() {
          api.setHigh(PARENT, highPages);
          api.setTimer(2000, () => {
            childEvents = api.cgroup(`${PARENT}/job`)?.events.high ?? -1;
            assert.equal(api.cgroup(`${PARENT}/job`)?.highPages, null, "the child has no high of its own");
          });
        },
        stop() {},
      }),
    });
    assert.equal(childEvents, 0, "memory.events counts in the memcg over its high and its ancestors, not below");
  });

  it("the largest overage on the path counts: a lower child high throttles harder than its parent's", async () => {
    const timeToMax = (childBandMiB: number | null): number => {
      const s = highScenario({ bandMiB: null, rateMiBPerS: 400, durationMs: 20_000, highOnParent: true });
      s.cgroups = s.cgroups.map((c) => (c.path === PARENT ? { ...c, highPages: LIMIT_PAGES - 4 * MIB } : { ...c, highPages: childBandMiB === null ? null : LIMIT_PAGES - childBandMiB * MIB }));
      const run = simulateSync(s, policy("today", "today"));
      return run.events.find((e) => e.kind === "kill")?.tMs ?? Number.POSITIVE_INFINITY;
    };
    const parentOnly = timeToMax(null);
    const withChild = timeToMax(8);
    assert.ok(Number.isFinite(parentOnly) && withChild > parentOnly + 1500, `parent high alone: killed at ${parentOnly} ms; child high 8 MiB below max too: ${withChild} ms`);
  });

  it("SIGKILL ends the penalty at once", async () => {
    let killedAt = -1;
    let afterKill: string[] = [];
    const killWhenAsleep = (api: UserspaceApi): void => {
      const pid = api.cgroupPids(JOB)[0]!;
      const hog = api.process(pid)!;
      if (hog.threads[0]?.waitingOn !== "mem_cgroup_handle_over_high") {
        api.setTimer(1, () => killWhenAsleep(api));
        return;
      }
      assert.equal(hog.state, "D");
      assert.equal(api.kill(pid, hog.startTimeTicks), "ok");
      killedAt = api.nowMs();
      // Two ticks later: past the penalty's sleep (hundreds of ms at this overage), into exit_mmap.
      api.setTimer(20, () => {
        afterKill = api.process(pid)?.threads.map((t) => t.waitingOn) ?? ["gone"];
      });
    };
    const { run } = await runHigh({ bandMiB: 16, rateMiBPerS: 400, durationMs: 8000 }, undefined, { atMs: { 5000: killWhenAsleep } });
    assert.ok(killedAt >= 5000, "found it asleep");
    assert.ok(afterKill.includes("exit_mmap") || afterKill[0] === "gone", `20 ms after the kill: ${JSON.stringify(afterKill)}`);
    assert.ok(!afterKill.includes("mem_cgroup_handle_over_high"));
    assert.deepEqual(run.result.killed, ["hog"]);
    assert.ok(run.events.some((e) => e.kind === "exit" && e.subject === "hog"));
  });

  it("kernel 2018 only reclaims above high: no penalty, the hog goes on to max as without a high", async () => {
    const withHigh = await runHigh({ bandMiB: 8, rateMiBPerS: 400, durationMs: 3000 }, KERNEL_2018);
    const without = await runHigh({ bandMiB: null, rateMiBPerS: 400, durationMs: 3000 }, KERNEL_2018);
    assert.ok(withHigh.trace.some((x) => x.cgroup.events.high > 0));
    assert.deepEqual(withHigh.run.result.killed, ["hog"]);
    const killAt = (r: typeof without): number => r.run.events.find((e) => e.kind === "kill")!.tMs;
    assert.ok(Math.abs(killAt(withHigh) - killAt(without)) <= 20, `${killAt(withHigh)} ms against ${killAt(without)} ms`);
    assert.equal(withHigh.run.result.pressureFullMs, without.run.result.pressureFullMs);
  });
});

describe("memory.high through the user-space API", () => {
  const cacheScenario = scenario("api", {
    durationMs: 100,
    machine: { pages: 64 * MIB, min: MIB, fileCachePages: 0 },
    cgroups: [cgroup("/v2", 16 * MIB, { version: 2 }), cgroup("/v1", 16 * MIB, { version: 1 })],
    tasks: [task("writer", { main: [fault(8 * MIB, 1000, { fileBacked: true }), { op: "sleep", ms: 1e9 }] }, { cgroup: "/v2", anon: 2 * MIB }), task("idle", { main: [{ op: "sleep", ms: 1e9 }] }, { cgroup: "/v1" })],
  });

  it("setHigh: ok on v2, EINVAL on v1, the root and a bad value, ENOENT for an unknown path; cgroup() shows it", async () => {
    let checked = false;
    await simulate(cacheScenario, policy("today", "today"), {
      agent: (api) => ({
        start() {
          assert.equal(api.cgroup("/v2")?.highPages, null, "none until set");
          assert.equal(api.setHigh("/v2", 12 * MIB), "ok");
          assert.equal(api.cgroup("/v2")?.highPages, 12 * MIB);
          assert.equal(api.setHigh("/v2", null), "ok");
          assert.equal(api.cgroup("/v2")?.highPages, null);
          assert.equal(api.setHigh("/v1", 12 * MIB), "EINVAL", "v1 has no memory.high");
          assert.equal(api.cgroup("/v1")?.highPages, null);
          assert.equal(api.setHigh("/", 12 * MIB), "EINVAL", "nor has the root");
          assert.equal(api.setHigh("/v2", -1), "EINVAL");
          assert.equal(api.setHigh("/v2", 1.5), "EINVAL");
          assert.equal(api.setHigh("/nope", 12 * MIB), "ENOENT");
          checked = true;
        },
        stop() {},
      }),
    });
    assert.ok(checked);
  });

  it("a high written below the usage reclaims the cgroup down to it at once", async () => {
    let seen: { before: number; after: number } | null = null;
    await simulate(cacheScenario, policy("today", "today"), {
      agent: (api) => ({
        start() {
          api.setTimer(50, () => {
            const before = api.cgroup("/v2")!.usagePages;
            assert.equal(api.setHigh("/v2", 6 * MIB), "ok");
            seen = { before, after: api.cgroup("/v2")!.usagePages };
          });
        },
        stop() {},
      }),
    });
    assert.ok(seen !== null);
    const { before, after } = seen as { before: number; after: number };
    assert.equal(before, 10 * MIB, "2 MiB anon and 8 MiB of page cache");
    assert.equal(after, 6 * MIB, "the cache above the new high is reclaimed");
  });
});

describe("a memory.high that is never crossed changes nothing", () => {
  it("the same run, event for event, as without one", () => {
    const plain = highScenario({ bandMiB: null, rateMiBPerS: 400, durationMs: 3000 });
    const unreached = { ...plain, cgroups: plain.cgroups.map((c) => ({ ...c, highPages: 4 * LIMIT_PAGES })) };
    const nulled = { ...plain, cgroups: plain.cgroups.map((c) => ({ ...c, highPages: null })) };
    for (const p of [policy("today", "today"), KERNEL_2018]) {
      const base = simulateSync(plain, p);
      assert.deepEqual(base.result.killed, ["hog"], "the hog reaches max and is killed");
      assert.deepEqual(simulateSync(unreached, p), base);
      assert.deepEqual(simulateSync(nulled, p), base);
    }
  });

  it("a v1 cgroup ignores a high in its spec (there is no memory.high in v1)", () => {
    const s = scenario("v1", {
      durationMs: 2000,
      machine: { pages: 256 * MIB, min: MIB },
      cgroups: [cgroup("/a", 32 * MIB, { version: 1 })],
      tasks: [task("hog", { main: [forever([fault(16 * MIB, 100)])] }, { cgroup: "/a" })],
    });
    const withHigh = { ...s, cgroups: [{ ...s.cgroups[0]!, highPages: 8 * MIB }] };
    assert.deepEqual(simulateSync(withHigh, policy("today", "today")), simulateSync(s, policy("today", "today")));
  });
});
