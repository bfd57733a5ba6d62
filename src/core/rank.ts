// Victim ranking over one snapshot: every process becomes a Candidate (with its badness and the
// reason for it) or an Exclusion (with the reason it can never be chosen). Reads nothing but the
// snapshot and the options.
//
// Victim rules (src/core/victim-rules.ts) come first: a process a protect rule (or systemd-oomd's
// omit xattr) matches is an Exclusion naming the rule; prefer and avoid put a candidate in a class.
//
// Order (fixed, so ties always resolve the same way whatever order the processes were listed in):
//   1. class: prefer, then no rule, then avoid,
//   2. where growth is given: growing or not known, then idle (measured, and not growing: it is
//      not what fills the memory, however big),
//   3. projected badness descending: score + growthPages (growth over the horizon; with no growth
//      given, or none measured, the score alone),
//   3. score (kernel badness in pages) descending,
//   4. rssBytes descending (of two equal scores, the one that frees more memory at once),
//   5. pid ascending (stable id),
//   then startTimeTicks, comm, rule and reason, which only matter for malformed input with duplicate pids.
//
// Truncation: `candidates` is always the FULL order, because the engine must be able to fall
// through to the next candidate when the first has vanished. `top` holds the first maxCandidates
// for the journal (topCandidates() does the same for any Ranking), filled up, where a screening
// left processes out of the snapshot, with the best of those, marked screened.

import { computeTotalPages, oomBadness, type KillableBadness } from "./badness.js";
import { projectedGrowthPages, type GrowthProjection } from "./process-growth.js";
import type { Candidate, Exclusion, ProcessSample, Ranking, Snapshot } from "./types.js";
import { matchVictimRule, type RuleMatch, type VictimRule } from "./victim-rules.js";

/** Identifies one process across pid reuse. */
export interface ProcessIdentity {
  pid: number;
  startTimeTicks: number;
}

export interface RankOptions {
  /** How many candidates `top` lists (the journal's share). The full order is always in `candidates`. */
  maxCandidates: number;
  /** RAM + swap in pages: scales oom_score_adj when the cgroup has no limit the machine can reach. */
  totalMemoryPages: number;
  /** Victims killed earlier in this scope and still alive (victim tracker): never chosen again. Matched on pid and start time. */
  aliveVictims?: readonly ProcessIdentity[];
  /** Processes another scope of this engine killed: in flight here too, whatever their flags show. */
  killedElsewhere?: readonly ProcessIdentity[];
  /**
   * An exiting process that still shows less memory than this is not worth waiting for (a short-lived
   * process caught mid-exit); one that shows none is past exit_mm, freeing an unknown amount, and is.
   */
  minInFlightBytes?: number;
  /** Victim rules, first match wins (compileVictimRules); the cgroup xattrs the host reports apply after them either way. */
  rules?: readonly VictimRule[];
  /** Growth-aware ranking: candidates are ranked on their badness projected over the horizon. Absent: the badness alone. */
  growth?: GrowthProjection;
}

/** A process already on its way out that nobody in this engine killed: its memory is coming back. */
export interface InFlight {
  pid: number;
  comm: string;
  startTimeTicks: number;
  /** 0 once past exit_mm: its memory is then being freed and no longer shows as its own. */
  rssBytes: number;
}

export interface RankedSnapshot extends Ranking {
  /** Every killable process, best victim first. */
  candidates: Candidate[];
  /** The first maxCandidates of `candidates`, for the journal. */
  top: Candidate[];
  /** Every process that can never be chosen, pid ascending. */
  excluded: Exclusion[];
  /** The scope size in pages used to scale oom_score_adj. */
  totalPages: number;
  /**
   * Processes exiting on their own or killed by someone else (PF_EXITING, SIGKILL pending), most
   * memory first. While there is one, nobody else is chosen: it is waited for first, as the kernel's
   * OOM killer waits for a victim in flight instead of taking a second one.
   */
  inFlight: InFlight[];
}

/** Reason given to a process the tracker still watches dying. */
export const ALIVE_VICTIM_REASON = "killed earlier (or found exiting and waited for), still exiting";
/** Reason given to a process that is exiting without our kill. */
export const IN_FLIGHT_REASON = "already exiting (killed by someone else or exiting itself): waited for, not chosen";
/** Reason given to an exiting process too small to wait for. */
export const SMALL_EXIT_REASON = "already exiting, too small to wait for";

