// Simulator scale: wall time and simulated events per second for generated workloads, and how the
// cost grows with tasks and with virtual time (target: 1,000 tasks over one hour in under 10 s,
// growing linearly). The smaller runs in the same process are the baseline for the growth ratios.

import { performance } from "node:perf_hooks";
import type { PolicySpec, Scenario, TaskSpec } from "../src/sim/scenario.js";
import { simulate } from "../src/sim/kernel/simulate.js";
import { fmt, table, type BenchOutcome } from "./report.js";

const MIB_PAGES = 256;
const KERNEL_TODAY: PolicySpec = { name: "kernel-today", kernel: { version: "today", proposals: [] }, userspace: { kind: "none" } };

/** Tasks in 10 limited cgroups, each allocating and freeing in a loop with sleeps: steady work, occasional memcg OOMs. */
export function generatedScenario(tasks: number, durationMs: number): Scenario {
  const cgroups = Array.from({ length: 10 }, (_, i) => ({
    path: `/job${i}`,
    limitPages: Math.ceil(tasks / 10) * 12 * MIB_PAGES,
    version: 1 as const,
    oomKillDisable: false,
    oomGroup: false,
    chargeFailure: "enomem" as const,
  }));
  const taskSpecs: TaskSpec[] = Array.from({ length: tasks }, (_, i) => ({
    name: `worker${i}`,
    cgroup: `/job${i % 10}`,
    oomScoreAdj: 0,
    mm: { anonPages: 4 * MIB_PAGES, mlockedPages: 0, sharedPages: 0, pageTablePages: 8, blockableMmuNotifier: false, fileWorkingSetPages: 0 },
    threads: [
      {
        name: "main",
        program: [
          {
            op: "loop",
            times: null,
            steps: [
              { op: "alloc", pages: (8 + (i % 7)) * MIB_PAGES, pagesPerMs: 64, context: "GFP_KERNEL", charge: "fault" },
              { op: "sleep", ms: 1000 + (i % 13) * 100 },
              { op: "free", pages: (8 + (i % 7)) * MIB_PAGES },
              { op: "sleep", ms: 500 },
            ],
          },
        ],
      },
    ],
    innocent: false,
    startMs: (i * 37) % 5000,
  }));
  return {
    name: `generated-${tasks}-tasks`,
    seed: null,
    description: "bench workload",
    randomSeed: 1,
    durationMs,
    tickMs: 10,
    memory: {
      zones: [{ name: "Normal", pages: tasks * 20 * MIB_PAGES, minPages: 16 * MIB_PAGES, lowPages: 20 * MIB_PAGES, highPages: 24 * MIB_PAGES }],
      swapPages: 0,
      fileCachePages: 64 * MIB_PAGES,
      kswapdPagesPerMs: 256,
      directReclaimPagesPerMs: 64,
      refaultPagesPerMs: 16,
      exitMmapMsPerKiPage: 0.05,
    },
    cgroups,
    locks: [],
    tasks: taskSpecs,
    policies: [KERNEL_TODAY],
    expectations: {},
  };
}

interface Measured {
  tasks: number;
  virtualMinutes: number;
  wallMs: number;
  simulatedEvents: number;
  eventsPerSecond: number;
}

async function measure(tasks: number, durationMs: number): Promise<Measured> {
  const scenario = generatedScenario(tasks, durationMs);
  const start = performance.now();
  const run = await simulate(scenario, KERNEL_TODAY);
  const wallMs = performance.now() - start;
  return {
    tasks,
    virtualMinutes: durationMs / 60_000,
    wallMs,
    simulatedEvents: run.simulatedEvents,
    eventsPerSecond: run.simulatedEvents / (wallMs / 1000),
  };
}

export async function run(): Promise<BenchOutcome> {
  const HOUR_MS = 3_600_000;
  const small = await measure(100, HOUR_MS);
  const short = await measure(1000, HOUR_MS / 10);
  const target = await measure(1000, HOUR_MS);
  const growth = {
    /** 10x the tasks over the same hour: linear means about 10. */
    tasksX10: target.wallMs / small.wallMs,
    /** 10x the virtual time with the same tasks: linear means about 10. */
    timeX10: target.wallMs / short.wallMs,
  };
  const json = { benchmark: "sim-scale", targetWallMs: 10_000, runs: [small, short, target], growth };
  const rows = [small, short, target].map((m) => [String(m.tasks), fmt(m.virtualMinutes, 0), fmt(m.wallMs, 0), String(m.simulatedEvents), fmt(m.eventsPerSecond, 0)]);
  return {
    name: "sim-scale",
    json,
    table:
      `Simulator scale (kernel-today, generated workload)\n${table(["tasks", "virtual min", "wall ms", "events", "events/s"], rows)}\n` +
      `growth: 10x tasks -> ${fmt(growth.tasksX10, 1)}x wall time; 10x virtual time -> ${fmt(growth.timeX10, 1)}x (linear = 10)`,
  };
}
