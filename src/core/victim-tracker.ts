// Progress-based tracking of one victim and its scope (a memcg, or the machine), in virtual time:
// the state machine every watched victim goes through, our own kills and processes someone else
// is ending alike.
//
// The problems it answers: a kernel that kills a second and third process while the first victim
// is still exiting, and a victim stuck behind a lock that never exits while nothing else is ever
// killed. One rule answers both: after a kill the scope gets no new victim while the victim makes
// progress (exits, or its RSS or the scope's usage falls by minProgressBytes); only after
// maxObservationsWithoutProgress observations in a row without progress does it say "escalate".
// Progress, not a bare timeout: the bound is a count of observations that each saw nothing happen,
// so a slow but steady victim is never abandoned.
//
// Verdicts of observe(), and what each lets the engine do:
//   "waiting"          victim alive, scope out of memory, no progress since the last progress
//                      point, fewer than maxObservationsWithoutProgress such observations in a row.
//                      Observe again later. No new victim.
//   "progressing"      victim alive and its RSS or the scope's usage fell by >= minProgressBytes
//                      since the last progress point (the no-progress count restarts at 0); or the
//                      victim has exited but the scope still reads as out of memory, for fewer
//                      than EXIT_SETTLE_OBSERVATIONS observations (the kernel may not have cleared
//                      the flag yet). Observe again later. No new victim.
//   "held-back"        the victim stalled as for "escalate", but the scope is not critical (a
//                      machine still above its critical level): it may still exit, so nobody else
//                      dies; patience starts afresh from here. Observe again later.
//   "resolved"         the scope is no longer out of memory. The incident is over. A victim still
//                      alive (dying in the background) stays excluded from every ranking.
//   "exited-still-oom" the victim exited but the scope stayed out of memory for
//                      EXIT_SETTLE_OBSERVATIONS observations: others consumed what it freed.
//                      Nothing stalled: a fresh decision (new snapshot, new ranking), not an escalation.
//   "escalate"         victim alive, scope critical, and maxObservationsWithoutProgress
//                      observations in a row without progress. The step carries the stall summary.
//                      The next victim may be chosen; the stalled one stays excluded.
// "resolved" with the victim exited, "exited-still-oom" and "escalate" are final: observing such a
// state again returns the same verdict and changes nothing.
//
// Which victims of a scope are still alive, and which of them have had their patience, is the
// engine's (src/engine/alive-victims.ts): it holds their pidfds.

export interface TrackerConfig {
  /** Observations in a row without progress before "escalate". At least 1. */
  maxObservationsWithoutProgress: number;
  /** A fall of victim RSS or scope usage at least this large (since the last progress point) is progress. At least 1. */
  minProgressBytes: number;
}

/**
 * Observations in a row that see the victim gone and the scope still under OOM before that is a
 * new incident: right after the exit the kernel may not yet have cleared under_oom (the waiters
 * must retry their charge first), so one such observation proves nothing.
 */
export const EXIT_SETTLE_OBSERVATIONS = 2;

export type TrackerVerdict = "waiting" | "progressing" | "held-back" | "resolved" | "exited-still-oom" | "escalate";

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
  /** Stalls held back because the scope was not critical. */
  readonly stallsHeldBack: number;
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
  /**
   * Bad enough for a second victim while this one is alive but stalled. A memcg at its limit always
   * is (its tasks wait); the machine only below its critical level.
   */
  scopeCritical: boolean;
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
  /** Set with "escalate" only. */
  stall: StallSummary | null;
}

/** Starts tracking a victim that was just sent SIGKILL at atMs. */
export function startTracking(
  victim: { pid: number; startTimeTicks: number; rssBytes: number },
  scopeUsageBytes: number,
  atMs: number,
  config: TrackerConfig,
): TrackerState {
  return {
    config: normalizeTrackerConfig(config),
    victim: { pid: victim.pid, startTimeTicks: victim.startTimeTicks, rssBytesAtKill: victim.rssBytes, killedAtMs: atMs },
    victimExited: false,
    stallsHeldBack: 0,
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

/**
 * The smallest change of memory that counts as progress, or as memory back: minProgressBytes, but
 * at least a byte, so that the same reading twice is never progress.
 */
export function progressStepBytes(minProgressBytes: number): number {
  return Number.isFinite(minProgressBytes) ? Math.max(1, minProgressBytes) : 1;
}

/**
 * Enforces the minimums (1 observation, 1 byte), so a bad config can neither escalate at once nor
 * never. The values themselves are the engine's tunables (one place for their defaults).
 */
export function normalizeTrackerConfig(config: TrackerConfig): TrackerConfig {
  const max = config.maxObservationsWithoutProgress;
  return {
    maxObservationsWithoutProgress: Number.isFinite(max) ? Math.max(1, Math.floor(max)) : 1,
    minProgressBytes: progressStepBytes(config.minProgressBytes),
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
  const stalled = observationsWithoutProgress >= state.config.maxObservationsWithoutProgress;
  if (stalled && !obs.scopeCritical && obs.victimRssBytes !== null) {
    // The scope can still wait for it: no second victim; patience starts afresh from what it shows now.
    const evidence = step({ ...state, ...seen, observationsWithoutProgress, lastVerdict: "held-back" }, "held-back", obs.atMs);
    const afresh: TrackerState = {
      ...evidence.state,
      stallsHeldBack: state.stallsHeldBack + 1,
      observationsWithoutProgress: 0,
      baselineVictimRssBytes: obs.victimRssBytes,
      baselineScopeUsageBytes: obs.scopeUsageBytes,
      lastProgressAtMs: obs.atMs,
    };
    return { ...evidence, state: afresh };
  }
  const verdict = stalled ? "escalate" : "waiting";
  return step({ ...state, ...seen, observationsWithoutProgress, lastVerdict: verdict }, verdict, obs.atMs);
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
