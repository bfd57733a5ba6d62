// What the result reports about progress: stalls, livelock, the OOM condition's span and
// allocation failures. Updated incrementally so the loop never scans every task for it.

import type { GfpContext } from "../scenario.js";
import type { Thread } from "./state.js";

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
  /** Memcgs whose last charge attempt at the limit was refused (syscall ENOMEM). */
  private readonly refusing = new Set<string>();
  private conditionActive = false;
  private firstConditionMs: number | null = null;
  private lastConditionEndMs: number | null = null;

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

  /** A memcg refused a charge (seed 002): it is in an OOM condition until a charge succeeds there again. */
  chargeRefused(memcgPath: string): void {
    this.refusing.add(memcgPath);
  }

  chargeAccepted(memcgPath: string): void {
    if (this.refusing.size > 0) this.refusing.delete(memcgPath);
  }

  fail(key: FailureKey, count = 1): void {
    this.allocFailures[key] = (this.allocFailures[key] ?? 0) + count;
  }

  /**
   * The OOM condition: some thread waits for memory, a memcg refuses charges, or a killed task
   * has not exited yet.
   * Called once per virtual instant.
   */
  afterInstant(nowMs: number, liveKilled: number): void {
    const active = this.memoryStalled.size > 0 || this.refusing.size > 0 || liveKilled > 0;
    if (active && !this.conditionActive) {
      if (this.firstConditionMs === null) this.firstConditionMs = nowMs;
    } else if (!active && this.conditionActive) {
      this.lastConditionEndMs = nowMs;
    }
    this.conditionActive = active;
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
