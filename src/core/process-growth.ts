// How fast each process is growing, from successive listings of the processes: a bounded history of
// each one's memory (keyed by pid and start time, so a reused pid starts afresh), and its growth
// rate over a recent window. Pure: the caller says when each listing was taken.
//
// What grows is what the kernel's badness counts: rss + swap + page tables. A process being swapped
// out moves memory from rss to swap and does not grow; one that maps memory grows by what it touches.

import type { ProcessIdentity } from "./rank.js";
import type { ProcessSample } from "./types.js";

export interface GrowthConfig {
  /** The rate is measured over the samples of this last stretch of time. */
  windowMs: number;
  /** Two samples closer than this say nothing about a rate: the rate is then not known. */
  minSpanMs: number;
  /** Samples kept per process over the window, besides the newest (which replaces one too close to the sample before it). */
  maxSamplesPerProcess: number;
  /** Processes followed; beyond it the largest are kept (the small ones would never be chosen). */
  maxProcesses: number;
}

export const DEFAULT_GROWTH_CONFIG: GrowthConfig = {
  // Ten seconds: long enough that one allocation burst is not a trend, short enough that a hog
  // which began a few seconds before the machine got short of memory already shows as one.
  windowMs: 10_000,
  // The machine guard samples every 250 ms near a threshold; two listings closer than two of its
  // intervals are as likely to show page-cache noise as growth.
  minSpanMs: 500,
  // 16 over 10 s: one every ~0.6 s, enough for a rate, and 16 numbers per process.
  maxSamplesPerProcess: 16,
  // A big host has tens of thousands of processes; following more than this costs memory for processes
  // that are too small to be chosen anyway.
  maxProcesses: 16_384,
};

/**
 * How far ahead growth is projected when ranking: a process growing at R bytes/s counts as if it were
 * already R x 10 s bigger. Ten seconds is what a hog at the 40 MiB/s adds before the kernel
 * would act on a 1 GiB machine, and makes a 200 MiB process growing 40 MiB/s (600 MiB projected) a
 * worse victim than an idle 500 MiB one.
 */
export const DEFAULT_GROWTH_HORIZON_MS = 10_000;

/** Growth rates as of one instant, for one decision. */
export interface GrowthRates {
  /** Bytes per second over the window; negative while shrinking; null: not known (too few samples, or a process not seen). */
  bytesPerSec(identity: ProcessIdentity): number | null;
  /**
   * The most it held in the listings before this instant (null: none, it is new): a process past
   * exit_mm shows no memory, and this tells a big one freeing its memory from a short-lived one.
   */
  peakBytesBefore(identity: ProcessIdentity): number | null;
}

/** What the ranking is given: the rates and how far ahead to project them. */
export interface GrowthProjection {
  rates: GrowthRates;
  horizonMs: number;
}

interface Point {
  atMs: number;
  bytes: number;
}

export class ProcessGrowth {
  private readonly tracks = new Map<string, Point[]>();
  private lastAtMs = -Infinity;
  private readonly spacingMs: number;

  constructor(private readonly config: GrowthConfig = DEFAULT_GROWTH_CONFIG) {
    this.spacingMs = config.windowMs / Math.max(1, config.maxSamplesPerProcess);
  }

  /** Processes with a history. */
  get size(): number {
    return this.tracks.size;
  }

  /** Samples held over every process: what the history costs in memory. */
  get sampleCount(): number {
    let count = 0;
    for (const track of this.tracks.values()) count += track.length;
    return count;
  }

  /**
   * Adds one complete listing taken at atMs: a process missing from it is gone, and its history
   * too. A listing older than the last one is ignored (false): time only moves forward.
   */
  record(atMs: number, processes: readonly ProcessSample[]): boolean {
    if (!Number.isFinite(atMs) || atMs < this.lastAtMs) return false;
    this.lastAtMs = atMs;
    const listed = followed(processes, this.config.maxProcesses);
    for (const key of this.tracks.keys()) if (!listed.has(key)) this.tracks.delete(key);
    for (const [key, bytes] of listed) {
      const track = this.tracks.get(key);
      if (track === undefined) this.tracks.set(key, [{ atMs, bytes }]);
      else this.append(track, { atMs, bytes });
    }
    return true;
  }

