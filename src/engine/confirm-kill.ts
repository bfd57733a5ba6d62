// Confirmation of one kill: watches the victim until its memory is back in the scope, or until
// it has made no progress for the configured observations (then the runner escalates).
// Dense reads right after the kill time the recovery; then the victim tracker (src/core), the one
// state machine every watched victim goes through, observes at a steady interval.

import type { Candidate } from "../core/types.js";
import { observe, progressStepBytes, startTracking, type TrackerState } from "../core/victim-tracker.js";
import type { EngineOptions } from "./engine-options.js";
import type { Host, TimerHandle, Unwatch, VictimHandle } from "./host.js";
import type { Outcome } from "./journal-record.js";
import { emptyOutcome } from "./outcome.js";
import type { ScopeProbe, ScopeReading } from "./scope-probe.js";

/** What Host.reap settles with. */
export type ReapResult = Awaited<ReturnType<Host["reap"]>>;

/** Host.reap, a throw turned into a failed result (the confirmation must see every reap settle). */
export function startReap(host: Host, victim: VictimHandle): Promise<ReapResult> {
  return host.reap(victim).catch((error: unknown): ReapResult => ({ ok: false, error: { code: "EREAP", message: String(error) } }));
}

export interface KilledVictim {
  handle: VictimHandle;
  candidate: Candidate;
  killedAtMs: number;
  /** A process_mrelease already under way (started at the SIGTERM): the confirmation waits for it instead of starting its own. */
  reapUnderWay?: Promise<ReapResult>;
}

export interface Confirmation {
  outcome: Outcome;
  /** The victim is still alive (frozen, stuck in D state) and must never be chosen again. */
  stillAlive: boolean;
}

export interface ConfirmScope {
  host: Host;
  options: EngineOptions;
  probe: ScopeProbe;
  /** The engine stopped: observing ends (a victim held back as not critical would otherwise be watched for ever). */
  isStopped?: () => boolean;
  /** The first time a stalled victim is held back because the scope is not critical (the journal says so at once). */
  onFirstHeldBack?: (evidence: { msSinceKill: number; observationsWithoutProgress: number }) => void;
}

/** The tracker's settings from the engine options. */
export function trackerConfig(options: EngineOptions): { maxObservationsWithoutProgress: number; minProgressBytes: number } {
  return { maxObservationsWithoutProgress: options.maxObservationsWithoutProgress, minProgressBytes: progressStepBytes(options.minProgressBytes) };
}

/** How a victim is watched: ours is reaped; a process someone else is ending is only watched. */
export interface WatchMode {
  /**
   * process_mrelease it (our own kill). Not for a process someone else is ending: reaping before
   * its exit path has handled its robust futexes would leave shared mutexes without an owner-died
   * mark, which is why the kernel's own reaper waits first.
   */
  reap: boolean;
  /** Once it has exited, the scope decides at once (recovered or still out of memory), not at the next observation. */
  decideAtExit: boolean;
}

const OUR_KILL: WatchMode = { reap: true, decideAtExit: false };

export function confirmKill(
  scope: ConfirmScope,
  killed: KilledVictim,
  usageBeforeBytes: number,
  notifiedAtMs: number,
  mode: WatchMode = OUR_KILL,
): Promise<Confirmation> {
  return new Promise<Confirmation>((resolve) => new KillConfirmation(scope, killed, usageBeforeBytes, notifiedAtMs, mode, resolve).start());
}

/** One victim watched to its end: dense reads first, then the tracker's observations. */
class KillConfirmation {
  private readonly mode: WatchMode;
  private exited = false;
  private reap: Outcome["reap"] = null;
  /** Our process_mrelease finished and freed the mm (not merely found it gone). */
  private reaped = false;
  /** No reap of ours is running any more (or none was started). */
  private reapSettled = false;
  private msToMemoryBack: number | null = null;
  private freedBytes: number | null = null;
  private observations = 0;
  /** Observations in a row with the scope recovered while the victim, alive and not reaped, did not shrink. */
  private resolvedWithoutVictim = 0;
  /** The victim's RSS when it last shrank (at the kill to begin with). */
  private lastVictimRssBytes: number;
  private tracker: TrackerState;
  private done = false;
  private timer: TimerHandle | null = null;
  private unwatchExit: Unwatch | null = null;
  private readonly fastDelaysMs: number[];

  constructor(
    private readonly scope: ConfirmScope,
    private readonly killed: KilledVictim,
    private readonly usageBeforeBytes: number,
    private readonly notifiedAtMs: number,
    mode: WatchMode,
    private readonly resolve: (confirmation: Confirmation) => void,
  ) {
    // A scope whose readings are fresh samples (the machine) needs no settling after the exit.
    this.mode = scope.probe.judgedAtExit === true ? { ...mode, decideAtExit: true } : mode;
    this.fastDelaysMs = [...scope.options.fastConfirmDelaysMs];
    this.lastVictimRssBytes = killed.candidate.rssBytes;
    this.tracker = startTracking(
      { pid: killed.handle.pid, startTimeTicks: killed.handle.startTimeTicks, rssBytes: killed.candidate.rssBytes },
      usageBeforeBytes,
      killed.killedAtMs,
      trackerConfig(scope.options),
    );
  }

