// One managed memory cgroup: its OOM notifications, the decisions they lead to, and their outcomes.
// observe -> detect -> decide -> act -> confirm, all time from host.now().

import { decide } from "../core/decide.js";
import type { Result } from "../core/result.js";
import type { CgroupSample, IncidentKind, MemoryEventCounters, ProcessSample, Snapshot } from "../core/types.js";
import type { Acted } from "./act-on-decision.js";
import type { EngineContext } from "./engine-context.js";
import { giveBackAll, type CgroupTakeover } from "./cgroup-takeover.js";
import type { CgroupRef, Unwatch } from "./host.js";
import type { IncidentScope, Observed } from "./incident-scope.js";
import { IncidentRunner } from "./incident-runner.js";
import { cgroupProbe, type ScopeProbe } from "./scope-probe.js";
import { giveBackHigh, GuardBand } from "./guard-band.js";
import { journalKernelKills, type KernelKillScope, type KnownMember } from "./kernel-kill-report.js";
import { KillerTakeover } from "./killer-takeover.js";
import { giveBackRaisedLimit, SoftLimit } from "./soft-limit.js";
import { handOverToKernel, type HandoverContext } from "./kernel-handover.js";
import { staleReason, type LedgerKey } from "./takeover-ledger.js";

/**
 * The cgroup's tasks stalled on memory for 100 ms within a second (throttling in the band, or
 * reclaim): wake up and look, rather than wait for the next memory.events change.
 */
const PRESSURE_TRIGGER = { stallUs: 100_000, windowUs: 1_000_000 };

/** What calls for a decision in a managed cgroup: the kind of incident and the sample that showed it. */
interface CgroupTrigger {
  kind: IncidentKind;
  cgroup: CgroupSample;
}

export class ManagedCgroup implements IncidentScope<CgroupTrigger> {
  /** What was changed in the cgroup's settings, in the order it was: given back the other way round. */
  private readonly takeovers: CgroupTakeover[] = [];
  private unwatch: Unwatch | null = null;
  private lastEvents: MemoryEventCounters | null = null;
  private readonly runner: IncidentRunner<CgroupTrigger>;
  private readonly cgroupProbe: ScopeProbe;
  /** Soft-limit mode (no ENOMEM at the limit), when enabled for this cgroup. */
  private softLimit: SoftLimit | null = null;
  /** v2: memory.high a band below the limit, where the kernel throttles while oomwarden chooses. */
  private band: GuardBand | null = null;
  private unwatchPressure: Unwatch | null = null;
  /** The members last listed, so a victim of the kernel's own killer can be named once it is gone. */
  private knownMembers: KnownMember[] = [];
  /** When usage went over the logical limit, for the soft-limit decision's reason. */
  private softOverSinceMs = 0;
  private stopped = false;

  /** This cgroup in the takeover ledger, or null when the host could not tell which cgroup is at the path (see identityProblem). */
  private ledgerKey: LedgerKey | null = null;
  private identityProblem = "";

  constructor(
    readonly ref: CgroupRef,
    private readonly ctx: EngineContext,
    /** Called once the cgroup was found removed and let go: the engine forgets it. */
    private readonly onRemoved: () => void = () => {},
    /** v2: the limit the band protects when the cgroup has no memory.max of its own. */
    private readonly logicalLimitBytes: number | null = null,
  ) {
    this.runner = new IncidentRunner(ctx, this, () => this.stopped);
    this.cgroupProbe = cgroupProbe(ctx.host, ref);
  }

  get name(): string {
    return this.ref.path;
  }

