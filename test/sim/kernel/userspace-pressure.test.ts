// What the machine guard reads of the simulated kernel: /proc/meminfo, zoneinfo watermarks,
// vmstat pgsteal/allocstall and PSI memory totals (UserspaceApi.machine()); the machine's process
// list (allPids); and memory.max writes (setLimit).

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { simulate } from "../../../src/sim/kernel/simulate.js";
import { builtinPolicySpec, parseScenario } from "../../../src/sim/scenario-file.js";
import type { PolicySpec, Scenario, SimulationRun } from "../../../src/sim/scenario.js";
import type { SimMachineInfo, UserspaceAgent, UserspaceApi } from "../../../src/sim/userspace-api.js";

const SCENARIOS = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "..", "scenarios");
const PAGES_PER_MIB = 256;

function parse(text: string, source = "inline.yaml"): Scenario {
  const parsed = parseScenario(text, source);
  if (!parsed.ok) assert.fail(parsed.errors.join("\n"));
  return parsed.scenario;
}

function today(scenario: Scenario): PolicySpec {
  const policy = builtinPolicySpec("kernel-today", scenario.cgroups);
  assert.ok(policy);
  return policy;
}

/** An agent that only calls `body` at the given virtual times (ms). */
function at(times: Record<number, (api: UserspaceApi) => void>): (api: UserspaceApi) => UserspaceAgent {
  return (api) => ({
    start() {
      for (const [ms, body] of Object.entries(times)) api.setTimer(Number(ms), () => body(api));
    },
    stop() {},
  });
}

type Row = SimMachineInfo & { tMs: number };

/** Runs the scenario with an agent reading machine() every `everyMs` from t = 0. */
async function sampleMachine(scenario: Scenario, everyMs: number): Promise<{ rows: Row[]; run: SimulationRun }> {
  const rows: Row[] = [];
  const run = await simulate(scenario, today(scenario), {
    agent: (api) => ({
      start() {
        const tick = (): void => {
          rows.push({ tMs: api.nowMs(), ...api.machine() });
          api.setTimer(everyMs, tick);
        };
        api.setTimer(0, tick);
      },
      stop() {},
    }),
  });
  assert.ok(rows.length >= 2, `sampled ${rows.length} times`);
  return { rows, run };
}

const COUNTERS = ["reclaimedPagesTotal", "allocStallsTotal", "psiSomeTotalUs", "psiFullTotalUs"] as const;

/** Cumulative counters never go down; PSI never exceeds the time elapsed; full never exceeds some. */
function assertCounters(rows: Row[]): void {
  for (let i = 1; i < rows.length; i++) {
    const [prev, cur] = [rows[i - 1] as Row, rows[i] as Row];
    for (const key of COUNTERS) assert.ok(cur[key] >= prev[key], `${key} went down at ${cur.tMs} ms: ${prev[key]} -> ${cur[key]}`);
    const elapsedUs = (cur.tMs - prev.tMs) * 1000;
    assert.ok(cur.psiSomeTotalUs - prev.psiSomeTotalUs <= elapsedUs, `PSI some grew faster than time at ${cur.tMs} ms`);
    assert.ok(cur.psiFullTotalUs <= cur.psiSomeTotalUs, `PSI full above some at ${cur.tMs} ms`);
  }
  for (const r of rows) {
    assert.ok(r.freePages >= 0 && r.freePages <= r.totalPages);
    assert.ok(r.availablePages >= 0 && r.availablePages <= r.totalPages);
    assert.ok(r.minWatermarkPages <= r.lowWatermarkPages);
  }
}

const rowAt = (rows: Row[], tMs: number): Row => {
  const row = rows.find((r) => r.tMs === tMs);
  assert.ok(row, `a sample at ${tMs} ms`);
  return row;
};

/** Two zones with watermarks given, 64 MiB of page cache, an allocation that needs direct reclaim. */
const RECLAIMING = `
name: reclaiming
durationS: 4
memory:
  zones:
    - { name: DMA32, sizeMiB: 64, minKiB: 1024, lowKiB: 2048, highKiB: 3072 }
    - { name: Normal, sizeMiB: 192, minKiB: 3072, lowKiB: 6144, highKiB: 9216 }
  fileCacheMiB: 64
  kswapdMiBPerS: 4
  directReclaimMiBPerS: 4
tasks:
  - name: grower
    mm: { anonMiB: 100 }
    program:
      - allocMiB: 200
        rateMiBPerS: 400
      - sleepS: 100
  - name: idler
    mm: { anonMiB: 8 }
`;

