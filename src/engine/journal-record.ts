// What the engine tells the journal. The daemon stamps wall-clock time and writes one JSON line per record.
//
// A decision is two records: the decision itself, journaled as soon as its action is taken (right
// after the SIGKILL, before any confirmation), and its outcome, journaled once the victim's memory
// is back or the wait ends, linked by decisionId. A daemon killed in between leaves the decision on
// disk: every kill stays explainable.

import type { Candidate, Exclusion, IncidentKind, MemoryEventCounters } from "../core/types.js";
import type { StallEvidence } from "./host.js";
import type { GraceEnding } from "./terminate-grace.js";

export interface VictimRecord {
  pid: number;
  comm: string;
  startTime: number;
  rssBytes: number;
  /** The victim rule (or cgroup xattr) that placed it, as its candidate shows. */
  rule?: string;
}

export type ActionKind =
  /** SIGKILL through a pidfd. */
  | "kill"
  /** The machine's terminate level: SIGTERM through a pidfd, then SIGKILL if the grace ends with memory still short. */
  | "terminate"
  /** Whole cgroup (v2 memory.oom.group) through cgroup.kill. */
  | "kill-cgroup"
  /** --dry-run: the decision is recorded, nothing is killed. */
  | "dry-run"
  /** Nothing could be chosen (every process excluded, or all vanished), or the scope recovered before the signal. */
  | "none"
  /** A process of the scope was already exiting (killed by someone else): nobody is killed while it frees its memory. */
  | "wait";

export type OutcomeResult =
  /** The victim is gone or reaped and the cgroup left the OOM state. */
  | "recovered"
  /**
   * The scope left the OOM state while the victim had neither exited nor been reaped, and it was
   * still alive after the tracker's patience: the memory came back from elsewhere (the kernel's
   * kill, another process's exit). The victim stays excluded from later decisions.
   */
  | "recovered-elsewhere"
  /** The victim made no progress for the configured number of observations; the next victim follows. */
  | "escalated"
  /** The victim exited and its memory came back, but the cgroup is still out of memory: a fresh decision follows. */
  | "exited-still-oom"
  /** Nothing to kill, or the victim vanished before the signal. */
  | "nothing-done"
  /** Read again just before the signal, the scope was out of memory no more: nobody was killed. */
  | "resolved-before-kill"
  /** The decision is journaled, its outcome never was: the daemon stopped or died first. */
  | "pending"
  /** The confirmation deadline passed without recovery and without a candidate left. */
  | "unresolved"
  /** Dry run. */
  | "not-acted"
  /** terminate: the victim was still alive at the grace's end, but memory was no longer short, so no SIGKILL followed. */
  | "survived-sigterm";

/**
 * process_mrelease right after a SIGTERM: "reaped", the victim's memory freed beside its exit (it left
 * SIGTERM to its default action, as fatal as SIGKILL); "already-exiting", its exit was freeing it
 * already; "refused", it was not dying (it catches, blocks or ignores SIGTERM), so the grace ran;
 * "failed", any other error; null, still running when journaled.
 */
export type ReapAtSigterm = "reaped" | "already-exiting" | "refused" | "failed" | null;

