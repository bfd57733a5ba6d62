// What must hold at every instant of any run: pages conserved and never negative, and a killed
// task never starting another allocation (shared by the property tests).

import assert from "node:assert/strict";
import type { Kernel } from "../../../src/sim/kernel/kernel.js";
import type { AllocState, Task } from "../../../src/sim/kernel/state.js";

const NON_FAILING = new Set(["GFP_NOFS", "GFP_NOFS_NOFAIL", "GFP_KERNEL_NOFAIL"]);

export function checkMemory(k: Kernel): void {
  let used = 0;
  let cache = 0;
  for (const [i, z] of k.zones.entries()) {
    assert.ok(z.freePages >= 0 && z.usedPages >= 0 && z.cachePages >= 0, `zone ${z.name} negative at ${k.nowMs}`);
    assert.equal(z.freePages + z.usedPages + z.cachePages, z.totalPages, `zone ${z.name} pages not conserved at ${k.nowMs}`);
    let held = 0;
    for (const t of k.tasks) held += t.mm.zonePages[i] ?? 0;
    assert.equal(held, z.usedPages, `zone ${z.name}: task pages ${held} != used ${z.usedPages} at ${k.nowMs}`);
    used += z.usedPages;
    cache += z.cachePages;
  }
  let owned = 0;
  for (const m of k.memcgs.values()) {
    assert.ok(m.usagePages >= 0 && m.cachePages >= 0, `memcg ${m.path} negative`);
    owned += m.cachePages;
  }
  assert.equal(owned, cache, "every cache page has one owner");
  assert.equal(k.root.usagePages, used + cache, "the root memcg is charged every used and cached page");
  let swapped = 0;
  for (const t of k.tasks) {
    const mm = t.mm;
    for (const v of [mm.anonPages, mm.mlockedPages, mm.sharedPages, mm.pageTablePages, mm.kmemPages, mm.swapPages]) assert.ok(v >= 0, `task ${t.name} negative counter`);
    assert.ok(mm.mlockedPages <= mm.anonPages);
    swapped += mm.swapPages;
  }
  assert.ok(k.swapFreePages >= 0);
  assert.equal(k.swapFreePages + swapped, k.swapTotalPages, "swap slots conserved");
}

/** After a kill a task only finishes the allocation it was in, and only if it is one that cannot fail. */
export class KilledTaskWatch {
  private readonly allowed = new Map<Task, Set<AllocState>>();
  private readonly resident = new Map<Task, number>();
  /** A non-failing allocation was in flight at the previous observation (it may finish in between). */
  private readonly inFlight = new Map<Task, boolean>();

  check(k: Kernel): void {
    for (const task of k.killOrder) {
      const mm = task.mm;
      const now = mm.anonPages + mm.sharedPages + mm.pageTablePages + mm.kmemPages;
      let allowed = this.allowed.get(task);
      if (allowed === undefined) {
        allowed = new Set(task.threads.map((t) => t.alloc).filter((a): a is AllocState => a !== null));
        this.allowed.set(task, allowed);
        this.resident.set(task, now);
        this.inFlight.set(task, [...allowed].some((a) => NON_FAILING.has(a.context)));
        continue;
      }
      let mayGrow = false;
      for (const t of task.threads) {
        if (t.alloc === null) continue;
        assert.ok(allowed.has(t.alloc), `killed task ${task.name} started a new allocation at ${k.nowMs}`);
        if (NON_FAILING.has(t.alloc.context)) mayGrow = true;
      }
      const before = this.resident.get(task) ?? now;
      if (!mayGrow && !this.inFlight.get(task)) assert.ok(now <= before, `killed task ${task.name} grew from ${before} to ${now} pages at ${k.nowMs}`);
      this.resident.set(task, now);
      this.inFlight.set(task, mayGrow);
    }
  }
}
