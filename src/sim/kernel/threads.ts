// Threads running their step programs in virtual time. Instant steps (free, lock, unlock, loop,
// exit) run back to back; alloc steps are served by the tick at the step's rate; sleeps and lock
// waits end with events. Lock names: a declared lock, "mmap_sem" (the task's own), or
// "mmap_sem:TASK" (another task's, e.g. a handler reading /proc/PID/cmdline).

import { allocate, type AllocOutcome } from "./allocator.js";
import { threadExit } from "./exit.js";
import { handlerAct } from "./handler.js";
import { sendSigkill } from "./kill.js";
import type { LockMode, LockWaiter, SimLock } from "./locks.js";
import { leaveOomWait } from "./memcg.js";
import { allocateUnderHigh, highOnPath } from "./memcg-high.js";
import { FREE_STEP_ORDER, freeInOrder } from "./mm.js";
import { frameOf, nextStep } from "./programs.js";
import type { AllocStep, InternalStep, PageKind, Sim, Task, Thread } from "./state.js";
import { endThrottle, startThrottle } from "./throttle.js";

/**
 * Instant steps one thread may run at one instant before it yields a tick (a zero-time loop is a
 * busy CPU). Counted per instant, not per wake-up: threads handing a lock back and forth wake
 * each other at the same instant, and a fresh allowance per wake-up would never let time advance.
 */
export const MAX_INSTANT_STEPS = 100;

export function resolveLock(sim: Sim, task: Task, name: string): SimLock | null {
  const declared = sim.locks.get(name);
  if (declared) return declared;
  if (name === "mmap_sem") return task.mm.mmapSem;
  if (name.startsWith("mmap_sem:")) return sim.tasksByName.get(name.slice("mmap_sem:".length))?.mm.mmapSem ?? null;
  return null;
}

export function pageKindOf(step: AllocStep): PageKind {
  if (step.kind) return step.kind;
  if (step.fileBacked) return "cache";
  return step.charge === "syscall" || step.context === "GFP_ATOMIC" ? "kmem" : "anon";
}

/** Run the thread from a step boundary until it blocks, sleeps, allocates or exits. */
export function runThread(sim: Sim, t: Thread): void {
  if (t.stepsAtMs !== sim.nowMs) {
    t.stepsAtMs = sim.nowMs;
    t.stepsThisInstant = 0;
  }
  while (t.state === "ready") {
    if (t.task.fatalSignal) {
      threadExit(sim, t);
      return;
    }
    if (t.pendingFrames.length > 0) {
      t.frames.push(...t.pendingFrames);
      t.pendingFrames = [];
    }
    if (++t.stepsThisInstant > MAX_INSTANT_STEPS) {
      sim.schedule(sim.nowMs + sim.tickMs, { kind: "thread-run", thread: t, gen: t.gen });
      return;
    }
    const step = nextStep(t.frames);
    if (step === null) {
      threadExit(sim, t);
      return;
    }
    if ((step.op === "alloc" || step.op === "free") && !t.refaultDone) {
      const missing = missingWorkingSetPages(sim, t.task);
      if (missing > 0) {
        startRefault(sim, t, step, missing);
        return;
      }
    }
    t.refaultDone = false;
    switch (step.op) {
      case "alloc":
        if (step.pages <= 0) break;
        t.alloc = { step, kind: pageKindOf(step), context: step.context, remaining: step.pages, creditPages: 0, lastServedMs: sim.nowMs };
        t.state = "alloc";
        sim.allocThreads.add(t);
        sim.ensureTick();
        return;
      case "free":
        freeInOrder(sim, t.task, FREE_STEP_ORDER, step.pages);
        sim.stats.progress(t, sim.nowMs);
        break;
      case "lock":
        if (!takeLock(sim, t, step.lock, step.mode, "step")) return;
        break;
      case "unlock":
        dropLock(sim, t, step.lock);
        sim.stats.progress(t, sim.nowMs);
        break;
      case "sleep":
        if (step.ms <= 0) break;
        t.state = "sleep";
        t.sleepUninterruptible = t.held.length > 0;
        t.gen++;
        sim.schedule(sim.nowMs + step.ms, { kind: "thread-run", thread: t, gen: t.gen });
        return;
      case "exit":
        sendSigkill(sim, t.task, "exit");
        break;
      case "handler-act":
        handlerAct(sim, t, step.cgroup);
        break;
      case "loop":
        break;
    }
  }
}

