// Progress-based victim tracking for one OOM scope (a memcg), driven in virtual time.
//
// Seed 000: the kernel kills a second and third process while the first victim is still exiting.
// Seed 001: a victim stuck behind a lock never exits and nothing else is ever killed.
// The tracker answers both with one rule: after a kill, the scope gets no new victim while the
// victim makes progress (exits, or its RSS or the scope's usage falls by minProgressBytes); only
// after maxObservationsWithoutProgress observations in a row without progress does it say
// "escalate". Progress, not a bare timeout: the bound is a count of observations that each saw
// nothing happen, so a slow but steady victim is never abandoned.
//
// Verdicts of observe(), and what each lets the engine do:
//   "waiting"          victim alive, scope under OOM, no progress since the last progress point,
//                      fewer than maxObservationsWithoutProgress such observations in a row.
//                      Engine: observe again later. No new victim.
//   "progressing"      victim alive and its RSS or the scope's usage fell by >= minProgressBytes
//                      since the last progress point (the no-progress count restarts at 0); or the
//                      victim has exited but the scope still reads as under OOM, for fewer than
//                      EXIT_SETTLE_OBSERVATIONS observations (the kernel may not have cleared the
//                      flag yet). Engine: observe again later. No new victim.
//   "resolved"         the scope is no longer under OOM. Engine: the incident is over; record it.
//                      If the victim exited, tracking is finished. If it is still alive (dying in
//                      the background), it stays in aliveVictims(): keep it out of every ranking,
//                      and if the scope is under OOM again while it lives, keep observing this same
//                      state (the count resumes; no new victim except through "escalate").
//   "exited-still-oom" the victim exited (its memory is gone) but the scope stayed under OOM for
//                      EXIT_SETTLE_OBSERVATIONS observations: others consumed what it freed. This
//                      victim is finished and nothing stalled. Engine: treat it as a new incident
//                      (new snapshot, new ranking) via trackNextVictim(); not an escalation.
//   "escalate"         victim alive, scope under OOM, and maxObservationsWithoutProgress
//                      observations in a row without progress. The step carries the stall summary
//                      (observations without progress, ms since the kill). Engine: choose the next
//                      victim, excluding aliveVictims(), and call trackNextVictim(): the stalled
//                      victim becomes a prior victim, still excluded and still reported.
// "resolved" with the victim exited, "exited-still-oom" and "escalate" are final: observing such a
// state again returns the same verdict and changes nothing.
//
// A scope with a tracked victim never yields a new victim except through trackNextVictim(),
// which refuses unless mayChooseNextVictim(state) (after "escalate", "exited-still-oom", or
// "resolved" with the victim gone).

import { fail, ok, type Result } from "./result.js";

const MIB = 1024 * 1024;

export interface TrackerConfig {
  /** Observations in a row without progress before "escalate". At least 1. */
  maxObservationsWithoutProgress: number;
  /** A fall of victim RSS or scope usage at least this large (since the last progress point) is progress. At least 1. */
  minProgressBytes: number;
}

export const DEFAULT_TRACKER_CONFIG: TrackerConfig = {
  // Seed 000 asks for a retry count, not a timeout: five empty observations are a clear stall at any interval.
  maxObservationsWithoutProgress: 5,
  // Page-cache churn in a busy cgroup moves usage by less than this between observations.
  minProgressBytes: 1 * MIB,
};

/**
 * Observations in a row that see the victim gone and the scope still under OOM before that is a
 * new incident: right after the exit the kernel may not yet have cleared under_oom (the waiters
 * must retry their charge first), so one such observation proves nothing.
 */
export const EXIT_SETTLE_OBSERVATIONS = 2;

export type TrackerVerdict = "waiting" | "progressing" | "resolved" | "exited-still-oom" | "escalate";

export interface TrackedVictim {
  pid: number;
  startTimeTicks: number;
  /** RSS in the snapshot the victim was chosen from. */
  rssBytesAtKill: number;
  killedAtMs: number;
}

export interface TrackerState {
  readonly config: TrackerConfig;
  readonly victim: TrackedVictim;
  /** Sticky: once seen exited, the victim stays exited. */
  readonly victimExited: boolean;
  /** Earlier victims of this scope (escalated from) still alive, in kill order. */
  readonly priorVictims: readonly TrackedVictim[];
  /** The victim this one was escalated from, or null if it was the first choice of its incident. */
  readonly escalatedFrom: TrackedVictim | null;
  readonly scopeUsageBytesAtKill: number;
  readonly observations: number;
  readonly observationsWithoutProgress: number;
  /** Consecutive observations with the victim gone and the scope still under OOM. */
  readonly exitedUnderOomObservations: number;
  /** Victim RSS at the last progress point (lowest seen there); progress is measured from it. */
  readonly baselineVictimRssBytes: number;
  /** Scope usage at the last progress point (lowest seen there). */
  readonly baselineScopeUsageBytes: number;
  readonly lastProgressAtMs: number;
  readonly lastVictimRssBytes: number | null;
  readonly lastScopeUsageBytes: number;
  readonly lastVerdict: TrackerVerdict | null;
}