  /** Takes over OOM handling (unless dry-run) and starts listening. */
  start(warmUpRounds: number): Result<{ notes: string[] }> {
    const { host, options } = this.ctx;
    const notes: string[] = [];
    const first = host.readCgroup(this.ref);
    if (!first.ok) return first;
    const identified = host.identifyCgroup(this.ref);
    if (identified.ok) {
      this.ledgerKey = { path: this.ref.path, identity: identified.value };
      // An entry about an earlier cgroup at this path must not be taken for this one's original.
      const dropped = this.ctx.ledger.dropStale(this.ledgerKey);
      if (dropped !== null) notes.push(dropped);
    } else {
      this.identityProblem = identified.error.message;
    }
    this.refreshMachineMemoryPages();
    this.lastEvents = first.value.events;
    this.warmUp(warmUpRounds);
    const members = host.listProcesses(this.ref);
    if (members.ok) this.rememberMembers(members.value);
    if (members.ok && members.value.some((p) => p.pid === host.selfPid())) {
      // A handler inside the cgroup it handles can be stuck in the very OOM it must resolve.
      notes.push("warning: oomwarden itself runs inside this cgroup; an OOM here can stall it; run it outside the cgroups it manages");
    }
    if (this.ref.version === 1) {
      const killer = new KillerTakeover(this.ref, host, this.ctx.ledger, this.ledgerKey, this.unrecordable());
      const taken = killer.start();
      if (!taken.ok) return taken;
      this.takeovers.push(killer);
      notes.push(...taken.value.notes);
    }
    if (options.dryRun && this.ledgerKey !== null) {
      // A dry run sets no band: one an earlier, killed oomwarden left goes back now.
      const given = giveBackHigh(this.ref, host, this.ctx.ledger, this.ledgerKey);
      if (given !== null) notes.push(given.message);
    }
    if ((!options.softLimit.enabled || options.dryRun) && this.ledgerKey !== null) {
      const given = giveBackRaisedLimit(this.ref, host, this.ctx.ledger, this.ledgerKey);
      if (given !== null) notes.push(given.message);
    }
    if (options.softLimit.enabled && !options.dryRun) {
      if (this.ledgerKey === null) {
        this.giveBackTakeovers();
        return { ok: false, error: { code: "LEDGER", message: `soft-limit mode not started: ${this.unrecordable()}` } };
      }
      const soft = new SoftLimit(this.ref, host, this.ctx.ledger, options.softLimit, this.ledgerKey);
      const raised = soft.start(first.value.limitBytes);
      if (!raised.ok) {
        this.giveBackTakeovers();
        return raised;
      }
      this.softLimit = soft;
      this.takeovers.push(soft);
      notes.push(...raised.value.notes);
    }
    if (this.ref.version === 2) {
      const band = this.startGuardBand(first.value);
      if (!band.ok) {
        this.giveBackTakeovers();
        return band;
      }
      notes.push(...band.value.notes);
    }
    if (options.dryRun) {
      notes.push(
        this.ref.version === 1
          ? "dry run: each OOM is journaled with the victim oomwarden would choose, then handed to the kernel OOM killer, whose kill is journaled too"
          : "dry run: decisions are journaled, nothing is killed; the kernel OOM killer acts as usual",
      );
    }
    const watched = host.watchOom(this.ref, () => this.onNotification());
    if (!watched.ok) {
      this.giveBackTakeovers();
      return watched;
    }
    this.unwatch = watched.value;
    if (this.ref.version === 2) {
      notes.push(...this.watchPressure());
      // A cgroup taken over already in its band gets no memory.events change to say so: one look
      // at once (as an event, never inside start()), as v1's eventfd fires at once under OOM.
      this.ctx.host.setTimer(0, () => this.onNotification());
    } else {
      // v1 has no memory.high: the logical limit is checked by sampling usage.
      this.softLimit?.watch(
        () => this.runner.busy,
        (overSinceMs) => this.onSoftLimitExceeded(overSinceMs),
      );
    }
    return { ok: true, value: { notes } };
  }

