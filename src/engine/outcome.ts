// Small pure helpers over outcomes and decision records, shared by the engine's parts.

import type { Candidate, CgroupSample } from "../core/types.js";
import type { DecidedRecord, Outcome, VictimRecord } from "./journal-record.js";

export function atLimit(cgroup: CgroupSample): boolean {
  // v2 has no under_oom: a cgroup within a page of its limit is still out of memory.
  return cgroup.limitBytes !== null && cgroup.usageBytes >= cgroup.limitBytes - 4096;
}

export function emptyOutcome(result: Outcome["result"]): Outcome {
  return {
    result,
    freedBytes: null,
    msToKill: null,
    msToMemoryBack: null,
    victimExited: false,
    reap: null,
    observations: 0,
  };
}

export function victimRecord(candidate: Candidate): VictimRecord {
  const record: VictimRecord = {
    pid: candidate.pid,
    comm: candidate.comm,
    startTime: candidate.startTimeTicks,
    rssBytes: candidate.rssBytes,
  };
  if (candidate.rule !== undefined) record.rule = candidate.rule;
  return record;
}

const MIB = 1024 * 1024;

export function describeDecision(record: DecidedRecord): string {
  const where = record.incident.cgroup;
  const who = record.victim ?? record.waitingFor ?? null;
  const victim = who ? `${who.comm}[${who.pid}] (rss ${(who.rssBytes / MIB).toFixed(1)} MiB)` : "nobody";
  const o = record.outcome;
  const timing = [
    o.msToKill !== null ? `${record.action === "terminate" ? "SIGTERM" : "SIGKILL"} after ${o.msToKill.toFixed(2)} ms` : null,
    o.sigterm !== undefined && o.sigterm.msToSigkill !== null ? `SIGKILL after ${o.sigterm.msToSigkill.toFixed(2)} ms (${o.sigterm.ending})` : null,
    o.msToMemoryBack !== null ? `memory back after ${o.msToMemoryBack.toFixed(2)} ms` : null,
    o.freedBytes !== null ? `${(o.freedBytes / MIB).toFixed(1)} MiB freed` : null,
  ]
    .filter((x) => x !== null)
    .join(", ");
  const hand = o.endedBy === "kernel" ? " by the kernel's OOM killer" : "";
  return `${where}: decision ${record.decisionId} ${record.action} ${victim}: ${o.result}${hand}${timing ? ` (${timing})` : ""}`;
}
