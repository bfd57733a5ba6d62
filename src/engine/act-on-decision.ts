// Carrying out the policy's action, the same way for every scope, so "never the wrong victim" is
// one mechanism for the managed cgroups and the machine guard alike:
//   - a process already exiting (killed by the kernel or another tool, or leaving by itself) is a
//     victim in flight: nobody else is chosen while it frees its memory; it is watched as if we
//     had killed it, and only a stall leads to a decision without it;
//   - otherwise the best reachable candidate is killed, but only after the scope is read once more
//     with the victim's pidfd open: an OOM that resolved itself meanwhile costs nobody's life;
//   - the decision is journaled the moment it is acted on (right after the signal), the outcome
//     once memory is back or the wait ends, as its own record linked by decisionId.

import type { PolicyDecision } from "../core/decide.js";
import type { InFlight } from "../core/rank.js";
import type { Result } from "../core/result.js";
import type { Candidate } from "../core/types.js";
import type { AliveVictims } from "./alive-victims.js";
import { confirmGroupKill, confirmKill, startReap, type Confirmation, type ConfirmScope, type KilledVictim } from "./confirm-kill.js";
import type { EngineOptions } from "./engine-options.js";
import type { Host } from "./host.js";
import { joinDecision, type DecidedRecord, type DecisionRecord, type JournalSink, type Outcome, type OutcomeRecord, type ReapAtSigterm, type VictimRecord } from "./journal-record.js";
import { killAndTime, type DecisionTimes, type KillAttempt } from "./kill-first-reachable.js";
import type { KernelVictims } from "./kernel-victims.js";
import type { KilledRegistry } from "./killed-registry.js";
import { describeDecision, emptyOutcome, victimRecord } from "./outcome.js";
import type { ScopeProbe } from "./scope-probe.js";
import { awaitGrace, type TerminatePlan } from "./terminate-grace.js";
import type { UnitPlan } from "./unit-kill.js";

/** A decision record before its action is known. */
export type DecisionBase = Omit<DecisionRecord, "victim" | "action" | "msToKill" | "phasesMs" | "waitingFor">;

export interface ActScope {
  host: Host;
  journal: JournalSink;
  options: EngineOptions;
  log: (message: string) => void;
  killed: KilledRegistry;
  kernelVictims: KernelVictims;
  probe: ScopeProbe;
  aliveVictims: AliveVictims;
  isStopped: () => boolean;
  /** Notifications this decision absorbed, for its outcome record (read when the outcome is journaled). */
  absorbedNotifications: () => number;
  /** cgroup.kill of the scope (a cgroup with memory.oom.group); absent where there is no such thing. */
  killGroup?: () => Result<{ killedPids: number[] }>;
  /** A rehearsal: everything up to the signal, the victim's unit and record included, and no signal. */
  rehearsal?: true;
}

export interface Plan {
  base: DecisionBase;
  decision: PolicyDecision;
  usageBeforeBytes: number;
  times: DecisionTimes;
  /** false: a decision that killed nobody because nobody could be killed is not journaled (already said this episode). */
  journalNothingDone?: boolean;
  /** A wait for a process in flight begins: someone else's kill counts for the episode (machine guard). */
  onWaiting?: (atMs: number) => void;
  /** Right after the signal, before the confirmation (the machine guard counts its kills here). */
  onKilled?: (killed: KilledVictim) => void;
  /** The machine's terminate level: SIGTERM first, and SIGKILL only as this plan says. */
  terminate?: TerminatePlan;
  /** The rest of the victim's unit (process group, cgroup), once the victim is known (null: the process alone). */
  unitOf?: (victim: Candidate) => UnitPlan | null;
}

export interface Acted {
  record: DecidedRecord;
  /** The victim our signal went to (null: a wait, a dry run, nothing killed). */
  killed: KilledVictim | null;
}

