// Kernel-compatible badness (mm/oom_kill.c oom_badness()), computed from one ProcessSample.
// Pure: plain numbers in, plain data out.
//
// The kernel's formula, restated:
//   points = rss pages + swap entries + page-table bytes / PAGE_SIZE
//   adj    = oom_score_adj * (totalpages / 1000)      -- the division comes first, in unsigned long
//   points += adj
// A task is unkillable (LONG_MIN) if it is init or a kernel thread, has no mm left, or has
// oom_score_adj == OOM_SCORE_ADJ_MIN. We add the daemon itself and zombies (nothing left to free).

import type { CgroupSample, ProcessSample } from "./types.js";

/** OOM_SCORE_ADJ_MIN: the value that makes a task immune to the OOM killer. */
export const OOM_SCORE_ADJ_MIN = -1000;

/** The kernel scales oom_score_adj in units of 1/1000 of the memory available to the OOM scope. */
const ADJ_UNITS_PER_SCOPE = 1000;

/** /proc/PID/stat states of a task whose memory is already gone: zombie, and dead (short-lived). */
const STATE_ZOMBIE = "Z";
const STATE_DEAD = "X";

/** Why a process can never be a victim. */
export type UnkillableCode = "init" | "kernel-thread" | "self" | "zombie" | "dead" | "no-memory" | "adj-min";

export interface KillableBadness {
  /** Badness in pages; may be negative after a negative oom_score_adj. */
  points: number;
  rssPages: number;
  swapPages: number;
  pageTablePages: number;
  /** oom_score_adj * floor(totalPages / 1000): the pages added (or removed) by oom_score_adj. */
  adjPages: number;
  oomScoreAdj: number;
  totalPages: number;
  /** One line a person understands: how the points were made. */
  reason: string;
}

export interface Unkillable {
  points: null;
  code: UnkillableCode;
  /** Short reason for the journal ("pid 1", "kernel thread", ...). */
  reason: string;
}

export type Badness = KillableBadness | Unkillable;

/**
 * Why this process can never be a victim, or null if it may be one.
 * Checked in the kernel's order (init and kernel threads, then no mm, then OOM_SCORE_ADJ_MIN),
 * with our own rules (the daemon, zombies) where the kernel would find no mm.
 * "pid 1" means pid 1 of the pid namespace the samples were read in.
 */
export function unkillableReason(proc: ProcessSample, selfPid: number): Unkillable | null {
  if (proc.pid === 1) return unkillable("init", "pid 1");
  if (proc.isKernelThread) return unkillable("kernel-thread", "kernel thread");
  if (proc.pid === selfPid) return unkillable("self", "oomwarden itself");
  // A zombie's mm is gone (a leader that exited before its threads shows Z too, and its /proc
  // memory fields read 0): killing it frees nothing the sample can show.
  if (proc.state === STATE_ZOMBIE) return unkillable("zombie", "zombie");
  if (proc.state === STATE_DEAD) return unkillable("dead", "dead (state X)");
  // A user process always has some page tables; all three at zero means the kernel found no mm.
  if (proc.rssBytes <= 0 && proc.swapBytes <= 0 && proc.pageTablesBytes <= 0) {
    return unkillable("no-memory", "no memory (no mm)");
  }
  // The kernel tests equality; the range check below the minimum only guards against bad input.
  if (proc.oomScoreAdj <= OOM_SCORE_ADJ_MIN) return unkillable("adj-min", `oom_score_adj ${OOM_SCORE_ADJ_MIN}`);
  return null;
}

/**
 * The kernel's points for a process that may be killed, without the eligibility checks.
 * totalPages: the OOM scope's size in pages (see computeTotalPages). pageSizeBytes: a positive integer.
 */
export function badnessPoints(proc: ProcessSample, totalPages: number, pageSizeBytes: number): KillableBadness {
  const rssPages = bytesToPages(proc.rssBytes, pageSizeBytes);
  const swapPages = bytesToPages(proc.swapBytes, pageSizeBytes);
  const pageTablePages = bytesToPages(proc.pageTablesBytes, pageSizeBytes);
  const pagesPerAdjUnit = Math.floor(Math.max(0, totalPages) / ADJ_UNITS_PER_SCOPE);
  // "+ 0" turns -0 (negative adj times zero pages) into 0, so results compare equal.
  const adjPages = proc.oomScoreAdj * pagesPerAdjUnit + 0;
  const points = rssPages + swapPages + pageTablePages + adjPages;
  return {
    points,
    rssPages,
    swapPages,
    pageTablePages,
    adjPages,
    oomScoreAdj: proc.oomScoreAdj,
    totalPages,
    reason: describe(points, rssPages, swapPages, pageTablePages, proc.oomScoreAdj, adjPages, totalPages),
  };
}

/** Badness as the kernel's oom_badness() would compute it, or null points with the reason the process is unkillable. */
export function oomBadness(proc: ProcessSample, selfPid: number, totalPages: number, pageSizeBytes: number): Badness {
  return unkillableReason(proc, selfPid) ?? badnessPoints(proc, totalPages, pageSizeBytes);
}

/**
 * The OOM scope's size in pages, which scales oom_score_adj.
 * A memcg OOM uses the memcg's limit in pages (the kernel's mem_cgroup_get_max(), at least 1).
 * Without a limit, or with a limit the machine cannot reach (such a cgroup never hits its own
 * limit: the global OOM killer acts first), the global value applies: fallbackTotalPages, which
 * the caller should give as RAM + swap pages, as the kernel's global OOM killer does.
 * Not modelled: the memcg's swap allowance (CgroupSample carries no swap limit), which the
 * kernel adds when the memcg may swap; adj is then scaled a little lower than the kernel's.
 */
export function computeTotalPages(cgroup: CgroupSample, pageSizeBytes: number, fallbackTotalPages: number): number {
  const fallback = Math.max(1, Math.floor(fallbackTotalPages));
  if (cgroup.limitBytes === null || !Number.isFinite(cgroup.limitBytes)) return fallback;
  const limitPages = bytesToPages(cgroup.limitBytes, pageSizeBytes);
  return Math.max(1, Math.min(limitPages, fallback));
}

/** Whole pages, rounded down as the kernel's byte-to-page conversions are. Negative input counts as 0. */
export function bytesToPages(bytes: number, pageSizeBytes: number): number {
  return Math.floor(Math.max(0, bytes) / pageSizeBytes);
}

function unkillable(code: UnkillableCode, reason: string): Unkillable {
  return { points: null, code, reason };
}

function describe(
  points: number,
  rssPages: number,
  swapPages: number,
  pageTablePages: number,
  oomScoreAdj: number,
  adjPages: number,
  totalPages: number,
): string {
  const base = `badness ${points} pages = rss ${rssPages} + swap ${swapPages} + pgtables ${pageTablePages}`;
  if (adjPages === 0) {
    if (oomScoreAdj === 0) return `${base}; oom_score_adj 0`;
    // A scope under 1000 pages makes every oom_score_adj worth nothing (kernel integer division).
    return `${base}; oom_score_adj ${oomScoreAdj} adds 0 (scope ${totalPages} pages < ${ADJ_UNITS_PER_SCOPE})`;
  }
  const sign = adjPages < 0 ? "-" : "+";
  const perUnit = Math.floor(totalPages / ADJ_UNITS_PER_SCOPE);
  return `${base} ${sign} adj ${Math.abs(adjPages)}; oom_score_adj ${oomScoreAdj} x ${perUnit} pages (scope ${totalPages} pages / ${ADJ_UNITS_PER_SCOPE})`;
}
