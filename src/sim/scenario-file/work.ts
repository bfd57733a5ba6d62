// An upper bound of the work one run of a scenario costs the simulated kernel, in units of about
// 5 ns of CPU (one pass of an inner loop), from the Scenario alone. It follows the kernel's rules
// (src/sim/kernel/README.md): ticks only at n x tickMs; a thread wakes for its sleeps, its
// allocations (served at ticks) and lock hand-overs, and runs at most MAX_INSTANT_STEPS zero-time
// steps per instant; every tick serves each allocating thread, scans tasks and cgroups to reclaim
// and to choose victims; every instant accounts pressure over the allocating threads. Under an
// oomwarden policy its engine runs too: it wakes at the intervals of its options
// (agent-sampling.ts), and is given its turn (its promises settled) after every instant.
// The bound is loose on purpose where the kernel's behaviour depends on the run (a lock may be
// handed over at any instant): a file within the budget can never cost more than its estimate.

import { MAX_HIGH_BATCHES_PER_SERVICE } from "../kernel/memcg-high.js";
import { SWAP_CLUSTER_MAX } from "../kernel/memcg-high-delay.js";
import { MAX_INSTANT_STEPS } from "../kernel/threads.js";
import type { PolicySpec, Scenario, Step, TaskSpec, ThreadSpec } from "../scenario.js";
import { agentSampling, type AgentSampling } from "./agent-sampling.js";
import { longestZeroTimeRun, passCost, sleepEndsWithin, type PassCost } from "./program-cost.js";

/** Units per item, measured on this simulator (a unit is about 5 ns). */
const UNITS = {
  /** One program step: runThread's loop and the step itself. */
  step: 5,
  /** One event: the queue's push and pop, and its dispatch. */
  event: 30,
  /** Serving one allocating thread at one tick (allocator, charge, stall accounting). */
  service: 30,
  /** Building one thread, task or cgroup when a run starts. */
  setup: 50,
  /**
   * One wake-up of oomwarden's engine in the simulator: its timer, the machine's numbers read,
   * the history appended and judged, the next timer (7 us measured at a sample a millisecond).
   */
  agentWake: 1500,
  /** Settling the engine's promises after each instant of an oomwarden run (0.85 us measured). */
  agentTurn: 200,
};

/** The machine's own path among an oomwarden policy's managed cgroups: it has no notifications to listen to. */
const MACHINE_PATH = "/";
/** Samples of the timeline per run at most (the kernel samples about 600 times, plus the ends). */
const SAMPLES_PER_RUN = 602;
/** Timers the kernel may set per task: the reaper's delay, ten tries and a victim timeout, an exit. */
const KERNEL_TIMERS_PER_TASK = 16;

/** Where a part of the work comes from, so an error can name the key that asks for it. */
export type WorkSource =
  | { kind: "program"; task: TaskSpec; thread: ThreadSpec; threads: number; cost: PassCost; instants: number; takesLocks: boolean }
  | { kind: "ticks"; ticks: number; allocatingThreads: number }
  | { kind: "setup" }
  | { kind: "reconcile"; policy: PolicySpec; reconcileMs: number }
  | { kind: "sampling"; policy: PolicySpec; sampling: AgentSampling };

export interface WorkPart {
  units: number;
  source: WorkSource;
}

export interface RunWork {
  /** Upper bound of the run's work, in units. */
  units: number;
  /** Upper bound of the events the run processes (SimulationRun.simulatedEvents). */
  events: number;
  parts: WorkPart[];
}

interface ThreadBound {
  task: TaskSpec;
  thread: ThreadSpec;
  cost: PassCost;
  allocates: boolean;
  takesLocks: boolean;
  /** Instants at which the thread wakes by itself (sleep ends, yields, its start, a kill). */
  ownInstants: number;
  /** Ticks at which it may finish an allocation and run on. */
  tickInstants: number;
  stepsPerInstant: number;
  /** Extra scan per alloc or free step: the working-set check walks every task and zone. */
  stepScan: number;
}