export interface Outcome {
  result: OutcomeResult;
  /** cgroup usage in the snapshot minus usage when memory was back (or at the last observation). */
  freedBytes: number | null;
  /** From the kernel's notification to SIGKILL sent. */
  msToKill: number | null;
  /** From the kernel's notification to the first observation with the victim's memory released and the cgroup out of OOM. */
  msToMemoryBack: number | null;
  victimExited: boolean;
  reap: { durationMs: number; alreadyGone: boolean } | { error: string } | null;
  observations: number;
  /** kill-cgroup: the processes cgroup.kill took with it. */
  groupKilledPids?: number[];
  /** A unit kill: the members the signals reached besides the victim, and what failed. */
  unitSignalled?: { pids: number[]; errors: string[] };
  /** terminate: how the grace after SIGTERM ended, when SIGKILL followed (from the notification; null: none), and the reap tried right after the SIGTERM. */
  sigterm?: { graceMs: number; ending: GraceEnding; msToSigkill: number | null; reapAtSigterm: ReapAtSigterm };
  /**
   * The time to SIGKILL split by phase (notification to snapshot, snapshot, ranking, pidfd open and
   * signal), the processes read, and the daemon's own major page faults from the snapshot to the
   * signal (pages of its code or data read back from disk: 0 when it stayed resident), and how
   * much of that time its main thread was on a CPU (onCpuMs, to a scheduler tick) and runnable but
   * waiting for one (runQueueMs); the rest of snapshot + rank + kill it was blocked (faults, I/O).
   * userCpuMs and systemCpuMs split the CPU time of all its threads by mode (to the kernel's tick
   * sampling): system time is the kernel's work for it, its system calls and any reclaim its own
   * allocations had to wait for.
   */
  phasesMs?: {
    detect: number;
    snapshot: number;
    rank: number;
    kill: number;
    processes: number;
    majorFaults?: number;
    cpuGivenBackMs?: number;
    onCpuMs?: number;
    runQueueMs?: number;
    userCpuMs?: number;
    systemCpuMs?: number;
  };
  /**
   * "kernel": the victim was taken by the kernel's OOM killer (a kernel-kill record names it), not
   * by our signal: its SIGKILL landed first, between the decision and our signal or during a
   * SIGTERM's grace. The memory came back by the kernel's hand.
   */
  endedBy?: "kernel";
  /** What the action returned when it failed: the SIGKILL after the decision was journaled, or a wait's pidfd open. */
  actionError?: string;
  /** Times the victim stalled long enough to escalate but the scope was not critical, so nobody else was killed (a slow victim costs no innocent's life). */
  escalationsHeldBack?: number;
  /** Present when the victim did not die promptly (stuck behind a lock, say): what it was doing. */
  stall?: StallEvidence & { msSinceKill: number; observationsWithoutProgress: number; explanation: string };
}

/** What went with the victim (the machine guard's killUnit), as decided before its signal. */
export type UnitRecord =
  /** The process alone, though another unit was configured: why. */
  | { kind: "process"; note: string; pids: number[]; spared: { pid: number; comm: string }[] }
  | { kind: "process-group"; pgid: number; pids: number[]; spared: { pid: number; comm: string }[] }
  | { kind: "cgroup"; cgroup: string; reason: string; byCgroupKill: boolean; pids: number[]; spared: { pid: number; comm: string }[] };

export interface ScreeningRecord {
  /** Processes in the snapshot: read in full, by the screening's choice or because the host did not know them yet. */
  readInFull: number;
  screenedOut: number;
  /** The most any screened-out process could have ranked on, in pages (badness and growth). */
  screenedOutAtMostPages: number | null;
}

export interface DecisionRecord {
  type: "decision";
  decisionId: number;
  incident: {
    kind: IncidentKind;
    cgroup: string;
    usageBytes: number;
    limitBytes: number | null;
    /** v2: memory.events counters at the snapshot (low, high, max, oom, oom_kill, oom_group_kill); v1: oom_kill only. */
    events: MemoryEventCounters;
    /** Machine guard and soft-limit decisions: the rule that fired, with its numbers. */
    reason?: string;
    /** Machine guard decisions: the machine's state in the sample that decided ("/" as cgroup; usage = total - available, limit = total). */
    machine?: {
      availableBytes: number;
      freeBytes: number;
      minWatermarkBytes: number;
      swapFreeBytes: number;
      swapTotalBytes: number;
      psiFullTotalUs: number | null;
    };
  };
  /** The best victims first; after them, where a screening left processes out, the best of those (marked screened). */
  candidates: Candidate[];
  excluded: Exclusion[];
  /**
   * A screening listing (machine guard): the processes read in full, and those left out because
   * the kernel's badness of each (its oom_score's band, with its growth) could not reach the
   * victim's (decision-listing.ts FULL_READ_CANDIDATES); `excluded` then names only processes read in full.
   */
  screening?: ScreeningRecord;
  victim: VictimRecord | null;
  action: ActionKind;
  /** The victim's unit: the other members signalled with it (pids), and the protected ones spared. */
  unit?: UnitRecord;
  /** action "wait": the process already exiting that is waited for instead of choosing a victim. */
  waitingFor?: VictimRecord;
  /** Set when this kill follows an earlier victim that stalled. */
  escalatedFrom: number | null;
  /** Earlier victims in this scope still alive when this decision was made. */
  priorVictimsAlive: number[];
  /** From the kernel's notification (or the observation that called for this decision) to SIGKILL sent; null without a signal. */
  msToKill: number | null;
  /** Where the time to SIGKILL went. */
  phasesMs?: Outcome["phasesMs"];
}

