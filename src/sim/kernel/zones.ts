// Zones: free pages against min/low/high watermarks. Every page is free, used by a task or page
// cache, and moves between those three counters only here, so free + used + cache == total holds
// per zone at every instant (a property test checks it).

import type { Zone } from "./state.js";

/** ALLOC_HIGH: GFP_ATOMIC may dip to half the min watermark and fails below (atomic allocations starve the watermark). */
export function allocHighFloor(zone: Zone): number {
  return Math.floor(zone.minPages / 2);
}

/**
 * The level an allocation may take a zone's free pages down to: the low watermark (fast path),
 * high (placing the initial memory), min (ordinary slow path), min/2 (ALLOC_HIGH for GFP_ATOMIC,
 * ALLOC_OOM for victims) or zero (the full reserves, ALLOC_NO_WATERMARKS).
 */
export type Floor = "high" | "low" | "min" | "half-min" | "zero";

export function floorPages(z: Zone, floor: Floor): number {
  switch (floor) {
    case "high":
      return z.highPages;
    case "low":
      return z.lowPages;
    case "min":
      return z.minPages;
    case "half-min":
      return allocHighFloor(z);
    case "zero":
      return 0;
  }
}

/**
 * Take up to `pages` free pages, zone by zone in zonelist order, leaving at least the floor free
 * in each. Pages become task-held ("used", recorded per zone in perZone) or page cache.
 */
export function takePages(zones: Zone[], pages: number, floor: Floor, into: "used" | "cache", perZone: number[] | null): number {
  let taken = 0;
  for (let i = 0; i < zones.length && taken < pages; i++) {
    const z = zones[i] as Zone;
    const n = Math.min(pages - taken, Math.max(0, z.freePages - floorPages(z, floor)));
    if (n <= 0) continue;
    z.freePages -= n;
    if (z.freePages < z.lowWaterPages) z.lowWaterPages = z.freePages;
    if (into === "used") {
      z.usedPages += n;
      if (perZone) perZone[i] = (perZone[i] ?? 0) + n;
    } else {
      z.cachePages += n;
    }
    taken += n;
  }
  return taken;
}

/** Give back task-held pages, from the last zone of the task's distribution first. */
export function releaseUsedPages(zones: Zone[], perZone: number[], pages: number): number {
  let left = pages;
  for (let i = zones.length - 1; i >= 0 && left > 0; i--) {
    const held = perZone[i] ?? 0;
    const n = Math.min(left, held);
    if (n <= 0) continue;
    const z = zones[i] as Zone;
    perZone[i] = held - n;
    z.usedPages -= n;
    z.freePages += n;
    left -= n;
  }
  return pages - left;
}

/** Drop clean page cache back to free (reclaim), preferring the zones in `order`. */
export function dropCache(zones: Zone[], pages: number, order: readonly number[]): number {
  let left = pages;
  for (const i of order) {
    if (left <= 0) break;
    const z = zones[i] as Zone;
    const n = Math.min(left, z.cachePages);
    z.cachePages -= n;
    z.freePages += n;
    left -= n;
  }
  return pages - left;
}

export function totalFreePages(zones: Zone[]): number {
  let sum = 0;
  for (const z of zones) sum += z.freePages;
  return sum;
}

export function totalCachePages(zones: Zone[]): number {
  let sum = 0;
  for (const z of zones) sum += z.cachePages;
  return sum;
}

/** kswapd wakes when a zone falls below low and works until every zone it woke for is at high. */
export function anyBelow(zones: Zone[], level: (z: Zone) => number): boolean {
  for (const z of zones) if (z.freePages < level(z)) return true;
  return false;
}

/** Start a new tick's low-water mark. */
export function rollLowWater(zones: Zone[]): void {
  for (const z of zones) {
    z.prevLowWaterPages = z.lowWaterPages;
    z.lowWaterPages = z.freePages;
  }
}

/** Free memory fell to the ALLOC_HIGH level (min/2) during this tick or the previous one. */
export function fellToHalfMin(z: Zone): boolean {
  return Math.min(z.lowWaterPages, z.prevLowWaterPages, z.freePages) <= allocHighFloor(z);
}
