// What the result reports about progress: stalls, livelock, the OOM condition's span and
// allocation failures. Updated incrementally so the loop never scans every task for it.

import type { GfpContext } from "../scenario.js";
import { roomPages } from "./memcg.js";
import type { AllocStep, Memcg, Thread } from "./state.js";

interface Refusal {
  memcg: Memcg;
  /** The program step that was refused (the same object each time a loop comes back to it). */
  step: AllocStep | null;
  /** The refused chunk: the memcg has recovered when this much fits again. */
  pages: number;
}

export type FailureKey = GfpContext | "memcg-syscall-enomem";

/**
 * A run is a livelock when threads are stuck at the end and no task progressed for this long
 * before the end: a quarter of the run, at most 10 s (a desktop frozen for 10 s is a livelock to
 * its user; short runs use a quarter so a late, short stall is not called one).
 */
export function livelockQuietMs(durationMs: number): number {
  return Math.min(10_000, durationMs / 4);
}

export class Stats {
  lastProgressMs = 0;
  maxStallMs = 0;
  readonly allocFailures: Partial<Record<FailureKey, number>> = {};
  private readonly memoryStalled = new Set<Thread>();
  /** Threads sleeping a memory.high penalty: memory stalls for PSI, not an OOM condition nor a stall of the result. */
  private readonly throttled = new Set<Thread>();
  /** Charges refused at a memcg limit (syscall ENOMEM), by refusing thread, until they clear. */
  private readonly refusing = new Map<Thread, Refusal>();
  /** A charge was refused during the current instant (the condition holds at least that instant). */
  private refusedThisInstant = false;
  private conditionActive = false;
  private firstConditionMs: number | null = null;
  private lastConditionEndMs: number | null = null;
  /** PSI-like memory stall time in µs: "some" while any thread waits for memory, "full" while no allocating thread runs. */
  psiSomeUs = 0;
  psiFullUs = 0;
  private psiSince = 0;
  private psiSome = false;
  private psiFull = false;

  /** The thread did something: got pages, finished a step, took a lock, exited. */
  progress(thread: Thread, nowMs: number): void {
    this.lastProgressMs = nowMs;
    this.endStall(thread, nowMs);
    thread.lastProgressMs = nowMs;
  }

  /** The thread got nothing it waited for this time. */
  stall(thread: Thread, nowMs: number, memory: boolean): void {
    if (thread.stallSinceMs === null) thread.stallSinceMs = Math.min(thread.lastProgressMs, nowMs);
    if (memory && !thread.memoryStall) {
      thread.memoryStall = true;
      this.memoryStalled.add(thread);
    }
  }

  endStall(thread: Thread, nowMs: number): void {
    if (thread.stallSinceMs !== null) this.maxStallMs = Math.max(this.maxStallMs, nowMs - thread.stallSinceMs);
    thread.stallSinceMs = null;
    if (thread.memoryStall) {
      thread.memoryStall = false;
      this.memoryStalled.delete(thread);
    }
  }

  /** The thread sleeps a memory.high penalty (psi_memstall_enter around the kernel's sleep). */
  throttleStart(thread: Thread): void {
    this.throttled.add(thread);
  }

  throttleEnd(thread: Thread): void {
    this.throttled.delete(thread);
  }

  /**
   * A memcg refused a thread's charge (ENOMEM at the memcg limit): an OOM condition until that
   * memcg (or the ancestor whose limit refused it) has room for the charge again, a charge succeeds there, or
   * the refusing thread leaves the step that was refused: it exits, or goes on to another alloc
   * step. A thread whose program comes back to the refused step (the file server's loop in
   * scenarios/002-memcg-kmem-enomem.yaml) stays refused.
   */
  chargeRefused(thread: Thread, memcg: Memcg, pages: number): void {
    this.refusing.set(thread, { memcg, step: thread.alloc?.step ?? null, pages });
    this.refusedThisInstant = true;
  }

  chargeAccepted(memcg: Memcg): void {
    for (const [t, r] of this.refusing) if (r.memcg === memcg) this.refusing.delete(t);
  }

