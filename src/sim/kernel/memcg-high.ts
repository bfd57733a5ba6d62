// memory.high (cgroup v2): where the kernel throttles a cgroup instead of failing its charges or
// OOM-killing (mm/memcontrol.c, Linux 6.1). A charge that leaves the memcg or an ancestor above its
// high makes the charging task, on its way back to user mode (mem_cgroup_handle_over_high),
// reclaim from every memcg of its path that is above its high (reclaim_high, which counts a `high`
// event in memory.events each time it runs), and, if that does not bring the penalty down to
// nothing, sleep a penalty growing with the square of the largest overage (memcg-high-delay.ts).
// The hard limit (memory.max) is untouched: every charge still goes through tryCharge, and a
// cgroup that reaches its max meets the memcg OOM killer as before.
//
// The simulator serves allocations at ticks, in chunks. Once a memcg of the path is at or above
// its high, a chunk is cut into MEMCG_CHARGE_BATCH-page batches, each followed by the return to
// user mode: the kernel charges the counter a batch at a time (the per-CPU stock) and a fault
// returns to user mode after every page, so a task sleeps after the batch that earned the sleep.
// The reclaim of one thread's service at a tick shares that tick's direct-reclaim budget (the rate
// memcg limit reclaim works at too); once it is spent, reclaim "is unable to keep up" and the
// penalty applies.
//
// Choices:
// - GFP_ATOMIC charges stand for softirq work, not a task: never throttled. The kernel hands the
//   reclaim to a worker (high_work, a batch); it is done at once here.
// - A task with SIGKILL pending handles the signal first on its way back to user mode and exits.
// - Kernel 2018 (4.17): memory.high reclaimed on the return to user mode but slept no penalty
//   (the penalty came with 5.4).
// - A sleep is not woken when memory.high changes (in the kernel it is a plain timeout).

import { allocate, type AllocOutcome } from "./allocator.js";
import { countEvent } from "./memcg.js";
import { jiffiesToMs, MAX_RECLAIM_RETRIES, MEMCG_CHARGE_BATCH, overageFixed, SWAP_CLUSTER_MAX, throttleJiffies } from "./memcg-high-delay.js";
import { reclaimMemcg } from "./reclaim.js";
import type { Memcg, Sim, Thread } from "./state.js";

/**
 * Returns to user mode over high one thread may go through per tick. A bound on the work of a
 * tick (src/sim/scenario-file/work.ts counts it): 32 batches are 8 MiB per tick, far more than
 * the default direct-reclaim budget lets reclaim keep up with; what is left waits for the next tick.
 */
export const MAX_HIGH_BATCHES_PER_SERVICE = 32;

export interface HighAllocOutcome extends AllocOutcome {
  /** The penalty the thread must sleep now, in ms (0: none). */
  throttleMs: number;
}

/** Some memcg on m's path has a memory.high: its charges go through allocateUnderHigh. */
export function highOnPath(m: Memcg): boolean {
  for (let c: Memcg | null = m; c !== null; c = c.parent) if (c.highPages !== null) return true;
  return false;
}

/**
 * allocate() for a thread of a memcg under a memory.high: charges up to the high in one chunk,
 * then batch by batch, each batch followed by the return to user mode, until the pages are
 * charged, a charge falls short, or the thread must sleep.
 */
export function allocateUnderHigh(sim: Sim, thread: Thread, pages: number, dtMs: number): HighAllocOutcome {
  const m = thread.task.memcg;
  if (thread.alloc?.context === "GFP_ATOMIC") {
    const out = allocate(sim, thread, pages, dtMs);
    const over = lowestOverHigh(m);
    if (out.got > 0 && over !== null) reclaimHigh(sim, over, MEMCG_CHARGE_BATCH, null);
    return { ...out, throttleMs: 0 };
  }
  const total: HighAllocOutcome = { got: 0, dropped: 0, enomem: false, waiting: false, throttleMs: 0 };
  const budget = { pages: Math.ceil(sim.scenario.memory.directReclaimPagesPerMs * dtMs) };
  let left = pages;
  let batches = 0;
  while (left > 0 && !sim.panicked && !thread.task.fatalSignal) {
    const below = pagesBelowHigh(m);
    if (below <= 0 && ++batches > MAX_HIGH_BATCHES_PER_SERVICE) break;
    const chunk = Math.min(left, below > 0 ? below : MEMCG_CHARGE_BATCH);
    const out = allocate(sim, thread, chunk, dtMs);
    total.got += out.got;
    total.dropped += out.dropped;
    total.enomem ||= out.enomem;
    total.waiting ||= out.waiting;
    left -= out.got + out.dropped;
    if (out.waiting) break;
    // A chunk that only reached the high needs nothing on the way back; a batch over it does.
    if (out.got > 0 && below <= 0) {
      total.throttleMs = returnToUserOverHigh(sim, thread, out.got, budget);
      if (total.throttleMs > 0) break;
    }
    if (out.enomem || out.got + out.dropped < chunk) break;
  }
  return total;
}

