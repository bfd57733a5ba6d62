// Values a scenario file may leave out, each with the reason it has that value.

import { PAGE_SIZE_BYTES, type ChargeFailure, type GfpContext } from "../scenario.js";
import { PAGES_PER_MIB } from "./units.js";

/** Defaults for keys a scenario leaves out; each carries the reason it has that value. */
export const SCENARIO_DEFAULTS = {
  randomSeed: 1,
  // One tick of 10 ms resolves the timings of the five kernel problems (reaper tries of 100 ms,
  // handler reactions of tens of ms) while an hour of virtual time stays at 360,000 ticks.
  tickMs: 10,
  swapPages: 0,
  fileCachePages: 0,
  // kswapd reclaims clean page cache at hundreds of MiB/s to GiB/s on current hardware.
  kswapdPagesPerMs: (512 * PAGES_PER_MIB) / 1000,
  // Direct reclaim runs in the allocating task, interleaved with its own work: slower than kswapd.
  directReclaimPagesPerMs: (128 * PAGES_PER_MIB) / 1000,
  // Measured on our machines: a 1 GiB victim gave its memory back in 64 ms without process_mrelease.
  exitMmapMsPerGiB: 64,
  // Refaults are random 4 KiB reads: an SSD serves tens of MiB/s of them under load, not GiB/s.
  refaultPagesPerMs: (64 * PAGES_PER_MIB) / 1000,
  // A page-faulting loop touching fresh anonymous memory runs at about 1 GiB/s or more.
  allocPagesPerMs: (1024 * PAGES_PER_MIB) / 1000,
  // A handler that wakes on the eventfd, reads a few /proc files and sends one signal.
  handlerReactMs: 20,
  oomScoreAdj: 0,
  cgroupVersion: 2 as const,
  chargeFailure: "enomem" as ChargeFailure,
  lockKind: "mutex" as const,
  context: "GFP_KERNEL" as GfpContext,
  charge: "fault" as const,
};

/**
 * Watermarks as the kernel sets them when not given: min_free_kbytes = sqrt(16 x lowmem KiB)
 * clamped to [128 KiB, 256 MiB], shared by zones in proportion to their size; low and high are
 * min plus one and two times max(min/4, 0.1% of the zone) (watermark_scale_factor = 10).
 */
export function defaultWatermarks(zonePages: number, totalPages: number): { minPages: number; lowPages: number; highPages: number } {
  const totalKiB = (totalPages * PAGE_SIZE_BYTES) / 1024;
  const minFreeKiB = Math.min(262_144, Math.max(128, Math.floor(Math.sqrt(totalKiB * 16))));
  const minPages = Math.floor(((minFreeKiB * 1024) / PAGE_SIZE_BYTES) * (zonePages / totalPages));
  const distance = Math.max(Math.floor(minPages / 4), Math.floor((zonePages * 10) / 10_000));
  return { minPages, lowPages: minPages + distance, highPages: minPages + 2 * distance };
}