describe("machine(): meminfo, zoneinfo, vmstat, PSI", () => {
  it("watermark sums and free/available match the scenario's memory settings", async () => {
    const scenario = parse(RECLAIMING);
    const { rows, run } = await sampleMachine(scenario, 250);
    const first = rowAt(rows, 0);
    assert.equal(first.totalPages, 256 * PAGES_PER_MIB);
    // minKiB 1024 + 3072 = 4 MiB; lowKiB 2048 + 6144 = 8 MiB.
    assert.equal(first.minWatermarkPages, 4 * PAGES_PER_MIB);
    assert.equal(first.lowWatermarkPages, 8 * PAGES_PER_MIB);
    // Free at t = 0: RAM less the tasks' memory and the page cache; available adds back the cache above low.
    const free0 = (256 - 100 - 8 - 64) * PAGES_PER_MIB;
    assert.equal(first.freePages, free0);
    assert.equal(first.availablePages, free0 - 8 * PAGES_PER_MIB + 64 * PAGES_PER_MIB);
    assert.equal(first.swapTotalPages, 0);
    assert.equal(first.swapFreePages, 0);
    for (const key of COUNTERS) assert.equal(first[key], 0, `${key} starts at 0`);
    // The watermarks are configuration: they never move.
    assert.ok(rows.every((r) => r.minWatermarkPages === first.minWatermarkPages && r.lowWatermarkPages === first.lowWatermarkPages));
    assertCounters(rows);
    // The allocation outruns free memory: reclaim takes page cache, the grower enters direct reclaim.
    const last = rows.at(-1) as Row;
    assert.ok(last.reclaimedPagesTotal > 0, "pgsteal grew");
    assert.ok(last.allocStallsTotal > 0, "allocstall grew");
    assert.ok(rowAt(rows, 3000).reclaimedPagesTotal > rowAt(rows, 1000).reclaimedPagesTotal, "reclaim keeps running");
    assert.ok(last.freePages < free0);
    assert.deepEqual(run.result.killed, []);
  });

  it("swap totals come from the scenario", async () => {
    const scenario = parse(`
name: swap
durationS: 1
memory: { totalMiB: 256, swapMiB: 128 }
tasks:
  - name: idler
    mm: { anonMiB: 8 }
`);
    const { rows } = await sampleMachine(scenario, 500);
    assert.equal(rowAt(rows, 0).swapTotalPages, 128 * PAGES_PER_MIB);
    assert.equal(rowAt(rows, 0).swapFreePages, 128 * PAGES_PER_MIB);
  });

  it("seed 003 under kernel-today: free stays below min while pgsteal, allocstall and PSI some keep rising", async () => {
    const scenario = parse(readFileSync(join(SCENARIOS, "003-atomic-watermark-starvation.yaml"), "utf8"), "003-atomic-watermark-starvation.yaml");
    const { rows, run } = await sampleMachine(scenario, 250);
    assertCounters(rows);
    const zones = scenario.memory.zones;
    const first = rowAt(rows, 0);
    assert.equal(first.minWatermarkPages, 9548 / 4, "minKiB 9548");
    assert.equal(first.minWatermarkPages, zones.reduce((sum, z) => sum + z.minPages, 0));
    assert.equal(first.lowWatermarkPages, zones.reduce((sum, z) => sum + z.lowPages, 0));
    assert.equal(first.totalPages, 8 * 1024 * PAGES_PER_MIB);
    // The ingress eats free memory down to min within seconds, and from then on it stays below.
    const below = rows.find((r) => r.freePages < r.minWatermarkPages);
    assert.ok(below, "free fell below min");
    assert.ok(below.tMs <= 15_000, `below min from ${below.tMs} ms`);
    const starving = rows.filter((r) => r.tMs >= below.tMs + 1000);
    assert.ok(starving.length > 40);
    assert.ok(
      starving.every((r) => r.freePages < r.minWatermarkPages),
      "free stays below min (seed 003: reclaim never gets back to it)",
    );
    // Over any second of the starvation: reclaim reclaims, allocations enter direct reclaim, tasks stall.
    for (let t = below.tMs + 1000; t + 1000 <= 30_000; t += 1000) {
      const [a, b] = [rowAt(rows, t), rowAt(rows, t + 1000)];
      assert.ok(b.reclaimedPagesTotal > a.reclaimedPagesTotal, `pgsteal rose over ${t}..${t + 1000} ms`);
      assert.ok(b.allocStallsTotal > a.allocStallsTotal, `allocstall rose over ${t}..${t + 1000} ms`);
      assert.ok(b.psiSomeTotalUs - a.psiSomeTotalUs >= 900_000, `PSI some rose by ${b.psiSomeTotalUs - a.psiSomeTotalUs} µs over ${t}..${t + 1000} ms`);
    }
    // Before the starvation, nothing of it.
    const before = rows.filter((r) => r.tMs < below.tMs - 1000);
    assert.ok(before.length > 0);
    assert.ok(before.every((r) => r.psiSomeTotalUs === 0 && r.allocStallsTotal === 0));
    assert.deepEqual(run.result.killed, [], "kernel-today kills nobody (the seed's documented bad outcome)");
  });

  it("PSI full rises while every allocating thread waits for memory", async () => {
    // Nothing reclaimable and a __GFP_NOFAIL allocation that cannot be served: it loops in the allocator.
    const scenario = parse(`
name: full-stall
durationS: 3
memory: { totalMiB: 256, minKiB: 4096, lowKiB: 8192, highKiB: 12288 }
tasks:
  - name: grower
    mm: { anonMiB: 200 }
    program:
      - allocMiB: 100
        context: GFP_NOFS_NOFAIL
      - sleepS: 100
  - name: idler
    mm: { anonMiB: 8 }
`);
    const { rows } = await sampleMachine(scenario, 250);
    assertCounters(rows);
    const [a, b] = [rowAt(rows, 1000), rowAt(rows, 3000)];
    assert.ok(b.psiFullTotalUs - a.psiFullTotalUs >= 1_900_000, `PSI full rose by ${b.psiFullTotalUs - a.psiFullTotalUs} µs in 2 s`);
    assert.equal(b.psiFullTotalUs - a.psiFullTotalUs, b.psiSomeTotalUs - a.psiSomeTotalUs, "the only allocating thread waits: full = some");
    assert.ok(b.allocStallsTotal > a.allocStallsTotal);
  });

  it("a quiet machine (plenty of memory) shows no PSI, no direct reclaim", async () => {
    const scenario = parse(`
name: quiet
durationS: 5
memory: { totalGiB: 1, fileCacheMiB: 100 }
tasks:
  - name: churn
    mm: { anonMiB: 64 }
    program:
      - loop: forever
        steps:
          - allocMiB: 4
          - sleepMs: 50
          - freeMiB: 4
  - name: idler
    mm: { anonMiB: 32 }
`);
    const { rows, run } = await sampleMachine(scenario, 100);
    assertCounters(rows);
    assert.ok(rows.length >= 50);
    for (const r of rows) {
      assert.equal(r.psiSomeTotalUs, 0, `PSI some at ${r.tMs} ms`);
      assert.equal(r.psiFullTotalUs, 0, `PSI full at ${r.tMs} ms`);
      assert.equal(r.allocStallsTotal, 0, `allocstall at ${r.tMs} ms`);
      assert.ok(r.freePages > r.lowWatermarkPages);
    }
    // The churn moves free memory, so the samples saw a live machine, not a frozen one.
    assert.ok(new Set(rows.map((r) => r.freePages)).size > 1, "free memory moved with the churn");
    assert.deepEqual(run.result.killed, []);
  });
});

