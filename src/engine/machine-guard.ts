// The machine guard: whole-machine protection (a victim stuck on a lock, free memory held below the
// min watermark by atomic allocations, and the machine-wide form of a victim slow to exit). It samples the machine's memory state, runs the pure detectors of
// src/core/machine-pressure.ts and, when one fires, kills the best victim of the whole machine with
// the same pidfd kill, reap and progress-based confirmation as a managed cgroup. While a victim is
// alive and making progress nobody else dies; a stalled victim leads to a second one only while the
// machine is critical.

import { decide } from "../core/decide.js";
import { appendSample, emptyHistory, entryAtSeq, newestEntry, newestKeptWhere, newestSample, oldestKept } from "../core/machine-history.js";
import { atLeast, bytesAboveNextLevel, memoryCameBack, memoryCameBackBeforeSignal, memoryFellAgain, memoryLevel, projectSample, racesMemory, refillFallBytes, type FallProjection, type MemoryLevel } from "../core/machine-levels.js";
import { BELOW_LOW_SAMPLE_INTERVAL_MS, belowLowSampleIntervalMs, detectMachinePressure, type MachineSample, type MachineVerdict } from "../core/machine-pressure.js";
import { machineAsScope, NO_MEMORY_EVENTS } from "../core/machine-scope.js";
import { DEFAULT_GROWTH_CONFIG, DEFAULT_GROWTH_HORIZON_MS, ProcessGrowth } from "../core/process-growth.js";
import type { RankedSnapshot } from "../core/rank.js";
import type { Result } from "../core/result.js";
import { fallRateBytesPerMs, nextSampleDelayMs, type SampleIntervalConfig } from "../core/sample-interval.js";
import { MAX_WINDOW_SAMPLES } from "../core/tunable-keys.js";
import type { Candidate, MachinePressure, ProcessSample } from "../core/types.js";
import type { Acted } from "./act-on-decision.js";
import type { KilledVictim } from "./confirm-kill.js";
import type { EngineContext } from "./engine-context.js";
import type { CgroupRef, PressureTrigger, Unwatch } from "./host.js";
import type { IncidentScope, Observed, RankInputs } from "./incident-scope.js";
import { listForDecision } from "./decision-listing.js";
import { IncidentRunner } from "./incident-runner.js";
import type { DecisionRecord, JournalRecord } from "./journal-record.js";
import { journalKernelKills, type KernelKillScope } from "./kernel-kill-report.js";
import type { ScopeProbe, ScopeReading } from "./scope-probe.js";
import type { TerminatePlan } from "./terminate-grace.js";
import { rehearse } from "./machine-rehearsal.js";
import { SlicedListing } from "./sliced-listing.js";
import { planUnit, type UnitPlan } from "./unit-kill.js";

/** The scope name machine decisions carry in the journal. */
export const MACHINE_SCOPE = "/";

/**
 * A process waited for that gave back at least this share of RAM was someone's kill that mattered
 * here (a hog the kernel killed frees hundreds of MiB); a short-lived process caught mid-exit frees
 * far less and must not stand in for the episode's kill.
 */
const SOMEONE_ELSES_KILL_SHARE = 0.01;

/**
 * The kernel's word that tasks stall on memory (PSI "some", 100 ms within 1 s): a sample at once
 * rather than at the next timer. Without CAP_SYS_RESOURCE the host widens the window to 2 s.
 */
const MACHINE_PRESSURE_TRIGGER: PressureTrigger = { stallUs: 100_000, windowUs: 1_000_000 };

/**
 * Sampling adapts to the fall of MemAvailable (src/core/sample-interval.ts). A sample reads four
 * small files (0.17 ms here): at most as often as below the low watermark, where the starvation
 * rule needs it. Assumed at least: 2 GiB/s, what one core faulting in fresh anonymous pages
 * reaches (measured 1-4 GiB/s), so even an idle machine is sampled often enough that a hog
 * starting right after a sample is seen before it crosses the next line.
 */
const ADAPTIVE_MIN_MS = BELOW_LOW_SAMPLE_INTERVAL_MS;
const ASSUMED_FILL_BYTES_PER_MS = (2 * 1024 * 1024 * 1024) / 1000;
/** The fall is measured over the samples of the last second. */
const FALL_WINDOW_MS = 1000;
/**
 * The processes are listed this often below the warn level, so growth is known when a decision
 * comes, and this seldom above it, so a machine that fills from plenty to the terminate level
 * within a second (a fast hog, forty workers started at once) still has a listing to measure from.
 */
