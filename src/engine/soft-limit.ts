// Soft-limit mode ("ENOMEM at the memcg limit" in docs/kernel-problems.md): a syscall that charges
// kernel memory at a memcg's hard limit fails with ENOMEM (the 2017 kernel; today's under v1
// oom_kill_disable) or forces the kernel killer. Here the hard limit becomes the logical limit plus
// headroom, and oomwarden enforces the logical limit itself: usage above it for longer than the
// grace period is an incident (kind "soft-limit") and a victim is chosen as for an OOM, while the
// headroom lets the syscalls in flight succeed.
// The original limit is written to the ledger before it is raised and put back on stop.

import type { Result } from "../core/result.js";
import type { CgroupTakeover } from "./cgroup-takeover.js";
import type { SoftLimitOptions } from "./engine-options.js";
import type { CgroupRef, Host, TimerHandle } from "./host.js";
import type { ScopeProbe, ScopeReading } from "./scope-probe.js";
import type { LedgerKey, TakeoverLedger } from "./takeover-ledger.js";


/**
 * An earlier oomwarden raised this cgroup's limit in soft-limit mode and was killed before it could
 * restore it: the ledger's original goes back (not below current usage). Used by a daemon without
 * soft-limit mode for the cgroup and by `oomwarden restore`. null: nothing recorded.
 */
export function giveBackRaisedLimit(ref: CgroupRef, host: Host, ledger: TakeoverLedger, key: LedgerKey): { ok: boolean; message: string } | null {
  const original = ledger.recallLimit(key);
  if (original === undefined) return null;
  const blocked = limitBlockedByUsage(ref, host, original);
  if (blocked !== null) return { ok: false, message: blocked };
  const restored = host.setMemoryLimit(ref, original);
  const shown = original === null ? "max (no limit)" : `${original} bytes`;
  if (!restored.ok) return { ok: false, message: `putting back the memory limit ${shown} failed: ${restored.error.message}` };
  ledger.forgetLimit(ref.path);
  return { ok: true, message: `memory limit put back to ${shown}: an earlier oomwarden raised it in soft-limit mode and stopped without restoring it` };
}

/**
 * Why the original limit cannot go back now (usage is above it), or null. v1 would refuse the write
 * (EBUSY); v2 would reclaim and let the kernel's OOM killer act, unjournaled, as the daemon stops.
 * The ledger keeps the original, and `oomwarden restore` puts it back once usage allows.
 */
export function limitBlockedByUsage(ref: CgroupRef, host: Host, originalLimitBytes: number | null): string | null {
  if (originalLimitBytes === null) return null;
  const now = host.readCgroup(ref);
  if (!now.ok || now.value.usageBytes <= originalLimitBytes) return null;
  return `usage ${now.value.usageBytes} bytes is above the original limit ${originalLimitBytes} bytes: the raised limit stays for now (the ledger keeps the original; run oomwarden restore once usage is below it)`;
}

export class SoftLimit implements CgroupTakeover {
  private timer: TimerHandle | null = null;
  private overSinceMs: number | null = null;
  private logicalLimitBytes: number | null = null;
  private originalLimitBytes: number | null = null;

  constructor(
    private readonly ref: CgroupRef,
    private readonly host: Host,
    private readonly ledger: TakeoverLedger,
    private readonly options: SoftLimitOptions,
    /** This cgroup in the ledger: its original limit is written down for it alone. */
    private readonly key: LedgerKey,
  ) {}

  get logicalLimit(): number | null {
    return this.logicalLimitBytes;
  }

  /** Raises the hard limit; the logical limit is the one found (or the one an earlier, killed oomwarden raised). */
  start(currentLimitBytes: number | null): Result<{ notes: string[] }> {
    const recalled = this.ledger.recallLimit(this.key);
    const original = recalled !== undefined ? recalled : currentLimitBytes;
    if (original === null) {
      return { ok: false, error: { code: "NO_LIMIT", message: `soft-limit mode needs a memory limit on ${this.ref.path}: it has none to enforce` } };
    }
    const headroomBytes = Math.ceil((original * this.options.headroomPct) / 100 / 4096) * 4096;
    const recorded = this.ledger.rememberLimit(this.key, original);
    if (!recorded.ok) {
      return { ok: false, error: { code: "LEDGER", message: `soft-limit mode not started: the original limit could not be recorded (${recorded.error.message})` } };
    }
    const raised = this.host.setMemoryLimit(this.ref, original + headroomBytes);
    if (!raised.ok) {
      if (recalled === undefined) this.ledger.forgetLimit(this.ref.path);
      return raised;
    }
    this.originalLimitBytes = original;
    this.logicalLimitBytes = original;
    return {
      ok: true,
      value: {
        notes: [
          `soft-limit mode: logical limit ${original} bytes enforced by oomwarden after ${this.options.graceMs} ms above it; ` +
            `hard limit raised by ${headroomBytes} bytes (${this.options.headroomPct}%) so syscalls near the limit do not fail`,
        ],
      },
    };
  }

  /** Checks usage every interval; calls onExceeded(sinceMs) once the grace period has passed (again after each handling). */
  watch(isBusy: () => boolean, onExceeded: (overSinceMs: number) => void): void {
    const check = (): void => {
      this.timer = this.host.setTimer(this.options.intervalMs, check);
      if (this.logicalLimitBytes === null) return;
      const cgroup = this.host.readCgroup(this.ref);
      if (!cgroup.ok || cgroup.value.usageBytes <= this.logicalLimitBytes) {
        this.overSinceMs = null;
        return;
      }
      this.overSinceMs ??= this.host.now();
      // A millisecond of slack: timers on a millisecond clock measure 100 + 100 ms as 199.x.
      if (!isBusy() && this.host.now() - this.overSinceMs >= this.options.graceMs - 1) onExceeded(this.overSinceMs);
    };
    this.timer = this.host.setTimer(this.options.intervalMs, check);
  }

  /** Usage must stay over the limit for a whole grace period again before the next incident. */
  resetOver(): void {
    this.overSinceMs = null;
  }

  /** The cgroup as a scope of a soft-limit incident: out of memory while above the logical limit. */
  probe(): ScopeProbe {
    return {
      read: (): Result<ScopeReading> => {
        const cgroup = this.host.readCgroup(this.ref);
        if (!cgroup.ok) return cgroup;
        const over = this.logicalLimitBytes !== null && cgroup.value.usageBytes > this.logicalLimitBytes;
        return { ok: true, value: { usageBytes: cgroup.value.usageBytes, outOfMemory: over, critical: over } };
      },
    };
  }

  /** Stops checking and puts the original hard limit back. */
  giveBack(): Result<void> {
    this.stopChecking();
    if (this.logicalLimitBytes === null) return { ok: true, value: undefined };
    const blocked = limitBlockedByUsage(this.ref, this.host, this.originalLimitBytes);
    if (blocked !== null) return { ok: false, error: { code: "EBUSY", message: blocked } };
    const restored = this.host.setMemoryLimit(this.ref, this.originalLimitBytes);
    if (restored.ok) {
      this.ledger.forgetLimit(this.ref.path);
      this.logicalLimitBytes = null;
    }
    return restored;
  }

  /** The cgroup is gone: stop checking, and write nothing (the path may hold another cgroup now). */
  abandon(): void {
    this.stopChecking();
    this.logicalLimitBytes = null;
  }

  private stopChecking(): void {
    if (this.timer !== null) this.host.clearTimer(this.timer);
    this.timer = null;
  }
}