  /**
   * v2: memory.high a band below memory.max (or on the logical limit in soft-limit mode, whose hard
   * limit was raised above it). A cgroup with neither a memory.max nor a logical limit has nothing
   * to protect: refused, saying so.
   */
  private startGuardBand(first: CgroupSample): Result<{ notes: string[] }> {
    const { options } = this.ctx;
    if (this.ledgerKey === null) return { ok: false, error: { code: "LEDGER", message: `not taking over: ${this.unrecordable()}` } };
    const logical = this.softLimit?.logicalLimit ?? null;
    const limitBytes = logical ?? first.limitBytes ?? this.logicalLimitBytes;
    if (limitBytes === null) {
      return {
        ok: false,
        error: {
          code: "NO_LIMIT",
          message: `${this.ref.path} has no memory.max, so no limit to keep it below: set memory.max, or give oomwarden a logical limit for it (PATH=BYTES)`,
        },
      };
    }
    const band = new GuardBand(this.ref, this.ctx.host, this.ctx.ledger, this.ledgerKey);
    const started = band.start(first, {
      limitBytes,
      placement: logical !== null ? "at" : "below",
      bandPct: options.guardBandPct,
      dryRun: options.dryRun,
      followsMemoryMax: logical === null && first.limitBytes !== null,
    });
    if (!started.ok) return started;
    this.band = band;
    this.takeovers.push(band);
    return started;
  }

  /** A PSI trigger on the cgroup's memory.pressure wakes us when its tasks stall (the band's throttling among them). */
  private watchPressure(): string[] {
    const watched = this.ctx.host.watchPressure(this.ref, PRESSURE_TRIGGER, () => this.onNotification());
    if (!watched.ok) return [`no memory pressure trigger (${watched.error.message}): the band is watched through memory.events alone`];
    this.unwatchPressure = watched.value.unwatch;
    return watched.value.note === null ? [] : [watched.value.note];
  }

  /**
   * Runs the decision path (cgroup and process reads, ranking, pidfd open and start-time check on
   * ourselves, never a signal) so V8 has compiled it before the first OOM: cold, the first kill took
   * about twice as long as the later ones (bench/oom-latency).
   */
  private warmUp(rounds: number): void {
    const { host, options } = this.ctx;
    for (let i = 0; i < rounds; i++) {
      const cgroup = host.readCgroup(this.ref);
      const snap = cgroup.ok ? this.snapshot(cgroup.value) : null;
      if (snap?.ok) decide(snap.value, { maxCandidates: options.journalCandidates, totalMemoryPages: this.machineMemoryPages, rules: options.victimRules });
      const self = host.readProcess(host.selfPid());
      if (self.ok) {
        const handle = host.openVictim(self.value.pid, self.value.startTimeTicks);
        if (handle.ok) host.releaseVictim(handle.value);
      }
    }
  }

  /**
   * RAM + swap in pages: the kernel scales oom_score_adj by it when the cgroup's own limit does not
   * bound the scope. Read at start and after each decision, never on the way to a kill.
   */
  private machineMemoryPages = 1;
  private refreshMachineMemoryPages(): void {
    const machine = this.ctx.host.readMachineMemory();
    if (machine.ok) {
      this.machineMemoryPages = Math.floor((machine.value.totalBytes + machine.value.swapTotalBytes) / this.ctx.host.pageSizeBytes());
    }
  }

  /**
   * Stops listening and gives OOM handling back to the kernel as it was: "restored". A cgroup
   * removed meanwhile (perhaps made again at its path) gets nothing written: "removed".
   */
  stop(): Result<"restored" | "removed"> {
    if (this.stopped) return { ok: true, value: "restored" };
    if (this.letGoIfRemoved()) return { ok: true, value: "removed" };
    this.stopWatching();
    // The last change first: memory.high before the hard limit, so a band never outlives the limit
    // it was set below, throttling the workload for nothing.
    const givenBack = this.giveBackTakeovers();
    return givenBack.ok ? { ok: true, value: "restored" } : givenBack;
  }

  /** What cannot be given back now stays listed, so stop() tries again (after a failed start too). */
  private giveBackTakeovers(): Result<void> {
    const { result, left } = giveBackAll(this.takeovers);
    this.takeovers.splice(0, this.takeovers.length, ...left);
    return result;
  }