/** The bound of one run of `scenario` under `policy`. */
export function estimateRunWork(scenario: Scenario, policy: PolicySpec): RunWork {
  const durationMs = scenario.durationMs;
  const tickMs = scenario.tickMs;
  const ticks = Math.floor(durationMs / tickMs) + 1;
  const tasks = scenario.tasks.length;
  const cgroups = scenario.cgroups.length + 1;
  const zones = scenario.memory.zones.length;
  const handlerTask = policy.userspace.kind === "handler" ? policy.userspace.task : null;
  const anyWorkingSet = scenario.tasks.some((t) => t.mm.fileWorkingSetPages > 0);

  const bounds: ThreadBound[] = [];
  for (const task of scenario.tasks) {
    const windowMs = Math.max(0, durationMs - task.startMs);
    task.threads.forEach((thread, i) => {
      // A task starting later faults its initial memory in on its main thread first.
      const faultsIn = i === 0 && task.startMs > 0 && task.mm.anonPages + task.mm.sharedPages + task.mm.pageTablePages > 0;
      // The scripted handler runs its action steps on its main thread, at any instant it is told to.
      const handles = i === 0 && task.name === handlerTask;
      bounds.push(threadBound(task, thread, windowMs, tickMs, ticks, { faultsIn, handles, scan: task.mm.fileWorkingSetPages > 0 && anyWorkingSet ? tasks + zones : 0 }));
    });
  }
  const threads = bounds.length;
  const allocating = bounds.filter((b) => b.allocates).length;
  // Notifications cost only where user space listens: a handler on its cgroups, oomwarden on the
  // cgroups it manages other than the machine ("/"), which it samples instead.
  const u = policy.userspace;
  const listeners = u.kind === "none" || (u.kind === "oomwarden" && u.managedCgroups.every((path) => path === MACHINE_PATH)) ? 0 : 1;
  const reconcileMs = policy.kernel.proposals.find((p) => p.kind === "overcharge-reconcile")?.reconcileMs;
  const reconciles = reconcileMs === undefined ? 0 : cgroups * (durationMs / Math.max(reconcileMs, Number.MIN_VALUE) + 1);
  // Kernel timers (samples, the reaper, handler reactions, oom-delay expiries) at their own instants.
  const kernelInstants = SAMPLES_PER_RUN + KERNEL_TIMERS_PER_TASK * tasks + ticks;
  // oomwarden's own timers, each at an instant of its own.
  const sampling = agentSampling(policy.userspace, durationMs);
  const agentWakes = sampling?.wakeUps ?? 0;
  const instants = ticks + kernelInstants + reconciles + agentWakes + bounds.reduce((sum, b) => sum + b.ownInstants, 0);

  const parts: WorkPart[] = [];
  let events = ticks + kernelInstants + reconciles + agentWakes;
  // Every instant accounts pressure over the allocating threads (twice: stalled and running), and
  // gives an oomwarden engine its turn.
  const perInstant = 2 * allocating + (sampling === null ? 0 : UNITS.agentTurn);
  for (const b of bounds) {
    // A thread queued for a lock is woken by whoever releases it: at any instant of the run.
    const runsAt = b.takesLocks ? instants : b.ownInstants + b.tickInstants;
    const steps = Math.min(b.cost.steps * (b.stepScan > 0 ? 2 : 1) + 3, b.stepsPerInstant * runsAt);
    const wakes = b.ownInstants + (b.takesLocks ? steps : 0);
    events += wakes;
    const units = steps * (UNITS.step + b.stepScan) + wakes * UNITS.event + b.ownInstants * perInstant;
    addProgramPart(parts, b, units, runsAt);
  }
  // OOM and memory.events notifications to user space: at most one per cgroup for each thread that
  // may charge at a tick, and one per cgroup for the OOM it is in.
  const notifications = listeners * cgroups * (allocating + 1);
  // Each tick: every allocating thread served, reclaiming over tasks, cgroups and zones; one victim
  // scan per OOM domain; exit and reap jobs; kswapd; the notifications.
  const perTick = allocating * (UNITS.service + tasks + cgroups + zones) + cgroups * tasks + 3 * tasks + zones * (tasks + cgroups) + perInstant + notifications * UNITS.event;
  events += ticks * notifications;
  // Under a memory.high, per tick each allocating thread there may charge batch by batch, reclaim
  // in rounds within the direct-reclaim budget, and wake from its penalty at an instant of its own.
  const throttleable = throttleableThreads(scenario, policy, bounds);
  // Rounds: the batches, the budget in full rounds, and a short last round per memcg level.
  const highRounds = MAX_HIGH_BATCHES_PER_SERVICE + Math.ceil((scenario.memory.directReclaimPagesPerMs * tickMs) / SWAP_CLUSTER_MAX) + cgroups;
  const perTickHigh = throttleable * (highRounds * (UNITS.service + tasks + cgroups + zones) + UNITS.event + perInstant);
  events += ticks * throttleable;
  parts.push({ units: ticks * (perTick + perTickHigh) + kernelInstants * (UNITS.event + perInstant), source: { kind: "ticks", ticks, allocatingThreads: allocating } });
  if (reconcileMs !== undefined) parts.push({ units: reconciles * (UNITS.event + tasks + cgroups + perInstant), source: { kind: "reconcile", policy, reconcileMs } });
  if (sampling !== null) parts.push({ units: agentWakes * (UNITS.agentWake + perInstant), source: { kind: "sampling", policy, sampling } });
  parts.push({ units: (threads + tasks + cgroups) * UNITS.setup, source: { kind: "setup" } });
  return { units: parts.reduce((sum, p) => sum + p.units, 0), events, parts };
}

