// Pure parser for /proc/vmstat ("name value" per line) and the two sums the machine guard
// needs from it. Every counter is kept, so a new kernel's new counters cost nothing; a value
// that is not a number is an error, because a truncated counter would read as a huge drop.

import { fail, ok, type Result } from "../../core/result.js";
import { quoted } from "../../core/shown-text.js";
import { parseCount } from "./parse-number.js";
import { PARSE_ERROR } from "./parse-proc.js";

/** Counter name -> value. The kernel prints every value unsigned (%lu). */
export type Vmstat = ReadonlyMap<string, number>;

export function parseVmstat(text: string): Result<Vmstat> {
  const counters = new Map<string, number>();
  const lines = text.split("\n");
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index] ?? "";
    if (line.trim() === "") continue;
    const match = /^([a-z0-9_]+) (\S+)$/.exec(line);
    // Printed %lu, but event and page counts: exact, past 2^53 they would not be.
    const count = match === null ? null : parseCount(match[2] ?? "");
    if (match === null || match[1] === undefined || count === null) {
      return fail(PARSE_ERROR, `vmstat line ${index + 1}: cannot read ${quoted(line)}`);
    }
    if (counters.has(match[1])) return fail(PARSE_ERROR, `vmstat line ${index + 1}: "${match[1]}" appears twice`);
    counters.set(match[1], count);
  }
  if (counters.size === 0) return fail(PARSE_ERROR, "vmstat: no counters (empty text)");
  return ok(counters);
}

/**
 * Pages reclaimed by kswapd, by allocating tasks (direct) and by khugepaged. Left out on
 * purpose: pgsteal_proactive (memory.reclaim asked for it, not pressure) and pgsteal_anon/file
 * (they also count memcg limit reclaim, which says nothing about the whole machine). Kernels
 * without a counter (khugepaged's is recent) count 0 for it.
 */
export const RECLAIM_COUNTERS = ["pgsteal_kswapd", "pgsteal_direct", "pgsteal_khugepaged"] as const;

export function reclaimedPagesTotal(vmstat: Vmstat): number {
  let total = 0;
  for (const key of RECLAIM_COUNTERS) total += vmstat.get(key) ?? 0;
  return total;
}

/**
 * Times an allocation entered direct reclaim, over every zone type (allocstall_dma,
 * allocstall_dma32, allocstall_normal, allocstall_movable, allocstall_device, ...). Only global
 * reclaim counts here: a task held at its memcg limit does not raise them.
 */
export function allocStallsTotal(vmstat: Vmstat): number {
  let total = 0;
  for (const [key, count] of vmstat) if (key.startsWith("allocstall_")) total += count;
  return total;
}