/**
 * mem_cgroup_handle_over_high for `nrPages` just charged: reclaim a batch from each memcg above its
 * high, then, while the penalty is worth a sleep, more (SWAP_CLUSTER_MAX a round) as long as reclaim
 * frees something, else up to MAX_RECLAIM_RETRIES fruitless rounds; then the sleep, in ms.
 */
function returnToUserOverHigh(sim: Sim, thread: Thread, nrPages: number, budget: { pages: number }): number {
  if (thread.task.fatalSignal) return 0;
  const m = thread.task.memcg;
  let reclaimed = reclaimHigh(sim, m, nrPages, budget);
  if (sim.version === "2018") return 0;
  for (;;) {
    const jiffies = throttleJiffies(nrPages, maxOverage(m));
    if (jiffies === 0) return 0;
    if (reclaimed === 0) {
      // Reclaim that freed nothing frees nothing again at the same instant: the retries only
      // count their `high` events (reclaim_high counts one per round).
      countOverHigh(sim, m, MAX_RECLAIM_RETRIES);
      return jiffiesToMs(jiffies);
    }
    reclaimed = reclaimHigh(sim, m, SWAP_CLUSTER_MAX, budget);
  }
}

/**
 * reclaim_high: each memcg of m's path above its high counts a `high` event and reclaims up to
 * `pages` from its subtree, within the budget (null: the high_work worker's, unbounded).
 */
function reclaimHigh(sim: Sim, m: Memcg, pages: number, budget: { pages: number } | null): number {
  let reclaimed = 0;
  for (let c: Memcg | null = m; c !== null && c.parent !== null; c = c.parent) {
    if (!overHigh(c)) continue;
    countEvent(sim, c, "high");
    const want = budget === null ? pages : Math.min(pages, budget.pages);
    const got = reclaimMemcg(sim, c, want);
    if (budget !== null) budget.pages -= got;
    reclaimed += got;
  }
  return reclaimed;
}

function countOverHigh(sim: Sim, m: Memcg, times: number): void {
  for (let c: Memcg | null = m; c !== null && c.parent !== null; c = c.parent) if (overHigh(c)) countEvent(sim, c, "high", times);
}

/** mem_find_max_overage: the largest overage of m and its ancestors (the root has no memory.high). */
function maxOverage(m: Memcg): number {
  let max = 0;
  for (let c: Memcg | null = m; c !== null && c.parent !== null; c = c.parent) {
    if (c.highPages !== null) max = Math.max(max, overageFixed(c.usagePages, c.highPages));
  }
  return max;
}

/** Pages m can be charged before a memcg of its path goes over its high (<= 0: one is at or over it). */
function pagesBelowHigh(m: Memcg): number {
  let room = Number.POSITIVE_INFINITY;
  for (let c: Memcg | null = m; c !== null; c = c.parent) if (c.highPages !== null) room = Math.min(room, c.highPages - c.usagePages);
  return room;
}

function overHigh(c: Memcg): boolean {
  return c.highPages !== null && c.usagePages > c.highPages;
}

/** The first memcg from m up that is over its high (try_charge schedules that one's high_work). */
function lowestOverHigh(m: Memcg): Memcg | null {
  for (let c: Memcg | null = m; c !== null; c = c.parent) if (overHigh(c)) return c;
  return null;
}

/**
 * A write to memory.high (memory_high_write): the new value holds at once, and the writer
 * reclaims the memcg down to it as far as reclaim can. User space never stalls in the simulator, so
 * this takes no virtual time. Tasks over the new high are throttled at their next charge.
 */
export function setMemoryHigh(sim: Sim, m: Memcg, highPages: number | null): void {
  m.highPages = highPages;
  if (highPages !== null && m.usagePages > highPages) reclaimMemcg(sim, m, m.usagePages - highPages);
}
