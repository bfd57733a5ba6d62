// The machine guard: whole-machine protection (a victim stuck on a lock, free memory held below the
// min watermark by atomic allocations, and the machine-wide form of a victim slow to exit). It samples the machine's memory state, runs the pure detectors of
// src/core/machine-pressure.ts and, when one fires, kills the best victim of the whole machine with
// the same pidfd kill, reap and progress-based confirmation as a managed cgroup. While a victim is
// alive and making progress nobody else dies; a stalled victim leads to a second one only while the
// machine is critical.

import { appendSample, emptyHistory, newestSample } from "../core/machine-history.js";
import { belowLowSampleIntervalMs, detectMachinePressure, type MachineSample, type MachineVerdict } from "../core/machine-pressure.js";
import type { Result } from "../core/result.js";
import type { CgroupSample } from "../core/types.js";
import type { Acted } from "./act-on-decision.js";
import type { KilledVictim } from "./confirm-kill.js";
import type { EngineContext } from "./engine-context.js";
import type { IncidentScope, Observed } from "./incident-scope.js";
import { IncidentRunner } from "./incident-runner.js";
import { journalKernelKills, type KernelKillScope } from "./kernel-kill-report.js";
import type { DecisionRecord } from "./journal-record.js";
import type { ScopeProbe, ScopeReading } from "./scope-probe.js";

/** The scope name machine decisions carry in the journal. */
export const MACHINE_SCOPE = "/";

/**
 * A process waited for that gave back at least this share of RAM was someone's kill that mattered
 * here (a hog the kernel killed frees hundreds of MiB); a short-lived process caught mid-exit frees
 * far less and must not stand in for the episode's kill.
 */
const SOMEONE_ELSES_KILL_SHARE = 0.01;

/** What calls for a decision on the machine: the detectors' verdict and the sample it came from. */
interface MachineTrigger {
  verdict: MachineVerdict;
  sample: MachineSample;
}

export class MachineGuard implements IncidentScope<MachineTrigger> {
  readonly name = MACHINE_SCOPE;
  private readonly history = emptyHistory();
  private timer: ReturnType<EngineContext["host"]["setTimer"]> | null = null;
  private stopped = false;
  private lastStarvationKillAtMs: number | null = null;
  private lastKillAtMs: number | null = null;
  /** The condition of the current episode was journaled (held back, or a dry-run decision): not again until it clears. */
  private episodeJournaled = false;
  /** A "nothing can be killed" decision was journaled in this episode: not again until it clears. */
  private nothingReported = false;
  /**
   * Kills in the current episode (since the machine was last fine), and whether the last one gave
   * memory back. A condition no kill can fix (a hugetlb pool, full tmpfs, unreclaimable slab) must
   * not cost the machine one process after another.
   */
  private episodeKills = 0;
  private lastKillUseless: string | null = null;
  private holdNoticeGiven = false;
  private readonly runner: IncidentRunner<MachineTrigger>;
  private readonly machineProbe: ScopeProbe;
  /** When the current decision began waiting for a process in flight (null: it did not). */
  private waitStartedAtMs: number | null = null;
  /** /proc/vmstat oom_kill at the last sample: a rise is the kernel's kill, journaled. */
  private lastOomKills: number | undefined;

  constructor(private readonly ctx: EngineContext) {
    this.runner = new IncidentRunner(ctx, this, () => this.stopped);
    this.machineProbe = { read: () => this.readScope() };
  }

  private get config() {
    return this.ctx.options.machineGuard;
  }