  start(): void {
    const { host } = this.scope;
    // Without a reap of ours there is nothing to wait for besides the exit itself.
    if (!this.mode.reap) this.reapSettled = true;
    const watched = host.watchExit(this.killed.handle, () => this.onExit());
    if (watched.ok) this.unwatchExit = watched.value;
    if (this.mode.reap) {
      void (this.killed.reapUnderWay ?? startReap(host, this.killed.handle)).then((result) => this.onReapSettled(result));
    }
    this.fastTick();
  }

  private onExit(): void {
    this.exited = true;
    const now = this.sample();
    if (now !== null) this.decideAtExit(now);
  }

  /** decideAtExit: the victim has exited and our reap (if any) has returned: recovered or still out of memory, now. */
  private decideAtExit(now: ScopeReading): void {
    if (this.done || !this.mode.decideAtExit || !this.exited || !this.reapSettled) return;
    this.freedBytes ??= this.usageBeforeBytes - now.usageBytes;
    this.finish(now.outOfMemory ? "exited-still-oom" : "recovered");
  }

  private onReapSettled(result: ReapResult): void {
    this.reapSettled = true;
    if (result.ok) {
      this.reap = result.value;
      // ESRCH (alreadyGone) means the exit path owns the mm now, not that the memory is back yet.
      this.reaped = !result.value.alreadyGone;
    } else {
      this.reap = { error: result.error.message };
    }
    if (this.done) return;
    const now = this.sample();
    if (now !== null) this.decideAtExit(now);
  }

  private finish(result: Outcome["result"], stall?: Outcome["stall"]): void {
    if (this.done) return;
    this.done = true;
    if (this.timer !== null) this.scope.host.clearTimer(this.timer);
    this.unwatchExit?.();
    const outcome: Outcome = {
      result,
      freedBytes: this.freedBytes,
      msToKill: this.killed.killedAtMs - this.notifiedAtMs,
      msToMemoryBack: this.msToMemoryBack,
      victimExited: this.exited,
      reap: this.reap,
      observations: this.observations,
    };
    if (stall) outcome.stall = stall;
    if (this.tracker.stallsHeldBack > 0) outcome.escalationsHeldBack = this.tracker.stallsHeldBack;
    this.resolve({ outcome, stillAlive: !this.exited });
  }

  /** Reads the scope and records when memory is back; the reading, for the tracker (null: finished). */
  private sample(): ScopeReading | null {
    const reading = this.scope.probe.read();
    if (!reading.ok) {
      // The cgroup went away with its tasks: nothing left to confirm.
      this.finish("recovered");
      return null;
    }
    const fellBytes = this.usageBeforeBytes - reading.value.usageBytes;
    // "Memory back" means the victim's mm is released: its exit (pidfd readable, after exit_mm)
    // or process_mrelease done. A first uncharge already clears under_oom, so that alone proves
    // little; an exit while our reap still runs neither (the reap holds the mm until it is done).
    const victimMemoryGone = this.reaped || (this.exited && this.reapSettled);
    if (victimMemoryGone && fellBytes > 0 && !reading.value.outOfMemory) {
      this.msToMemoryBack ??= this.scope.host.now() - this.notifiedAtMs;
      this.freedBytes = Math.max(this.freedBytes ?? 0, fellBytes);
      // A finished reap can leave part of the memory to the exit (measured here: 43 of 64 MiB
      // back at the reap, all of it at the exit): a victim that can still exit is watched until
      // it does, within the dense reads, so freedBytes counts what its death gave back.
      if ((this.exited && this.reapSettled) || this.fastDelaysMs.length === 0) this.finish("recovered");
    }
    return reading.value;
  }

  /** The dense reads right after the kill, which time a fast recovery precisely. */
  private readonly fastTick = (): void => {
    this.timer = null;
    if (this.done) return;
    this.sample();
    if (this.done) return;
    const next = this.fastDelaysMs.shift();
    if (next === undefined && this.msToMemoryBack !== null) {
      // Reaped, and not exited within the dense reads (frozen, stuck): its memory is back all the same.
      this.finish("recovered");
      return;
    }
    this.timer = next === undefined ? this.later(this.scope.options.observeIntervalMs, this.observeTick) : this.later(next, this.fastTick);
  };