/**
 * Pages of the task's file working set missing from the page cache: the cache is shared, and once
 * it is smaller than the running tasks' working sets together, each task misses its share.
 */
export function missingWorkingSetPages(sim: Sim, task: Task): number {
  const own = task.spec.mm.fileWorkingSetPages;
  if (own <= 0) return 0;
  let total = 0;
  for (const other of sim.tasks) if (other.phase === "running") total += other.spec.mm.fileWorkingSetPages;
  let cache = 0;
  for (const z of sim.zones) cache += z.cachePages;
  if (cache >= total) return 0;
  return Math.ceil((own * (total - cache)) / total);
}

/** Read the missing working set back (a file-backed fault at the refault rate), then run the step. */
function startRefault(sim: Sim, t: Thread, step: InternalStep, missing: number): void {
  t.frames.push(frameOf([step]));
  const refault: AllocStep = {
    op: "alloc",
    pages: missing,
    pagesPerMs: sim.scenario.memory.refaultPagesPerMs,
    context: "GFP_KERNEL",
    charge: "fault",
    fileBacked: true,
  };
  t.alloc = { step: refault, kind: "cache", context: "GFP_KERNEL", remaining: missing, creditPages: 0, lastServedMs: sim.nowMs };
  t.state = "alloc";
  t.refaulting = true;
  t.refaultDone = true;
  sim.allocThreads.add(t);
  sim.ensureTick();
}

/** A thread-run event: a sleep or a memory.high penalty ended, or a wake-up scheduled at a step boundary. */
export function onThreadRun(sim: Sim, t: Thread, gen: number): void {
  if (gen !== t.gen) return;
  if (t.state === "throttled") {
    endThrottle(sim, t);
    // The penalty came after the step's last batch: the step is over now.
    if (t.alloc !== null && t.alloc.remaining <= 0) finishAllocStep(sim, t);
    return;
  }
  if (t.state === "sleep") {
    sim.stats.progress(t, sim.nowMs);
    t.state = "ready";
  }
  if (t.state === "ready") runThread(sim, t);
}

/** Take a lock or queue for it; true if held now. */
function takeLock(sim: Sim, t: Thread, name: string, mode: "read" | "write" | "exclusive", resume: "step" | "alloc"): boolean {
  const lock = resolveLock(sim, t.task, name);
  if (lock === null) return true;
  return acquire(sim, t, lock, mode === "read" ? "read" : "write", resume);
}

function acquire(sim: Sim, t: Thread, lock: SimLock, mode: LockMode, resume: "step" | "alloc"): boolean {
  const waiter: LockWaiter = {
    mode,
    who: t.name,
    granted: () => {
      t.held.push({ lock, mode: waiter.mode });
      t.lockWait = null;
      sim.stats.progress(t, sim.nowMs);
      if (resume === "alloc") {
        t.state = "alloc";
        if (t.alloc) t.alloc.lastServedMs = sim.nowMs;
        sim.allocThreads.add(t);
        sim.ensureTick();
      } else {
        t.state = "ready";
        t.gen++;
        sim.schedule(sim.nowMs, { kind: "thread-run", thread: t, gen: t.gen });
      }
    },
  };
  if (lock.acquire(waiter)) {
    t.held.push({ lock, mode: waiter.mode });
    sim.stats.progress(t, sim.nowMs);
    return true;
  }
  t.state = "lock-wait";
  t.lockWait = { lock, waiter, resume };
  sim.allocThreads.delete(t);
  sim.stats.stall(t, sim.nowMs, false);
  return false;
}

function dropLock(sim: Sim, t: Thread, name: string): void {
  const lock = resolveLock(sim, t.task, name);
  for (let i = t.held.length - 1; i >= 0; i--) {
    const h = t.held[i];
    if (h && h.lock === lock) {
      t.held.splice(i, 1);
      h.lock.release(h.mode);
      return;
    }
  }
}

