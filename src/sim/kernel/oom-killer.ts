// The kernel OOM killer (mm/oom_kill.c out_of_memory), modelled, not copied:
// - badness = rss + swap entries + page tables, plus oom_score_adj * (totalpages / 1000);
//   oom_score_adj -1000 (OOM_SCORE_ADJ_MIN) is never chosen; 2018 floors killable points at 1.
// - the scan aborts while a victim of this domain exists without MMF_OOM_SKIP: no second kill until
//   the first victim exits or the reaper / a timeout hides it (a victim slow to exit, or stuck
//   behind a lock).
// - an allocating task that is already dying becomes the victim itself (task_will_free_mem).
// - memory.oom.group (v2): the whole group goes with its member.
// - a global OOM with nothing killable left panics; a memcg OOM just fails to make progress.
// - oom_lock: one invocation per domain per tick; the others back off and retry.

import { countEvent, isInSubtree, notifyOom, subtreeTasks } from "./memcg.js";
import { queueOomReaper } from "./reaper.js";
import type { Memcg, Sim, Task, Thread } from "./state.js";
import { markOomVictim, sendSigkill } from "./kill.js";

export const OOM_SCORE_ADJ_MIN = -1000;

export type OomOutcome = "killed" | "aborted" | "skipped" | "nothing" | "panic";

/** Points for one task, or null if it cannot be chosen. */
export function oomBadness(task: Task, totalPages: number, version: Sim["version"]): number | null {
  if (task.phase !== "running" || task.oomScoreAdj <= OOM_SCORE_ADJ_MIN || task.mm.oomSkip) return null;
  const mm = task.mm;
  const points = mm.anonPages + mm.sharedPages + mm.swapPages + mm.pageTablePages + task.oomScoreAdj * Math.floor(totalPages / 1000);
  return version === "2018" ? Math.max(1, points) : points;
}

/** Pages the OOM domain can use: RAM + swap globally; the limit (at most RAM) + swap for a memcg. */
export function oomTotalPages(sim: Sim, scope: Memcg | null): number {
  let ram = 0;
  for (const z of sim.zones) ram += z.totalPages;
  if (scope === null || scope.limitPages === null) return ram + sim.swapTotalPages;
  return Math.min(scope.limitPages, ram) + sim.swapTotalPages;
}

/** A victim in this domain the killer must still wait for. */
export function pendingVictim(sim: Sim, scope: Memcg | null): Task | null {
  for (const v of sim.liveOomVictims) {
    if (v.mm.oomSkip) continue;
    if (scope === null || isInSubtree(v.memcg, scope)) return v;
  }
  return null;
}

/** Highest badness; on equal points the later task in scan order wins (the kernel's `<` test). */
export function selectVictim(sim: Sim, scope: Memcg | null): { task: Task; points: number } | null {
  const total = oomTotalPages(sim, scope);
  const candidates = scope === null ? sim.tasks : subtreeTasks(scope);
  let best: { task: Task; points: number } | null = null;
  for (const task of candidates) {
    const points = oomBadness(task, total, sim.version);
    if (points === null) continue;
    if (best === null || points >= best.points) best = { task, points };
  }
  return best;
}

/**
 * out_of_memory for a global (scope null) or memcg OOM. `trigger` is the allocating thread, or
 * null for an asynchronous invocation (overcharge reconcile, oom-delay expiry).
 */
export function outOfMemory(sim: Sim, scope: Memcg | null, trigger: Thread | null, why: string): OomOutcome {
  // memory.events oom counts every invocation (try_charge counts MEMCG_OOM before mem_cgroup_oom
  // and out_of_memory), also when the oom_lock is taken or a victim is still pending.
  if (scope !== null) countEvent(sim, scope, "oom");
  if (scope === null) {
    if (sim.lastGlobalOomTick === sim.tickIndex) return "skipped";
    sim.lastGlobalOomTick = sim.tickIndex;
  } else {
    if (scope.lastOomAttemptTick === sim.tickIndex) return "skipped";
    scope.lastOomAttemptTick = sim.tickIndex;
  }
  const current = trigger?.task ?? null;
  if (current !== null && current.fatalSignal && current.phase === "running") {
    // task_will_free_mem(current): let the dying allocator have the victim's privileges instead of killing.
    if (!current.oomVictim) {
      markOomVictim(sim, current, scope);
      queueOomReaper(sim, current);
    }
    return "aborted";
  }
  if (pendingVictim(sim, scope) !== null) return "aborted";
  const domain = scope === null ? "global" : scope.path;
  if (scope !== null) {
    // v1 also signals the OOM eventfd when the kernel killer is about to act (mem_cgroup_oom_notify).
    if (scope.version === 1) notifyOom(sim, scope);
  }
  const chosen = selectVictim(sim, scope);
  if (chosen === null) {
    if (scope === null) {
      sim.log("oom", domain, `${why}; nothing killable left`);
      sim.log("panic", "kernel", "Out of memory and no killable processes");
      sim.panicked = true;
      return "panic";
    }
    sim.log("oom", domain, `${why}; nothing killable in the memcg`);
    return "nothing";
  }
  sim.log("oom", domain, `${why}; victim ${chosen.task.name} (${chosen.points} points)`);
  oomKill(sim, chosen.task, scope, `points ${chosen.points}, ${domain} OOM`);
  return "killed";
}

/** oom_kill_process: the victim, or its whole memory.oom.group. */
export function oomKill(sim: Sim, victim: Task, scope: Memcg | null, detail: string): void {
  const group = oomGroupOf(victim.memcg, scope);
  const tasks = group === null ? [victim] : [victim, ...subtreeTasks(group).filter((t) => t !== victim && t.phase === "running" && t.oomScoreAdj > OOM_SCORE_ADJ_MIN)];
  if (group !== null) countEvent(sim, group, "oomGroupKill");
  for (const task of tasks) {
    markOomVictim(sim, task, scope);
    const what = task === victim ? detail : `memory.oom.group ${group?.path ?? ""}`;
    if (sendSigkill(sim, task, "oom")) {
      sim.log("kill", task.name, what);
      countEvent(sim, task.memcg, "oomKill");
    } else {
      // Already dying (task_will_free_mem): it only becomes the victim; not a kill, no oom_kill.
      sim.log("oom", task.name, `${what}: already dying, made the victim without a kill`);
    }
    queueOomReaper(sim, task);
  }
}

/** The highest ancestor of the victim's memcg, inside the OOM domain, with memory.oom.group set (v2). */
function oomGroupOf(m: Memcg, scope: Memcg | null): Memcg | null {
  let group: Memcg | null = null;
  for (let c: Memcg | null = m; c !== null && c.parent !== null; c = c.parent) {
    if (c.version === 2 && c.oomGroup) group = c;
    if (c === scope) break;
  }
  return group;
}
