// Workloads for the memory.high tests: a 128 MiB v2 cgroup (the size measured on a real 6.1
// kernel) with a hog or a page-cache writer, memory.high set through the user-space API at the
// start, and a trace of what user space reads every tick.

import { simulate } from "../../../src/sim/kernel/simulate.js";
import type { PolicySpec, Scenario, SimulationRun, Step } from "../../../src/sim/scenario.js";
import type { SimCgroupInfo, SimProcessInfo, UserspaceApi } from "../../../src/sim/userspace-api.js";
import { cgroup, fault, forever, policy, scenario, task } from "./build.js";

export const MIB = 256;
export const LIMIT_PAGES = 128 * MIB;
export const TODAY = policy("today", "today");
export const KERNEL_2018 = policy("2018", "2018");

export interface HighWorkload {
  /** memory.high as limit minus this band (null: none set). */
  bandMiB: number | null;
  /** The hog's (or writer's) rate. */
  rateMiBPerS: number;
  /** Page cache (a writer) instead of anonymous memory (a hog). */
  fileBacked?: boolean;
  durationMs?: number;
  /** The cgroup's parent carries the high instead of the cgroup itself. */
  highOnParent?: boolean;
}

export const JOB = "/job";
export const PARENT = "/jobs";

export function highScenario(w: HighWorkload): Scenario {
  const path = w.highOnParent ? `${PARENT}/job` : JOB;
  const cgroups = w.highOnParent ? [cgroup(PARENT, LIMIT_PAGES, { version: 2 }), cgroup(path, null, { version: 2 })] : [cgroup(JOB, LIMIT_PAGES, { version: 2 })];
  const chunk: Step = fault(16 * MIB, (w.rateMiBPerS * MIB) / 1000, w.fileBacked ? { fileBacked: true } : {});
  return scenario("memory.high", {
    durationMs: w.durationMs ?? 20_000,
    // 1 GiB, no swap: the hog's anonymous memory cannot be reclaimed; the scenario defaults for
    // reclaim (kswapd 512 MiB/s, direct reclaim 128 MiB/s).
    machine: { pages: 1024 * MIB, min: 4 * MIB, kswapdPagesPerMs: 128, directReclaimPagesPerMs: 32 },
    cgroups,
    tasks: [task("hog", { main: [forever([chunk])] }, { cgroup: path, anon: 8 * MIB })],
  });
}

/** What user space saw at one tick. */
export interface Seen {
  tMs: number;
  cgroup: SimCgroupInfo;
  hog: SimProcessInfo | null;
  psiSomeUs: number;
}

export interface HighRun {
  run: SimulationRun;
  trace: Seen[];
  /** The cgroup that carries the high (the job's, or its parent's). */
  highPath: string;
  highPages: number | null;
  /** First trace instant with a `high` event, and with usage at the limit (a `max` event). */
  firstHighMs: number | null;
  firstMaxMs: number | null;
}

/** Run the workload; the agent sets memory.high at t = 0, then reads the cgroup and the hog every `everyMs`. */
export async function runHigh(w: HighWorkload, p: PolicySpec = TODAY, o: { everyMs?: number; atMs?: Record<number, (api: UserspaceApi) => void> } = {}): Promise<HighRun> {
  const s = highScenario(w);
  const highPath = w.highOnParent ? PARENT : JOB;
  const highPages = w.bandMiB === null ? null : LIMIT_PAGES - w.bandMiB * MIB;
  const everyMs = o.everyMs ?? 10;
  const trace: Seen[] = [];
  const run = await simulate(s, p, {
    agent: (api) => ({
      start() {
        if (highPages !== null && api.setHigh(highPath, highPages) !== "ok") throw new Error("setHigh refused");
        const look = (): void => {
          const cg = api.cgroup(highPath);
          if (cg === null) throw new Error("no cgroup");
          const hogPid = api.cgroupPids(highPath)[0];
          trace.push({ tMs: api.nowMs(), cgroup: cg, hog: hogPid === undefined ? null : api.process(hogPid), psiSomeUs: api.machine().psiSomeTotalUs });
          api.setTimer(everyMs, look);
        };
        look();
        for (const [at, fn] of Object.entries(o.atMs ?? {})) api.setTimer(Number(at), () => fn(api));
      },
      stop() {},
    }),
  });
  const firstHighMs = trace.find((x) => x.cgroup.events.high > 0)?.tMs ?? null;
  const firstMaxMs = trace.find((x) => x.cgroup.events.max > 0)?.tMs ?? null;
  return { run, trace, highPath, highPages, firstHighMs, firstMaxMs };
}
