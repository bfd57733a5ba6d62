// Properties over random small workloads: pages are conserved, nothing goes negative, a killed
// task never starts another allocation, every kill is in the event log.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import type { Kernel } from "../../../src/sim/kernel/kernel.js";
import { simulateSync } from "../../../src/sim/kernel/simulate.js";
import type { AllocState, Task } from "../../../src/sim/kernel/state.js";
import { isPlacementError, workloadArb } from "./random-workload.js";

const NON_FAILING = new Set(["GFP_NOFS", "GFP_NOFS_NOFAIL", "GFP_KERNEL_NOFAIL"]);

function checkMemory(k: Kernel): void {
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
class KilledTaskWatch {
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

describe("simulator invariants (fast-check)", () => {
  it("conserves pages, never goes negative, killed tasks never allocate again, every kill is logged", () => {
    fc.assert(
      fc.property(workloadArb, ({ scenario, policy }) => {
        const watch = new KilledTaskWatch();
        let kernel: Kernel | null = null;
        let run;
        try {
          run = simulateSync(scenario, policy, {
            observe: (k) => {
              kernel = k;
              checkMemory(k);
              watch.check(k);
            },
          });
        } catch (e) {
          if (isPlacementError(e)) return fc.pre(false);
          throw e;
        }
        if (kernel !== null) checkMemory(kernel);
        const killEvents = run.events.filter((e) => e.kind === "kill" || e.kind === "userspace-kill").map((e) => e.subject);
        for (const name of run.result.killed) assert.ok(killEvents.includes(name), `kill of ${name} missing from the events`);
        assert.deepEqual([...new Set(killEvents)].sort(), [...new Set(run.result.killed)].sort(), "every kill event is a kill in the result");
        assert.equal(run.result.innocentKilled, run.result.killed.filter((n) => scenario.tasks.find((t) => t.name === n)?.innocent).length);
        for (const [a, b] of run.events.slice(1).map((e, i) => [run.events[i], e] as const)) assert.ok((a?.tMs ?? 0) <= b.tMs, "events in time order");
        assert.ok(run.result.maxStallMs >= 0 && run.result.maxStallMs <= scenario.durationMs);
        return true;
      }),
      { numRuns: 300, seed: 20260101 },
    );
  });
});
