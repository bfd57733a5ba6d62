// Small builders for literal scenarios in pages and ms, so tests read like the seed they model.

import type { CgroupSpec, KernelProposal, KernelVersion, PolicySpec, Scenario, Step, TaskSpec, UserspaceSpec } from "../../../src/sim/scenario.js";

export interface TaskOptions {
  cgroup?: string;
  oomScoreAdj?: number;
  anon?: number;
  mlocked?: number;
  shared?: number;
  pageTables?: number;
  blockableMmuNotifier?: boolean;
  fileWorkingSet?: number;
  innocent?: boolean;
  startMs?: number;
}

export function task(name: string, threads: Record<string, Step[]>, o: TaskOptions = {}): TaskSpec {
  return {
    name,
    cgroup: o.cgroup ?? "/",
    oomScoreAdj: o.oomScoreAdj ?? 0,
    mm: {
      anonPages: o.anon ?? 0,
      mlockedPages: o.mlocked ?? 0,
      sharedPages: o.shared ?? 0,
      pageTablePages: o.pageTables ?? 0,
      blockableMmuNotifier: o.blockableMmuNotifier ?? false,
      fileWorkingSetPages: o.fileWorkingSet ?? 0,
    },
    threads: Object.entries(threads).map(([n, program]) => ({ name: n, program })),
    innocent: o.innocent ?? false,
    startMs: o.startMs ?? 0,
  };
}

export function cgroup(path: string, limitPages: number | null, o: Partial<CgroupSpec> = {}): CgroupSpec {
  return { path, limitPages, version: 1, oomKillDisable: false, oomGroup: false, chargeFailure: "enomem", ...o };
}

export function policy(name: string, version: KernelVersion, proposals: KernelProposal[] = [], userspace: UserspaceSpec = { kind: "none" }): PolicySpec {
  return { name, kernel: { version, proposals }, userspace };
}

export interface MachineOptions {
  pages: number;
  min: number;
  low?: number;
  high?: number;
  swapPages?: number;
  fileCachePages?: number;
  kswapdPagesPerMs?: number;
  directReclaimPagesPerMs?: number;
  exitMmapMsPerKiPage?: number;
}

export function scenario(
  name: string,
  o: { machine: MachineOptions; tasks: TaskSpec[]; cgroups?: CgroupSpec[]; locks?: Scenario["locks"]; durationMs: number; tickMs?: number; seed?: string | null; randomSeed?: number; policies?: PolicySpec[] },
): Scenario {
  const m = o.machine;
  const low = m.low ?? Math.round(m.min * 1.25);
  return {
    name,
    seed: o.seed ?? null,
    description: name,
    randomSeed: o.randomSeed ?? 1,
    durationMs: o.durationMs,
    tickMs: o.tickMs ?? 10,
    memory: {
      zones: [{ name: "Normal", pages: m.pages, minPages: m.min, lowPages: low, highPages: m.high ?? Math.round(m.min * 1.5) }],
      swapPages: m.swapPages ?? 0,
      fileCachePages: m.fileCachePages ?? 0,
      kswapdPagesPerMs: m.kswapdPagesPerMs ?? 2,
      directReclaimPagesPerMs: m.directReclaimPagesPerMs ?? 1,
      refaultPagesPerMs: 16,
      exitMmapMsPerKiPage: m.exitMmapMsPerKiPage ?? 10,
    },
    cgroups: o.cgroups ?? [],
    locks: o.locks ?? [],
    tasks: o.tasks,
    policies: o.policies ?? [],
    expectations: {},
  };
}

export const forever = (steps: Step[]): Step => ({ op: "loop", times: null, steps });
export const idle: Step[] = [forever([{ op: "sleep", ms: 1000 }])];
/** Never wakes within any test run: neither progress nor a stall. */
export const dormant: Step[] = [{ op: "sleep", ms: 1e12 }];
export const fault = (pages: number, pagesPerMs: number, extra: Partial<Extract<Step, { op: "alloc" }>> = {}): Step => ({
  op: "alloc",
  pages,
  pagesPerMs,
  context: "GFP_KERNEL",
  charge: "fault",
  ...extra,
});