/** The kernel's own exclusions that hold even for a task on its way out (oom_unkillable_task()). */
const ALWAYS_UNKILLABLE = new Set(["init", "kernel-thread", "self"]);

/**
 * On its way out with memory still to give back. A zombie leader counts only while other threads
 * live on: they hold the mm (a killed process whose main thread went first shows Z, with the
 * memory in a thread still unmapping it); a plain zombie has nothing left.
 */
function isInFlight(proc: Snapshot["processes"][number], killedElsewhere: ReadonlySet<string>): boolean {
  const gone = proc.state === "X" || (proc.state === "Z" && proc.threads <= 1);
  return !gone && (proc.exiting || killedElsewhere.has(identityKey(proc)));
}

export function rankCandidates(snapshot: Snapshot, options: RankOptions): RankedSnapshot {
  const totalPages = computeTotalPages(snapshot.cgroup, snapshot.pageSizeBytes, options.totalMemoryPages);
  const alive = new Set((options.aliveVictims ?? []).map(identityKey));
  const killedElsewhere = new Set((options.killedElsewhere ?? []).map(identityKey));
  const minInFlightBytes = options.minInFlightBytes ?? 0;
  const rules = options.rules ?? [];
  const candidates: Candidate[] = [];
  const excluded: Exclusion[] = [];
  const inFlight: InFlight[] = [];
  for (const proc of snapshot.processes) {
    const badness = oomBadness(proc, snapshot.selfPid, totalPages, snapshot.pageSizeBytes);
    if (badness.points === null && ALWAYS_UNKILLABLE.has(badness.code)) {
      excluded.push({ pid: proc.pid, comm: proc.comm, reason: badness.reason });
    } else if (alive.has(identityKey(proc))) {
      excluded.push({ pid: proc.pid, comm: proc.comm, reason: ALIVE_VICTIM_REASON });
    } else if (isInFlight(proc, killedElsewhere)) {
      // Past exit_mm it shows no memory, yet it is freeing it right now: "no mm" must not hide it.
      // Past exit_mm (no memory shown) it is worth waiting for unless an earlier listing saw it
      // small: a short-lived process on its way out must not hold up a decision.
      const peakBytes = proc.rssBytes === 0 ? (options.growth?.rates.peakBytesBefore(proc) ?? null) : null;
      const freeing = proc.rssBytes === 0 && (peakBytes === null || peakBytes >= minInFlightBytes);
      const worthWaiting = freeing || proc.rssBytes >= minInFlightBytes || killedElsewhere.has(identityKey(proc));
      excluded.push({ pid: proc.pid, comm: proc.comm, reason: worthWaiting ? IN_FLIGHT_REASON : SMALL_EXIT_REASON });
      if (worthWaiting) inFlight.push({ pid: proc.pid, comm: proc.comm, startTimeTicks: proc.startTimeTicks, rssBytes: proc.rssBytes });
    } else if (badness.points === null) {
      excluded.push({ pid: proc.pid, comm: proc.comm, reason: badness.reason });
    } else {
      const match = matchVictimRule(proc, rules);
      if (match?.action === "protect") excluded.push({ pid: proc.pid, comm: proc.comm, reason: `protected by ${match.source}`, rule: match.name });
      else candidates.push(candidateOf(proc, badness, match, options.growth, snapshot.pageSizeBytes));
    }
  }
  candidates.sort(compareCandidates);
  excluded.sort(compareExclusions);
  inFlight.sort((a, b) => b.rssBytes - a.rssBytes || a.pid - b.pid || a.startTimeTicks - b.startTimeTicks);
  const top = topCandidates({ candidates, excluded }, options.maxCandidates);
  if (snapshot.screenedOut !== undefined && top.length < options.maxCandidates) {
    top.push(...screenedRunnersUp(snapshot, snapshot.screenedOut, options).slice(0, options.maxCandidates - top.length));
  }
  return { candidates, top, excluded, totalPages, inFlight };
}

/**
 * The processes a screening left out, ranked by this same ranking on what it read (their memory
 * now, the rest as last read in full), each marked screened: the journal's list goes on with them
 * after the candidates, so a decision still shows who came next. They are never in the kill order:
 * the screening read in full every process that could rank among the first candidates.
 */
function screenedRunnersUp(snapshot: Snapshot, screenedOut: ProcessSample[], options: RankOptions): Candidate[] {
  const { screenedOut: _screenedOut, ...rest } = snapshot;
  return rankCandidates({ ...rest, processes: screenedOut }, options).candidates.map((c) => ({ ...c, screened: true, reason: c.reason + SCREENED_REASON }));
}

