// Which processes a decision must read in full, pure. A screening listing reads each process the
// host already knows in one or two cheap reads: its memory and flags now, and the band its
// kernel badness lies in (oom-score.ts); swap, page tables, oom_score_adj and uid are as last
// read in full. Most processes on a machine cannot be among the first candidates, and reading
// them in full (their status above all, the dearest file of /proc/PID) is most of what a
// decision costs. This chooses the few that could be, so that the ranking, given only processes
// read in full, comes out exactly as if every process had been:
//   - every process a rule or a cgroup xattr names (prefer, avoid, protect: the journal shows
//     who a protect rule saved), every process on its way out or killed earlier (the ranking
//     waits for those), and init and the daemon itself (never candidates, but the journal's
//     exclusions say so: two reads);
//   - of the rest, every process whose best possible rank reaches the worst rank the first
//     `maxCandidates` of them are sure to have. A rank is (growing before idle, then the badness
//     projected over the growth horizon), the ranking's own order (rank.ts) with only the badness
//     uncertain, within its band. Whatever their true badness, the true first maxCandidates are
//     then all read: each ranks at least as well as the maxCandidates-th surest.
// Where the scope's pages differ from the kernel's (a container's limit standing in for the
// machine scales oom_score_adj otherwise than the kernel does), nothing is screened out.

import { bytesToPages, oomBadness } from "./badness.js";
import type { BadnessBounds } from "./oom-score.js";
import type { GrowthProjection } from "./process-growth.js";
import { growthRank, type ProcessIdentity } from "./rank.js";
import type { ProcessSample } from "./types.js";
import { matchVictimRule, type VictimRule } from "./victim-rules.js";

/** A listing in which some processes were screened: their kernel badness bounds by pid (absent: read in full). */
export interface ScreenedListing {
  processes: ProcessSample[];
  bounds: ReadonlyMap<number, BadnessBounds>;
  /** RAM + swap in pages as the kernel counts them for oom_score. */
  kernelTotalPages: number;
}

export interface ScreeningOptions {
  /** How many first candidates must be read in full (the journal's share, at least 1). */
  maxCandidates: number;
  /** The scope's pages as the ranking scales oom_score_adj with them. */
  totalPages: number;
  pageSizeBytes: number;
  selfPid: number;
  rules: readonly VictimRule[];
  growth?: GrowthProjection;
  aliveVictims: readonly ProcessIdentity[];
  killedElsewhere: readonly ProcessIdentity[];
}

export interface ScreeningChoice {
  /** Screened processes to read in full, pid ascending. */
  readInFull: number[];
  /** Screened processes left out of the ranking. */
  screenedOut: number;
  /** The highest projected badness any of them could have, in pages (null: none left out). */
  screenedOutAtMostPages: number | null;
}

interface Rank {
  /** 0 growing (or not known), 1 idle: the ranking's second key. */
  idle: 0 | 1;
  pages: number;
}

/** Which screened processes to read in full (the others cannot be among the first maxCandidates). */
export function chooseFullReads(listing: ScreenedListing, options: ScreeningOptions): ScreeningChoice {
  const screenedPids = listing.processes.filter((p) => listing.bounds.has(p.pid)).map((p) => p.pid);
  if (listing.kernelTotalPages !== options.totalPages) return { readInFull: screenedPids.sort((a, b) => a - b), screenedOut: 0, screenedOutAtMostPages: null };
  const special = new Set([...options.aliveVictims, ...options.killedElsewhere].map(identityKey));
  const readInFull: number[] = [];
  const open: Array<{ pid: number; best: Rank; unkillable: boolean; footprintPages: number }> = [];
  const surestRanks: Rank[] = [];
  for (const proc of listing.processes) {
    if (proc.isKernelThread) continue;
    const bounds = listing.bounds.get(proc.pid);
    const neverCandidate = proc.pid === 1 || proc.pid === options.selfPid;
    if (neverCandidate) {
      if (bounds !== undefined) readInFull.push(proc.pid);
      continue;
    }
    const mustRead = proc.exiting || special.has(identityKey(proc)) || matchVictimRule(proc, options.rules) !== null;
    if (bounds === undefined) {
      // Read in full already: its rank is known, and it counts among the surest.
      if (!mustRead) {
        const badness = oomBadness(proc, options.selfPid, options.totalPages, options.pageSizeBytes);
        if (badness.points !== null) surestRanks.push(rankOf(proc, badness.points, options));
      }
      continue;
    }
    if (mustRead) {
      readInFull.push(proc.pid);
      continue;
    }
    // A process the kernel will not kill has no surest rank (its badness has no floor).
    if (bounds.lowPages !== -Infinity) surestRanks.push(rankOf(proc, bounds.lowPages, options));
    const footprintPages = bytesToPages(proc.rssBytes + proc.swapBytes + proc.pageTablesBytes, options.pageSizeBytes);
    open.push({ pid: proc.pid, best: rankOf(proc, bounds.highPages, options), unkillable: bounds.lowPages === -Infinity, footprintPages });
  }
  const needed = Math.max(1, Math.floor(options.maxCandidates));
  surestRanks.sort(compareRanks);
  // Fewer than needed sure ranks: every open one is needed.
  const bar = surestRanks.length >= needed ? surestRanks[needed - 1] : undefined;
  let screenedOut = 0;
  let screenedOutAtMostPages: number | null = null;
  for (const candidate of open) {
    // One the kernel will not kill (oom_score 0), as big as a candidate: read, so that the journal
    // shows why the biggest process was passed over (oom_score_adj -1000, say).
    const passedOver = candidate.unkillable && bar !== undefined && candidate.footprintPages >= bar.pages;
    if (bar === undefined || passedOver || compareRanks(candidate.best, bar) <= 0) {
      readInFull.push(candidate.pid);
    } else {
      screenedOut++;
      screenedOutAtMostPages = Math.max(screenedOutAtMostPages ?? -Infinity, candidate.best.pages);
    }
  }
  return { readInFull: readInFull.sort((a, b) => a - b), screenedOut, screenedOutAtMostPages };
}

/** Its rank with the badness given: idle or not, and the badness projected over the growth horizon (growthRank, as the ranking). */
function rankOf(proc: ProcessSample, badnessPages: number, options: ScreeningOptions): Rank {
  if (options.growth === undefined) return { idle: 0, pages: badnessPages };
  const { idle, growthPages } = growthRank(proc, options.growth, options.pageSizeBytes);
  return { idle: idle ? 1 : 0, pages: badnessPages + growthPages };
}

/** Negative when a ranks before b (as rank.ts orders candidates of one class). */
function compareRanks(a: Rank, b: Rank): number {
  return a.idle - b.idle || b.pages - a.pages;
}

function identityKey(identity: ProcessIdentity): string {
  return `${identity.pid}:${identity.startTimeTicks}`;
}
