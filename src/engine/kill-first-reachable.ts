// The kill itself: the best candidate whose pid still has the ranked start time gets SIGKILL through
// a pidfd; one that vanished or was reused is recorded as an exclusion and the next is tried.

import type { Candidate, Exclusion } from "../core/types.js";
import type { KilledVictim } from "./confirm-kill.js";
import type { Host } from "./host.js";
import type { Outcome } from "./journal-record.js";
import type { KilledRegistry } from "./killed-registry.js";

/**
 * stillNeeded is asked with the candidate's pidfd open, just before the signal: false means the
 * scope is no longer out of memory and nobody is killed.
 */
export function killFirstReachable(host: Host, candidates: Candidate[], excluded: Exclusion[], stillNeeded: () => boolean = () => true): KilledVictim | null {
  for (const candidate of candidates) {
    const opened = host.openVictim(candidate.pid, candidate.startTimeTicks);
    if (!opened.ok) {
      excluded.push({ pid: candidate.pid, comm: candidate.comm, reason: `not killed: ${opened.error.message}` });
      continue;
    }
    if (!stillNeeded()) {
      host.releaseVictim(opened.value);
      return null;
    }
    const sent = host.kill(opened.value);
    if (!sent.ok) {
      host.releaseVictim(opened.value);
      excluded.push({ pid: candidate.pid, comm: candidate.comm, reason: `SIGKILL failed: ${sent.error.message}` });
      continue;
    }
    return { handle: opened.value, candidate, killedAtMs: host.now() };
  }
  return null;
}

/** When each phase of a decision started, so the time to SIGKILL can be split up in the journal. */
export interface DecisionTimes {
  notifiedAtMs: number;
  snapshotStartMs: number;
  rankStartMs: number;
  processes: number;
}

/** Kills the first reachable candidate, registers it engine-wide, and says where the time went. */
export function killAndTime(
  host: Host,
  registry: KilledRegistry,
  candidates: Candidate[],
  excluded: Exclusion[],
  times: DecisionTimes,
  stillNeeded?: () => boolean,
): { killed: KilledVictim | null; phasesMs: NonNullable<Outcome["phasesMs"]> } {
  const killStartMs = host.now();
  const killed = killFirstReachable(host, candidates, excluded, stillNeeded);
  if (killed !== null) registry.add(killed.handle);
  const phasesMs = {
    detect: times.snapshotStartMs - times.notifiedAtMs,
    snapshot: times.rankStartMs - times.snapshotStartMs,
    rank: killStartMs - times.rankStartMs,
    kill: host.now() - killStartMs,
    processes: times.processes,
  };
  return { killed, phasesMs };
}