export async function actOnDecision(scope: ActScope, plan: Plan): Promise<Acted> {
  const { host, options } = scope;
  const action = plan.decision.action;
  if (options.dryRun) {
    // What would be done: wait for the process in flight, or kill the best candidate. Nothing is touched.
    const top = plan.decision.ranking.candidates[0];
    const would = action.kind === "wait" ? { victim: null, waitingFor: inFlightRecord(action.inFlight) } : { victim: top ? victimRecord(top) : null };
    const decision = journalDecision(scope, { ...plan.base, ...would, action: "dry-run", msToKill: null });
    return { record: journalOutcome(scope, decision, emptyOutcome("not-acted")), killed: null };
  }
  if (action.kind === "wait") return waitForInFlight(scope, plan, action.inFlight);
  if (action.kind === "kill-group" && scope.killGroup !== undefined) return killGroup(scope, plan, scope.killGroup);
  const candidates = action.kind === "none" ? [] : action.candidates;
  const excluded = plan.base.excluded;
  let decision: DecisionRecord | null = null;
  let unit: UnitPlan | null = null;
  const { attempt, phasesMs } = killAndTime(host, scope.killed, candidates, excluded, plan.times, {
    // With the victim's pidfd open and nothing sent yet: is the scope still out of memory? A read
    // that fails (EMFILE, ENOMEM under pressure) says nothing: the decision stands.
    stillNeeded: () => {
      const now = scope.probe.read();
      return !now.ok || (now.value.standsBeforeSignal ?? now.value.outOfMemory);
    },
    // On file before the signal: a daemon that dies at any instant after it leaves the decision
    // behind. Written, not yet flushed: the disk is synced once the reap is under way.
    beforeSignal: (candidate, phasesUntilSignal, atMs) => {
      unit = plan.unitOf?.(candidate) ?? null;
      decision = {
        ...plan.base,
        ...(unit !== null ? { unit: unit.record } : {}),
        victim: victimRecord(candidate),
        action: plan.terminate !== undefined ? "terminate" : "kill",
        msToKill: atMs - plan.times.notifiedAtMs,
        phasesMs: phasesUntilSignal,
      };
      if (scope.journal.appendUnflushed !== undefined) scope.journal.appendUnflushed(decision);
      else scope.journal.append(decision);
    },
    ...(plan.terminate !== undefined ? { sigterm: true } : {}),
    ...(scope.rehearsal === true ? { rehearsal: true } : {}),
  });
  const unitPlan = unit as UnitPlan | null;
  if (attempt.kind !== "killed") unitPlan?.release();
  if (attempt.kind === "signal-failed" && decision !== null) {
    scope.journal.flush?.();
    return { record: journalOutcome(scope, decision, signalFailure(scope, attempt)), killed: null };
  }
  if (attempt.kind !== "killed" || decision === null) {
    const none: DecisionRecord = { ...plan.base, victim: null, action: "none", msToKill: null, phasesMs };
    const outcome = emptyOutcome(attempt.kind === "no-longer-needed" ? "resolved-before-kill" : "nothing-done");
    // The machine guard says each of these once per episode, not at every sample.
    if (plan.journalNothingDone === false) return { record: { ...joinDecision(none, undefined), outcome: { ...outcome, phasesMs } }, killed: null };
    journalDecision(scope, none);
    return { record: journalOutcome(scope, none, outcome), killed: null };
  }
  const killDecision: DecisionRecord = decision;
  // The rest of the unit goes right after the victim, with the same signal.
  const unitSignalled = unitPlan?.signal(plan.terminate !== undefined ? "SIGTERM" : "SIGKILL") ?? null;
  plan.onKilled?.(attempt.killed);
  if (plan.terminate !== undefined) return afterSigterm(scope, plan, plan.terminate, killDecision, attempt.killed, unitPlan, unitSignalled);
  const killed = attempt.killed;
  const confirming = confirmKill(
    confirmScope(scope, plan.base),
    killed,
    plan.usageBeforeBytes,
    plan.times.notifiedAtMs,
  );
  scope.journal.flush?.();
  const confirmation = await confirming;
  keepOrRelease(scope, killed, confirmation);
  unitPlan?.release();
  return { record: journalOutcome(scope, killDecision, withUnit(confirmation.outcome, unitSignalled)), killed };
}

function withUnit(outcome: Outcome, signalled: { signalledPids: number[]; errors: string[] } | null): Outcome {
  if (signalled === null || (signalled.signalledPids.length === 0 && signalled.errors.length === 0)) return outcome;
  return { ...outcome, unitSignalled: { pids: signalled.signalledPids, errors: signalled.errors } };
}

/**
 * SIGTERM went out: the grace runs, then the victim is confirmed like any other (from the SIGKILL,
 * if one followed). A victim that outlived its grace on a machine no longer short of memory is
 * left alone and may be chosen again later, by SIGTERM again.
 */
