// Confirmation of one kill: watches the victim until its memory is back in the cgroup, or until
// it has made no progress for the configured observations (then the engine escalates).
// Dense reads right after the kill time the recovery; then the progress tracker observes at a steady interval.

import type { Candidate } from "../core/types.js";
import { observe, startTracking, type TrackerState } from "../core/victim-tracker.js";
import type { EngineOptions } from "./engine-options.js";
import type { Host, Unwatch, VictimHandle } from "./host.js";
import type { Outcome } from "./journal-record.js";
import { emptyOutcome } from "./outcome.js";
import type { ScopeProbe, ScopeReading } from "./scope-probe.js";

export interface KilledVictim {
  handle: VictimHandle;
  candidate: Candidate;
  killedAtMs: number;
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
  return { maxObservationsWithoutProgress: options.maxObservationsWithoutProgress, minProgressBytes: Math.max(1, options.minProgressBytes) };
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
  const { host, options, probe } = scope;
  return new Promise<Confirmation>((resolve) => {
    let exited = false;
    let reap: Outcome["reap"] = null;
    let reaped = false;
    let reapSettled = false;
    let msToMemoryBack: number | null = null;
    let freedBytes: number | null = null;
    let observations = 0;
    let escalationsHeldBack = 0;
    let tracker: TrackerState = startTracking(
      { pid: killed.handle.pid, startTimeTicks: killed.handle.startTimeTicks, rssBytes: killed.candidate.rssBytes },
      usageBeforeBytes,
      killed.killedAtMs,
      { config: trackerConfig(options) },
    );
    let done = false;
    let timer: ReturnType<Host["setTimer"]> | null = null;
    let unwatchExit: Unwatch | null = null;

    const finish = (result: Outcome["result"], stall?: Outcome["stall"]): void => {
      if (done) return;
      done = true;
      if (timer !== null) host.clearTimer(timer);
      unwatchExit?.();
      const outcome: Outcome = {
        result,
        freedBytes,
        msToKill: killed.killedAtMs - notifiedAtMs,
        msToMemoryBack,
        victimExited: exited,
        reap,
        observations,
      };
      if (stall) outcome.stall = stall;
      if (escalationsHeldBack > 0) outcome.escalationsHeldBack = escalationsHeldBack;
      resolve({ outcome, stillAlive: !exited });
    };

    /** Reads the scope; records when memory is back. Returns the reading for the tracker. */
    const sample = (): ScopeReading | null => {
      const reading = probe.read();
      if (!reading.ok) {
        // The cgroup went away with its tasks: nothing left to confirm.
        finish("recovered");
        return null;
      }
      const fellBytes = usageBeforeBytes - reading.value.usageBytes;
      // "Memory back" means the victim's mm is released: its exit (pidfd readable, after exit_mm)
      // or process_mrelease done. A first uncharge already clears under_oom, so that alone proves
      // little; an exit while our reap still runs neither (the reap holds the mm until it is done).
      const victimMemoryGone = reaped || (exited && reapSettled);
      if (victimMemoryGone && fellBytes > 0 && !reading.value.outOfMemory) {
        msToMemoryBack ??= host.now() - notifiedAtMs;
        freedBytes = Math.max(freedBytes ?? 0, fellBytes);
        // A finished reap can leave part of the memory to the exit (measured here: 43 of 64 MiB
        // back at the reap, all of it at the exit): a victim that can still exit is watched until
        // it does, within the dense reads, so freedBytes counts what its death gave back.
        if ((exited && reapSettled) || fastDelays.length === 0) finish("recovered");
      }
      return reading.value;
    };

    const observeTick = (): void => {
      timer = null;
      if (done) return;
      if (scope.isStopped?.()) {
        finish("unresolved");
        return;
      }
      const scopeNow = sample();
      if (scopeNow === null || done) return;
      observations++;
      const victim = exited ? null : host.readProcess(killed.handle.pid);
      const step = observe(tracker, {
        atMs: host.now(),
        victimExited: exited || (victim !== null && !victim.ok),
        victimRssBytes: victim !== null && victim.ok ? victim.value.rssBytes : null,
        scopeUsageBytes: scopeNow.usageBytes,
        scopeUnderOom: scopeNow.outOfMemory,
      });
      tracker = step.state;
      if (step.verdict === "escalate" && !scopeNow.critical && victim !== null && victim.ok) {
        // Stalled, but the scope can still wait for it (seed 000): no second victim; fresh patience.
        escalationsHeldBack++;
        if (escalationsHeldBack === 1) scope.onFirstHeldBack?.({ msSinceKill: step.msSinceKill, observationsWithoutProgress: step.observationsWithoutProgress });
        tracker = startTracking(
          { pid: killed.handle.pid, startTimeTicks: killed.handle.startTimeTicks, rssBytes: victim.value.rssBytes },
          scopeNow.usageBytes,
          host.now(),
          { config: trackerConfig(options) },
        );
        timer = host.setTimer(options.observeIntervalMs, observeTick);
        return;
      }
      if (step.verdict === "resolved" && !exited && !reapSettled) {
        // The cgroup left OOM at the first uncharge, but the victim's memory is still going down:
        // wait for its exit or the reap, so no later incident picks a second victim meanwhile.
        timer = host.setTimer(options.observeIntervalMs, observeTick);
        return;
      }
      if (step.verdict === "resolved" || step.verdict === "exited-still-oom") {
        freedBytes ??= usageBeforeBytes - scopeNow.usageBytes;
        finish(step.verdict === "resolved" ? "recovered" : "exited-still-oom");
        return;
      }
      if (step.verdict === "escalate") {
        const evidence = host.readStallEvidence(killed.handle.pid);
        freedBytes = usageBeforeBytes - scopeNow.usageBytes;
        finish("escalated", {
          ...(evidence.ok ? evidence.value : { state: "?", wchan: "", threads: [] }),
          msSinceKill: step.msSinceKill,
          observationsWithoutProgress: step.observationsWithoutProgress,
          explanation: step.stall?.explanation ?? "",
        });
        return;
      }
      timer = host.setTimer(options.observeIntervalMs, observeTick);
    };

    const fastDelays = [...options.fastConfirmDelaysMs];
    const fastTick = (): void => {
      timer = null;
      if (done) return;
      sample();
      if (done) return;
      const next = fastDelays.shift();
      if (next === undefined && msToMemoryBack !== null) {
        // Reaped, and not exited within the dense reads (frozen, stuck): its memory is back all the same.
        finish("recovered");
        return;
      }
      timer = next === undefined ? host.setTimer(options.observeIntervalMs, observeTick) : host.setTimer(next, fastTick);
    };

    // Without a reap of ours there is nothing to wait for besides the exit itself.
    if (!mode.reap) reapSettled = true;
    const watched = host.watchExit(killed.handle, () => {
      exited = true;
      const now = sample();
      if (!done && now !== null && mode.decideAtExit && reapSettled) {
        freedBytes ??= usageBeforeBytes - now.usageBytes;
        finish(now.outOfMemory ? "exited-still-oom" : "recovered");
      }
    });
    if (watched.ok) unwatchExit = watched.value;

    if (!mode.reap) {
      fastTick();
      return;
    }
    host
      .reap(killed.handle)
      .catch((error: unknown) => ({ ok: false as const, error: { code: "EREAP", message: String(error) } }))
      .then((result) => {
        reapSettled = true;
        if (result.ok) {
          reap = result.value;
          // ESRCH (alreadyGone) means the exit path owns the mm now, not that the memory is back yet.
          reaped = !result.value.alreadyGone;
        } else {
          reap = { error: result.error.message };
        }
        if (!done) sample();
      });

    fastTick();
  });
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
