// The work budget: the simulation a file asks for must fit in WORK_BUDGET_UNITS over all the runs
// `oomwarden simulate` makes of it (one per policy), so a file from anywhere runs in seconds. The
// estimate is work.ts's upper bound; the error names the key that asks for most of the work.

import type { PolicySpec, Scenario } from "../scenario.js";
import { busiestLoops, ENGINE_INTERVAL_FLOOR_MS, MACHINE_GUARD_FLOOR_MS, type SamplingLoops } from "./agent-sampling.js";
import { shownName } from "./messages.js";
import { busySleep, estimateRunWork, largestPart, type RunWork, type WorkPart } from "./work.js";

/**
 * About five seconds of CPU at the shapes the estimate is tight for (a unit is about 5 ns); every
 * scenario in scenarios/ needs a tenth of it or less, most of them a hundredth.
 */
export const WORK_BUDGET_UNITS = 1_000_000_000;

export interface WorkProblem {
  /** What the error is about: a part of one run, or the number of runs. */
  blame: WorkPart | { source: { kind: "policies"; count: number } };
  message: string;
}

/** The problem when running `policies` (the file's, or those named with --policy) exceeds the budget, else null. */
export function checkWorkBudget(scenario: Scenario, policies: readonly PolicySpec[] = scenario.policies): WorkProblem | null {
  const runs = policies.map((p) => estimateRunWork(scenario, p));
  const total = runs.reduce((sum, r) => sum + r.units, 0);
  if (!(total > WORK_BUDGET_UNITS) && Number.isFinite(total)) return null;
  const worst = runs.reduce((a, b) => (b.units > a.units ? b : a));
  const head = `the simulation would cost about ${amount(total)} units of work, more than the ${amount(WORK_BUDGET_UNITS)} a file may ask for (see "Work budget" in docs/scenario-format.md)`;
  if (runs.length > 1 && worst.units <= WORK_BUDGET_UNITS) {
    const message = `${head}: ${runs.length} policies at up to ${amount(worst.units)} units each; list fewer policies, or shorten the run`;
    return { blame: { source: { kind: "policies", count: runs.length } }, message };
  }
  const part = largestPart(worst);
  return { blame: part, message: `${head}: ${why(part, worst, scenario)}` };
}

function why(part: WorkPart, run: RunWork, scenario: Scenario): string {
  const share = Number.isFinite(run.units) ? `${Math.round((100 * part.units) / run.units)}% of a run` : "most of a run";
  const s = part.source;
  switch (s.kind) {
    case "program": {
      const threads = `${s.threads} thread${s.threads === 1 ? "" : "s"}`;
      const sleep = busySleep(s, scenario.tickMs);
      if (sleep !== null && sleep.op === "sleep") {
        return `${share} is this sleep of ${sleep.ms} ms, shorter than the tick (${scenario.tickMs} ms), which wakes ${threads} up to ${amount(1000 / sleep.ms)} times per virtual second; sleep at least a tick, or use fewer threads or a shorter run`;
      }
      const locks = s.takesLocks ? ", which may run whenever a lock is handed over" : "";
      return `${share} is the ${threads} running this program over ${amount(s.instants)} instants${locks}; sleep longer between steps, or use fewer threads or a shorter run`;
    }
    case "ticks":
      return `${share} is ${amount(s.ticks)} ticks of ${scenario.tickMs} ms, each serving up to ${s.allocatingThreads} allocating threads among ${scenario.tasks.length} tasks and ${scenario.cgroups.length} cgroups; shorten the run, lengthen tickMs, or use fewer threads`;
    case "reconcile":
      return `${share} is policy ${s.policy.name}'s overcharge reconcile every ${s.reconcileMs} ms in each cgroup; reconcile less often`;
    case "sampling": {
      const { machine, others, wakeUps } = s.sampling;
      const every = (l: SamplingLoops): string => `every ${l.intervalMs} ms (${l.key === null ? "its shortest interval of its own" : `options.${l.key}`})`;
      const loops = `the machine guard ${every(machine)} and ${others.loops} other loop${others.loops === 1 ? "" : "s"} ${every(others)}`;
      const busiest = busiestLoops(s.sampling);
      const floorMs = busiest === machine ? MACHINE_GUARD_FLOOR_MS : ENGINE_INTERVAL_FLOOR_MS;
      const fix = busiest.key === null ? "shorten the run" : `set ${busiest.key} to ${floorMs} ms or more, or shorten the run`;
      return `${share} is policy ${shownName(s.policy.name)}'s oomwarden engine waking up to ${amount(wakeUps)} times (${loops}); ${fix}`;
    }
    case "setup":
      return `${share} is building ${scenario.tasks.length} tasks and their threads for each policy; use fewer tasks or threads`;
  }
}

/** A count as a message shows it: 12, 4,500, 3.2 million, 1.5 billion. */
export function amount(n: number): string {
  if (!Number.isFinite(n)) return "unbounded";
  if (n >= 1e12) return n.toExponential(1);
  if (n >= 1e9) return `${Number((n / 1e9).toPrecision(2))} billion`;
  if (n >= 1e6) return `${Number((n / 1e6).toPrecision(2))} million`;
  return Math.round(n).toLocaleString("en-US");
}
