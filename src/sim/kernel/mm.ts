// Pages entering and leaving a task's mm, with the zone and memcg bookkeeping that goes with
// them. Every page a task holds is charged to its memcg (anon, shared, page tables, kernel
// memory); swapped-out pages are uncharged (v1 without memsw accounting).

import { uncharge } from "./memcg.js";
import type { PageKind, Sim, Task } from "./state.js";
import { releaseUsedPages } from "./zones.js";

/** Record pages the allocator already took from the zones (task-held kinds) for the task. */
export function addTaskPages(task: Task, kind: PageKind, pages: number, mlocked: boolean): void {
  const mm = task.mm;
  switch (kind) {
    case "anon":
      mm.anonPages += pages;
      if (mlocked) mm.mlockedPages += pages;
      break;
    case "shared":
      mm.sharedPages += pages;
      break;
    case "pagetable":
      mm.pageTablePages += pages;
      break;
    case "kmem":
      mm.kmemPages += pages;
      break;
    case "cache":
      task.memcg.cachePages += pages;
      break;
  }
}

export type FreeCategory = "anon" | "mlocked" | "swap" | "shared" | "pagetable" | "kmem";

/** Free up to `pages` of one category of the task's memory; returns pages freed. */
export function freeTaskPages(sim: Sim, task: Task, category: FreeCategory, pages: number): number {
  const mm = task.mm;
  let n = 0;
  switch (category) {
    case "anon":
      n = Math.min(pages, mm.anonPages - mm.mlockedPages);
      mm.anonPages -= n;
      break;
    case "mlocked":
      n = Math.min(pages, mm.mlockedPages);
      mm.mlockedPages -= n;
      mm.anonPages -= n;
      break;
    case "swap":
      n = Math.min(pages, mm.swapPages);
      mm.swapPages -= n;
      sim.swapFreePages += n;
      return n;
    case "shared":
      n = Math.min(pages, mm.sharedPages);
      mm.sharedPages -= n;
      break;
    case "pagetable":
      n = Math.min(pages, mm.pageTablePages);
      mm.pageTablePages -= n;
      break;
    case "kmem":
      n = Math.min(pages, mm.kmemPages);
      mm.kmemPages -= n;
      break;
  }
  if (n <= 0) return 0;
  releaseUsedPages(sim.zones, mm.zonePages, n);
  uncharge(sim, task.memcg, n);
  return n;
}

/** Free pages in the given category order until `pages` are freed or nothing is left. */
export function freeInOrder(sim: Sim, task: Task, order: readonly FreeCategory[], pages: number): number {
  let freed = 0;
  for (const c of order) {
    if (freed >= pages) break;
    freed += freeTaskPages(sim, task, c, pages - freed);
  }
  return freed;
}

/** The `free` step: unlocked anon first, then swap entries, kernel memory, mlocked anon. */
export const FREE_STEP_ORDER: readonly FreeCategory[] = ["anon", "swap", "kmem", "mlocked"];
/** exit_mmap frees everything. */
export const EXIT_ORDER: readonly FreeCategory[] = ["anon", "swap", "mlocked", "shared", "kmem", "pagetable"];

/** Swap out unlocked anon pages of the task (reclaim); returns pages moved to swap. */
export function swapOutTask(sim: Sim, task: Task, pages: number): number {
  const mm = task.mm;
  const n = Math.min(pages, mm.anonPages - mm.mlockedPages, sim.swapFreePages);
  if (n <= 0) return 0;
  mm.anonPages -= n;
  mm.swapPages += n;
  sim.swapFreePages -= n;
  releaseUsedPages(sim.zones, mm.zonePages, n);
  uncharge(sim, task.memcg, n);
  return n;
}
