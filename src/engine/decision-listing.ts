// The machine guard's listing for a decision: a screening listing where the host offers one
// (every known process in two cheap reads, src/core/screening.ts choosing the few that could be
// the victim, to read in full), else every process in full. Growth is recorded from the whole
// listing, screened or not, before the choice, which ranks on it.
//
// The screening's bounds come from the kernel's oom_score over the kernel's RAM + swap. Where
// that does not hold (a /proc/meminfo that is not the kernel's, as lxcfs gives a container), the
// exact badness of the processes read in full falls outside their bands: the listing then reads
// every process in full, and tells the caller to screen no more.

import { oomBadness } from "../core/badness.js";
import type { ProcessGrowth, GrowthProjection } from "../core/process-growth.js";
import { fail, ok, type Result } from "../core/result.js";
import { chooseFullReads, type ScreenedListing } from "../core/screening.js";
import type { ProcessSample } from "../core/types.js";
import type { Host } from "./host.js";
import type { RankInputs } from "./incident-scope.js";
import type { ScreeningRecord } from "./journal-record.js";

/**
 * How many first candidates a decision reads in full: the victim alone. Reading a process in full
 * (its status above all) is most of what a decision costs, and a second candidate, wanted only
 * should the first be gone by the signal, is read in full only where a process is within a band of
 * the victim: the others are small, and a tiny process's band reaches down to 0, so the second
 * place is open to all of them. A victim gone by the signal gives its memory back; the next sample
 * decides again if that was not enough. The journal's list goes on with the screened processes
 * after those read in full (rank.ts).
 */
export const FULL_READ_CANDIDATES = 1;

export interface DecisionListing {
  /** Read in full: what the decision ranks. */
  processes: ProcessSample[];
  /** Screened and left out (units still take them). */
  screenedOut: ProcessSample[];
  growth: GrowthProjection;
  screening?: ScreeningRecord;
  /** The bands did not hold for a process read in full: why (screen no more). */
  bandsFailed?: string;
}

export interface DecisionListingContext {
  host: Host;
  growth: ProcessGrowth;
  horizonMs: number;
  takenAtMs: number;
  ranking: RankInputs;
  /** The scope's pages as the ranking scales oom_score_adj with them. */
  totalPages: number;
  /** false: list every process in full (screening was found not to hold here). */
  screen: boolean;
}

export function listForDecision(ctx: DecisionListingContext): Result<DecisionListing> {
  const { host } = ctx;
  const screened = ctx.screen && host.screenAllProcesses !== undefined && host.readInFull !== undefined ? host.screenAllProcesses() : null;
  const listing: Result<ScreenedListing> = screened ?? wholeListing(host);
  if (!listing.ok) return listing;
  const { processes, bounds } = listing.value;
  ctx.growth.record(ctx.takenAtMs, processes);
  const growth: GrowthProjection = { rates: ctx.growth.rates(ctx.takenAtMs), horizonMs: ctx.horizonMs };
  if (bounds.size === 0 || host.readInFull === undefined) return ok({ processes, screenedOut: [], growth });

  const pageSizeBytes = host.pageSizeBytes();
  const selfPid = host.selfPid();
  const maxCandidates = Math.min(ctx.ranking.maxCandidates, FULL_READ_CANDIDATES);
  const choice = chooseFullReads(listing.value, { ...ctx.ranking, maxCandidates, totalPages: ctx.totalPages, pageSizeBytes, selfPid, growth });
  const chosen = new Set(choice.readInFull);
  const read = host.readInFull(choice.readInFull);
  if (!read.ok) return fail(read.error.code, `cannot read the chosen processes in full: ${read.error.message}`);
  const screenedRssBytes = new Map(processes.map((p) => [p.pid, p.rssBytes]));
  const bandsFailed = outsideItsBand(read.value, bounds, screenedRssBytes, ctx.totalPages, pageSizeBytes, selfPid);
  const screenedOut = processes.filter((p) => bounds.has(p.pid) && !chosen.has(p.pid));
  if (bandsFailed !== null) {
    const rest = host.readInFull(screenedOut.map((p) => p.pid));
    const all = [...processes.filter((p) => !bounds.has(p.pid)), ...read.value, ...(rest.ok ? rest.value : [])].sort((a, b) => a.pid - b.pid);
    return ok({ processes: all, screenedOut: [], growth, bandsFailed });
  }
  const ranked = [...processes.filter((p) => !bounds.has(p.pid)), ...read.value].sort((a, b) => a.pid - b.pid);
  return ok({
    processes: ranked,
    screenedOut,
    growth,
    screening: { readInFull: ranked.length, screenedOut: choice.screenedOut, screenedOutAtMostPages: choice.screenedOutAtMostPages },
  });
}

function wholeListing(host: Host): Result<ScreenedListing> {
  const all = host.listAllProcesses();
  return all.ok ? ok({ processes: all.value, bounds: new Map(), kernelTotalPages: 0 }) : all;
}

/**
 * A process read in full whose badness lies outside the band its oom_score gave a moment before,
 * by more than a band's width: null if none. Its oom_score was read after the screening's stat
 * and before the full read, so its badness then lay between the two: the one read in full, and
 * that less the rss it gained (or plus what it lost) since the screening's stat. A hog filling
 * memory at a GiB a second grows by more than a band in the milliseconds between the reads, and
 * that is not a kernel that scales oom_score otherwise.
 */
function outsideItsBand(
  read: readonly ProcessSample[],
  bounds: ScreenedListing["bounds"],
  screenedRssBytes: ReadonlyMap<number, number>,
  totalPages: number,
  pageSizeBytes: number,
  selfPid: number,
): string | null {
  for (const proc of read) {
    const band = bounds.get(proc.pid);
    const badness = oomBadness(proc, selfPid, totalPages, pageSizeBytes);
    if (band === undefined || badness.points === null || band.lowPages === -Infinity) continue;
    const movedPages = Math.round((proc.rssBytes - (screenedRssBytes.get(proc.pid) ?? proc.rssBytes)) / pageSizeBytes);
    const lowestPages = Math.min(badness.points, badness.points - movedPages);
    const highestPages = Math.max(badness.points, badness.points - movedPages);
    const slack = band.highPages - band.lowPages + 1;
    if (highestPages < band.lowPages - slack || lowestPages > band.highPages + slack) {
      const moved = movedPages === 0 ? "" : ` (its rss ${movedPages > 0 ? "grew" : "shrank"} by ${Math.abs(movedPages)} pages between the reads)`;
      return `${proc.comm}[${proc.pid}] has a badness of ${badness.points} pages${moved}, its oom_score said ${band.lowPages}-${band.highPages}`;
    }
  }
  return null;
}
