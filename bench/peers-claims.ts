// Who killed what, from each handler's own words: the kernel log's OOM lines, earlyoom's and
// nohang's output, systemd-oomd's log, oomwarden's journal. Each parser turns one source into
// claims (a pid, or a cgroup whose processes all died, the signal, when it was said); the bench
// then gives each death in a run to the claim that names it. Times are the guest's monotonic ms
// at which the line was read (the journal's wall-clock stamps converted to that clock).

import { parseJournalText } from "../src/daemon/journal-reader.js";
import type { DecisionRecord, KernelKillRecord, OutcomeRecord } from "../src/engine/journal-record.js";

export type Killer = "kernel" | "earlyoom" | "nohang" | "systemd-oomd" | "oomwarden";

export interface KillClaim {
  by: Killer;
  /** The victim's pid, or null when a whole cgroup was killed (then `cgroup`). */
  pid: number | null;
  cgroup: string | null;
  signal: "SIGTERM" | "SIGKILL" | null;
  atMs: number;
  /** The line or record it came from, shortened. */
  evidence: string;
}

/** [guest ms, text]: a kernel log line as the guest read it (its own timestamp dropped). */
export type StampedLine = [number, string];

const KERNEL_KILLED = /Killed process (\d+) \(([^)]*)\)/;
const KERNEL_OOM_KILL = /oom-kill:.*task=([^,]*),pid=(\d+)/;

export function kernelClaims(lines: readonly StampedLine[]): KillClaim[] {
  const claims: KillClaim[] = [];
  for (const [atMs, text] of lines) {
    const killed = KERNEL_KILLED.exec(text) ?? null;
    const pid = killed !== null ? Number(killed[1]) : Number(KERNEL_OOM_KILL.exec(text)?.[2] ?? NaN);
    if (!Number.isInteger(pid)) continue;
    if (claims.some((c) => c.pid === pid)) continue; // the oom-kill: line and the Killed process line name the same kill
    claims.push({ by: "kernel", pid, cgroup: null, signal: "SIGKILL", atMs, evidence: text.slice(0, 160) });
  }
  return claims;
}

// earlyoom 1.7: `sending SIGTERM to process 1234 uid 0 "hog": badness 900, VmRSS 812 MiB`.
const EARLYOOM_SENDING = /sending (SIGTERM|SIGKILL) to process (\d+) uid \d+ "([^"]*)"/;

export function earlyoomClaims(lines: readonly StampedLine[]): KillClaim[] {
  return lines.flatMap(([atMs, text]) => {
    const m = EARLYOOM_SENDING.exec(text);
    return m === null ? [] : [{ by: "earlyoom" as const, pid: Number(m[2]), cgroup: null, signal: m[1] as "SIGTERM" | "SIGKILL", atMs, evidence: text.slice(0, 160) }];
  });
}

// nohang 0.2: the victim is named on a line of its own ("  PID: 1234, Name: hog, badness: 900", or
// the victim status "  PID:       1234, name: hog, state: R ..."), then
// "Implementing a corrective action:" and "  Sending SIGTERM to the victim".
const NOHANG_PID = /PID:\s+(\d+), [Nn]ame:/;
const NOHANG_SENDING = /Sending (SIGTERM|SIGKILL) to the victim/;

export function nohangClaims(lines: readonly StampedLine[]): KillClaim[] {
  const claims: KillClaim[] = [];
  let lastPid: number | null = null;
  for (const [atMs, text] of lines) {
    const named = NOHANG_PID.exec(text);
    if (named !== null) lastPid = Number(named[1]);
    const sending = NOHANG_SENDING.exec(text);
    if (sending !== null && lastPid !== null) {
      claims.push({ by: "nohang", pid: lastPid, cgroup: null, signal: sending[1] as "SIGTERM" | "SIGKILL", atMs, evidence: `pid ${lastPid}: ${text.trim()}` });
    }
  }
  return claims;
}

// systemd-oomd 252: "Killed /user.slice/.../app.slice/hog.scope due to memory pressure for ... being 63.12% > 50.00% for > 20s with reclaim activity".
const OOMD_KILLED = /Killed (\/\S*) due to (.*)$/;