const GROWTH_LISTING_MS = 1000;
const GROWTH_LISTING_PLENTY_MS = 5000;
/** Below the warn level, no listing for growth while the next acting line is less than this far ahead at the measured fall. */
const GROWTH_LISTING_SKIPPED_WITHIN_MS = 1000;
/** Above the warn level listing may cost at most this share of one core (a host with 10,000 processes lists more seldom). */
const GROWTH_LISTING_PLENTY_CPU_SHARE = 0.01;
/**
 * But never so seldom that a rate goes unmeasured: a rate needs two listings within the growth
 * window (process-growth.ts), and a decision's own listing may come up to a couple of seconds after
 * the last one above the warn level (the listings below it are skipped when the line is near). At
 * 1% of a core, any listing of 100 ms or more (the VM under load) put the next 10 s or more away;
 * once in ten runs there no process had a rate at the decision, and badness alone chose the idle
 * 100 MiB innocent over forty growing workers.
 */
const GROWTH_LISTING_PLENTY_MAX_MS = 0.6 * DEFAULT_GROWTH_CONFIG.windowMs;

/** How long after the last listing for growth the next one is due: once a second below the warn level; above it, seldom enough to cost 1% of a core, never past GROWTH_LISTING_PLENTY_MAX_MS. */
export function growthListingIntervalMs(plenty: boolean, lastListingMs: number): number {
  if (!plenty) return GROWTH_LISTING_MS;
  return Math.min(GROWTH_LISTING_PLENTY_MAX_MS, Math.max(GROWTH_LISTING_PLENTY_MS, lastListingMs / GROWTH_LISTING_PLENTY_CPU_SHARE));
}
/** Top-level cgroups come and go (a container starts): the set watched is read again this often. */
const TOP_LEVEL_RESCAN_MS = 30_000;

/**
 * The levels are judged where memory will be when a decision's signal lands (src/core/machine-levels.ts
 * FallProjection): at most this far ahead, however slow the last decision was, so that one decision
 * stalled behind the disk does not make every later one act on a guess seconds ahead.
 */
const MAX_DECISION_LEAD_MS = 500;
/**
 * A decision under pressure takes about twice its rehearsal at rest (in the VM: 22-24 ms rehearsed,
 * 30-62 ms for the first real decisions): the first lead, until a real decision measures its own.
 */
const REHEARSAL_TO_PRESSURE = 2;