describe("allPids()", () => {
  it("lists the machine's live tasks sorted, kernel contexts included, and drops one killed once it has exited", async () => {
    const scenario = parse(`
name: pids
durationS: 2
memory: { totalMiB: 256 }
cgroups: [ { path: /job } ]
tasks:
  - name: softirq
    oomScoreAdj: -1000
    program:
      - sleepS: 100
  - name: victim
    mm: { anonMiB: 16 }
  - name: short
    program:
      - sleepMs: 200
  - name: worker
    cgroup: /job
    mm: { anonMiB: 4 }
  - name: late
    startMs: 600
`);
    const seen: Record<string, string[]> = {};
    let victimPid = -1;
    let exitedAtMs: number | null = null;
    const names = (api: UserspaceApi): string[] => {
      const pids = api.allPids();
      assert.deepEqual(pids, [...pids].sort((x, y) => x - y), "sorted");
      assert.equal(new Set(pids).size, pids.length, "no duplicates");
      return pids.map((pid) => api.process(pid)?.name ?? `?${pid}`);
    };
    await simulate(scenario, today(scenario), {
      agent: at({
        100: (api) => {
          seen[100] = names(api);
          const victim = api.allPids().map((pid) => api.process(pid)).find((p) => p?.name === "victim");
          assert.ok(victim);
          victimPid = victim.pid;
        },
        300: (api) => {
          seen[300] = names(api);
          const victim = api.process(victimPid);
          assert.ok(victim);
          assert.equal(api.kill(victim.pid, victim.startTimeTicks), "ok");
          api.onExit(victim.pid, () => {
            exitedAtMs = api.nowMs();
          });
        },
        700: (api) => {
          seen[700] = names(api);
        },
      }),
    });
    assert.deepEqual([...(seen[100] ?? [])].sort(), ["short", "softirq", "victim", "worker"], "a task not started yet is not listed");
    assert.deepEqual([...(seen[300] ?? [])].sort(), ["softirq", "victim", "worker"], "a task whose program ended has exited");
    assert.ok(exitedAtMs !== null && exitedAtMs < 700, `the victim exited at ${exitedAtMs} ms`);
    assert.deepEqual([...(seen[700] ?? [])].sort(), ["late", "softirq", "worker"], "killed and exited: gone; started: listed");
  });
});

