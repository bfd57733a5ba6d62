// What goes with the victim, pure: the process alone, its process group, or its cgroup as a unit
// (a systemd service, a container's scope), and never, unless configured, a whole login session
// or a user's slice: killing the desktop session is what users of systemd-oomd report most. A
// member that is protected (oom_score_adj -1000, oomwarden itself, pid 1, a protect rule or an
// omit xattr) is never signalled; the unit then goes member by member rather than by cgroup.kill.

import { OOM_SCORE_ADJ_MIN } from "./badness.js";
import type { RankedSnapshot } from "./rank.js";
import type { Candidate, ProcessSample, Snapshot } from "./types.js";

export type KillUnitKind = "process" | "process-group" | "cgroup";
export const KILL_UNIT_KINDS: readonly KillUnitKind[] = ["process", "process-group", "cgroup"];

export interface KillUnitConfig {
  kind: KillUnitKind;
  /**
   * cgroup: the unit is the nearest of the victim's cgroup and its ancestors whose last path
   * component matches (by default a systemd service or scope, which is also what container
   * runtimes make under systemd: docker-ID.scope, libpod-ID.scope, cri-containerd-ID.scope).
   */
  cgroupPattern: RegExp;
  /** A login session's scope, a user's slice or manager may be the unit only when this is set. */
  allowSessions: boolean;
}

export const DEFAULT_UNIT_CGROUP_PATTERN = /\.(service|scope)$/;

export const DEFAULT_KILL_UNIT: KillUnitConfig = { kind: "process", cgroupPattern: DEFAULT_UNIT_CGROUP_PATTERN, allowSessions: false };

/**
 * cgroups that hold a person's whole session, by their systemd names: session-N.scope (a login),
 * user-UID.slice and user.slice (every session of a user, of all users), user@UID.service (the
 * user's service manager, with the desktop under it), init.scope (pid 1), and any slice (a
 * grouping of units, never a unit of its own).
 */
const SESSION_COMPONENT = /^(session-[^/]*\.scope|user@[^/]*\.service|init\.scope|[^/]*\.slice)$/;

export type UnitChoice =
  | { kind: "process"; note: string | null }
  /** The victim and these members of its process group (pgid). */
  | { kind: "process-group"; pgid: number; others: ProcessSample[]; spared: ProcessSample[] }
  /** The cgroup; whole: cgroup.kill may take it all; otherwise `others` one by one. */
  | { kind: "cgroup"; cgroup: string; whole: boolean; others: ProcessSample[]; spared: ProcessSample[]; reason: string };

export interface UnitContext {
  /** The topmost of the victim's cgroup and its ancestors with memory.oom.group set (null: none), as the kernel's own OOM killer would take it. */
  oomGroupCgroup: string | null;
}

/** The victim's unit under the configuration, from the snapshot the victim was chosen from. */
export function killUnitFor(victim: Candidate, snapshot: Snapshot, ranking: RankedSnapshot, config: KillUnitConfig, context: UnitContext): UnitChoice {
  const proc = snapshot.processes.find((p) => p.pid === victim.pid && p.startTimeTicks === victim.startTimeTicks);
  const details = proc?.details;
  const protectedPids = new Set(ranking.excluded.filter((e) => e.rule !== undefined).map((e) => e.pid));
  const isProtected = (p: ProcessSample): boolean => p.pid === 1 || p.pid === snapshot.selfPid || p.oomScoreAdj === OOM_SCORE_ADJ_MIN || protectedPids.has(p.pid);
  const others = (inUnit: (p: ProcessSample) => boolean): { others: ProcessSample[]; spared: ProcessSample[] } => {
    // The screened-out processes belong to units as much as the ranked ones.
    const listed = snapshot.screenedOut === undefined ? snapshot.processes : [...snapshot.processes, ...snapshot.screenedOut];
    const members = listed.filter((p) => !(p.pid === victim.pid && p.startTimeTicks === victim.startTimeTicks) && !p.isKernelThread && inUnit(p));
    return { others: members.filter((p) => !isProtected(p)), spared: members.filter(isProtected) };
  };
  if (context.oomGroupCgroup !== null && details !== undefined && (config.allowSessions || !isSessionCgroup(context.oomGroupCgroup))) {
    const cgroup = context.oomGroupCgroup;
    const split = others((p) => p.details !== undefined && within(p.details.cgroup, cgroup));
    return { kind: "cgroup", cgroup, whole: split.spared.length === 0, ...split, reason: `memory.oom.group is set on ${cgroup}` };
  }
  if (config.kind === "process") return { kind: "process", note: null };
  if (details === undefined) return { kind: "process", note: `its ${config.kind} is not known (no details of the process): the process alone` };
  if (config.kind === "process-group") {
    // The group of a login shell's session leader is the session: the leader is spared (an
    // interactive shell puts each job in a group of its own, so this is a job control that is off).
    const split = others((p) => p.details?.pgid === details.pgid);
    const leader = split.others.filter((p) => p.pid === details.sid && !config.allowSessions);
    return {
      kind: "process-group",
      pgid: details.pgid,
      others: split.others.filter((p) => !leader.includes(p)),
      spared: [...split.spared, ...leader],
    };
  }
  const unit = unitCgroup(details.cgroup, config);
  if (unit === null) {
    return { kind: "process", note: `no cgroup of ${details.cgroup} and its ancestors matches ${config.cgroupPattern}${config.allowSessions ? "" : " outside a login session or a user's slice"}: the process alone` };
  }
  const split = others((p) => p.details !== undefined && within(p.details.cgroup, unit));
  return { kind: "cgroup", cgroup: unit, whole: split.spared.length === 0, ...split, reason: `the unit is ${unit} (killUnit cgroup, pattern ${config.cgroupPattern})` };
}

/** The nearest of cgroup and its ancestors whose last component matches, skipping the session's own unless allowed. */
export function unitCgroup(cgroup: string, config: Pick<KillUnitConfig, "cgroupPattern" | "allowSessions">): string | null {
  const parts = cgroup.split("/").filter((part) => part !== "");
  for (let depth = parts.length; depth > 0; depth--) {
    const component = parts[depth - 1] as string;
    const path = `/${parts.slice(0, depth).join("/")}`;
    if (!config.allowSessions && SESSION_COMPONENT.test(component)) continue;
    if (config.cgroupPattern.test(component)) return path;
  }
  return null;
}

/** A cgroup that is, or sits directly for, a whole session or user (see SESSION_COMPONENT). */
export function isSessionCgroup(cgroup: string): boolean {
  const last = cgroup.split("/").filter((part) => part !== "").pop();
  return last === undefined || SESSION_COMPONENT.test(last);
}

function within(cgroup: string, unit: string): boolean {
  return cgroup === unit || cgroup.startsWith(`${unit}/`);
}
