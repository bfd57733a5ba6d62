// fast-check arbitraries for small random scenarios and policies: every mechanism of the model
// (contexts, charges, locks, loops, exits, cgroups, swap, cache, proposals, a handler) shows up.

import fc from "fast-check";
import type { CgroupSpec, GfpContext, KernelProposal, PolicySpec, Scenario, Step, TaskSpec } from "../../../src/sim/scenario.js";

const CONTEXTS: GfpContext[] = ["GFP_KERNEL", "GFP_KERNEL", "GFP_NOFS", "GFP_NOFS_NOFAIL", "GFP_KERNEL_NOFAIL", "GFP_ATOMIC"];

function stepArb(lockNames: string[], depth: number): fc.Arbitrary<Step> {
  const locks = ["mmap_sem", ...lockNames];
  const leaf: fc.Arbitrary<Step>[] = [
    fc.record({
      op: fc.constant("alloc" as const),
      pages: fc.integer({ min: 0, max: 300 }),
      pagesPerMs: fc.constantFrom(0.1, 0.5, 1, 4, 20),
      context: fc.constantFrom(...CONTEXTS),
      charge: fc.constantFrom("fault" as const, "syscall" as const),
      mlocked: fc.boolean(),
      fileBacked: fc.constantFrom(false, false, false, true),
    }),
    fc.record({ op: fc.constant("free" as const), pages: fc.integer({ min: 0, max: 300 }) }),
    fc.record({ op: fc.constant("lock" as const), lock: fc.constantFrom(...locks), mode: fc.constantFrom("read" as const, "write" as const, "exclusive" as const) }),
    fc.record({ op: fc.constant("unlock" as const), lock: fc.constantFrom(...locks) }),
    fc.record({ op: fc.constant("sleep" as const), ms: fc.integer({ min: 0, max: 400 }) }),
    fc.constant({ op: "exit" as const }),
  ];
  if (depth <= 0) return fc.oneof(...leaf);
  const loop = fc.record({
    op: fc.constant("loop" as const),
    times: fc.constantFrom<number | null>(null, 0, 1, 3),
    steps: fc.array(stepArb(lockNames, depth - 1), { minLength: 0, maxLength: 4 }),
  });
  return fc.oneof(...leaf, loop);
}