export function oomdClaims(lines: readonly StampedLine[]): KillClaim[] {
  return lines.flatMap(([atMs, text]) => {
    const m = OOMD_KILLED.exec(text);
    return m === null ? [] : [{ by: "systemd-oomd" as const, pid: null, cgroup: m[1] ?? null, signal: "SIGKILL" as const, atMs, evidence: text.slice(0, 200) }];
  });
}

/** What the bench reports of each oomwarden decision. */
export interface WardenDecision {
  atMs: number;
  decisionId: number;
  kind: string;
  reason: string | null;
  action: string;
  victim: { pid: number; comm: string; rssMiB: number } | null;
  candidates: Array<{ pid: number; comm: string; score: number; rssMiB: number }>;
  msToKill: number | null;
  phasesMs: DecisionRecord["phasesMs"] | null;
  availableMiB: number | null;
  result: string | null;
  victimExited: boolean | null;
  msToMemoryBack: number | null;
  groupKilledPids: number[];
}

export interface WardenJournal {
  decisions: WardenDecision[];
  kernelKills: Array<{ atMs: number; victims: Array<{ pid: number; comm: string }> }>;
  notices: Array<{ atMs: number; message: string }>;
  claims: KillClaim[];
}

const MIB = 1024 * 1024;

/** oomwarden's journal, its wall-clock stamps turned into guest monotonic ms (epoch - monotonic, measured in the guest). */
export function wardenJournal(text: string, epochMinusMonotonicMs: number): WardenJournal {
  const records = parseJournalText(text).records;
  const at = (time: string): number => Date.parse(time) - epochMinusMonotonicMs;
  const outcomes = new Map<number, OutcomeRecord>();
  for (const r of records) if (r.type === "outcome") outcomes.set(r.decisionId, r);
  const decisions: WardenDecision[] = [];
  const claims: KillClaim[] = [];
  const kernelKills: WardenJournal["kernelKills"] = [];
  const notices: WardenJournal["notices"] = [];
  for (const r of records) {
    if (r.type === "decision") {
      const d = r as DecisionRecord & { time: string };
      const outcome = outcomes.get(d.decisionId)?.outcome;
      const groupKilledPids = outcome?.groupKilledPids ?? [];
      decisions.push({
        atMs: at(d.time),
        decisionId: d.decisionId,
        kind: d.incident.kind,
        reason: d.incident.reason ?? null,
        action: d.action,
        victim: d.victim === null ? null : { pid: d.victim.pid, comm: d.victim.comm, rssMiB: d.victim.rssBytes / MIB },
        candidates: d.candidates.slice(0, 5).map((c) => ({ pid: c.pid, comm: c.comm, score: c.score, rssMiB: c.rssBytes / MIB })),
        msToKill: d.msToKill,
        phasesMs: d.phasesMs ?? null,
        availableMiB: d.incident.machine === undefined ? null : d.incident.machine.availableBytes / MIB,
        result: outcome?.result ?? null,
        victimExited: outcome?.victimExited ?? null,
        msToMemoryBack: outcome?.msToMemoryBack ?? null,
        groupKilledPids,
      });
      const signal = d.action === "terminate" ? "SIGTERM" : d.action === "kill" || d.action === "kill-cgroup" ? "SIGKILL" : null;
      if (signal !== null && d.victim !== null) {
        claims.push({ by: "oomwarden", pid: d.victim.pid, cgroup: null, signal, atMs: at(d.time), evidence: `decision ${d.decisionId} ${d.incident.kind} ${d.action} ${d.victim.comm}` });
      }
      for (const pid of groupKilledPids) {
        if (pid !== d.victim?.pid) claims.push({ by: "oomwarden", pid, cgroup: null, signal: "SIGKILL", atMs: at(d.time), evidence: `decision ${d.decisionId} group kill` });
      }
    } else if (r.type === "kernel-kill") {
      const k = r as KernelKillRecord & { time: string };
      kernelKills.push({ atMs: at(k.time), victims: (k.victims ?? []).map((v) => ({ pid: v.pid, comm: v.comm })) });
    } else if (r.type === "notice") {
      notices.push({ atMs: at(r.time), message: r.message });
    }
  }
  return { decisions, kernelKills, notices, claims };
}