  /** The rate of one process as of atMs (default: the last listing). */
  growthBytesPerSec(identity: ProcessIdentity, atMs: number = this.lastAtMs): number | null {
    const track = this.tracks.get(identityKey(identity));
    return track === undefined ? null : this.rateOf(track, atMs);
  }

  /** Every rate as of atMs (default: the last listing), fixed: later listings do not change it. */
  rates(atMs: number = this.lastAtMs): GrowthRates {
    const known = new Map<string, number>();
    const peaks = new Map<string, number>();
    for (const [key, track] of this.tracks) {
      const rate = this.rateOf(track, atMs);
      if (rate !== null) known.set(key, rate);
      const before = track.filter((point) => point.atMs < atMs);
      if (before.length > 0) peaks.set(key, Math.max(...before.map((point) => point.bytes)));
    }
    return { bytesPerSec: (identity) => known.get(identityKey(identity)) ?? null, peakBytesBefore: (identity) => peaks.get(identityKey(identity)) ?? null };
  }

  private append(track: Point[], point: Point): void {
    const last = track[track.length - 1]!;
    if (point.atMs === last.atMs) {
      track[track.length - 1] = point;
    } else if (track.length >= 2 && point.atMs - track[track.length - 2]!.atMs < this.spacingMs) {
      // Too close to the one before the newest: the newest is replaced, so the history stays bounded and the newest stays new.
      track[track.length - 1] = point;
    } else {
      track.push(point);
    }
    const windowStartMs = point.atMs - this.config.windowMs;
    let drop = 0;
    while (drop < track.length - 1 && track[drop]!.atMs < windowStartMs) drop++;
    const excess = track.length - drop - (this.config.maxSamplesPerProcess + 1);
    if (drop + Math.max(0, excess) > 0) track.splice(0, drop + Math.max(0, excess));
  }

  /** From the oldest to the newest sample within the window ending at atMs. */
  private rateOf(track: readonly Point[], atMs: number): number | null {
    const windowStartMs = atMs - this.config.windowMs;
    let oldest: Point | null = null;
    let newest: Point | null = null;
    for (const point of track) {
      if (point.atMs < windowStartMs || point.atMs > atMs) continue;
      oldest ??= point;
      newest = point;
    }
    if (oldest === null || newest === null) return null;
    const spanMs = newest.atMs - oldest.atMs;
    if (spanMs < this.config.minSpanMs || spanMs <= 0) return null;
    return ((newest.bytes - oldest.bytes) * 1000) / spanMs;
  }
}

/** The projected pages a rate adds over the horizon: none for a process that shrinks or is not known. */
export function projectedGrowthPages(bytesPerSec: number | null, horizonMs: number, pageSizeBytes: number): number {
  if (bytesPerSec === null || !(bytesPerSec > 0) || !(horizonMs > 0)) return 0;
  const pages = Math.floor((bytesPerSec * horizonMs) / 1000 / pageSizeBytes);
  return Number.isFinite(pages) ? pages : 0;
}

/** The processes of a listing that are followed, key to footprint: kernel threads never (they are never candidates). */
function followed(processes: readonly ProcessSample[], maxProcesses: number): Map<string, number> {
  let users = processes.filter((p) => !p.isKernelThread);
  if (users.length > maxProcesses) {
    users = [...users].sort((a, b) => footprintBytes(b) - footprintBytes(a) || a.pid - b.pid).slice(0, maxProcesses);
  }
  return new Map(users.map((p) => [identityKey(p), footprintBytes(p)]));
}

/** What badness counts, in bytes. */
function footprintBytes(p: ProcessSample): number {
  return Math.max(0, p.rssBytes) + Math.max(0, p.swapBytes) + Math.max(0, p.pageTablesBytes);
}

function identityKey(identity: ProcessIdentity): string {
  return `${identity.pid}:${identity.startTimeTicks}`;
}