  private pruneRefusals(): void {
    for (const [t, r] of this.refusing) {
      const movedOn = t.state === "done" || (t.alloc !== null && t.alloc.step !== r.step);
      if (movedOn || roomPages(r.memcg) >= r.pages) this.refusing.delete(t);
    }
  }

  fail(key: FailureKey, count = 1): void {
    this.allocFailures[key] = (this.allocFailures[key] ?? 0) + count;
  }

  /**
   * The OOM condition: some thread waits for memory, a memcg refuses charges, or a killed task
   * has not exited yet.
   * Called once per virtual instant.
   */
  afterInstant(nowMs: number, liveKilled: number, allocThreads: ReadonlySet<Thread>): void {
    this.accountPressure(nowMs, allocThreads);
    if (this.refusing.size > 0) this.pruneRefusals();
    const active = this.memoryStalled.size > 0 || this.refusing.size > 0 || this.refusedThisInstant || liveKilled > 0;
    this.refusedThisInstant = false;
    if (active && !this.conditionActive) {
      if (this.firstConditionMs === null) this.firstConditionMs = nowMs;
    } else if (!active && this.conditionActive) {
      this.lastConditionEndMs = nowMs;
    }
    this.conditionActive = active;
  }

  /**
   * The state of the instant that just ended holds until the next one. A thread is stalled on memory
   * while it loops in the allocator, refaults, did direct reclaim this instant, or sleeps a
   * memory.high penalty (PSI's memstall). "some": one
   * is; "full": one is and every allocating thread is (sleepers are idle, as in PSI; GFP_ATOMIC
   * allocations stand for softirq work, which is not a task).
   */
  private accountPressure(nowMs: number, allocThreads: ReadonlySet<Thread>): void {
    const elapsedUs = (nowMs - this.psiSince) * 1000;
    if (this.psiSome) this.psiSomeUs += elapsedUs;
    if (this.psiFull) this.psiFullUs += elapsedUs;
    this.psiSince = nowMs;
    // A task waiting in a memcg OOM (mem_cgroup_oom_synchronize) sleeps outside psi_memstall: not counted.
    let stalled = 0;
    for (const t of this.memoryStalled) if (t.state !== "oom-wait") stalled++;
    stalled += this.throttled.size;
    let running = 0;
    for (const t of allocThreads) {
      if (t.alloc?.context === "GFP_ATOMIC") continue;
      if (t.memoryStall) continue;
      if (t.refaulting || t.directReclaimAtMs === nowMs) stalled++;
      else running++;
    }
    this.psiSome = stalled > 0;
    this.psiFull = stalled > 0 && running === 0;
  }

  /** PSI totals as of nowMs (the current instant's state counts up to now). */
  pressureTotalsUs(nowMs: number): { someUs: number; fullUs: number } {
    const openUs = (nowMs - this.psiSince) * 1000;
    return { someUs: this.psiSomeUs + (this.psiSome ? openUs : 0), fullUs: this.psiFullUs + (this.psiFull ? openUs : 0) };
  }

  /** Ms from the first OOM condition to the end of the last; null if still active; 0 if there was none. */
  recoveredMs(): number | null {
    if (this.firstConditionMs === null) return 0;
    if (this.conditionActive || this.lastConditionEndMs === null) return null;
    return this.lastConditionEndMs - this.firstConditionMs;
  }

  /** Close open stalls at the end of the run and judge livelock. */
  finish(endMs: number, threads: Iterable<Thread>, durationMs: number): { maxStallMs: number; livelock: boolean } {
    let stuck = false;
    for (const t of threads) {
      if (t.stallSinceMs === null || t.state === "done") continue;
      stuck = true;
      this.maxStallMs = Math.max(this.maxStallMs, endMs - t.stallSinceMs);
    }
    const livelock = stuck && endMs - this.lastProgressMs >= livelockQuietMs(durationMs);
    return { maxStallMs: this.maxStallMs, livelock };
  }
}
