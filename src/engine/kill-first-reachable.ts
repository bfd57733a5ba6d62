// The kill itself: the best candidate whose pid still has the ranked start time, and that we may
// signal, gets SIGKILL through a pidfd; one that vanished, was reused or is not ours to signal is
// recorded as an exclusion and the next is tried. Just before the signal, with the pidfd open, the
// scope is asked once more whether a kill is still needed, and the decision is written down: a
// daemon that dies at any instant after the signal leaves it on disk.

import type { Candidate, Exclusion } from "../core/types.js";
import type { KilledVictim } from "./confirm-kill.js";
import type { Host, SelfUsage, ThreadSchedule, VictimHandle } from "./host.js";
import type { Outcome } from "./journal-record.js";
import type { KilledRegistry } from "./killed-registry.js";

export interface KillHooks {
  /** false: the scope is no longer out of memory; nobody is killed. */
  stillNeeded?: () => boolean;
  /** The last step before the signal (the decision's record goes to the journal here). */
  beforeSignal?: (candidate: Candidate, atMs: number) => void;
  /** SIGTERM instead of SIGKILL: the terminate level's first signal. */
  sigterm?: boolean;
  /**
   * A rehearsal: the last look and beforeSignal run whatever the look says (so every function on
   * the way to the signal has been compiled before a real decision needs it), then the victim's
   * pidfd is closed and nothing is sent.
   */
  rehearsal?: true;
}

export type KillAttempt =
  | { kind: "killed"; killed: KilledVictim }
  /** No candidate could be opened and signalled. */
  | { kind: "none-reachable" }
  /** stillNeeded said no. */
  | { kind: "no-longer-needed" }
  /** The SIGKILL itself failed after beforeSignal ran: ESRCH when the victim exited in between. */
  | { kind: "signal-failed"; candidate: Candidate; code: string; message: string };

export function killFirstReachable(host: Host, candidates: Candidate[], excluded: Exclusion[], hooks: KillHooks = {}): KillAttempt {
  for (const candidate of candidates) {
    const opened = host.openVictim(candidate.pid, candidate.startTimeTicks);
    if (!opened.ok) {
      excluded.push({ pid: candidate.pid, comm: candidate.comm, reason: `not killed: ${opened.error.message}` });
      continue;
    }
    // Signal 0 first: a process we may not signal (another user's) is skipped before anything is journaled.
    const allowed = host.maySignal(opened.value);
    if (!allowed.ok) {
      host.releaseVictim(opened.value);
      excluded.push({ pid: candidate.pid, comm: candidate.comm, reason: `not killed: ${allowed.error.message}` });
      continue;
    }
    const needed = hooks.stillNeeded === undefined || hooks.stillNeeded();
    if (hooks.rehearsal === true) {
      hooks.beforeSignal?.(candidate, host.now());
      host.releaseVictim(opened.value);
      return { kind: "no-longer-needed" };
    }
    if (!needed) {
      host.releaseVictim(opened.value);
      return { kind: "no-longer-needed" };
    }
    hooks.beforeSignal?.(candidate, host.now());
    return signal(host, opened.value, candidate, hooks.sigterm === true);
  }
  return { kind: "none-reachable" };
}

function signal(host: Host, handle: VictimHandle, candidate: Candidate, sigterm: boolean): KillAttempt {
  const sent = sigterm ? host.terminate(handle) : host.kill(handle);
  if (!sent.ok) {
    host.releaseVictim(handle);
    return { kind: "signal-failed", candidate, code: sent.error.code, message: sent.error.message };
  }
  return { kind: "killed", killed: { handle, candidate, killedAtMs: host.now() } };
}

/** When each phase of a decision started, so the time to SIGKILL can be split up in the journal. */
export interface DecisionTimes {
  notifiedAtMs: number;
  snapshotStartMs: number;
  rankStartMs: number;
  processes: number;
  /** The daemon's major faults and CPU time when the snapshot began (host.selfUsage()). */
  usageAtSnapshot: SelfUsage;
  /** The CPU it had given back when the snapshot began (host.cpuGivenBackMs()). */
  givenBackMsAtSnapshot: number;
  /** Its main thread's time on and waiting for a CPU when the snapshot began (host.mainThreadSchedule()). */
  scheduleAtSnapshot: ThreadSchedule | null;
}

export type Phases = NonNullable<Outcome["phasesMs"]>;

/** Major faults since `at`, and the CPU time in user and in kernel mode where the host measures it. */
function usageSince(host: Host, at: SelfUsage): { majorFaults: number; userCpuMs?: number; systemCpuMs?: number } {
  const now = host.selfUsage();
  const cpu =
    now.userCpuMs === null || now.systemCpuMs === null || at.userCpuMs === null || at.systemCpuMs === null
      ? {}
      : { userCpuMs: now.userCpuMs - at.userCpuMs, systemCpuMs: now.systemCpuMs - at.systemCpuMs };
  return { majorFaults: now.majorFaults - at.majorFaults, ...cpu };
}

/** The main thread's time on a CPU and waiting for one since `at` (nothing when the kernel does not say). */
function scheduleSince(host: Host, at: ThreadSchedule | null): { onCpuMs?: number; runQueueMs?: number } {
  const now = at === null ? null : host.mainThreadSchedule();
  if (at === null || now === null) return {};
  return { onCpuMs: now.onCpuMs - at.onCpuMs, runQueueMs: now.runQueueMs - at.runQueueMs };
}

/**
 * Kills the first reachable candidate and registers it engine-wide. beforeSignal also gets where
 * the time went up to the signal, so the record written before it can say so.
 */
export function killAndTime(
  host: Host,
  registry: KilledRegistry,
  candidates: Candidate[],
  excluded: Exclusion[],
  times: DecisionTimes,
  hooks: { stillNeeded?: () => boolean; beforeSignal?: (candidate: Candidate, phasesMs: Phases, atMs: number) => void; sigterm?: boolean; rehearsal?: true } = {},
): { attempt: KillAttempt; phasesMs: Phases } {
  const killStartMs = host.now();
  const phasesUntil = (atMs: number): Phases => ({
    detect: times.snapshotStartMs - times.notifiedAtMs,
    snapshot: times.rankStartMs - times.snapshotStartMs,
    rank: killStartMs - times.rankStartMs,
    kill: atMs - killStartMs,
    processes: times.processes,
    cpuGivenBackMs: host.cpuGivenBackMs() - times.givenBackMsAtSnapshot,
    ...usageSince(host, times.usageAtSnapshot),
    ...scheduleSince(host, times.scheduleAtSnapshot),
  });
  const attempt = killFirstReachable(host, candidates, excluded, {
    ...(hooks.stillNeeded !== undefined ? { stillNeeded: hooks.stillNeeded } : {}),
    ...(hooks.sigterm === true ? { sigterm: true } : {}),
    ...(hooks.rehearsal === true ? { rehearsal: true } : {}),
    beforeSignal: (candidate, atMs) => hooks.beforeSignal?.(candidate, phasesUntil(atMs), atMs),
  });
  if (attempt.kind === "killed") registry.add(attempt.killed.handle);
  return { attempt, phasesMs: phasesUntil(host.now()) };
}