export interface Observation {
  atMs: number;
  /** The victim's pidfd is readable (or the pid with its start time is gone). */
  victimExited: boolean;
  /** null: not readable this time (only scope usage can show progress). */
  victimRssBytes: number | null;
  scopeUsageBytes: number;
  /** v1: memory.oom_control under_oom. v2: the caller's own "still at the limit" reading. */
  scopeUnderOom: boolean;
}

/** What the journal's stall record needs from the tracker (the host adds state and wchan). */
export interface StallSummary {
  pid: number;
  startTimeTicks: number;
  observationsWithoutProgress: number;
  msSinceKill: number;
  msSinceProgress: number;
  victimRssBytes: number | null;
  /** Scope usage at the kill minus now (negative if usage grew). */
  scopeFreedBytes: number;
  explanation: string;
}

export interface TrackerStep {
  state: TrackerState;
  verdict: TrackerVerdict;
  observationsWithoutProgress: number;
  msSinceKill: number;
  msSinceProgress: number;
  /** Victims of this scope alive after this observation: exclude them from every ranking, list them in the journal. */
  aliveVictims: TrackedVictim[];
  /** Set with "escalate" only. */
  stall: StallSummary | null;
}

export interface StartOptions {
  config?: Partial<TrackerConfig>;
  /** Earlier victims still alive (carried over by trackNextVictim, or known to the caller). */
  priorVictims?: readonly TrackedVictim[];
}

/** Starts tracking a victim that was just sent SIGKILL at atMs. */
export function startTracking(
  victim: { pid: number; startTimeTicks: number; rssBytes: number },
  scopeUsageBytes: number,
  atMs: number,
  options: StartOptions = {},
): TrackerState {
  return {
    config: normalizeTrackerConfig(options.config ?? {}),
    victim: { pid: victim.pid, startTimeTicks: victim.startTimeTicks, rssBytesAtKill: victim.rssBytes, killedAtMs: atMs },
    victimExited: false,
    priorVictims: [...(options.priorVictims ?? [])],
    escalatedFrom: null,
    scopeUsageBytesAtKill: scopeUsageBytes,
    observations: 0,
    observationsWithoutProgress: 0,
    exitedUnderOomObservations: 0,
    baselineVictimRssBytes: victim.rssBytes,
    baselineScopeUsageBytes: scopeUsageBytes,
    lastProgressAtMs: atMs,
    lastVictimRssBytes: victim.rssBytes,
    lastScopeUsageBytes: scopeUsageBytes,
    lastVerdict: null,
  };
}

/** Fills in defaults and enforces the minimums (1 observation, 1 byte), so a bad config can neither escalate at once nor never. */
export function normalizeTrackerConfig(config: Partial<TrackerConfig>): TrackerConfig {
  const max = config.maxObservationsWithoutProgress ?? DEFAULT_TRACKER_CONFIG.maxObservationsWithoutProgress;
  const min = config.minProgressBytes ?? DEFAULT_TRACKER_CONFIG.minProgressBytes;
  return {
    maxObservationsWithoutProgress: Number.isFinite(max) ? Math.max(1, Math.floor(max)) : DEFAULT_TRACKER_CONFIG.maxObservationsWithoutProgress,
    minProgressBytes: Number.isFinite(min) ? Math.max(1, min) : DEFAULT_TRACKER_CONFIG.minProgressBytes,
  };
}

/** One observation of the victim and its scope; atMs must not go back in time. */
export function observe(state: TrackerState, obs: Observation): TrackerStep {
  if (isFinal(state)) return step(state, state.lastVerdict ?? "resolved", obs.atMs);
  const exited = state.victimExited || obs.victimExited;
  const seen = {
    observations: state.observations + 1,
    victimExited: exited,
    lastVictimRssBytes: exited ? 0 : obs.victimRssBytes,
    lastScopeUsageBytes: obs.scopeUsageBytes,
  };

  if (exited) {
    if (!obs.scopeUnderOom) {
      return step({ ...state, ...seen, exitedUnderOomObservations: 0, lastVerdict: "resolved" }, "resolved", obs.atMs);
    }
    const exitedUnderOomObservations = state.exitedUnderOomObservations + 1;
    const verdict = exitedUnderOomObservations >= EXIT_SETTLE_OBSERVATIONS ? "exited-still-oom" : "progressing";
    return step({ ...state, ...seen, exitedUnderOomObservations, lastVerdict: verdict }, verdict, obs.atMs);
  }

  const rssFellBytes = obs.victimRssBytes === null ? 0 : state.baselineVictimRssBytes - obs.victimRssBytes;
  const usageFellBytes = state.baselineScopeUsageBytes - obs.scopeUsageBytes;
  const progressed = rssFellBytes >= state.config.minProgressBytes || usageFellBytes >= state.config.minProgressBytes;
  // Baselines only move down, and only at progress points or while the scope is out of OOM, so
  // usage that climbs and falls back (page-cache churn) is never mistaken for progress.
  const lowered = {
    baselineVictimRssBytes: Math.min(state.baselineVictimRssBytes, obs.victimRssBytes ?? state.baselineVictimRssBytes),
    baselineScopeUsageBytes: Math.min(state.baselineScopeUsageBytes, obs.scopeUsageBytes),
  };

  if (!obs.scopeUnderOom) {
    const next = { ...state, ...seen, ...lowered, observationsWithoutProgress: 0, exitedUnderOomObservations: 0 };
    return step({ ...next, lastVerdict: "resolved" }, "resolved", obs.atMs);
  }
  if (progressed) {
    const next = { ...state, ...seen, ...lowered, observationsWithoutProgress: 0, lastProgressAtMs: obs.atMs };
    return step({ ...next, lastVerdict: "progressing" }, "progressing", obs.atMs);
  }
  const observationsWithoutProgress = state.observationsWithoutProgress + 1;
  const verdict = observationsWithoutProgress >= state.config.maxObservationsWithoutProgress ? "escalate" : "waiting";
  return step({ ...state, ...seen, observationsWithoutProgress, lastVerdict: verdict }, verdict, obs.atMs);
}