async function afterSigterm(
  scope: ActScope,
  plan: Plan,
  terminate: TerminatePlan,
  decision: DecisionRecord,
  terminated: KilledVictim,
  unit: UnitPlan | null,
  unitTerminated: { signalledPids: number[]; errors: string[] } | null,
): Promise<Acted> {
  const { host } = scope;
  // A SIGTERM left to its default action is as fatal as SIGKILL: the kernel marks the victim's exit
  // as it sends it, and process_mrelease may free the memory now, beside the exit, instead of the
  // exit alone (on the host it cut a 1 GiB victim's SIGTERM-to-exit from a median 53 to 37 ms; in
  // the emulated VM the victim's own exit always got there first, and the reap found it exiting).
  // A victim that catches, blocks or ignores SIGTERM is refused at once (EINVAL): its grace runs.
  const reapAtSigterm = startReap(host, terminated.handle);
  let reapedAtSigterm: ReapAtSigterm = null;
  const dying = reapAtSigterm.then((result) => {
    reapedAtSigterm = result.ok ? (result.value.alreadyGone ? "already-exiting" : "reaped") : result.error.code === "EINVAL" ? "refused" : "failed";
    return result.ok;
  });
  scope.journal.flush?.();
  const grace = await awaitGrace(host, terminated.handle, terminate, scope.isStopped, dying);
  // The unit follows the victim: SIGKILL for the others too when the victim gets it.
  const unitKilled = grace.sigkillAtMs !== null ? (unit?.signal("SIGKILL") ?? null) : null;
  unit?.release();
  const unitSignalled =
    unitTerminated === null && unitKilled === null
      ? null
      : { signalledPids: [...new Set([...(unitTerminated?.signalledPids ?? []), ...(unitKilled?.signalledPids ?? [])])], errors: [...(unitTerminated?.errors ?? []), ...(unitKilled?.errors ?? [])] };
  const sigterm = (): NonNullable<Outcome["sigterm"]> => ({
    graceMs: terminate.graceMs,
    ending: grace.ending,
    msToSigkill: grace.sigkillAtMs === null ? null : grace.sigkillAtMs - plan.times.notifiedAtMs,
    reapAtSigterm: reapedAtSigterm,
  });
  if (grace.ending === "not-needed" || grace.ending === "stopped") {
    scope.killed.forget(terminated.handle);
    host.releaseVictim(terminated.handle);
    const outcome: Outcome = { ...emptyOutcome(grace.ending === "stopped" ? "unresolved" : "survived-sigterm"), msToKill: null, sigterm: sigterm() };
    return { record: journalOutcome(scope, decision, withUnit(outcome, unitSignalled)), killed: null };
  }
  // Exited within the grace, or SIGKILLed (a failed SIGKILL is the victim exiting at that instant).
  // The confirmation waits for the reap begun at the SIGTERM; one that was refused (SIGTERM caught,
  // SIGKILL since) is tried again now.
  const reapUnderWay = reapAtSigterm.then((result) => (result.ok ? result : startReap(host, terminated.handle)));
  const killed: KilledVictim = { ...terminated, ...(grace.sigkillAtMs === null ? {} : { killedAtMs: grace.sigkillAtMs }), reapUnderWay };
  const confirmation = await confirmKill(confirmScope(scope, plan.base), killed, plan.usageBeforeBytes, plan.times.notifiedAtMs);
  keepOrRelease(scope, killed, confirmation);
  const outcome: Outcome = { ...confirmation.outcome, sigterm: sigterm(), ...(grace.sigkillError !== undefined ? { actionError: grace.sigkillError } : {}) };
  return { record: journalOutcome(scope, decision, withUnit(outcome, unitSignalled)), killed };
}

/** memory.oom.group: the whole cgroup is the unit; cgroup.kill, then the same confirmation of memory back. */
async function killGroup(scope: ActScope, plan: Plan, kill: () => Result<{ killedPids: number[] }>): Promise<Acted> {
  const { host } = scope;
  const killed = kill();
  if (!killed.ok) scope.log(`${plan.base.incident.cgroup}: cgroup.kill failed: ${killed.error.message}`);
  const msToKill = killed.ok ? host.now() - plan.times.notifiedAtMs : null;
  const decision = journalDecision(scope, { ...plan.base, victim: null, action: "kill-cgroup", msToKill });
  const outcome = killed.ok
    ? { ...(await confirmGroupKill(scope, plan.usageBeforeBytes, plan.times.notifiedAtMs, host.now())), groupKilledPids: killed.value.killedPids }
    : emptyOutcome("nothing-done");
  return { record: journalOutcome(scope, decision, outcome), killed: null };
}

/**
 * The SIGKILL failed after the decision was journaled. ESRCH: the victim exited between its checks
 * and the signal, its memory is back, and a fresh decision follows only if the scope is still out
 * of memory (never a fall-through to the next candidate). Anything else (a security module that
 * allows signal 0 but not SIGKILL): nothing was done, and the scope's own fallback applies.
 */
function signalFailure(scope: ActScope, attempt: Extract<KillAttempt, { kind: "signal-failed" }>): Outcome {
  if (attempt.code !== "ESRCH") return { ...emptyOutcome("nothing-done"), actionError: attempt.message };
  const now = scope.probe.read();
  const stillOut = !now.ok || now.value.outOfMemory;
  return { ...emptyOutcome(stillOut ? "exited-still-oom" : "recovered"), victimExited: true, actionError: attempt.message };
}

