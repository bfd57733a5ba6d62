// The policy seam: one snapshot in, one action out. Every scope (a v1 or v2 memory cgroup, its
// soft limit, the whole machine) asks this one function what to do, so a rule about who dies is
// written once. The policy: the victim rules and cgroup xattrs first (protect, prefer, avoid), then
// the kernel's badness, projected over a horizon where growth is measured (src/core/rank.ts);
// handlers a cgroup's owner registers will answer here too, with the same actions.

import { OOM_SCORE_ADJ_MIN } from "./badness.js";
import { rankCandidates, type InFlight, type RankedSnapshot, type RankOptions } from "./rank.js";
import type { Candidate, Snapshot } from "./types.js";

export type PolicyAction =
  /** A process is already on its way out: nobody else dies while it frees its memory. */
  | { kind: "wait"; inFlight: InFlight }
  /** SIGKILL to the first of these that can still be reached (best victim first). */
  | { kind: "kill"; candidates: Candidate[] }
  /** The whole cgroup goes (memory.oom.group), through cgroup.kill. */
  | { kind: "kill-group"; candidates: Candidate[] }
  /** Nothing may be killed. */
  | { kind: "none" };

export interface PolicyDecision {
  action: PolicyAction;
  /** What the action was chosen from, for the journal. */
  ranking: RankedSnapshot;
}

export function decide(snapshot: Snapshot, options: RankOptions): PolicyDecision {
  const ranking = rankCandidates(snapshot, options);
  return { action: actionFor(snapshot, ranking), ranking };
}

function actionFor(snapshot: Snapshot, ranking: RankedSnapshot): PolicyAction {
  // A process in flight is waited for first, a group kill included: its exit may be enough.
  const inFlight = ranking.inFlight[0];
  if (inFlight !== undefined) return { kind: "wait", inFlight };
  if (ranking.candidates.length === 0) return { kind: "none" };
  if (groupKillAllowed(snapshot, ranking)) return { kind: "kill-group", candidates: ranking.candidates };
  return { kind: "kill", candidates: ranking.candidates };
}

/**
 * memory.oom.group asks for the whole cgroup, unless a member is protected (oom_score_adj -1000,
 * oomwarden itself, a protect rule or an omit xattr): cgroup.kill would take it too, so then the
 * members are killed one by one.
 */
function groupKillAllowed(snapshot: Snapshot, ranking: RankedSnapshot): boolean {
  if (snapshot.cgroup.version !== 2 || !snapshot.cgroup.oomGroup) return false;
  if (ranking.excluded.some((member) => member.rule !== undefined)) return false;
  return !snapshot.processes.some((member) => member.oomScoreAdj === OOM_SCORE_ADJ_MIN || member.pid === snapshot.selfPid);
}