/** Allocations a killed task gives up: those that may fail. GFP_NOFS and __GFP_NOFAIL loops go on. */
function abortsOnKill(context: string): boolean {
  return context === "GFP_KERNEL" || context === "GFP_ATOMIC";
}

/** Serve one thread inside an alloc step at a tick. */
export function serviceAlloc(sim: Sim, t: Thread): void {
  const a = t.alloc;
  if (a === null || t.state !== "alloc") {
    sim.allocThreads.delete(t);
    return;
  }
  if (t.task.fatalSignal && abortsOnKill(a.context)) {
    threadExit(sim, t);
    return;
  }
  // The fault that waited for a memcg OOM retakes the mmap_sem it dropped before retrying.
  while (t.unwound.length > 0) {
    const h = t.unwound.shift();
    if (h && !acquire(sim, t, h.lock, h.mode, "alloc")) return;
  }
  // Every page was charged before a memory.high sleep that SIGKILL cut short: the step is done,
  // and the thread meets the signal at its next step.
  if (a.remaining <= 0) {
    finishAllocStep(sim, t);
    return;
  }
  const elapsedMs = sim.nowMs - a.lastServedMs;
  a.lastServedMs = sim.nowMs;
  const rate = a.step.pagesPerMs;
  const capPages = Math.max(1, rate * sim.tickMs) * 2;
  a.creditPages = Math.min(a.creditPages + rate * elapsedMs, capPages);
  const want = Math.min(a.remaining, Math.floor(a.creditPages + 1e-9));
  if (want <= 0) return;
  const dtMs = Math.max(elapsedMs, sim.tickMs);
  let out: AllocOutcome;
  let throttleMs = 0;
  if (highOnPath(t.task.memcg)) {
    const high = allocateUnderHigh(sim, t, want, dtMs);
    out = high;
    throttleMs = high.throttleMs;
  } else {
    out = allocate(sim, t, want, dtMs);
  }
  if (sim.panicked) return;
  a.creditPages = Math.max(0, a.creditPages - out.got - out.dropped);
  a.remaining -= out.got + out.dropped;
  if (out.dropped > 0) noteFailure(sim, t, "GFP_ATOMIC", out.dropped);
  if (out.waiting) return;
  // Any charge that went through ends this thread's part in a memcg OOM episode (under_oom clears with the last one).
  if (out.got > 0 || out.enomem || out.dropped > 0) leaveOomWait(t);
  if (out.got > 0) {
    sim.stats.progress(t, sim.nowMs);
    sim.stats.chargeAccepted(t.task.memcg);
  }
  if (out.enomem) {
    sim.stats.chargeRefused(t, t.task.memcg, want);
    noteFailure(sim, t, "memcg-syscall-enomem", a.remaining);
    a.remaining = 0;
    sim.stats.progress(t, sim.nowMs);
  } else if (out.got === 0 && out.dropped === 0) {
    sim.stats.stall(t, sim.nowMs, true);
  }
  // Over memory.high: the penalty comes before anything else, the end of the step included.
  if (throttleMs > 0) startThrottle(sim, t, throttleMs);
  else if (a.remaining <= 0) finishAllocStep(sim, t);
}

/** The alloc step is done: the thread goes on with its program. */
function finishAllocStep(sim: Sim, t: Thread): void {
  leaveOomWait(t);
  sim.allocThreads.delete(t);
  t.alloc = null;
  t.refaulting = false;
  t.state = "ready";
  sim.stats.progress(t, sim.nowMs);
  runThread(sim, t);
}

/** Count a failed allocation and log it at most once a second per thread (like printk_ratelimit). */
function noteFailure(sim: Sim, t: Thread, key: "GFP_ATOMIC" | "memcg-syscall-enomem", pages: number): void {
  sim.stats.fail(key);
  t.failsSinceLog++;
  if (sim.nowMs - t.lastFailLogMs < 1000) return;
  const what = key === "GFP_ATOMIC" ? `GFP_ATOMIC page allocation failure (${pages} pages dropped)` : `syscall charge failed with ENOMEM at the memcg limit (${t.task.memcg.path})`;
  sim.log("alloc-fail", t.task.name, `${what}; ${t.failsSinceLog} failure(s) since the last report`);
  t.lastFailLogMs = sim.nowMs;
  t.failsSinceLog = 0;
}