/** Codes of an open that failed because the process is gone (exited, or its pid reused). */
const GONE_CODES = new Set(["ESRCH", "START_TIME_MISMATCH"]);

/** Watches a process someone else is ending, with the same patience as our own victims. */
async function waitForInFlight(scope: ActScope, plan: Plan, inFlight: InFlight): Promise<Acted> {
  const { host } = scope;
  const decision = journalDecision(scope, { ...plan.base, victim: null, action: "wait", waitingFor: inFlightRecord(inFlight), msToKill: null });
  plan.onWaiting?.(host.now());
  const opened = host.openVictim(inFlight.pid, inFlight.startTimeTicks);
  if (!opened.ok) {
    if (!GONE_CODES.has(opened.error.code)) {
      // Cannot be watched (EMFILE, no syscall addon): nor could anyone be killed. Nothing done; the
      // scope's fallback applies (on v1 the kernel killer), never a retry in a loop.
      return { record: journalOutcome(scope, decision, { ...emptyOutcome("nothing-done"), actionError: opened.error.message }), killed: null };
    }
    // Gone between the snapshot and now: its memory is back; the scope decides whether that was enough.
    const now = scope.probe.read();
    const stillOut = now.ok && now.value.outOfMemory;
    const outcome: Outcome = { ...emptyOutcome(stillOut ? "exited-still-oom" : "recovered"), victimExited: true };
    return { record: journalOutcome(scope, decision, outcome), killed: null };
  }
  const watched: KilledVictim = { handle: opened.value, candidate: asCandidate(inFlight), killedAtMs: host.now() };
  const confirmation = await confirmKill(
    confirmScope(scope, plan.base),
    watched,
    plan.usageBeforeBytes,
    plan.times.notifiedAtMs,
    { reap: false, decideAtExit: true },
  );
  keepOrRelease(scope, watched, confirmation);
  return { record: journalOutcome(scope, decision, confirmation.outcome), killed: null };
}

/** The confirmation's view of the scope; a victim held back is said in the journal when it first happens. */
function confirmScope(scope: ActScope, base: DecisionBase): ConfirmScope {
  return {
    host: scope.host,
    options: scope.options,
    probe: scope.probe,
    isStopped: scope.isStopped,
    onFirstHeldBack: ({ msSinceKill, observationsWithoutProgress }) =>
      scope.journal.append({
        type: "notice",
        cgroup: base.incident.cgroup,
        message: `decision ${base.decisionId}: its process made no progress for ${observationsWithoutProgress} observations (${Math.round(msSinceKill)} ms), but the scope is not critical: nobody else is killed while it may still exit; watching on`,
      }),
  };
}

/** A process still alive after its confirmation is never chosen (or waited for) again; otherwise its pidfd is closed. */
function keepOrRelease(scope: ActScope, victim: KilledVictim, confirmation: Confirmation): void {
  // After stop() nothing may keep watching: a victim still alive is released, not remembered.
  if (confirmation.stillAlive && !scope.isStopped()) scope.aliveVictims.remember(victim.handle, confirmation.outcome.result === "escalated");
  else scope.host.releaseVictim(victim.handle);
}

function inFlightRecord(exiting: InFlight): VictimRecord {
  return { pid: exiting.pid, comm: exiting.comm, startTime: exiting.startTimeTicks, rssBytes: exiting.rssBytes };
}

function asCandidate(exiting: InFlight): Candidate {
  return { ...exiting, score: 0, reason: "already exiting" };
}

export function journalDecision(scope: Pick<ActScope, "journal">, decision: DecisionRecord): DecisionRecord {
  scope.journal.append(decision);
  return decision;
}

/** The outcome record of a decision, journaled, and the two joined for the caller. */
export function journalOutcome(scope: Pick<ActScope, "journal" | "log" | "absorbedNotifications" | "kernelVictims">, decision: DecisionRecord, outcome: Outcome): DecidedRecord {
  const { msToKill: _msToKill, phasesMs: _phasesMs, ...rest } = outcome;
  const pid = decision.victim?.pid ?? decision.waitingFor?.pid ?? null;
  // The kernel's kill of this very process was journaled meanwhile: its hand, not our signal's.
  if (pid !== null && rest.victimExited && scope.kernelVictims.has(pid)) rest.endedBy = "kernel";
  const record: OutcomeRecord = {
    type: "outcome",
    decisionId: decision.decisionId,
    cgroup: decision.incident.cgroup,
    action: decision.action,
    pid,
    suppressedNotifications: scope.absorbedNotifications(),
    outcome: rest,
  };
  scope.journal.append(record);
  const joined = joinDecision(decision, record);
  scope.log(describeDecision(joined));
  return joined;
}
