// The page allocator for one chunk of an allocation, after the memcg charge:
//   fast path: take pages while the zone stays above low;
//   slow path: wake kswapd, take pages down to the context's floor (min for ordinary
//   allocations, min/2 for GFP_ATOMIC's ALLOC_HIGH and for OOM victims' ALLOC_OOM, 0 for full
//   reserves), then direct reclaim and retry;
//   still short: GFP_ATOMIC drops the rest; GFP_KERNEL invokes the OOM killer only when reclaim
//   made no progress (should_reclaim_retry keeps looping while it does: how atomic allocations
//   starve the watermark); GFP_NOFS never invokes it (__GFP_FS check) and loops; __GFP_NOFAIL
//   loops but, after the OOM step, may use the reserves (the ALLOC_NO_WATERMARKS fallback kernels
//   have had since 4.9).
// Reserves and the victim-reserves proposal (for a victim stuck behind a lock): in the baseline an
// OOM victim gets ALLOC_OOM (down to min/2) and only __GFP_NOFAIL gets the full reserves. With the
// proposal the victim gets the full reserves, and so does every allocation that cannot fail
// (GFP_NOFS loops, the open-coded "GFP_NOFAIL equivalents" of the 2015 thread, and __GFP_NOFAIL)
// while its domain has an unresolved OOM victim: the lock holder can finish and let the victim exit.

import { tryCharge } from "./charge.js";
import { uncharge } from "./memcg.js";
import { addTaskPages } from "./mm.js";
import { outOfMemory } from "./oom-killer.js";
import { reclaimGlobal, wakeKswapd } from "./reclaim.js";
import type { Sim, Thread } from "./state.js";
import { type Floor, fellToHalfMin, takePages } from "./zones.js";

export interface AllocOutcome {
  /** Pages the thread now holds. */
  got: number;
  /** GFP_ATOMIC pages given up (the caller drops the packet and goes on). */
  dropped: number;
  /** The syscall failed with ENOMEM at the memcg limit. */
  enomem: boolean;
  /** The thread now waits in a memcg OOM. */
  waiting: boolean;
}

const NOTHING: AllocOutcome = { got: 0, dropped: 0, enomem: false, waiting: false };

export function allocate(sim: Sim, thread: Thread, pages: number, dtMs: number): AllocOutcome {
  const a = thread.alloc;
  if (a === null || pages <= 0) return NOTHING;
  const c = tryCharge(sim, thread, pages, dtMs);
  switch (c.kind) {
    case "enomem":
      return { ...NOTHING, enomem: true };
    case "wait":
      return { ...NOTHING, waiting: true };
    case "fail":
      return { ...NOTHING, dropped: pages };
    case "stall":
      return NOTHING;
    case "charged":
      break;
  }
  const got = takeFromZones(sim, thread, c.pages, dtMs);
  if (got < c.pages) uncharge(sim, thread.task.memcg, c.pages - got);
  if (got > 0) addTaskPages(thread.task, a.kind, got, a.step.mlocked === true);
  const dropped = a.context === "GFP_ATOMIC" ? pages - got : 0;
  return { got, dropped, enomem: false, waiting: false };
}

function takeFromZones(sim: Sim, thread: Thread, pages: number, dtMs: number): number {
  const a = thread.alloc;
  if (a === null) return 0;
  const into = a.kind === "cache" ? "cache" : "used";
  const perZone = into === "used" ? thread.task.mm.zonePages : null;
  const zones = sim.zones;
  const ctx = a.context;
  let got = takePages(zones, pages, "low", into, perZone);
  if (got >= pages) return got;
  wakeKswapd(sim);
  if (ctx === "GFP_ATOMIC") return got + takePages(zones, pages - got, "half-min", into, perZone);
  const floor = watermarkFloor(sim, thread);
  got += takePages(zones, pages - got, floor, into, perZone);
  if (got >= pages) return got;
  const rate = sim.scenario.memory.directReclaimPagesPerMs;
  // vmstat allocstall: this thread entered direct reclaim (once per tick it spends there).
  sim.vmstat.allocStalls++;
  thread.directReclaimAtMs = sim.nowMs;
  const reclaimed = rate > 0 ? reclaimGlobal(sim, Math.ceil(rate * dtMs)) : 0;
  got += takePages(zones, pages - got, floor, into, perZone);
  if (got >= pages) return got;
  const mayOom = ctx === "GFP_KERNEL" || ctx === "GFP_KERNEL_NOFAIL";
  // The patch tests free < min/2 in should_reclaim_retry. Free memory here moves in tick-sized
  // steps and our GFP_ATOMIC floor is exactly min/2 (the kernel's ALLOC_HARDER lets atomic go a
  // little lower), so the test is "free fell to min/2 during the last two ticks".
  const belowHalfMin = sim.proposals.killBelowHalfMin && sim.zones.some(fellToHalfMin);
  const reclaimStuck = reclaimed === 0 || belowHalfMin;
  if (!reclaimStuck) return got;
  if (mayOom) {
    const why = belowHalfMin && reclaimed > 0 ? `free below min/2 while reclaim runs, ${thread.task.name} ${ctx}` : `${thread.task.name} ${ctx}, reclaim made no progress`;
    if (outOfMemory(sim, null, thread, why) === "panic") return got;
  }
  if (ctx === "GFP_KERNEL_NOFAIL" || ctx === "GFP_NOFS_NOFAIL") got += takePages(zones, pages - got, "zero", into, perZone);
  return got;
}

/** The lowest free level this thread's allocation may take a zone to, before reclaim. */
function watermarkFloor(sim: Sim, thread: Thread): Floor {
  const task = thread.task;
  const ctx = thread.alloc?.context;
  if (sim.proposals.victimReserves) {
    if (task.oomVictim) return "zero";
    const cannotFail = ctx === "GFP_NOFS" || ctx === "GFP_NOFS_NOFAIL" || ctx === "GFP_KERNEL_NOFAIL";
    if (cannotFail && globalOomInProgress(sim)) return "zero";
  }
  return task.oomVictim ? "half-min" : "min";
}

function globalOomInProgress(sim: Sim): boolean {
  for (const v of sim.liveOomVictims) if (v.oomScope === null) return true;
  return false;
}