  private readonly observeTick = (): void => {
    this.timer = null;
    if (this.done) return;
    if (this.scope.isStopped?.()) {
      this.finish("unresolved");
      return;
    }
    const { host, options } = this.scope;
    const victimRead = this.exited ? null : host.readProcess(this.killed.handle.pid);
    // No process under the pid, yet the exit watch has not fired: the exit can be waiting in this
    // loop turn's poll phase, behind this timer. The pidfd settles it (ESRCH: exited and reaped).
    if (victimRead !== null && !victimRead.ok) {
      const signal = host.maySignal(this.killed.handle);
      if (!signal.ok && signal.error.code === "ESRCH") this.onExit();
      if (this.done) return;
    }
    const scopeNow = this.sample();
    if (scopeNow === null || this.done) return;
    this.observations++;
    const victim = this.exited ? null : victimRead;
    const victimGone = this.exited || (victim !== null && !victim.ok);
    const step = observe(this.tracker, {
      atMs: host.now(),
      victimExited: victimGone,
      victimRssBytes: victim !== null && victim.ok ? victim.value.rssBytes : null,
      scopeUsageBytes: scopeNow.usageBytes,
      scopeUnderOom: scopeNow.outOfMemory,
      scopeCritical: scopeNow.critical,
    });
    this.tracker = step.state;
    if (step.verdict === "held-back" && this.tracker.stallsHeldBack === 1) {
      // Said in the journal when it first happens: nobody else dies while this one may still exit.
      this.scope.onFirstHeldBack?.({ msSinceKill: step.msSinceKill, observationsWithoutProgress: step.observationsWithoutProgress });
    }
    if (step.verdict === "resolved" && !victimGone && !this.reaped && (this.mode.reap || !this.reapSettled)) {
      // The scope left the OOM state, yet our victim has neither exited nor been reaped: either
      // its memory is still going down (the cgroup leaves OOM at the first uncharge) or the
      // memory came back from somewhere else (the kernel's kill, another exit). While it
      // shrinks, or our reap still runs, its exit is waited for, so no later incident picks a
      // second victim meanwhile; once it has stopped shrinking for the tracker's patience, the
      // journal says the memory came back from elsewhere rather than credit this kill with it.
      const rssBytes = victim !== null && victim.ok ? victim.value.rssBytes : null;
      // Past exit_mm a process shows no memory while its exit still frees it: that is shrinking too.
      const shrank = rssBytes !== null && (rssBytes === 0 || this.lastVictimRssBytes - rssBytes >= Math.max(1, options.minProgressBytes));
      if (rssBytes !== null && (shrank || rssBytes > this.lastVictimRssBytes)) this.lastVictimRssBytes = rssBytes;
      this.resolvedWithoutVictim = shrank || !this.reapSettled ? 0 : this.resolvedWithoutVictim + 1;
      if (this.resolvedWithoutVictim < options.maxObservationsWithoutProgress) {
        this.timer = this.later(options.observeIntervalMs, this.observeTick);
        return;
      }
      this.freedBytes ??= this.usageBeforeBytes - scopeNow.usageBytes;
      this.finish("recovered-elsewhere");
      return;
    }
    if (step.verdict === "resolved" || step.verdict === "exited-still-oom") {
      this.freedBytes ??= this.usageBeforeBytes - scopeNow.usageBytes;
      this.finish(step.verdict === "resolved" ? "recovered" : "exited-still-oom");
      return;
    }
    if (step.verdict === "escalate") {
      const evidence = host.readStallEvidence(this.killed.handle.pid);
      this.freedBytes = this.usageBeforeBytes - scopeNow.usageBytes;
      this.finish("escalated", {
        ...(evidence.ok ? evidence.value : { state: "?", wchan: "", threads: [] }),
        msSinceKill: step.msSinceKill,
        observationsWithoutProgress: step.observationsWithoutProgress,
        explanation: step.stall?.explanation ?? "",
      });
      return;
    }
    this.timer = this.later(options.observeIntervalMs, this.observeTick);
  };

  private later(delayMs: number, tick: () => void): TimerHandle {
    return this.scope.host.setTimer(delayMs, tick);
  }
}

/**
 * After a group kill (cgroup.kill) there is no single victim to watch: memory is back once the
 * cgroup is below its limit with usage fallen; without that within the tracker's patience, unresolved.
 */
export function confirmGroupKill(scope: ConfirmScope, usageBeforeBytes: number, notifiedAtMs: number, killedAtMs: number): Promise<Outcome> {
  const { host, options, probe } = scope;
  const delaysMs = [...options.fastConfirmDelaysMs, ...Array<number>(options.maxObservationsWithoutProgress).fill(options.observeIntervalMs)];
  let observations = 0;
  return new Promise<Outcome>((resolve) => {
    const result = (outcome: Partial<Outcome> & Pick<Outcome, "result">): void =>
      resolve({ ...emptyOutcome(outcome.result), msToKill: killedAtMs - notifiedAtMs, observations, ...outcome });
    const check = (): void => {
      observations++;
      const reading = probe.read();
      if (!reading.ok) return result({ result: "recovered", victimExited: true });
      const fellBytes = usageBeforeBytes - reading.value.usageBytes;
      if (fellBytes > 0 && !reading.value.outOfMemory) {
        return result({ result: "recovered", victimExited: true, freedBytes: fellBytes, msToMemoryBack: host.now() - notifiedAtMs });
      }
      const next = delaysMs.shift();
      if (next === undefined) return result({ result: "unresolved", freedBytes: fellBytes });
      host.setTimer(next, check);
    };
    check();
  });
}