/** How a decision ended, journaled after its DecisionRecord (same decisionId). */
export interface OutcomeRecord {
  type: "outcome";
  decisionId: number;
  cgroup: string;
  action: ActionKind;
  /** The victim's (or the waited-for process's) pid, so the line reads on its own. */
  pid: number | null;
  /** OOM notifications that arrived while this decision was in progress and were absorbed by it. */
  suppressedNotifications: number;
  outcome: Omit<Outcome, "msToKill" | "phasesMs">;
}

/** A decision joined with its outcome: what the engine hands back, and what readers of the journal rebuild. */
export type DecidedRecord = Omit<DecisionRecord, "incident"> & {
  incident: DecisionRecord["incident"] & { suppressedNotifications: number };
  outcome: Outcome;
};

export interface KernelKillRecord {
  type: "kernel-kill";
  cgroup: string;
  /** Increase of memory.events oom_kill since the last observation. */
  oomKills: number;
  /** Dry run: pids of the snapshot that are gone after the kernel acted (its victims, or processes that exited). */
  goneSinceSnapshot?: number[];
  /** v2: the kernel's victims, named from its log, or from the processes exiting or gone since they were last listed. */
  victims?: KernelVictimRecord[];
  note: string;
}

export interface KernelVictimRecord {
  pid: number;
  comm: string;
  /** At the kill (kernel log) or when last seen (otherwise); null: unknown. */
  rssBytes: number | null;
  /** How it was named: "kernel log"; "exiting" (found with SIGKILL pending or in exit); "gone" (listed before, gone now). */
  source: "kernel log" | "exiting" | "gone";
}

export interface LifecycleRecord {
  /** notice: a condition seen and deliberately not acted on (a rate limit), with the reason. */
  type: "manage" | "release" | "error" | "daemon" | "notice";
  cgroup?: string;
  message: string;
  notes?: string[];
  /** A notice that the machine reached a level that journals and signals nobody (warn): what warnCommand runs on. */
  level?: "warn";
}

export type JournalRecord = DecisionRecord | OutcomeRecord | KernelKillRecord | LifecycleRecord;

/** Joins a decision with its outcome record (or none yet: "pending"). */
export function joinDecision(decision: DecisionRecord, outcome: OutcomeRecord | undefined): DecidedRecord {
  const base: Omit<Outcome, "msToKill" | "phasesMs"> = outcome?.outcome ?? {
    result: "pending",
    freedBytes: null,
    msToMemoryBack: null,
    victimExited: false,
    reap: null,
    observations: 0,
  };
  const joined: Outcome = { ...base, msToKill: decision.msToKill };
  if (decision.phasesMs !== undefined) joined.phasesMs = decision.phasesMs;
  return { ...decision, incident: { ...decision.incident, suppressedNotifications: outcome?.suppressedNotifications ?? 0 }, outcome: joined };
}

/**
 * Every decision of a journal, in order, each with its outcome. An outcome belongs to the latest
 * decision with its id before it: ids start again at 1 with each daemon writing to the same file.
 */
export function joinDecisions(records: readonly JournalRecord[]): DecidedRecord[] {
  const decisions: DecisionRecord[] = [];
  const outcomes: (OutcomeRecord | undefined)[] = [];
  const latestById = new Map<number, number>();
  for (const record of records) {
    if (record.type === "decision") {
      latestById.set(record.decisionId, decisions.length);
      decisions.push(record);
      outcomes.push(undefined);
    } else if (record.type === "outcome") {
      const index = latestById.get(record.decisionId);
      const decision = index === undefined ? undefined : decisions[index];
      // Same id, action and process, or it belongs to a decision whose own record was lost.
      const pid = decision?.victim?.pid ?? decision?.waitingFor?.pid ?? null;
      if (index !== undefined && decision?.action === record.action && pid === record.pid) outcomes[index] = record;
    }
  }
  return decisions.map((d, i) => joinDecision(d, outcomes[i]));
}

/** Appends and flushes before returning: the engine moves on only after a record is durable. */
export interface JournalSink {
  append(record: JournalRecord): void;
  /**
   * Written before returning (a daemon killed next leaves it in the file), flushed to the disk by
   * flush(): the record of a kill goes out right after the signal, and the reap need not wait for
   * the disk first. Sinks without it get append().
   */
  appendUnflushed?(record: JournalRecord): void;
  flush?(): void;
}
