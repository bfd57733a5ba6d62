// What the engine tells the journal. The daemon stamps wall-clock time and writes one JSON line per record.

import type { Candidate, Exclusion, IncidentKind, MemoryEventCounters } from "../core/types.js";
import type { StallEvidence } from "./host.js";

export interface VictimRecord {
  pid: number;
  comm: string;
  startTime: number;
  rssBytes: number;
}

export type ActionKind =
  /** SIGKILL through a pidfd. */
  | "kill"
  /** Whole cgroup (v2 memory.oom.group) through cgroup.kill. */
  | "kill-cgroup"
  /** --dry-run: the decision is recorded, nothing is killed. */
  | "dry-run"
  /** Nothing could be chosen (every process excluded, or all vanished). */
  | "none";

export type OutcomeResult =
  /** The victim is gone or reaped and the cgroup left the OOM state. */
  | "recovered"
  /** The victim made no progress for the configured number of observations; the next victim follows. */
  | "escalated"
  /** The victim exited and its memory came back, but the cgroup is still out of memory: a fresh decision follows. */
  | "exited-still-oom"
  /** Nothing to kill, or the victim vanished before the signal. */
  | "nothing-done"
  /** The confirmation deadline passed without recovery and without a candidate left. */
  | "unresolved"
  /** Dry run. */
  | "not-acted";

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
  /** The time to SIGKILL split by phase (notification to snapshot, snapshot, ranking, pidfd open and signal), and the processes read. */
  phasesMs?: { detect: number; snapshot: number; rank: number; kill: number; processes: number };
  /** Times the victim stalled long enough to escalate but the scope was not critical, so nobody else was killed (seed 000). */
  escalationsHeldBack?: number;
  /** Present when the victim did not die promptly (seed 001): what it was doing. */
  stall?: StallEvidence & { msSinceKill: number; observationsWithoutProgress: number; explanation: string };
}

export interface DecisionRecord {
  type: "decision";
  decisionId: number;
  incident: {
    kind: IncidentKind;
    cgroup: string;
    usageBytes: number;
    limitBytes: number | null;
    /** OOM notifications that arrived while this decision was in progress and were absorbed by it. */
    suppressedNotifications: number;
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
  candidates: Candidate[];
  excluded: Exclusion[];
  victim: VictimRecord | null;
  action: ActionKind;
  /** Set when this kill follows an earlier victim that stalled. */
  escalatedFrom: number | null;
  /** Earlier victims in this scope still alive when this decision was made. */
  priorVictimsAlive: number[];
  outcome: Outcome;
}

export interface KernelKillRecord {
  type: "kernel-kill";
  cgroup: string;
  /** Increase of memory.events oom_kill since the last observation. */
  oomKills: number;
  /** Dry run: pids of the snapshot that are gone after the kernel acted (its victims, or processes that exited). */
  goneSinceSnapshot?: number[];
  note: string;
}

export interface LifecycleRecord {
  /** notice: a condition seen and deliberately not acted on (a rate limit), with the reason. */
  type: "manage" | "release" | "error" | "daemon" | "notice";
  cgroup?: string;
  message: string;
  notes?: string[];
}

export type JournalRecord = DecisionRecord | KernelKillRecord | LifecycleRecord;

/** Appends and flushes before returning: the engine moves on only after a record is durable. */
export interface JournalSink {
  append(record: JournalRecord): void;
}
