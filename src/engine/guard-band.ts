// The guard band of one managed v2 cgroup: memory.high set below the limit (the original written
// down first, given back on stop), so a workload that outgrows its limit is throttled by the kernel
// while oomwarden chooses, instead of meeting the kernel's killer at memory.max. In soft-limit
// mode the band sits on the logical limit itself, with the hard limit raised above it: the one
// mechanism serves both (src/core/guard-band-plan.ts has the numbers).

import { planGuardBand, type GuardBandPlan } from "../core/guard-band-plan.js";
import type { Result } from "../core/result.js";
import type { CgroupTakeover } from "./cgroup-takeover.js";
import type { CgroupSample } from "../core/types.js";
import type { CgroupRef, Host } from "./host.js";
import type { ScopeProbe, ScopeReading } from "./scope-probe.js";
import type { LedgerKey, TakeoverLedger } from "./takeover-ledger.js";

export interface GuardBandStart {
  /** The limit the band protects: memory.max, or the logical limit of soft-limit mode. */
  limitBytes: number;
  placement: "below" | "at";
  bandPct: number;
  /** Dry run: the band is computed, so decisions show where it would be, but memory.high is not touched. */
  dryRun: boolean;
  /** The limit is the cgroup's own memory.max: a new one moves the band with it. */
  followsMemoryMax: boolean;
}

export class GuardBand implements CgroupTakeover {
  private plan: GuardBandPlan | null = null;
  /** memory.high was written by us and goes back on stop. */
  private written = false;
  /** What goes back (null: "max"). */
  private originalHighBytes: number | null = null;
  private how: GuardBandStart | null = null;

  constructor(
    private readonly ref: CgroupRef,
    private readonly host: Host,
    private readonly ledger: TakeoverLedger,
    private readonly key: LedgerKey,
  ) {}

  get highBytes(): number | null {
    return this.plan?.highBytes ?? null;
  }

  /**
   * Sets memory.high a band below the limit, its original on disk first. An original the ledger
   * holds (an earlier oomwarden was killed while its band was set) is the one given back later.
   */
  start(first: CgroupSample, how: GuardBandStart): Result<{ notes: string[] }> {
    this.how = how;
    const recalled = this.ledger.recallHigh(this.key);
    const original = recalled !== undefined ? recalled : first.highBytes;
    const planned = planGuardBand({
      limitBytes: how.limitBytes,
      placement: how.placement,
      bandPct: how.bandPct,
      originalHighBytes: original,
      pageSizeBytes: this.host.pageSizeBytes(),
    });
    if (!planned.ok) return planned;
    const plan = planned.value;
    const where = `memory.high ${plan.highBytes} bytes` + (how.placement === "at" ? " (the logical limit)" : ` (${how.bandPct}% below the limit of ${how.limitBytes} bytes)`);
    if (how.dryRun) {
      this.plan = plan;
      return { ok: true, value: { notes: [`dry run: the guard band would be ${where}; memory.high is left as it is`] } };
    }
    if (plan.keepsOriginal) {
      this.plan = plan;
      return { ok: true, value: { notes: [`guard band: memory.high is already ${plan.highBytes} bytes, below where the band would start; kept, and the band starts there`] } };
    }
    const recorded = this.ledger.rememberHigh(this.key, original);
    if (!recorded.ok) {
      return { ok: false, error: { code: "LEDGER", message: `not taking over: the original memory.high could not be recorded (${recorded.error.message})` } };
    }
    const set = this.host.setMemoryHigh(this.ref, plan.highBytes);
    if (!set.ok) {
      if (recalled === undefined) this.ledger.forgetHigh(this.ref.path);
      return { ok: false, error: { code: set.error.code, message: `cannot set the guard band (${where}): ${set.error.message}` } };
    }
    this.plan = plan;
    this.written = true;
    this.originalHighBytes = original;
    return {
      ok: true,
      value: {
        notes: [
          `guard band: ${where}; usage the kernel throttles above ${plan.incidentAboveBytes} bytes is an incident, and oomwarden chooses the victim there; the kernel's own killer at memory.max stays the backstop`,
        ],
      },
    };
  }

  /**
   * memory.max changed under us (an operator, a service manager): the band moves with it, so it is
   * still below the limit it protects (a lowered limit would otherwise leave memory.high above it,
   * and no band at all). Gives back, then takes over anew. null: nothing changed.
   */
  followLimit(cgroup: CgroupSample): { ok: boolean; message: string } | null {
    const how = this.how;
    if (how === null || !how.followsMemoryMax || cgroup.limitBytes === how.limitBytes) return null;
    const moved = `memory.max changed from ${how.limitBytes} to ${cgroup.limitBytes ?? "max"} bytes`;
    const given = this.giveBack();
    if (!given.ok) return { ok: false, message: `${moved}, but the band could not be given back to move it: ${given.error.message}` };
    this.plan = null;
    if (cgroup.limitBytes === null) return { ok: true, message: `${moved}: no limit left to keep the cgroup below; the guard band is given back` };
    const now = this.host.readCgroup(this.ref);
    if (!now.ok) return { ok: false, message: `${moved}, but the cgroup cannot be read to move the band: ${now.error.message}` };
    const started = this.start(now.value, { ...how, limitBytes: cgroup.limitBytes });
    return started.ok ? { ok: true, message: `${moved}: ${started.value.notes.join("; ")}` } : { ok: false, message: `${moved}, but the band could not be set again: ${started.error.message}` };
  }

  /** Usage the kernel is throttling in the band: the incident. */
  inBand(cgroup: CgroupSample): boolean {
    return this.plan !== null && cgroup.usageBytes > this.plan.incidentAboveBytes;
  }

  /** The cgroup as a scope of a band incident: out of memory while throttled in the band. */
  probe(): ScopeProbe {
    return {
      read: (): Result<ScopeReading> => {
        const cgroup = this.host.readCgroup(this.ref);
        if (!cgroup.ok) return cgroup;
        const inBand = this.inBand(cgroup.value);
        return { ok: true, value: { usageBytes: cgroup.value.usageBytes, outOfMemory: inBand, critical: inBand } };
      },
    };
  }

  /** Puts the original memory.high back (nothing if we did not change it). */
  giveBack(): Result<void> {
    if (!this.written) return { ok: true, value: undefined };
    const restored = this.host.setMemoryHigh(this.ref, this.originalHighBytes);
    if (!restored.ok) return restored;
    this.ledger.forgetHigh(this.ref.path);
    this.written = false;
    return restored;
  }

  /** The cgroup is gone: nothing to write back (the path may hold another cgroup now). */
  abandon(): void {
    this.written = false;
    this.plan = null;
  }
}

/**
 * An earlier oomwarden set this cgroup's band and was killed before it could give memory.high
 * back: the ledger's original goes back (`oomwarden restore`, or a daemon that does not manage the
 * cgroup). null: nothing recorded.
 */
export function giveBackHigh(ref: CgroupRef, host: Host, ledger: TakeoverLedger, key: LedgerKey): { ok: boolean; message: string } | null {
  const original = ledger.recallHigh(key);
  if (original === undefined) return null;
  const restored = host.setMemoryHigh(ref, original);
  const shown = original === null ? "max" : `${original} bytes`;
  if (!restored.ok) return { ok: false, message: `putting memory.high back to ${shown} failed: ${restored.error.message}; still listed` };
  ledger.forgetHigh(ref.path);
  return { ok: true, message: `memory.high put back to ${shown}: an earlier oomwarden set its guard band and stopped without giving it back` };
}