  private stopWatching(): void {
    this.stopped = true;
    this.unwatch?.();
    this.unwatch = null;
    this.unwatchPressure?.();
    this.unwatchPressure = null;
    this.runner.victims.releaseAll();
  }

  /**
   * Why the cgroup this object manages is no longer at its path (removed, or removed and made
   * again), or null. An unknown identity (see identityProblem) can only tell a removal.
   */
  private removedReason(): string | null {
    const now = this.ctx.host.identifyCgroup(this.ref);
    if (!now.ok) return now.error.code === "ENOENT" ? "removed" : null;
    if (this.ledgerKey === null || staleReason(this.ledgerKey.identity, now.value) === null) return null;
    return "removed (another cgroup was made at its path since)";
  }

  /** Lets the cgroup go if it is no longer at its path; true if it did. */
  private letGoIfRemoved(): boolean {
    const removed = this.removedReason();
    if (removed === null) return false;
    this.letGo(removed);
    return true;
  }

  /**
   * The cgroup is gone: nothing left to handle, and nothing to give back (a write to the path
   * would reach whatever cgroup is there now). Its ledger entries go with it.
   */
  private letGo(reason: string): void {
    this.stopWatching();
    for (const takeover of this.takeovers) takeover.abandon();
    this.takeovers.length = 0;
    this.ctx.ledger.forgetAll(this.ref.path);
    const message = `cgroup ${reason}, no longer managed`;
    this.ctx.journal.append({ type: "release", cgroup: this.ref.path, message });
    this.ctx.log(`${this.ref.path}: ${message}`);
    this.onRemoved();
  }

  whenIdle(): Promise<void> {
    return this.runner.whenIdle();
  }

  /** Why no original can be written down for this cgroup (only one tied to its identity may be). */
  private unrecordable(): string {
    return `no original can be recorded, since this cgroup cannot be told from one made later at its path (${this.identityProblem})`;
  }

  /** Usage stayed above the logical limit for the grace period: an incident of its own, timed from when usage went over. */
  private onSoftLimitExceeded(overSinceMs: number): void {
    if (this.stopped || this.runner.busy) return;
    // Usage over the limit may be a new cgroup's at the path: that one is not ours to kill in.
    if (this.letGoIfRemoved()) return;
    this.softOverSinceMs = overSinceMs;
    const notifiedAtMs = this.ctx.host.now();
    this.runner.begin(
      async () => {
        const trigger = this.freshTrigger("soft-limit");
        if (trigger !== null) await this.runner.run(trigger, notifiedAtMs);
      },
      "soft-limit handling failed",
      (absorbedAtMs) => {
        // The grace period starts afresh: time over the limit before this incident was its own.
        this.softLimit?.resetOver();
        this.afterIncident(absorbedAtMs);
      },
    );
  }

  probe(trigger: CgroupTrigger): ScopeProbe {
    if (this.band !== null) return this.band.probe();
    return trigger.kind === "soft-limit" && this.softLimit !== null ? this.softLimit.probe() : this.cgroupProbe;
  }

  private onNotification(arrivedAtMs?: number): void {
    if (this.stopped) return;
    const notifiedAtMs = arrivedAtMs ?? this.ctx.host.now();
    // One decision at a time per scope: the running one absorbs this notification.
    if (this.runner.absorb(notifiedAtMs)) return;
    this.runner.begin(() => this.handleNotification(notifiedAtMs), "incident handling failed", (absorbedAtMs) => this.afterIncident(absorbedAtMs));
  }

  /** After any incident: notifications absorbed meanwhile (an OOM during a soft-limit incident too) are looked at again. */
  private afterIncident(absorbedAtMs: number | null): void {
    // Something happened meanwhile: look again; an OOM still in force starts a new incident,
    // timed from the first notification that arrived while we were busy.
    if (absorbedAtMs !== null && !this.stopped) this.onNotification(absorbedAtMs);
  }

