// The machine guard's history of samples, kept so that each sample costs O(log n): appending one
// drops what no detector needs any more (the front, found by binary search on time) and records,
// as it goes, what the detectors would otherwise walk back over the whole window for: where the
// current streak below the min watermark began, and the newest sample with PSI totals. At one
// sample a millisecond a 30 s window holds 30,000 samples; a walk over them per sample made a
// day's work of an hour.
//
// Pure, like the detectors: the engine owns its history and is the only one to append to it.

import type { MachineGuardConfig, MachineSample } from "./machine-pressure.js";

/** A sample as the history keeps it, with where it stands in the sequence of every sample appended. */
export interface HistoryEntry {
  readonly sample: MachineSample;
  /** Its position among all the samples ever appended (0 for the first): it survives compaction. */
  readonly seq: number;
  /** The seq of the first sample of its streak with free below the min watermark (null: free at or above min). */
  readonly belowMinSinceSeq: number | null;
  /** The seq of the newest sample up to and including this one with PSI totals (null: none). */
  readonly psiSeq: number | null;
}

export interface MachineHistory {
  /**
   * In time order (the engine's clock is monotonic). Entries before `oldest` are no longer needed;
   * they are dropped in one copy once they are more than half the array, so each entry is copied
   * at most once however long the window.
   */
  entries: HistoryEntry[];
  /** Index in `entries` of the oldest sample still kept. */
  oldest: number;
}

/** What the detectors read: the kept samples are entries[oldest..]. */
export type HistoryView = Readonly<{ entries: readonly HistoryEntry[]; oldest: number }>;

export function emptyHistory(): MachineHistory {
  return { entries: [], oldest: 0 };
}

/** The newest entry, undefined before the first sample. */
export function newestEntry(history: HistoryView): HistoryEntry | undefined {
  return history.entries[history.entries.length - 1];
}

export function newestSample(history: HistoryView): MachineSample | undefined {
  return newestEntry(history)?.sample;
}

/** The oldest sample kept, undefined before the first. */
export function oldestKept(history: HistoryView): HistoryEntry | undefined {
  return history.entries[history.oldest];
}

/** The kept entry with the given seq, or undefined when it was dropped (or is yet to come). */
export function entryAtSeq(history: HistoryView, seq: number): HistoryEntry | undefined {
  const first = history.entries[0];
  if (first === undefined) return undefined;
  const index = seq - first.seq;
  return index >= history.oldest && index < history.entries.length ? history.entries[index] : undefined;
}

/**
 * The newest kept entry whose sample satisfies `holds`, which must hold for the oldest kept
 * samples up to some point and for none after it (an age test on a time-ordered history);
 * undefined when it holds for none. A binary search: O(log n).
 */
export function newestKeptWhere(history: HistoryView, holds: (s: MachineSample) => boolean): HistoryEntry | undefined {
  let lo = history.oldest;
  let hi = history.entries.length;
  // Invariant: holds for every kept index below lo, for none from hi on.
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (holds((history.entries[mid] as HistoryEntry).sample)) lo = mid + 1;
    else hi = mid;
  }
  return lo > history.oldest ? history.entries[lo - 1] : undefined;
}

/**
 * Appends a sample (no older than the newest) and drops the samples no detector needs: one sample
 * older than the longest window stays, the baseline the window's differences start from.
 */
export function appendSample(history: MachineHistory, sample: MachineSample, config: Pick<MachineGuardConfig, "starvationWindowMs" | "psiWindowMs">): MachineSample {
  const previous = newestEntry(history);
  const seq = previous === undefined ? 0 : previous.seq + 1;
  const belowMin = sample.freeBytes < sample.minWatermarkBytes;
  history.entries.push({
    sample,
    seq,
    belowMinSinceSeq: belowMin ? (previous?.belowMinSinceSeq ?? seq) : null,
    psiSeq: sample.psiFullTotalUs !== null ? seq : (previous?.psiSeq ?? null),
  });
  const keepMs = Math.max(config.starvationWindowMs, config.psiWindowMs);
  // The newest sample at least keepMs old is the baseline; everything before it goes. None that
  // old yet: everything stays.
  const baseline = newestKeptWhere(history, (s) => sample.atMs - s.atMs >= keepMs);
  if (baseline !== undefined) history.oldest = baseline.seq - (history.entries[0] as HistoryEntry).seq;
  compact(history);
  return sample;
}

/** Drops the dead front in place once it is more than half the array: amortized O(1) per sample. */
function compact(history: MachineHistory): void {
  if (history.oldest * 2 <= history.entries.length) return;
  const { entries, oldest } = history;
  entries.copyWithin(0, oldest);
  entries.length -= oldest;
  history.oldest = 0;
}