function threadBound(
  task: TaskSpec,
  thread: ThreadSpec,
  windowMs: number,
  tickMs: number,
  ticks: number,
  o: { faultsIn: boolean; handles: boolean; scan: number },
): ThreadBound {
  const cost = passCost(thread.program);
  const takesLocks = cost.takesLocks || o.handles;
  const run = longestZeroTimeRun(cost);
  // At one instant a thread runs a stretch of zero-time steps and starts at most one wait, even when
  // lock hand-overs wake it several times there; the handler's action steps come on top of its own.
  const stepsPerInstant = o.handles ? MAX_INSTANT_STEPS : Math.min(MAX_INSTANT_STEPS, run + 1);
  // Each sleep ends at least its length after the instant it began.
  const sleepEnds = sleepEndsWithin(thread.program, windowMs);
  // A thread that used up its zero-time steps at an instant goes on a tick later.
  const yields = o.handles || run + 1 > MAX_INSTANT_STEPS ? windowMs / tickMs + 1 : 0;
  const allocs = cost.allocs + (o.faultsIn ? 3 : 0);
  const allocates = allocs > 0 || o.handles || (o.scan > 0 && cost.steps > 0);
  // Allocations (and working-set refaults) end at ticks, each at a later one.
  const tickInstants = allocates ? Math.min(o.scan > 0 ? Infinity : allocs + (o.handles ? ticks : 0), ticks) : 0;
  return { task, thread, cost, allocates, takesLocks, ownInstants: sleepEnds + yields + 2, tickInstants, stepsPerInstant, stepScan: o.scan };
}

/**
 * Allocating threads a memory.high may throttle: those in or below a v2 cgroup with a high in the
 * file, or one oomwarden manages (its guard band writes memory.high there).
 */
function throttleableThreads(scenario: Scenario, policy: PolicySpec, bounds: ThreadBound[]): number {
  const managed = policy.userspace.kind === "oomwarden" ? policy.userspace.managedCgroups : [];
  const highs = scenario.cgroups.filter((c) => c.version === 2 && ((c.highPages ?? null) !== null || managed.includes(c.path))).map((c) => c.path);
  if (highs.length === 0) return 0;
  return bounds.filter((b) => b.allocates && highs.some((path) => b.task.cgroup === path || b.task.cgroup.startsWith(`${path}/`))).length;
}

/** Threads sharing one program (a `count`) make one part, so an error names their program once. */
function addProgramPart(parts: WorkPart[], b: ThreadBound, units: number, instants: number): void {
  const last = parts[parts.length - 1];
  if (last?.source.kind === "program" && last.source.task === b.task && last.source.thread.program === b.thread.program) {
    last.units += units;
    last.source.threads++;
    return;
  }
  parts.push({ units, source: { kind: "program", task: b.task, thread: b.thread, threads: 1, cost: b.cost, instants, takesLocks: b.takesLocks } });
}

/** The largest part of a run's work. */
export function largestPart(work: RunWork): WorkPart {
  return work.parts.reduce((a, b) => (b.units > a.units ? b : a));
}

/** A program's shortest sleep, when one shorter than the tick makes it a busy loop. */
export function busySleep(source: Extract<WorkSource, { kind: "program" }>, tickMs: number): Step | null {
  return source.cost.minSleepMs < tickMs ? source.cost.minSleepStep : null;
}
