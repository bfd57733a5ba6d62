// Reclaim: clean page cache first, then anonymous memory through swap (if any). Mlocked,
// shared and kernel memory are never reclaimed. kswapd works in the background while a zone is
// below low until it is back at high; direct reclaim is what an allocating task does itself; memcg
// reclaim only looks at the memcg's own subtree.

import { collectSubtree, subtreeTasks, uncharge } from "./memcg.js";
import { swapOutTask } from "./mm.js";
import type { Memcg, Sim, Task, Zone } from "./state.js";
import { anyBelow, dropCache } from "./zones.js";

function zoneOrder(sim: Sim, prefer: Zone | null): number[] {
  const order: number[] = [];
  const preferred = prefer ? sim.zones.indexOf(prefer) : -1;
  if (preferred >= 0) order.push(preferred);
  for (let i = 0; i < sim.zones.length; i++) if (i !== preferred) order.push(i);
  return order;
}

/** Reclaim from the whole machine; returns pages freed. */
export function reclaimGlobal(sim: Sim, pages: number, prefer: Zone | null = null): number {
  if (pages <= 0) return 0;
  let done = reclaimCacheFrom(sim, [sim.root, ...ownersAfterRoot(sim)], pages, prefer);
  if (done < pages && sim.swapFreePages > 0) done += swapFrom(sim, sim.tasks, pages - done);
  sim.vmstat.reclaimedPages += done;
  return done;
}

/** Reclaim charged to memcg m's subtree (memcg limit reclaim); returns pages freed. */
export function reclaimMemcg(sim: Sim, m: Memcg, pages: number): number {
  if (pages <= 0) return 0;
  const owners: Memcg[] = [];
  collectSubtree(m, owners);
  let done = reclaimCacheFrom(sim, owners, pages, null);
  if (done < pages && sim.swapFreePages > 0) done += swapFrom(sim, subtreeTasks(m), pages - done);
  // Not in pgsteal_kswapd/direct: as on Linux, limit reclaim of a memcg is not the machine's pressure.
  return done;
}

/**
 * kswapd: woken when a zone falls below low, reclaims at its rate until every zone is at high.
 * It goes back to sleep when it can find nothing to reclaim.
 */
export function runKswapd(sim: Sim, dtMs: number): void {
  if (!sim.kswapdAwake) return;
  if (!anyBelow(sim.zones, (z) => z.highPages)) {
    sim.kswapdAwake = false;
    return;
  }
  let budget = sim.scenario.memory.kswapdPagesPerMs * dtMs;
  for (const z of sim.zones) {
    if (budget <= 0) break;
    const want = Math.min(Math.floor(budget), z.highPages - z.freePages);
    if (want <= 0) continue;
    const got = reclaimGlobal(sim, want, z);
    budget -= got;
    if (got === 0) {
      sim.kswapdAwake = false;
      return;
    }
  }
}

export function wakeKswapd(sim: Sim): void {
  if (!sim.kswapdAwake && anyBelow(sim.zones, (z) => z.lowPages)) {
    sim.kswapdAwake = true;
    sim.ensureTick();
  }
}

function ownersAfterRoot(sim: Sim): Memcg[] {
  const list: Memcg[] = [];
  for (const m of sim.memcgs.values()) if (m !== sim.root && m.cachePages > 0) list.push(m);
  return list;
}

function reclaimCacheFrom(sim: Sim, owners: Memcg[], pages: number, prefer: Zone | null): number {
  const c = sim.reclaimCursor;
  const order = zoneOrder(sim, prefer);
  let done = 0;
  const n = owners.length;
  for (let k = 0; k < n && done < pages; k++) {
    const owner = owners[(c.owner + k) % n] as Memcg;
    const want = Math.min(pages - done, owner.cachePages);
    if (want <= 0) continue;
    const got = dropCache(sim.zones, want, order);
    owner.cachePages -= got;
    uncharge(sim, owner, got);
    done += got;
  }
  c.owner++;
  return done;
}

function swapFrom(sim: Sim, tasks: Task[], pages: number): number {
  const c = sim.reclaimCursor;
  let done = 0;
  const n = tasks.length;
  for (let k = 0; k < n && done < pages && sim.swapFreePages > 0; k++) {
    const t = tasks[(c.task + k) % n] as Task;
    if (t.phase !== "running") continue;
    done += swapOutTask(sim, t, pages - done);
  }
  c.task++;
  return done;
}
