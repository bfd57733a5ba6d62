// Memory cgroups: hierarchical charges against hard limits, memory.events counters, and the
// listeners user space registers (v1 OOM eventfd, v2 memory.events changes).

import type { Memcg, MemcgEvents, Sim, Task, Thread } from "./state.js";

export function isInSubtree(m: Memcg, ancestor: Memcg): boolean {
  for (let c: Memcg | null = m; c !== null; c = c.parent) if (c === ancestor) return true;
  return false;
}

/** Pages that can still be charged to m without crossing any limit on its path to the root. */
export function roomPages(m: Memcg): number {
  let room = Number.POSITIVE_INFINITY;
  for (let c: Memcg | null = m; c !== null; c = c.parent) {
    if (c.limitPages !== null) room = Math.min(room, c.limitPages - c.usagePages);
  }
  return Math.max(0, room);
}

/** The memcg whose limit `pages` more would cross (the lowest one, like mem_over_limit), or null. */
export function overLimit(m: Memcg, pages: number): Memcg | null {
  for (let c: Memcg | null = m; c !== null; c = c.parent) {
    if (c.limitPages !== null && c.usagePages + pages > c.limitPages) return c;
  }
  return null;
}

export function charge(m: Memcg, pages: number): void {
  for (let c: Memcg | null = m; c !== null; c = c.parent) c.usagePages += pages;
}

/** Uncharge, and wake tasks waiting in an OOM of any memcg on the path: memory came back. */
export function uncharge(sim: Sim, m: Memcg, pages: number): void {
  if (pages <= 0) return;
  for (let c: Memcg | null = m; c !== null; c = c.parent) {
    c.usagePages -= pages;
    if (c.oomWaiters.size > 0) wakeOomWaiters(sim, c);
  }
}

/**
 * Count a memory.events event (memcg_memory_event). v2: in m and its ancestors, hierarchical, but
 * never in the root, which has no memory.events. v1: only in m (memory.oom_control's oom_kill and
 * the v1 counters are local to the memcg). `times`: the same event counted that often at once.
 */
export function countEvent(sim: Sim, m: Memcg, key: keyof MemcgEvents, times = 1): void {
  for (let c: Memcg | null = m; c !== null; c = m.version === 2 ? c.parent : null) {
    if (m.version === 2 && c.parent === null) break;
    c.events[key] += times;
    if (c.eventListeners.size > 0 && !c.eventsNotifyPending) {
      c.eventsNotifyPending = true;
      const target = c;
      sim.schedule(sim.nowMs, {
        kind: "call",
        fn: () => {
          target.eventsNotifyPending = false;
          for (const cb of [...target.eventListeners]) cb();
        },
      });
    }
  }
}

/** Wake the waiters of m's OOM so they retry their charge at the next tick (they stay counted). */
export function wakeOomWaiters(sim: Sim, m: Memcg): void {
  for (const t of m.oomWaiters) {
    if (t.state !== "oom-wait") continue;
    t.state = "alloc";
    if (t.alloc) t.alloc.lastServedMs = sim.nowMs;
    sim.allocThreads.add(t);
  }
  sim.ensureTick();
}

/** Notify v1 OOM listeners: the OOMing memcg and its descendants (mem_cgroup_oom_notify). */
export function notifyOom(sim: Sim, m: Memcg): void {
  const targets: Memcg[] = [];
  collectSubtree(m, targets);
  for (const c of targets) {
    for (const cb of [...c.oomListeners]) sim.schedule(sim.nowMs, { kind: "call", fn: () => c.oomListeners.has(cb) && cb() });
  }
}

/** Under OOM as v1 reports it: this memcg or an ancestor has tasks waiting in its OOM. */
export function underOomOrAncestor(m: Memcg): boolean {
  for (let c: Memcg | null = m; c !== null; c = c.parent) if (c.oomWaiters.size > 0) return true;
  return false;
}

export function collectSubtree(m: Memcg, out: Memcg[]): void {
  out.push(m);
  for (const child of m.children) collectSubtree(child, out);
}

export function subtreeTasks(m: Memcg): Task[] {
  const groups: Memcg[] = [];
  collectSubtree(m, groups);
  const tasks: Task[] = [];
  for (const g of groups) for (const t of g.tasks) tasks.push(t);
  return tasks;
}

/** The thread no longer waits in any memcg OOM (charged, aborted, killed or exited). */
export function leaveOomWait(thread: Thread): void {
  const m = thread.oomWaitMemcg;
  if (m === null) return;
  thread.oomWaitMemcg = null;
  m.oomWaiters.delete(thread);
  if (m.oomWaiters.size === 0) {
    // The OOM episode ends: under_oom clears, and the oom-delay clock restarts next time.
    m.delayExpired = false;
    m.oomEpisode++;
  }
}
