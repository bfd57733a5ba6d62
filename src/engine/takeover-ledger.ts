// What oomwarden changed in the kernel's settings, kept where a later process can read it: a daemon
// killed by SIGKILL cannot restore oom_kill_disable itself, but `oomwarden restore` (or the next
// daemon) can, because the original value was written down before it was changed.
// A change is made only after remember() said the original is on disk: a takeover whose original
// could be lost (read-only or full state directory) is refused, not made.

import type { Result } from "../core/result.js";

const OK: Result<void> = { ok: true, value: undefined };

export interface TakeoverLedger {
  /** The original oom_kill_disable of a cgroup, if an earlier oomwarden changed it and did not restore it. */
  recall(cgroupPath: string): boolean | null;
  /** Written durably before the change is made; an error means it is not, and the change must not be made. */
  remember(cgroupPath: string, originalOomKillDisable: boolean): Result<void>;
  /** After the original value is back. */
  forget(cgroupPath: string): void;
  /** Soft-limit mode: the hard limit found before it was raised (null: it had none); undefined if nothing is recorded. */
  recallLimit(cgroupPath: string): number | null | undefined;
  /** Durable like remember(). */
  rememberLimit(cgroupPath: string, originalLimitBytes: number | null): Result<void>;
  forgetLimit(cgroupPath: string): void;
}

/** No memory across processes (tests, the demo). */
export class InMemoryLedger implements TakeoverLedger {
  readonly entries = new Map<string, boolean>();
  recall(cgroupPath: string): boolean | null {
    return this.entries.get(cgroupPath) ?? null;
  }
  remember(cgroupPath: string, originalOomKillDisable: boolean): Result<void> {
    this.entries.set(cgroupPath, originalOomKillDisable);
    return OK;
  }
  forget(cgroupPath: string): void {
    this.entries.delete(cgroupPath);
  }
  readonly limits = new Map<string, number | null>();
  recallLimit(cgroupPath: string): number | null | undefined {
    return this.limits.get(cgroupPath);
  }
  rememberLimit(cgroupPath: string, originalLimitBytes: number | null): Result<void> {
    this.limits.set(cgroupPath, originalLimitBytes);
    return OK;
  }
  forgetLimit(cgroupPath: string): void {
    this.limits.delete(cgroupPath);
  }
}