  start(): Result<{ notes: string[] }> {
    // Checked here so a machine without the files is an error at start; the first poll samples it for the detectors.
    const first = this.ctx.host.readMachinePressure();
    if (!first.ok) return first;
    const notes = [
      `low memory below ${this.config.lowAvailablePct}% available` +
        (first.value.swapTotalBytes > 0 ? ` with under ${this.config.lowSwapFreePct}% swap free` : "") +
        `; watermark starvation after ${this.config.starvationWindowMs} ms below min`,
    ];
    if (first.value.psiFullTotalUs === null) notes.push("no /proc/pressure/memory: the memory-pressure rule is off");
    if (this.ctx.options.dryRun) notes.push("dry run: machine decisions are journaled, nothing is killed");
    // The first judgement at once (as an event, never inside start()): a daemon started on a machine
    // already short of memory acts on its first sample.
    this.timer = this.ctx.host.setTimer(0, () => this.poll());
    return { ok: true, value: { notes } };
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) this.ctx.host.clearTimer(this.timer);
    this.timer = null;
    this.runner.victims.releaseAll();
  }

  whenIdle(): Promise<void> {
    return this.runner.whenIdle();
  }

  /** Reads the machine and appends to the history the detectors look at. */
  private sample(): Result<MachineSample> {
    const read = this.ctx.host.readMachinePressure();
    if (!read.ok) return read;
    const sample = appendSample(this.history, { ...read.value, atMs: this.ctx.host.now() }, this.config);
    this.noticeKernelKills(read.value.oomKillsTotal);
    return { ok: true, value: sample };
  }

  /**
   * The global OOM killer cannot be turned off: when it acted (vmstat oom_kill rose, and the kernel
   * log says the machine ran out rather than a memory cgroup), its kill is journaled with the
   * victim named, and counts as the episode's kill, so a second victim needs a critical machine.
   */
  private noticeKernelKills(oomKillsTotal: number | undefined): void {
    const before = this.lastOomKills;
    this.lastOomKills = oomKillsTotal;
    if (before === undefined || oomKillsTotal === undefined || oomKillsTotal <= before) return;
    const logged = this.ctx.host.kernelOomKills(null);
    // Read, and none of them global: a memory cgroup's kills, which are that cgroup's to report.
    if (logged.ok && logged.value.length === 0) return;
    const scope: KernelKillScope = {
      name: MACHINE_SCOPE,
      logged: () => logged,
      members: () => this.ctx.host.listAllProcesses(),
      where: logged.ok ? "on the machine (the global OOM killer)" : "on the machine or in a memory cgroup (the kernel log cannot be read to tell which)",
      consequence: "it counts as the episode's kill: another victim only on a critical machine",
    };
    journalKernelKills(this.ctx, scope, oomKillsTotal - before, []);
    this.lastKillAtMs = this.ctx.host.now();
    this.episodeKills++;
  }

  private verdict(): MachineVerdict {
    return detectMachinePressure(this.history, this.config, { lastStarvationKillAtMs: this.lastStarvationKillAtMs, lastKillAtMs: this.lastKillAtMs });
  }

  /**
   * Densely while memory is anywhere near a threshold, rarely when it is plentiful (as earlyoom does);
   * more densely still below the low watermark, where the starvation rule needs to see a streak
   * below min from its start (belowLowSampleIntervalMs).
   */
  private schedule(last: MachineSample): void {
    if (this.stopped) return;
    const availablePct = (100 * last.availableBytes) / Math.max(1, last.totalBytes);
    const near = availablePct < 4 * this.config.lowAvailablePct || last.freeBytes < 2 * last.lowWatermarkBytes;
    const belowLow = last.freeBytes < last.lowWatermarkBytes;
    const delayMs = belowLow
      ? belowLowSampleIntervalMs(this.config, this.config.sampleIntervalMs)
      : near
        ? this.config.sampleIntervalMs
        : this.config.idleSampleIntervalMs;
    this.timer = this.ctx.host.setTimer(delayMs, () => this.poll());
  }

  private poll(): void {
    this.timer = null;
    if (this.stopped) return;
    const sample = this.sample();
    if (!sample.ok) {
      this.ctx.log(`machine guard: cannot read the machine's memory state (${sample.error.message})`);
      this.timer = this.ctx.host.setTimer(this.config.idleSampleIntervalMs, () => this.poll());
      return;
    }
    const verdict = this.verdict();
    if (verdict.kind === "ok") {
      this.endEpisode();
      this.schedule(sample.value);
      return;
    }
    const hold = this.holdBack(verdict);
    if (hold !== null) {
      if (!this.holdNoticeGiven) {
        this.ctx.journal.append({ type: "notice", cgroup: MACHINE_SCOPE, message: `${verdict.kind}: ${verdict.reason}; not acted on: ${hold}` });
        this.holdNoticeGiven = true;
      }
      this.schedule(sample.value);
      return;
    }
    if (verdict.heldBack !== undefined || (this.ctx.options.dryRun && this.episodeJournaled)) {
      if (!this.episodeJournaled && verdict.heldBack !== undefined) {
        this.ctx.journal.append({ type: "notice", cgroup: MACHINE_SCOPE, message: `${verdict.kind}: ${verdict.reason}; not acted on: ${verdict.heldBack}` });
      }
      this.episodeJournaled = true;
      this.schedule(sample.value);
      return;
    }
    const trigger: MachineTrigger = { verdict, sample: sample.value };
    this.runner.begin(() => this.runner.run(trigger, sample.value.atMs), "machine incident handling failed", () => {
      const latest = newestSample(this.history);
      if (latest !== undefined) this.schedule(latest);
    });
  }

  private endEpisode(): void {
    this.episodeJournaled = false;
    this.nothingReported = false;
    this.episodeKills = 0;
    this.lastKillUseless = null;
    this.holdNoticeGiven = false;
  }

  /** Why another kill in this episode must wait (null: it may go ahead). One kill per episode, more only while critical and while kills help. */
  private holdBack(verdict: MachineVerdict): string | null {
    if (this.episodeKills === 0) return null;
    if (this.lastKillUseless !== null) return `${this.lastKillUseless}: another kill would not help either; waiting until the condition clears`;
    if (!verdict.critical) {
      return `${this.episodeKills} kill(s) already in this episode; another only below ${this.config.criticalAvailablePct}% available or on watermark starvation`;
    }
    return null;
  }

  probe(): ScopeProbe {
    return this.machineProbe;
  }

  /** A fresh sample, if the machine still calls for a kill (the next poll journals why, if another kill has to wait). */
  recheck(): MachineTrigger | null {
    const fresh = this.sample();
    if (!fresh.ok) return null;
    const verdict = this.verdict();
    if (verdict.kind === "ok" || verdict.heldBack !== undefined || this.holdBack(verdict) !== null) return null;
    return { verdict, sample: fresh.value };
  }

  async observe({ verdict, sample }: MachineTrigger): Promise<Observed | null> {
    const { host } = this.ctx;
    const takenAtMs = host.now();
    const processes = host.listAllProcesses();
    if (!processes.ok) {
      this.ctx.log(`machine guard: cannot list processes (${processes.error.message})`);
      return null;
    }
    this.waitStartedAtMs = null;
    return {
      snapshot: { takenAtMs, cgroup: machineAsCgroup(sample), processes: processes.value, selfPid: host.selfPid(), pageSizeBytes: host.pageSizeBytes() },
      totalMemoryPages: Math.floor((sample.totalBytes + sample.swapTotalBytes) / host.pageSizeBytes()),
      incident: {
        kind: verdict.kind === "ok" ? "low-memory" : verdict.kind,
        cgroup: MACHINE_SCOPE,
        usageBytes: sample.totalBytes - sample.availableBytes,
        limitBytes: sample.totalBytes,
        events: { low: 0, high: 0, max: 0, oom: 0, oomKill: 0, oomGroupKill: 0 },
        reason: verdict.reason,
        machine: machineNumbers(sample),
      },
    };
  }

  /** Nothing killable is journaled once per episode, not at every sample. */
  journalsNothingDone(): boolean {
    return !this.nothingReported;
  }

  onWaiting(_trigger: MachineTrigger, atMs: number): void {
    this.waitStartedAtMs = atMs;
  }

  onKilled({ verdict }: MachineTrigger, killed: KilledVictim): void {
    if (verdict.kind === "watermark-starvation") this.lastStarvationKillAtMs = killed.killedAtMs;
    this.lastKillAtMs = killed.killedAtMs;
    this.episodeKills++;
  }

  async afterDecision({ sample }: MachineTrigger, _observed: Observed, acted: Acted): Promise<void> {
    const record = acted.record;
    if (record.action === "dry-run") this.episodeJournaled = true;
    if (record.outcome.result === "nothing-done" || record.outcome.result === "resolved-before-kill") this.nothingReported = true;
    if (this.waitStartedAtMs !== null && (record.outcome.freedBytes ?? 0) >= sample.totalBytes * SOMEONE_ELSES_KILL_SHARE) {
      // Someone else's kill (the kernel's, another tool's) resolved part of this episode: it counts
      // as the episode's kill, so a second victim needs a critical machine, and pressure is
      // measured from then on, not over a window that still holds the stall before it.
      this.lastKillAtMs = this.waitStartedAtMs;
      this.episodeKills++;
    }
    const freed = record.outcome.freedBytes ?? 0;
    if (acted.killed !== null && record.outcome.victimExited && freed < acted.killed.candidate.rssBytes / 4) {
      const mib = (bytes: number): string => `${(bytes / 1048576).toFixed(1)} MiB`;
      const victim = acted.killed.candidate;
      this.lastKillUseless = `killing ${victim.comm}[${victim.pid}] (rss ${mib(victim.rssBytes)}) gave back ${mib(Math.max(0, freed))}`;
    }
  }

  /** The machine as a scope: memory in use, whether a rule still fires, and whether it is critical. */
  private readScope(): Result<ScopeReading> {
    const read = this.sample();
    // One failed read under pressure (ENOMEM, EMFILE) is not the machine recovering: judge on the last sample.
    const last = newestSample(this.history);
    if (!read.ok && last === undefined) return read;
    const sample = read.ok ? read : { ok: true as const, value: last as MachineSample };
    const verdict = this.verdict();
    const acting = verdict.kind !== "ok" && verdict.heldBack === undefined;
    return {
      ok: true,
      value: {
        usageBytes: sample.value.totalBytes - sample.value.availableBytes,
        outOfMemory: verdict.kind !== "ok",
        critical: acting && verdict.critical,
      },
    };
  }
}

/** The machine in the shape ranking expects: no limit, so oom_score_adj scales by RAM + swap as in a global OOM. */
function machineAsCgroup(sample: MachineSample): CgroupSample {
  return {
    path: MACHINE_SCOPE,
    version: 2,
    usageBytes: sample.totalBytes - sample.availableBytes,
    limitBytes: null,
    highBytes: null,
    underOom: false,
    oomKillDisabled: false,
    events: { low: 0, high: 0, max: 0, oom: 0, oomKill: 0, oomGroupKill: 0 },
    oomGroup: false,
  };
}

function machineNumbers(sample: MachineSample): NonNullable<DecisionRecord["incident"]["machine"]> {
  return {
    availableBytes: sample.availableBytes,
    freeBytes: sample.freeBytes,
    minWatermarkBytes: sample.minWatermarkBytes,
    swapFreeBytes: sample.swapFreeBytes,
    swapTotalBytes: sample.swapTotalBytes,
    psiFullTotalUs: sample.psiFullTotalUs,
  };
}