/** What a screened runner-up's reason ends with. */
export const SCREENED_REASON = "; screened: rss from stat, the rest as last read in full (not a candidate to kill)";

/** A killable process as a candidate: its badness, its growth over the horizon, and the rule that placed it. */
function candidateOf(proc: ProcessSample, badness: KillableBadness, match: RuleMatch | null, growth: GrowthProjection | undefined, pageSizeBytes: number): Candidate {
  const candidate: Candidate = { pid: proc.pid, comm: proc.comm, startTimeTicks: proc.startTimeTicks, rssBytes: proc.rssBytes, score: badness.points, reason: badness.reason };
  if (growth !== undefined) {
    const { idle, growthPages, bytesPerSec } = growthRank(proc, growth, pageSizeBytes);
    if (idle) {
      candidate.idle = true;
      candidate.reason += "; idle (not growing): after every growing process";
    } else if (growthPages > 0 && bytesPerSec !== null) {
      candidate.growthPages = growthPages;
      candidate.reason += `; growing ${(bytesPerSec / MIB).toFixed(1)} MiB/s, +${growthPages} pages projected over ${formatSeconds(growth.horizonMs)} s`;
    }
  }
  if (match !== null && match.action !== "protect") {
    candidate.rule = match.name;
    candidate.ruleAction = match.action;
    candidate.reason += `; ${match.source}: ${match.action}`;
  }
  return candidate;
}

const MIB = 1024 * 1024;

/** What growth does to a process's rank: idle (measured, not growing) ranks after every growing one; a grower's badness is projected. */
export function growthRank(proc: ProcessIdentity, growth: GrowthProjection, pageSizeBytes: number): { idle: boolean; growthPages: number; bytesPerSec: number | null } {
  const bytesPerSec = growth.rates.bytesPerSec(proc);
  const idle = bytesPerSec !== null && bytesPerSec < IDLE_BELOW_BYTES_PER_SEC;
  return { idle, growthPages: idle || bytesPerSec === null ? 0 : projectedGrowthPages(bytesPerSec, growth.horizonMs, pageSizeBytes), bytesPerSec };
}

/**
 * Growth below this is idle: 2.5 MiB over the 10 s horizon, more than an idle process's RSS
 * moves (a few pages of stack and heap), less than any leak or worker that fills a machine.
 */
export const IDLE_BELOW_BYTES_PER_SEC = 256 * 1024;

function formatSeconds(ms: number): string {
  return String(Math.round(ms / 100) / 10);
}

/** The best n candidates of a ranking (n below 0 or not a number gives none). */
export function topCandidates(ranking: Ranking, n: number): Candidate[] {
  const count = Number.isNaN(n) ? 0 : Math.max(0, Math.floor(n));
  return ranking.candidates.slice(0, count);
}

/** Negative when a is the better victim. A total order: equal only for identical candidates. */
export function compareCandidates(a: Candidate, b: Candidate): number {
  return (
    classOf(a) - classOf(b) ||
    (a.idle === true ? 1 : 0) - (b.idle === true ? 1 : 0) ||
    projectedScore(b) - projectedScore(a) ||
    b.score - a.score ||
    b.rssBytes - a.rssBytes ||
    a.pid - b.pid ||
    a.startTimeTicks - b.startTimeTicks ||
    compareStrings(a.comm, b.comm) ||
    compareStrings(a.rule ?? "", b.rule ?? "") ||
    compareStrings(a.reason, b.reason)
  );
}

/** prefer before every other, avoid after every other. */
function classOf(candidate: Candidate): number {
  return candidate.ruleAction === "prefer" ? 0 : candidate.ruleAction === "avoid" ? 2 : 1;
}

/** The badness a candidate is ranked on: its score with its growth over the horizon. */
export function projectedScore(candidate: Candidate): number {
  return candidate.score + (candidate.growthPages ?? 0);
}

function compareExclusions(a: Exclusion, b: Exclusion): number {
  return a.pid - b.pid || compareStrings(a.comm, b.comm) || compareStrings(a.reason, b.reason);
}

/** Code-unit order: the same on every machine (localeCompare depends on the locale). */
function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function identityKey(identity: ProcessIdentity): string {
  return `${identity.pid}:${identity.startTimeTicks}`;
}