  private async handleNotification(notifiedAtMs: number): Promise<void> {
    const { host } = this.ctx;
    // The v1 eventfd also fires when the cgroup is removed (v2: its watch fails). Asked first, one
    // stat: with a new cgroup made at the path already, the reads would see that one, and decide on it.
    if (this.letGoIfRemoved()) return;
    const sample = host.readCgroup(this.ref);
    if (!sample.ok) {
      this.ctx.log(`${this.ref.path}: notification, but the cgroup cannot be read (${sample.error.message})`);
      return;
    }
    const kind = this.detect(sample.value);
    if (kind === null) return;
    await this.runner.run({ kind, cgroup: sample.value }, notifiedAtMs);
  }

  /** Turns a notification into an incident kind, or null when nothing needs doing. */
  private detect(cgroup: CgroupSample): IncidentKind | null {
    if (this.ref.version === 1) return cgroup.underOom ? "memcg-oom" : null;
    const before = this.lastEvents;
    this.lastEvents = cgroup.events;
    if (before !== null && cgroup.events.oomKill > before.oomKill) {
      // The kernel killer cannot be disabled on v2: its kill is journaled with its victim named,
      // and counts as the incident's kill (the victim, exiting, is waited for, not joined by another).
      const named = journalKernelKills(this.ctx, this.kernelKillScope(), cgroup.events.oomKill - before.oomKill, this.knownMembers);
      this.knownMembers = this.knownMembers.filter((member) => !named.some((victim) => victim.pid === member.pid));
    } else if (before !== null && cgroup.events.oom > before.oom) {
      // The kernel is about to choose: the members as they are now name its victim once it is gone.
      const members = this.ctx.host.listProcesses(this.ref);
      if (members.ok) this.rememberMembers(members.value);
    }
    const followed = this.band?.followLimit(cgroup) ?? null;
    if (followed !== null) {
      this.ctx.journal.append({ type: followed.ok ? "notice" : "error", cgroup: this.ref.path, message: followed.message });
      this.ctx.log(`${this.ref.path}: ${followed.message}`);
    }
    return this.band?.inBand(cgroup) === true ? this.bandKind() : null;
  }

  private kernelKillScope(): KernelKillScope {
    return {
      name: this.ref.path,
      logged: () => this.ctx.host.kernelOomKills(this.ref),
      members: () => this.ctx.host.listProcesses(this.ref),
      where: "in this cgroup",
      consequence: "it counts as the incident's kill, and nobody else is chosen unless the cgroup is still in its guard band once that memory is back",
    };
  }

  /** A band incident in soft-limit mode enforces the logical limit; otherwise it keeps the cgroup off memory.max. */
  private bandKind(): IncidentKind {
    return this.softLimit !== null ? "soft-limit" : "guard-band";
  }

  /** Members not already on their way out (the kernel's killer passes over those; their exit is not its kill). */
  private rememberMembers(members: readonly ProcessSample[]): void {
    this.knownMembers = members.filter((member) => !member.exiting).map((member) => ({ pid: member.pid, comm: member.comm, startTimeTicks: member.startTimeTicks, rssBytes: member.rssBytes }));
  }

  recheck(previous: CgroupTrigger): CgroupTrigger | null {
    return this.freshTrigger(previous.kind);
  }

  /**
   * The cgroup read afresh, if the incident still calls for a decision. After an escalation too:
   * if the cgroup left OOM meanwhile, the stalled victim harms nobody and no one else dies.
   */
  private freshTrigger(kind: IncidentKind): CgroupTrigger | null {
    const now = this.ctx.host.readCgroup(this.ref);
    if (!now.ok) return null;
    if (this.band !== null) {
      if (!this.band.inBand(now.value)) return null;
    } else if (kind === "soft-limit") {
      const logical = this.softLimit?.logicalLimit ?? null;
      if (logical === null || now.value.usageBytes <= logical) return null;
    } else if (!now.value.underOom) return null;
    return { kind, cgroup: now.value };
  }

