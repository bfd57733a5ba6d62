// A machine-scale scenario: 1,000 tasks in 50 memcgs over (by default) one hour of virtual time.
// Most tasks breathe (allocate, hold, free, sleep); one task per memcg leaks, started at spread
// times, so memcg reclaim, swap and OOM kills keep happening through the run. Used for the performance check in
// the report (not a timed test) and, shortened, by scale.test.ts.

import type { CgroupSpec, Scenario, Step, TaskSpec } from "../../../src/sim/scenario.js";
import { fault, forever } from "./build.js";

export const SCALE_MEMCGS = 50;
export const TASKS_PER_MEMCG = 20;

export function thousandTasks(durationMs = 3_600_000, tickMs = 10): Scenario {
  const cgroups: CgroupSpec[] = [];
  const tasks: TaskSpec[] = [];
  for (let g = 0; g < SCALE_MEMCGS; g++) {
    const path = `/svc${g}`;
    cgroups.push({ path, limitPages: 20_000, version: g % 5 === 0 ? 1 : 2, oomKillDisable: false, oomGroup: false, chargeFailure: "enomem" });
    for (let i = 0; i < TASKS_PER_MEMCG; i++) {
      const n = g * TASKS_PER_MEMCG + i;
      const leaker = i === 0;
      const program: Step[] = leaker
        ? [forever([fault(100, 1), { op: "sleep", ms: 1000 }])]
        : [
            { op: "sleep", ms: (n * 37) % 3000 },
            forever([fault(200, 2), { op: "sleep", ms: 500 }, { op: "free", pages: 200 }, { op: "sleep", ms: 2000 + ((n * 53) % 3000) }]),
          ];
      tasks.push({
        name: `${leaker ? "leak" : "svc"}${g}-${i}`,
        cgroup: path,
        oomScoreAdj: 0,
        mm: { anonPages: 500 + ((n * 97) % 300), mlockedPages: 0, sharedPages: 20, pageTablePages: 4, blockableMmuNotifier: false, fileWorkingSetPages: 0 },
        threads: [{ name: "main", program }],
        innocent: !leaker,
        startMs: leaker ? Math.floor((g * durationMs) / SCALE_MEMCGS) : 0,
      });
    }
  }
  return {
    name: "1000 tasks",
    seed: null,
    description: "1,000 tasks in 50 memcgs, one leaker per memcg",
    randomSeed: 42,
    durationMs,
    tickMs,
    memory: {
      zones: [{ name: "Normal", pages: 1_048_576, minPages: 4096, lowPages: 5120, highPages: 6144 }],
      // A little swap: memcg reclaim swaps the breathing tasks out first, then the memcg OOMs.
      swapPages: 16_384,
      fileCachePages: 100_000,
      kswapdPagesPerMs: 50,
      directReclaimPagesPerMs: 10,
      refaultPagesPerMs: 16,
      exitMmapMsPerKiPage: 10,
    },
    cgroups,
    locks: [],
    tasks,
    policies: [{ name: "kernel-today", kernel: { version: "today", proposals: [] }, userspace: { kind: "none" } }],
    expectations: {},
  };
}