describe("setLimit()", () => {
  const LIMITS = `
name: limits
durationS: 2
memory: { totalMiB: 256 }
cgroups:
  - { path: /job, limitMiB: 64 }
  - { path: /job/sub }
  - { path: /w, version: 1, limitMiB: 16, oomKillDisable: true }
tasks:
  - name: worker
    cgroup: /job
    mm: { anonMiB: 32 }
  - name: waiter
    cgroup: /w
    mm: { anonMiB: 8 }
    program:
      - allocMiB: 16
      - sleepS: 100
`;

  it("ENOENT for an unknown path, EINVAL for the root or a bad size, EBUSY below usage, ok otherwise", async () => {
    const results: Record<string, unknown> = {};
    const scenario = parse(LIMITS);
    await simulate(scenario, today(scenario), {
      agent: at({
        100: (api) => {
          results.usage = api.cgroup("/job")?.usagePages;
          results.unknown = api.setLimit("/nope", 1000);
          results.root = api.setLimit("/", 1000);
          results.rootNull = api.setLimit("/", null);
          results.negative = api.setLimit("/job", -1);
          results.fraction = api.setLimit("/job", 1.5);
          results.belowUsage = api.setLimit("/job", 1000);
          results.afterBusy = api.cgroup("/job")?.limitPages;
          results.raise = api.setLimit("/job", 128 * PAGES_PER_MIB);
          results.raised = api.cgroup("/job")?.limitPages;
          results.atUsage = api.setLimit("/job", 32 * PAGES_PER_MIB);
          results.atUsageLimit = api.cgroup("/job")?.limitPages;
          results.remove = api.setLimit("/job", null);
          results.removed = api.cgroup("/job")?.limitPages;
          results.child = api.setLimit("/job/sub", 8 * PAGES_PER_MIB);
          results.childLimit = api.cgroup("/job/sub")?.limitPages;
          results.parentUntouched = api.cgroup("/job")?.limitPages;
        },
      }),
    });
    assert.deepEqual(results, {
      usage: 32 * PAGES_PER_MIB,
      unknown: "ENOENT",
      root: "EINVAL",
      rootNull: "EINVAL",
      negative: "EINVAL",
      fraction: "EINVAL",
      belowUsage: "EBUSY",
      afterBusy: 64 * PAGES_PER_MIB,
      raise: "ok",
      raised: 128 * PAGES_PER_MIB,
      atUsage: "ok",
      atUsageLimit: 32 * PAGES_PER_MIB,
      remove: "ok",
      removed: null,
      child: "ok",
      childLimit: 8 * PAGES_PER_MIB,
      parentUntouched: null,
    });
  });

  it("raising the limit of a memcg in OOM wakes its waiting task, which gets its memory", async () => {
    const scenario = parse(LIMITS);
    const seen: Record<string, unknown> = {};
    const run = await simulate(scenario, today(scenario), {
      agent: at({
        500: (api) => {
          const w = api.cgroup("/w");
          seen.before = { underOom: w?.underOom, usage: w?.usagePages, limit: w?.limitPages };
          seen.raise = api.setLimit("/w", 64 * PAGES_PER_MIB);
        },
        1000: (api) => {
          const w = api.cgroup("/w");
          seen.after = { underOom: w?.underOom, usage: w?.usagePages, limit: w?.limitPages };
        },
      }),
    });
    assert.deepEqual(seen, {
      before: { underOom: true, usage: 16 * PAGES_PER_MIB, limit: 16 * PAGES_PER_MIB },
      raise: "ok",
      after: { underOom: false, usage: 24 * PAGES_PER_MIB, limit: 64 * PAGES_PER_MIB },
    });
    assert.deepEqual(run.result.killed, [], "the OOM ended without a kill");
  });
});