/** Rounds of the decision path at start (each lists every process once). */
const MACHINE_WARM_UP_ROUNDS = 5;

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
  /** The most severe level acted on in this episode: a more severe one may take a second victim. */
  private episodeLevel: Exclude<MemoryLevel, "warn"> | null = null;
  /** The warn level was journaled: not again until memory is above it. */
  private warned = false;
  /**
   * The most MemAvailable seen since the episode's last victim exited (null: none has, or it is
   * still on its way out). Memory that came back and is being taken again means processes are
   * filling it, which another kill can stop; memory that stays low after a kill is held by
   * something no kill frees.
   */
  private availablePeakSinceVictimBytes: number | null = null;
  private lastKillUseless: string | null = null;
  private holdNoticeGiven = false;
  private readonly runner: IncidentRunner<MachineTrigger>;
  /** When the current decision began waiting for a process in flight (null: it did not). */
  private waitStartedAtMs: number | null = null;
  /** /proc/vmstat oom_kill at the last sample: a rise is the kernel's kill, journaled. */
  private lastOomKills: number | undefined;
  private readonly growth = new ProcessGrowth();
  private lastGrowthListingAtMs = -Infinity;
  /** The thread time the last listing for growth took: above the warn level it sets how seldom the next one comes. */
  private lastGrowthListingMs = 0;
  /** The listing for growth, taken in slices between samples (sliced-listing.ts). */
  private readonly growthListing: SlicedListing;
  private unwatchPressure: Unwatch | null = null;
  /** memory.events watches of the top-level cgroups, by path. */
  private readonly topLevelWatches = new Map<string, Unwatch>();
  private lastTopLevelScanAtMs = -Infinity;
  /** From a decision's sample to its signal, as last measured (the warm-up's last round, then each decision). */
  private decisionLeadMs = 0;
  /** Why screening listings were given up (the kernel's oom_score did not match what was read in full); null: they hold. */
  private screeningFailed: string | null = null;
  /** The decision path rehearsed at start (resolved once the first sample is scheduled). */
  private rehearsal: Promise<void> = Promise.resolve();

  constructor(private readonly ctx: EngineContext) {
    this.runner = new IncidentRunner(ctx, this, () => this.stopped);
    this.growthListing = new SlicedListing(ctx, (startedAtMs, processes, workMs) => this.grown(startedAtMs, processes, workMs));
  }

  private get config() {
    return this.ctx.options.machineGuard;
  }

  start(): Result<{ notes: string[] }> {
    // Checked here so a machine without the files is an error at start; the first poll samples it for the detectors.
    const first = this.ctx.host.readMachinePressure();
    if (!first.ok) return first;
    const c = this.config;
    const level = (name: string, availablePct: number, swapFreePct: number): string =>
      availablePct <= 0 ? `${name} off` : `${name} below ${availablePct}% available` + (first.value.swapTotalBytes > 0 ? ` and ${swapFreePct}% swap free` : "");
    const notes = [
      `levels: ${level("warn", c.warnAvailablePct, c.warnSwapFreePct)}; ${level("terminate (SIGTERM, " + c.terminateGraceMs + " ms grace)", c.terminateAvailablePct, c.terminateSwapFreePct)}; ` +
        `${level("kill", c.lowAvailablePct, c.lowSwapFreePct)}` +
        (first.value.swapTotalBytes > 0 ? "" : " (no swap: RAM alone)") +
        `; watermark starvation after ${c.starvationWindowMs} ms below min`,
    ];
    if (first.value.psiFullTotalUs === null) notes.push("no /proc/pressure/memory: the memory-pressure rule is off");
    const pressure = this.ctx.host.watchMachinePressure(MACHINE_PRESSURE_TRIGGER, () => this.wake());
    if (pressure.ok) {
      this.unwatchPressure = pressure.value.unwatch;
      const { stallUs, windowUs } = pressure.value.trigger;
      notes.push(`woken by a PSI trigger (${stallUs / 1000} ms of stalls within ${windowUs / 1000} ms)` + (pressure.value.note !== null ? `: ${pressure.value.note}` : ""));
    } else {
      notes.push(`no PSI trigger on the machine (${pressure.error.message}): sampling alone`);
    }
    const watched = this.watchTopLevelCgroups();
    if (watched > 0) notes.push(`woken by memory.events of ${watched} top-level cgroup(s)`);
    if (this.ctx.options.dryRun) notes.push("dry run: machine decisions are journaled, nothing is killed");
    this.warmUp(first.value);
    const sample: MachineSample = { ...first.value, atMs: this.ctx.host.now() };
    if (atLeast(memoryLevel(sample, this.config).level, "terminate")) {
      // A daemon started on a machine already short of memory acts on its first sample, at once
      // (as an event, never inside start()).
      this.timer = this.ctx.host.setTimer(0, () => this.poll());
    } else {
      this.rehearsal = this.rehearseDecision(sample);
    }
    return { ok: true, value: { notes } };
  }

  /**
   * Runs the decision path once on the real machine (the listing, the levels and the detectors,
   * ranking with growth, the sampling interval, a pidfd of ourselves; never a signal): V8 compiles
   * it now, and the code pages it touches are read in now and, locked on fault at start, stay in
   * memory, so the first decision under pressure neither compiles nor waits for the disk.
   */
  private warmUp(sample: MachinePressure): void {
    const { host, options } = this.ctx;
    const atMs = host.now();
    for (let round = 0; round < MACHINE_WARM_UP_ROUNDS; round++) {
      const roundStartMs = host.now();
      const listed = host.listAllProcesses();
      if (!listed.ok) return;
      const machine: MachineSample = { ...sample, atMs };
      memoryLevel(machine, this.config);
      nextSampleDelayMs([machine], this.config, this.intervals());
      const snapshot = { takenAtMs: atMs, cgroup: machineAsScope(machine), processes: listed.value, selfPid: host.selfPid(), pageSizeBytes: host.pageSizeBytes() };
      decide(snapshot, {
        maxCandidates: options.journalCandidates,
        totalMemoryPages: Math.floor((sample.totalBytes + sample.swapTotalBytes) / host.pageSizeBytes()),
        rules: options.victimRules,
        growth: { rates: this.growth.rates(atMs), horizonMs: DEFAULT_GROWTH_HORIZON_MS },
      });
      const self = host.readProcess(host.selfPid());
      if (self.ok) {
        const handle = host.openVictim(self.value.pid, self.value.startTimeTicks);
        if (handle.ok) {
          // Signal 0 and an exit watch on ourselves: the signal and confirmation paths, nothing sent.
          host.maySignal(handle.value);
          const watch = host.watchExit(handle.value, () => {});
          if (watch.ok) watch.value();
          host.releaseVictim(handle.value);
        }
        host.readStallEvidence(self.value.pid);
      }
      // The records a decision writes, as text (thrown away).
      JSON.stringify({ snapshot, notes: memoryLevel(machine, this.config).reason });
      // The warmest round is what a decision costs at least: the lead until the first real one.
      this.decisionLeadMs = Math.min(MAX_DECISION_LEAD_MS, host.now() - roundStartMs);
      // The first point of every process's growth: a decision soon after start measures from here.
      if (round === 0) {
        this.growth.record(atMs, listed.value);
        this.lastGrowthListingAtMs = atMs;
      }
    }
  }

  /** The incident path once through for real, signalling nobody (machine-rehearsal.ts); then the first sample. */
  private async rehearseDecision(sample: MachineSample): Promise<void> {
    const trigger: MachineTrigger = { verdict: { kind: "low-memory", level: "kill", critical: false, reason: "rehearsal" }, sample };
    const usageBytes = (): number => sample.totalBytes - sample.availableBytes;
    try {
      // The last round is what a decision costs, warm: the lead until a real decision measures its own.
      const lastRoundMs = await rehearse(this.ctx, this, trigger, usageBytes);
      this.decisionLeadMs = Math.min(MAX_DECISION_LEAD_MS, Math.max(this.decisionLeadMs, REHEARSAL_TO_PRESSURE * lastRoundMs));
    } catch (error) {
      this.ctx.log(`machine guard: the rehearsal of a decision failed (${String(error)}); the first real decision will be slower`);
    }
    if (!this.stopped) this.timer = this.ctx.host.setTimer(0, () => this.poll());
  }

  stop(): void {
    this.stopped = true;
    this.growthListing.abandon();
    if (this.timer !== null) this.ctx.host.clearTimer(this.timer);
    this.timer = null;
    this.unwatchPressure?.();
    this.unwatchPressure = null;
    for (const unwatch of this.topLevelWatches.values()) unwatch();
    this.topLevelWatches.clear();
    this.runner.victims.releaseAll();
  }

  async whenIdle(): Promise<void> {
    await this.rehearsal;
    await this.runner.whenIdle();
  }

  /** Reads the machine and appends to the history the detectors look at. */
  private sample(): Result<MachineSample> {
    const read = this.ctx.host.readMachinePressure();
    if (!read.ok) return read;
    const sample = appendSample(this.history, { ...read.value, atMs: this.ctx.host.now() }, this.config);
    if (this.availablePeakSinceVictimBytes !== null) this.availablePeakSinceVictimBytes = Math.max(this.availablePeakSinceVictimBytes, sample.availableBytes);
    this.noticeKernelKills(read.value.oomKillsTotal);
    return { ok: true, value: sample };
  }

  /**
   * The global OOM killer cannot be turned off: when it acted (vmstat oom_kill rose, and the kernel
   * log says the machine ran out rather than a memory cgroup), its kill is journaled with the
   * victim named, and counts as the episode's kill: a second victim needs memory falling again to
   * the kill level after it, or a critical machine.
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
      consequence: "it counts as the episode's kill: another victim only once memory falls again to the kill level, or on a critical machine",
    };
    journalKernelKills(this.ctx, scope, oomKillsTotal - before, []);
    this.lastKillAtMs = this.ctx.host.now();
    this.episodeKills++;
    // The kernel's victim is reaped at once (the OOM reaper): its memory is back or on its way.
    this.victimGone();
  }

  private verdict(): MachineVerdict {
    return detectMachinePressure(this.history, this.config, {
      lastStarvationKillAtMs: this.lastStarvationKillAtMs,
      lastKillAtMs: this.lastKillAtMs,
      projection: this.projection(fallRateBytesPerMs(this.recentFall())),
    });
  }

  /** Where the levels are judged: when the signal of a decision taken at the next sample would land, at this fall. */
  private projection(bytesPerMs: number): FallProjection {
    return { bytesPerMs, leadMs: this.decisionLeadMs, nextSampleMs: this.intervals().minMs };
  }

  /**
   * The samples the fall is measured over (fallRateBytesPerMs): the newest at least a second old
   * (or the oldest kept), the one before the newest, and the newest.
   */
  private recentFall(): MachineSample[] {
    const newest = newestEntry(this.history);
    if (newest === undefined) return [];
    const last = newest.sample;
    // Found by binary search, as the detectors do, not by a walk over the window.
    const base = newestKeptWhere(this.history, (s) => last.atMs - s.atMs >= FALL_WINDOW_MS) ?? oldestKept(this.history);
    const previous = entryAtSeq(this.history, newest.seq - 1);
    return [base?.sample, previous?.sample, last].filter((s, i, all): s is MachineSample => s !== undefined && all.indexOf(s) === i);
  }

  /** As densely as the next level could be reached, rarely when memory is plentiful (src/core/sample-interval.ts). */
  private schedule(last: MachineSample): void {
    if (this.stopped) return;
    const recent = newestSample(this.history) === last ? this.recentFall() : [last];
    const delayMs = nextSampleDelayMs(recent, this.config, this.intervals(), this.decisionLeadMs);
    this.timer = this.ctx.host.setTimer(delayMs, () => this.poll());
  }

  private intervals(): SampleIntervalConfig {
    const c = this.config;
    // Never so dense that the longest window holds more samples than the history may keep.
    const floorMs = Math.max(ADAPTIVE_MIN_MS, Math.max(c.starvationWindowMs, c.psiWindowMs) / MAX_WINDOW_SAMPLES);
    return {
      minMs: Math.min(floorMs, c.sampleIntervalMs),
      maxMs: c.idleSampleIntervalMs,
      nearMs: c.sampleIntervalMs,
      // Below the low watermark, densely enough for the starvation rule to see a streak below min from its start.
      belowLowMs: belowLowSampleIntervalMs(c, c.sampleIntervalMs),
      assumedFillBytesPerMs: ASSUMED_FILL_BYTES_PER_MS,
    };
  }

  /** The kernel said memory is tight (a PSI trigger, a top-level cgroup's memory.events): sample now. */
  private wake(): void {
    if (this.stopped || this.timer === null) return; // sampling now, or an incident runs
    this.ctx.host.clearTimer(this.timer);
    this.timer = null;
    this.poll();
  }

  /** Watches memory.events of the cgroups below the v2 root (new ones added, removed ones dropped); how many are watched. */
  private watchTopLevelCgroups(): number {
    this.lastTopLevelScanAtMs = this.ctx.host.now();
    const listed = this.ctx.host.listTopLevelCgroups();
    if (!listed.ok) return this.topLevelWatches.size;
    const paths = new Set(listed.value.map((ref) => ref.path));
    for (const [path, unwatch] of this.topLevelWatches) {
      if (paths.has(path)) continue;
      unwatch();
      this.topLevelWatches.delete(path);
    }
    for (const ref of listed.value) {
      if (this.topLevelWatches.has(ref.path)) continue;
      const watch = this.ctx.host.watchOom(ref, () => this.wake());
      if (watch.ok) this.topLevelWatches.set(ref.path, watch.value);
    }
    return this.topLevelWatches.size;
  }

  /**
   * The processes are listed once a second below the warn level and every five seconds above it,
   * so a decision knows who is growing. Stale details are read again only while memory is plentiful:
   * below the warn level every read counts.
   */
  private followGrowth(sample: MachineSample): void {
    const plenty = memoryLevel(sample, this.config).level === null;
    // Memory falling onto the next acting line within a second: the decision's own listing comes
    // in a moment and measures growth from the last one; a listing now would only delay the sample
    // that sees the line crossed.
    const fall = fallRateBytesPerMs(this.recentFall());
    const headroom = bytesAboveNextLevel(projectSample(sample, this.projection(fall)), this.config);
    if (!plenty && fall > 0 && headroom !== null && headroom / fall < GROWTH_LISTING_SKIPPED_WITHIN_MS) return;
    const everyMs = growthListingIntervalMs(plenty, this.lastGrowthListingMs);
    if (this.growthListing.busy || sample.atMs - this.lastGrowthListingAtMs < everyMs) return;
    this.lastGrowthListingAtMs = sample.atMs;
    this.growthListing.start(sample.atMs, { refreshStaleDetails: plenty });
  }

  /**
   * A listing for growth is done: its processes as of when it began (its slices span a few ms of
   * pauses more). A decision drops a listing under way, so none ends after a decision's own.
   */
  private grown(startedAtMs: number, processes: ProcessSample[], workMs: number): void {
    this.lastGrowthListingMs = workMs;
    this.growth.record(startedAtMs, processes);
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
    this.noticeWarnLevel(sample.value, verdict);
    if (sample.value.atMs - this.lastTopLevelScanAtMs >= TOP_LEVEL_RESCAN_MS) this.watchTopLevelCgroups();
    if (verdict.kind === "ok") this.followGrowth(sample.value);
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
    // The decision lists for itself, and the CPU is its own meanwhile.
    this.growthListing.abandon();
    const racing = racesMemory(sample.value, this.config, fallRateBytesPerMs(this.recentFall()), verdict.critical);
    this.runner.begin(
      () => this.runner.run(trigger, sample.value.atMs),
      "machine incident handling failed",
      () => {
        const latest = newestSample(this.history);
        if (latest !== undefined) this.schedule(latest);
      },
      racing,
    );
  }

  /** The warn level is journaled once, when memory first falls below it, and again only after it has been above it. */
  private noticeWarnLevel(sample: MachineSample, verdict: MachineVerdict): void {
    const reading = memoryLevel(sample, this.config);
    if (reading.level === null) {
      this.warned = false;
      return;
    }
    if (this.warned) return;
    this.warned = true;
    // A more severe level, or one memory will have reached when a signal lands: the decision's to journal.
    if (reading.level !== "warn" || verdict.kind !== "ok") return;
    // Written, not flushed: a notice on the way to a decision must not wait for the disk first.
    const notice: JournalRecord = { type: "notice", cgroup: MACHINE_SCOPE, level: "warn", message: `warn: ${reading.reason}` };
    if (this.ctx.journal.appendUnflushed !== undefined) this.ctx.journal.appendUnflushed(notice);
    else this.ctx.journal.append(notice);
    this.ctx.log(`machine: warn: ${reading.reason}`);
  }

  private endEpisode(): void {
    this.episodeJournaled = false;
    this.nothingReported = false;
    this.episodeKills = 0;
    this.episodeLevel = null;
    this.availablePeakSinceVictimBytes = null;
    this.lastKillUseless = null;
    this.holdNoticeGiven = false;
  }

  /** Why another kill in this episode must wait (null: it may go ahead). One kill per episode, more only while critical and while kills help. */
  private holdBack(verdict: MachineVerdict): string | null {
    if (this.episodeKills === 0) return null;
    const refilling = this.refilling(levelOf(verdict));
    // A kill that gave nothing back is useless only if nothing is taking the memory again: with
    // forty workers growing, their growth eats what the victim freed, and the next one must go.
    if (this.lastKillUseless !== null && !refilling) return `${this.lastKillUseless}: another kill would not help either, unless memory is being filled again; ${this.refillWait(levelOf(verdict))}`;
    // A terminate that did not suffice leads to the kill level's decision: memory fell further.
    if (this.episodeLevel === "terminate" && levelOf(verdict) === "kill") return null;
    // The last victim is gone and its memory back, yet memory is below an acting line and falling
    // again (memoryFellAgain, at the level memory is at): something else is filling it (a second
    // hog, forty workers). Another victim, with the signal of that level, as the kernel would take
    // one; never while a victim is still on its way out. Waiting for the kill level instead only
    // let the machine run lower: forty workers refilling what each victim freed took a 1 GiB guest
    // to 1-4% of RAM, where everything stalled for a second or two at a time, and every one of
    // those kills was needed all the same.
    if (refilling) return null;
    if (!verdict.critical) {
      return `${this.episodeKills} kill(s) already in this episode; another only below ${this.config.criticalAvailablePct}% available, on watermark starvation, or once memory falls again after the last victim is gone (${this.refillWait(levelOf(verdict))})`;
    }
    return null;
  }

  /** "waiting for MemAvailable to fall below N MiB (M MiB under its P MiB since the victim exited)", or for the victim's exit. */
  private refillWait(level: Exclude<MemoryLevel, "warn">): string {
    const peak = this.availablePeakSinceVictimBytes;
    const last = newestSample(this.history);
    if (peak === null || last === undefined) return "waiting for the last victim to exit";
    const fall = refillFallBytes(level, last.totalBytes, this.ctx.options.minProgressBytes);
    const mib = (bytes: number): string => (bytes / 1048576).toFixed(1);
    return `waiting for MemAvailable to fall below ${mib(peak - fall)} MiB (${mib(fall)} MiB under its ${mib(peak)} MiB since the victim exited) or the condition to clear`;
  }

  /** Since the last victim exited, MemAvailable fell from its peak far enough, at this level, to say memory is being filled again (memoryFellAgain). */
  private refilling(level: Exclude<MemoryLevel, "warn">): boolean {
    const last = newestSample(this.history);
    const peak = this.availablePeakSinceVictimBytes;
    return last !== undefined && peak !== null && memoryFellAgain(peak, last, this.ctx.options.minProgressBytes, level);
  }

  /** The victim is gone: from now on its memory counts as back, and a fall from here is someone else's. */
  private victimGone(): void {
    const last = newestSample(this.history);
    this.availablePeakSinceVictimBytes = last?.availableBytes ?? null;
  }

  /**
   * The machine as this trigger's decision and confirmation see it. A low-memory decision stands
   * at the last look before the signal until memory has come back from where it was decided by 1%
   * of RAM (memoryCameBackBeforeSignal), and after the victim's exit until it came back by
   * minProgressBytes (memoryCameBack), even when either look finds the line above: in a thrashing
   * machine reclaim moves MemAvailable up and down by MiBs at the line, and a decision undone there
   * is taken again a sample later, only later. A decision on the projection alone is held the same
   * way: a fall measured over the few ms of a listing says too little to undo it.
   */
  probe(trigger: MachineTrigger): ScopeProbe {
    const { verdict, sample } = trigger;
    const decidedAt = verdict.kind === "low-memory" ? sample : null;
    return { read: () => this.readScope(decidedAt), judgedAtExit: true };
  }

  /** A fresh sample, if the machine still calls for a kill (the next poll journals why, if another kill has to wait). */
  recheck(): MachineTrigger | null {
    const fresh = this.sample();
    if (!fresh.ok) return null;
    const verdict = this.verdict();
    if (verdict.kind === "ok" || verdict.heldBack !== undefined || this.holdBack(verdict) !== null) return null;
    return { verdict, sample: fresh.value };
  }

  async observe({ verdict, sample }: MachineTrigger, ranking: RankInputs): Promise<Observed | null> {
    const { host } = this.ctx;
    const takenAtMs = host.now();
    const totalMemoryPages = Math.floor((sample.totalBytes + sample.swapTotalBytes) / host.pageSizeBytes());
    const listed = listForDecision({ host, growth: this.growth, horizonMs: DEFAULT_GROWTH_HORIZON_MS, takenAtMs, ranking, totalPages: totalMemoryPages, screen: this.screeningFailed === null });
    if (!listed.ok) {
      this.ctx.log(`machine guard: cannot list processes (${listed.error.message})`);
      return null;
    }
    if (listed.value.bandsFailed !== undefined && this.screeningFailed === null) {
      this.screeningFailed = listed.value.bandsFailed;
      this.ctx.log(`machine guard: the kernel's oom_score does not match the badness read in full (${listed.value.bandsFailed}): every decision reads every process in full from now on`);
    }
    this.waitStartedAtMs = null;
    this.lastGrowthListingAtMs = takenAtMs;
    const { processes, screenedOut, growth, screening } = listed.value;
    return {
      snapshot: {
        takenAtMs,
        cgroup: machineAsScope(sample),
        processes,
        ...(screenedOut.length > 0 ? { screenedOut } : {}),
        selfPid: host.selfPid(),
        pageSizeBytes: host.pageSizeBytes(),
      },
      growth,
      ...(screening !== undefined ? { screening } : {}),
      totalMemoryPages,
      incident: {
        kind: verdict.kind === "ok" ? "low-memory" : verdict.kind,
        cgroup: MACHINE_SCOPE,
        usageBytes: sample.totalBytes - sample.availableBytes,
        limitBytes: sample.totalBytes,
        events: { ...NO_MEMORY_EVENTS },
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
    this.availablePeakSinceVictimBytes = null;
    const level = levelOf(verdict);
    if (this.episodeLevel === null || atLeast(level, this.episodeLevel)) this.episodeLevel = level;
  }

  /** The victim's unit under killUnit (its process group, its cgroup), or memory.oom.group set on its cgroup. */
  unitFor(observed: Observed, ranking: RankedSnapshot, victim: Candidate): UnitPlan | null {
    const { host, killed } = this.ctx;
    const resolve = (cgroup: string): CgroupRef | null => {
      const ref = host.resolveProcessCgroup(cgroup);
      return ref.ok ? ref.value : null;
    };
    return planUnit({ host, killed, config: this.config.killUnit, resolve }, victim, observed.snapshot, ranking);
  }

  /**
   * The terminate level: SIGTERM and a grace. SIGKILL at once once memory reaches the kill level
   * or another rule fires (all as urgent); at the grace's end if memory is still at the terminate
   * level or below.
   */
  terminatePlan({ verdict }: MachineTrigger): TerminatePlan | null {
    if (levelOf(verdict) !== "terminate" || this.config.terminateGraceMs <= 0) return null;
    return {
      graceMs: this.config.terminateGraceMs,
      killNow: () => {
        if (!this.sample().ok) return false;
        const now = this.verdict();
        return now.kind !== "ok" && now.heldBack === undefined && levelOf(now) === "kill";
      },
      stillNeeded: () => {
        const last = this.sample().ok ? newestSample(this.history) : undefined;
        return last === undefined || atLeast(memoryLevel(last, this.config).level, "terminate");
      },
    };
  }

  async afterDecision({ sample }: MachineTrigger, _observed: Observed, acted: Acted): Promise<void> {
    const record = acted.record;
    if (record.msToKill !== null) this.decisionLeadMs = Math.min(MAX_DECISION_LEAD_MS, record.msToKill);
    if (record.action === "dry-run") this.episodeJournaled = true;
    if (record.outcome.result === "nothing-done" || record.outcome.result === "resolved-before-kill") this.nothingReported = true;
    if (this.waitStartedAtMs !== null && (record.outcome.freedBytes ?? 0) >= sample.totalBytes * SOMEONE_ELSES_KILL_SHARE) {
      // Someone else's kill (the kernel's, another tool's) resolved part of this episode: it counts
      // as the episode's kill, so a second victim needs a critical machine, and pressure is
      // measured from then on, not over a window that still holds the stall before it.
      this.lastKillAtMs = this.waitStartedAtMs;
      this.episodeKills++;
    }
    // Our victim, or the process in flight we waited for, has exited: a fall from here is someone else's.
    if (record.outcome.victimExited && (acted.killed !== null || record.action === "wait")) this.victimGone();
    const freed = record.outcome.freedBytes ?? 0;
    if (acted.killed !== null && record.outcome.victimExited && freed < acted.killed.candidate.rssBytes / 4) {
      const mib = (bytes: number): string => `${(bytes / 1048576).toFixed(1)} MiB`;
      const victim = acted.killed.candidate;
      this.lastKillUseless = `killing ${victim.comm}[${victim.pid}] (rss ${mib(victim.rssBytes)}) gave back ${mib(Math.max(0, freed))}`;
    }
  }

  /**
   * The machine as a scope: memory in use, whether a rule still fires (or, after a low-memory
   * decision, memory has not come back from where it was decided), and whether it is critical.
   */
  private readScope(decidedAt: MachineSample | null = null): Result<ScopeReading> {
    const read = this.sample();
    // One failed read under pressure (ENOMEM, EMFILE) is not the machine recovering: judge on the last sample.
    const last = newestSample(this.history);
    if (!read.ok && last === undefined) return read;
    const sample = read.ok ? read : { ok: true as const, value: last as MachineSample };
    const verdict = this.verdict();
    const acting = verdict.kind !== "ok" && verdict.heldBack === undefined;
    // A rule fires, or memory has not come back from where the decision was taken (by the given measure).
    const holds = (cameBack: typeof memoryCameBack): boolean =>
      verdict.kind !== "ok" || (decidedAt !== null && !cameBack(decidedAt, sample.value, this.ctx.options.minProgressBytes));
    return {
      ok: true,
      value: {
        usageBytes: sample.value.totalBytes - sample.value.availableBytes,
        outOfMemory: holds(memoryCameBack),
        standsBeforeSignal: holds(memoryCameBackBeforeSignal),
        critical: acting && verdict.critical,
      },
    };
  }
}

/** How urgent a verdict is: the low-memory level it reached; every other rule is as urgent as the kill level. */
function levelOf(verdict: MachineVerdict): Exclude<MemoryLevel, "warn"> {
  return verdict.kind === "low-memory" && verdict.level === "terminate" ? "terminate" : "kill";
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