  private snapshot(cgroup: CgroupSample): Result<Snapshot> {
    const { host } = this.ctx;
    const processes = host.listProcesses(this.ref);
    if (!processes.ok) return processes;
    return {
      ok: true,
      value: {
        takenAtMs: host.now(),
        cgroup,
        processes: processes.value,
        selfPid: host.selfPid(),
        pageSizeBytes: host.pageSizeBytes(),
      },
    };
  }

  async observe({ kind, cgroup }: CgroupTrigger): Promise<Observed | null> {
    const snap = this.snapshot(cgroup);
    if (!snap.ok) {
      this.ctx.log(`${this.ref.path}: cannot list processes (${snap.error.message})`);
      // Never leave a v1 cgroup hanging in OOM with its killer disabled: let the kernel resolve it.
      if (this.ref.version === 1) await handOverToKernel(this.handoverContext("oomwarden could not list its processes"), this.ref, emptySnapshot(cgroup));
      return null;
    }
    return {
      snapshot: snap.value,
      totalMemoryPages: this.machineMemoryPages,
      incident: {
        kind,
        cgroup: this.ref.path,
        usageBytes: cgroup.usageBytes,
        limitBytes: cgroup.limitBytes,
        events: cgroup.events,
        ...(this.band !== null ? { reason: this.bandReason(cgroup.usageBytes) } : kind === "soft-limit" ? { reason: this.softLimitReason(cgroup.usageBytes) } : {}),
      },
    };
  }

  readonly killGroup = (): Result<{ killedPids: number[] }> => this.ctx.host.killCgroup(this.ref);

  async afterDecision(_trigger: CgroupTrigger, observed: Observed, acted: Acted): Promise<void> {
    this.refreshMachineMemoryPages();
    // v2 only (v1's kernel killer is off), and after the act, not on the way to the kill.
    if (this.ref.version === 2) this.rememberMembers(observed.snapshot.processes);
    const record = acted.record;
    if (this.ref.version === 1 && (record.action === "dry-run" || record.outcome.result === "nothing-done")) {
      if (record.action === "none") this.ctx.log(`${this.ref.path}: OOM, but nothing can be killed (${record.excluded.length} excluded)`);
      // Dry run: the kernel acts so its choice stands beside ours. Nothing killable: the kernel may still
      // force the charge or find a victim we may not take; a hung cgroup is the worst outcome.
      const reason = record.action === "dry-run" ? "dry run" : "oomwarden found nothing it may kill";
      await handOverToKernel(this.handoverContext(reason), this.ref, observed.snapshot);
    }
  }

  private bandReason(usageBytes: number): string {
    const high = this.band?.highBytes ?? 0;
    const limit = this.softLimit !== null ? `the logical limit ${this.softLimit.logicalLimit ?? 0} bytes (soft-limit mode)` : "memory.max";
    return `usage ${usageBytes} bytes is past memory.high ${high} bytes by more than the kernel reclaims: the workload is being throttled in the guard band below ${limit}`;
  }

  private softLimitReason(usageBytes: number): string {
    const logical = this.softLimit?.logicalLimit ?? 0;
    const forMs = Math.round(this.ctx.host.now() - this.softOverSinceMs);
    return `usage ${usageBytes} bytes above the logical limit ${logical} bytes for ${forMs} ms (soft-limit mode; grace ${this.ctx.options.softLimit.graceMs} ms)`;
  }

  private handoverContext(reason: string): HandoverContext {
    return { host: this.ctx.host, journal: this.ctx.journal, log: this.ctx.log, reason, isStopped: () => this.stopped };
  }
}

/** A snapshot with no processes, for a handover when the processes could not be listed. */
function emptySnapshot(cgroup: CgroupSample): Snapshot {
  return { takenAtMs: 0, cgroup, processes: [], selfPid: 0, pageSizeBytes: 4096 };
}