function taskArb(name: string, cgroupPaths: string[], lockNames: string[]): fc.Arbitrary<TaskSpec> {
  return fc
    .record({
      cgroup: fc.constantFrom(...cgroupPaths),
      oomScoreAdj: fc.constantFrom(-1000, 0, 0, 0, 300),
      anon: fc.integer({ min: 0, max: 400 }),
      mlockedShare: fc.constantFrom(0, 0, 0.5),
      shared: fc.integer({ min: 0, max: 40 }),
      pageTables: fc.integer({ min: 0, max: 8 }),
      blockable: fc.boolean(),
      // Some tasks touch file pages when they run: refaults (thrashing) join the random mix.
      fileWorkingSet: fc.constantFrom(0, 0, 0, 16, 64),
      innocent: fc.boolean(),
      startMs: fc.constantFrom(0, 0, 0, 137, 500),
      threads: fc.array(fc.array(stepArb(lockNames, 1), { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 3 }),
    })
    .map((t) => ({
      name,
      cgroup: t.cgroup,
      oomScoreAdj: t.oomScoreAdj,
      mm: { anonPages: t.anon, mlockedPages: Math.floor(t.anon * t.mlockedShare), sharedPages: t.shared, pageTablePages: t.pageTables, blockableMmuNotifier: t.blockable, fileWorkingSetPages: t.fileWorkingSet },
      threads: t.threads.map((program, i) => ({ name: `t${i}`, program })),
      innocent: t.innocent,
      startMs: t.startMs,
    }));
}

const proposalArb: fc.Arbitrary<KernelProposal[]> = fc.subarray([
  { kind: "victim-timeout", timeoutMs: 700 },
  { kind: "victim-reserves" },
  { kind: "overcharge-reconcile", reconcileMs: 50 },
  { kind: "kill-below-half-min" },
  { kind: "oom-delay", delayMs: 300 },
] as KernelProposal[]);

export const workloadArb: fc.Arbitrary<{ scenario: Scenario; policy: PolicySpec }> = fc
  .record({
    pages: fc.integer({ min: 1500, max: 6000 }),
    min: fc.integer({ min: 16, max: 128 }),
    swapPages: fc.constantFrom(0, 0, 500),
    fileCachePages: fc.constantFrom(0, 200, 800),
    kswapd: fc.constantFrom(0.5, 2, 8),
    direct: fc.constantFrom(0, 0.5, 2),
    exitMs: fc.constantFrom(0, 5, 50),
    tickMs: fc.constantFrom(5, 10, 20),
    durationMs: fc.integer({ min: 500, max: 4000 }),
    randomSeed: fc.integer(),
    cgroups: fc.array(
      fc.record({
        limit: fc.constantFrom<number | null>(null, 300, 800, 2000),
        version: fc.constantFrom<1 | 2>(1, 2),
        oomKillDisable: fc.boolean(),
        oomGroup: fc.boolean(),
        chargeFailure: fc.constantFrom("enomem" as const, "overcharge" as const),
      }),
      { maxLength: 2 },
    ),
    lockKinds: fc.array(fc.constantFrom("rwsem" as const, "mutex" as const), { maxLength: 2 }),
    version: fc.constantFrom("2018" as const, "today" as const),
    proposals: proposalArb,
    handler: fc.boolean(),
    taskCount: fc.integer({ min: 1, max: 5 }),
  })
  .chain((g) => {
    const cgroups: CgroupSpec[] = g.cgroups.map((c, i) => ({
      path: i === 1 ? "/c0/c1" : `/c${i}`,
      limitPages: c.limit,
      version: c.version,
      oomKillDisable: c.oomKillDisable,
      oomGroup: c.oomGroup,
      chargeFailure: c.chargeFailure,
    }));
    const paths = ["/", ...cgroups.map((c) => c.path)];
    const lockNames = g.lockKinds.map((_, i) => `L${i}`);
    const tasks = fc.tuple(...Array.from({ length: g.taskCount }, (_, i) => taskArb(`task${i}`, paths, lockNames)));
    return tasks.map((taskList): { scenario: Scenario; policy: PolicySpec } => {
      const v1 = cgroups.filter((c) => c.version === 1).map((c) => c.path);
      const userspace: PolicySpec["userspace"] = g.handler && v1.length > 0 ? { kind: "handler", task: "task0", cgroups: v1, reactMs: 30 } : { kind: "none" };
      return {
        scenario: {
          name: "random",
          seed: null,
          description: "random workload",
          randomSeed: g.randomSeed,
          durationMs: g.durationMs,
          tickMs: g.tickMs,
          memory: {
            zones: [{ name: "Normal", pages: g.pages, minPages: g.min, lowPages: Math.round(g.min * 1.25), highPages: Math.round(g.min * 1.5) }],
            swapPages: g.swapPages,
            fileCachePages: g.fileCachePages,
            kswapdPagesPerMs: g.kswapd,
            directReclaimPagesPerMs: g.direct,
            refaultPagesPerMs: 16,
            exitMmapMsPerKiPage: g.exitMs,
          },
          cgroups,
          locks: g.lockKinds.map((kind, i) => ({ name: `L${i}`, kind })),
          tasks: taskList,
          policies: [],
          expectations: {},
        },
        policy: { name: "random", kernel: { version: g.version, proposals: g.proposals }, userspace },
      };
    });
  });

/** Scenarios whose initial memory cannot be placed are rejected by design; properties skip them. */
export function isPlacementError(e: unknown): boolean {
  return e instanceof Error && /does not fit|exceeds its limit/.test(e.message);
}
