// Signalling the rest of a victim's unit (its process group, its cgroup) right after the victim
// itself, and again with SIGKILL if a terminate's grace ends in one. Each member is reached
// through a pidfd opened with its start time, so a pid reused since the snapshot is never hit;
// a cgroup with no protected member goes by cgroup.kill at the SIGKILL, which also takes any
// process that joined it since.

import { killUnitFor, type KillUnitConfig, type UnitChoice } from "../core/kill-unit.js";
import type { RankedSnapshot } from "../core/rank.js";
import type { Candidate, ProcessSample, Snapshot } from "../core/types.js";
import type { CgroupRef, Host, VictimHandle } from "./host.js";
import type { UnitRecord } from "./journal-record.js";
import type { KilledRegistry } from "./killed-registry.js";

/** The unit of one victim, from its decision to the end of its signals. */
export interface UnitPlan {
  /** For the decision record, written before the victim's signal. */
  record: UnitRecord;
  /** Sends SIGTERM or SIGKILL to the others; returns the pids it reached. */
  signal(kind: "SIGTERM" | "SIGKILL"): { signalledPids: number[]; errors: string[] };
  /** Closes the pidfds. */
  release(): void;
}

export interface UnitSources {
  host: Host;
  killed: KilledRegistry;
  config: KillUnitConfig;
  /** cgroupfs directory of a cgroup as /proc/PID/cgroup names it. */
  resolve: (cgroup: string) => CgroupRef | null;
}

/** The plan for the victim's unit; null when it is the process alone and nothing needs saying. */
export function planUnit(sources: UnitSources, victim: Candidate, snapshot: Snapshot, ranking: RankedSnapshot): UnitPlan | null {
  const choice = killUnitFor(victim, snapshot, ranking, sources.config, { oomGroupCgroup: oomGroupOf(sources, snapshot, victim) });
  if (choice.kind === "process") return choice.note === null ? null : { record: { kind: "process", note: choice.note, pids: [], spared: [] }, signal: () => ({ signalledPids: [], errors: [] }), release: () => {} };
  const { host } = sources;
  const handles: VictimHandle[] = [];
  const errors: string[] = [];
  for (const member of choice.others) {
    const opened = host.openVictim(member.pid, member.startTimeTicks);
    if (opened.ok) handles.push(opened.value);
    else errors.push(`${member.comm}[${member.pid}]: ${opened.error.message}`);
  }
  const ref = choice.kind === "cgroup" && choice.whole ? sources.resolve(choice.cgroup) : null;
  const record = unitRecord(choice, handles.map((h) => h.pid));
  return {
    record,
    signal: (kind) => {
      const signalledPids: number[] = [];
      const failed = [...errors];
      errors.length = 0;
      if (kind === "SIGKILL" && ref !== null) {
        const killed = host.killCgroup(ref);
        if (killed.ok) return { signalledPids: killed.value.killedPids.filter((pid) => pid !== victim.pid), errors: failed };
        failed.push(`cgroup.kill of ${choice.kind === "cgroup" ? choice.cgroup : "?"}: ${killed.error.message}; one by one instead`);
      }
      for (const handle of handles) {
        const sent = kind === "SIGKILL" ? host.kill(handle) : host.terminate(handle);
        if (sent.ok) {
          signalledPids.push(handle.pid);
          sources.killed.add(handle);
        } else if (sent.error.code !== "ESRCH") {
          failed.push(`${handle.pid}: ${sent.error.message}`);
        }
      }
      return { signalledPids, errors: failed };
    },
    release: () => {
      for (const handle of handles) host.releaseVictim(handle);
      handles.length = 0;
    },
  };
}

/** The topmost cgroup with memory.oom.group set among the victim's and its ancestors below the root, as the kernel's global OOM killer takes it. */
function oomGroupOf(sources: UnitSources, snapshot: Snapshot, victim: Candidate): string | null {
  const proc = snapshot.processes.find((p) => p.pid === victim.pid && p.startTimeTicks === victim.startTimeTicks);
  const cgroup = proc?.details?.cgroup;
  if (cgroup === undefined) return null;
  const parts = cgroup.split("/").filter((part) => part !== "");
  let topmost: string | null = null;
  for (let depth = parts.length; depth > 0; depth--) {
    const path = `/${parts.slice(0, depth).join("/")}`;
    const read = sources.host.readOomGroup(path);
    if (!read.ok) break;
    if (read.value) topmost = path;
  }
  return topmost;
}

function unitRecord(choice: Exclude<UnitChoice, { kind: "process" }>, pids: number[]): UnitRecord {
  const spared = choice.spared.map(shortProcess);
  if (choice.kind === "process-group") return { kind: "process-group", pgid: choice.pgid, pids, spared };
  return { kind: "cgroup", cgroup: choice.cgroup, reason: choice.reason, byCgroupKill: choice.whole, pids, spared };
}

function shortProcess(p: ProcessSample): { pid: number; comm: string } {
  return { pid: p.pid, comm: p.comm };
}
