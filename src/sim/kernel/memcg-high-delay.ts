// The memory.high penalty of cgroup v2, as mm/memcontrol.c computes it (Linux 6.1:
// calculate_overage, calculate_high_delay and the clamp in mem_cgroup_handle_over_high). Pure
// arithmetic, in one place; memcg-high.ts applies it.
//
// How the kernel's numbers come out:
// - calculate_overage: (usage - high) / high as a fixed-point fraction with
//   MEMCG_DELAY_PRECISION_SHIFT (20) bits: overage = r × 2^20, where r = (usage - high) / high.
// - calculate_high_delay: overage² × HZ, shifted right by 20 and then by MEMCG_DELAY_SCALING_SHIFT
//   (14): r² × 2^40 × HZ / 2^34 = 64 × r² × HZ jiffies for a nominal MEMCG_CHARGE_BATCH (64)
//   pages, then scaled by nr_pages / 64: r² × HZ × nr_pages jiffies, that is r² × nr_pages seconds.
//   The kernel's own table (high = 100M): 101M, r = 0.01: 64 × 10^-4 s = 6.4 ms ("6");
//   110M, r = 0.1: 640 ms ("639"); from 118M on the 2 s cap.
// - mem_cgroup_handle_over_high: the largest overage of the memcg and its ancestors counts; the
//   penalty is capped at MEMCG_MAX_HIGH_DELAY_JIFFIES (2 × HZ, "enough to still cause a significant
//   slowdown ... while still allowing diagnostics") and dropped when it is at most HZ / 100
//   jiffies ("not even worth doing").
//
// HZ is 250 here, the configuration of Debian's kernels (the 6.1 kernel we measured on): a jiffy is
// 4 ms, HZ / 100 is 2 jiffies in integer arithmetic, so the shortest sleep is 3 jiffies (12 ms).
// The integer divisions are the kernel's (each shift and division rounds down).

/** CONFIG_HZ of the modelled kernel (Debian's 6.1 build). */
export const HZ = 250;
/** Pages a task charges per batch (the per-CPU stock); the penalty is "per batch" of this size. */
export const MEMCG_CHARGE_BATCH = 64;
/** Pages each further round of the over-high reclaim asks for (the first asks for the batch). */
export const SWAP_CLUSTER_MAX = 32;
/** Rounds of reclaim that free nothing before the task gives up and sleeps. */
export const MAX_RECLAIM_RETRIES = 16;
/** The longest sleep per return to user mode: 2 s. */
export const MEMCG_MAX_HIGH_DELAY_JIFFIES = 2 * HZ;
/** A penalty of at most this many jiffies is not slept at all (HZ / 100, rounded down as in C). */
export const MEMCG_MIN_HIGH_DELAY_JIFFIES = Math.floor(HZ / 100);

const PRECISION = 2 ** 20; // MEMCG_DELAY_PRECISION_SHIFT
const SCALING = 2 ** 14; // MEMCG_DELAY_SCALING_SHIFT

/** calculate_overage: how far usage is over high, as a fraction of high with 20 fractional bits (0 at or below high). */
export function overageFixed(usagePages: number, highPages: number): number {
  if (usagePages <= highPages) return 0;
  // "act as if it was a threshold of 1 page": no division by 0 for memory.high = 0.
  const high = Math.max(highPages, 1);
  return Math.floor(((usagePages - high) * PRECISION) / high);
}

/** calculate_high_delay: the jiffies `nrPages` charged at this overage cost (before the cap). */
export function highDelayJiffies(nrPages: number, maxOverage: number): number {
  if (maxOverage <= 0) return 0;
  // The kernel squares in u64; far past any cap the square would overflow there. Here it only
  // loses precision, and the result is capped anyway.
  const perBatch = Math.floor(Math.floor((maxOverage * maxOverage * HZ) / PRECISION) / SCALING);
  return Math.floor((perBatch * nrPages) / MEMCG_CHARGE_BATCH);
}

/** What the task sleeps, in jiffies: capped at 2 s, and 0 when too small to be worth a sleep. */
export function throttleJiffies(nrPages: number, maxOverage: number): number {
  const jiffies = Math.min(highDelayJiffies(nrPages, maxOverage), MEMCG_MAX_HIGH_DELAY_JIFFIES);
  return jiffies <= MEMCG_MIN_HIGH_DELAY_JIFFIES ? 0 : jiffies;
}

export function jiffiesToMs(jiffies: number): number {
  return (jiffies * 1000) / HZ;
}