/** True when the engine may choose a new victim for this scope (see the verdicts above). */
export function mayChooseNextVictim(state: TrackerState): boolean {
  return state.lastVerdict === "escalate" || state.lastVerdict === "exited-still-oom" || (state.lastVerdict === "resolved" && state.victimExited);
}

/**
 * Starts tracking the next victim of this scope. Refused unless mayChooseNextVictim(state).
 * After "escalate" the stalled victim joins the prior victims and becomes escalatedFrom.
 */
export function trackNextVictim(
  state: TrackerState,
  next: { pid: number; startTimeTicks: number; rssBytes: number },
  scopeUsageBytes: number,
  atMs: number,
): Result<TrackerState> {
  if (!mayChooseNextVictim(state)) {
    return fail(
      "VICTIM_STILL_TRACKED",
      `pid ${state.victim.pid} is still tracked (last verdict ${state.lastVerdict ?? "none"}): no new victim before it escalates or is gone`,
    );
  }
  const escalating = state.lastVerdict === "escalate";
  const fresh = startTracking(next, scopeUsageBytes, atMs, { config: state.config, priorVictims: aliveVictims(state) });
  return ok({ ...fresh, escalatedFrom: escalating ? state.victim : null });
}

/** Records that a victim (current or prior) has exited, e.g. its pidfd became readable between observations. */
export function noteVictimExited(state: TrackerState, victim: { pid: number; startTimeTicks: number }): TrackerState {
  const priorVictims = state.priorVictims.filter((prior) => !sameProcess(prior, victim));
  const victimExited = state.victimExited || sameProcess(state.victim, victim);
  return { ...state, priorVictims, victimExited };
}

/** Every victim of this scope still alive, in kill order: never to be chosen again while alive. */
export function aliveVictims(state: TrackerState): TrackedVictim[] {
  return state.victimExited ? [...state.priorVictims] : [...state.priorVictims, state.victim];
}

function isFinal(state: TrackerState): boolean {
  return (
    state.lastVerdict === "escalate" || state.lastVerdict === "exited-still-oom" || (state.lastVerdict === "resolved" && state.victimExited)
  );
}

function step(state: TrackerState, verdict: TrackerVerdict, atMs: number): TrackerStep {
  const msSinceKill = atMs - state.victim.killedAtMs;
  const msSinceProgress = atMs - state.lastProgressAtMs;
  return {
    state,
    verdict,
    observationsWithoutProgress: state.observationsWithoutProgress,
    msSinceKill,
    msSinceProgress,
    aliveVictims: aliveVictims(state),
    stall: verdict === "escalate" ? stallSummary(state, msSinceKill, msSinceProgress) : null,
  };
}

function stallSummary(state: TrackerState, msSinceKill: number, msSinceProgress: number): StallSummary {
  const scopeFreedBytes = state.scopeUsageBytesAtKill - state.lastScopeUsageBytes;
  const rss = state.lastVictimRssBytes === null ? "unknown" : `${state.lastVictimRssBytes} bytes`;
  return {
    pid: state.victim.pid,
    startTimeTicks: state.victim.startTimeTicks,
    observationsWithoutProgress: state.observationsWithoutProgress,
    msSinceKill,
    msSinceProgress,
    victimRssBytes: state.lastVictimRssBytes,
    scopeFreedBytes,
    explanation:
      `pid ${state.victim.pid} made no progress for ${state.observationsWithoutProgress} observations ` +
      `(${msSinceProgress} ms; killed ${msSinceKill} ms ago): rss ${rss} (${state.victim.rssBytesAtKill} at the kill), ` +
      `scope freed ${scopeFreedBytes} bytes; progress needs a fall of ${state.config.minProgressBytes} bytes`,
  };
}

function sameProcess(a: { pid: number; startTimeTicks: number }, b: { pid: number; startTimeTicks: number }): boolean {
  return a.pid === b.pid && a.startTimeTicks === b.startTimeTicks;
}
