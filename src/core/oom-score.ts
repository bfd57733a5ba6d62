// The kernel's /proc/PID/oom_score, both ways, pure. The file shows the same badness the kernel's
// OOM killer ranks on (rss + swap + page tables + oom_score_adj scaled, in pages: badness.ts),
// scaled to 0..2000 over RAM + swap and rounded: (1000 + badness * 1000 / totalPages) * 2 / 3,
// in C's integer arithmetic (the division truncates towards zero), and 0 for a task the kernel
// will not kill (init, no mm left, oom_score_adj -1000, already reaped, in vfork). One read of it
// is the cheapest look at a process's badness there is: no page count, only which band of about
// 1.5 thousandths of memory it lies in. A screening listing (screening.ts) reads it for every
// process, and the details only for those whose band could put them among the first candidates.
// Checked against this kernel's own file, process by process (test/host/oom-score-host.test.ts).

/** The kernel's badness, in pages, as far as an oom_score tells it: low <= badness <= high. */
export interface BadnessBounds {
  lowPages: number;
  highPages: number;
}

/** What the scale's 1000 stands for: badness * 1000 / totalPages. */
const SCALE = 1000;

/** The oom_score the kernel prints for a badness (null: a task it will not kill). totalPages: RAM + swap pages (at least 1). */
export function oomScoreOf(badnessPages: number | null, totalPages: number): number {
  if (badnessPages === null) return 0;
  const total = Math.max(1, Math.floor(totalPages));
  const scaled = SCALE + Math.trunc((badnessPages * SCALE) / total);
  // points is unsigned in the kernel, (x * 2) / 3 of a non-negative x here: badness is at least
  // -totalPages for every task the kernel would kill (oom_score_adj -999 takes at most 999/1000).
  return Math.floor((Math.max(0, scaled) * 2) / 3);
}

/**
 * The badness an oom_score allows. Scores 0 and 1 include the tasks the kernel will not kill,
 * whose badness has no floor (lowPages -Infinity); the ceiling is what a killable task could
 * have at that score, in any case near the bottom (at most a thousandth of memory less than none).
 */
export function badnessBoundsOf(oomScore: number, totalPages: number): BadnessBounds {
  const total = Math.max(1, Math.floor(totalPages));
  const score = Math.max(0, Math.floor(oomScore));
  // floor(2x / 3) = score for the integers x from ceil(3 score / 2) to ceil(3 (score + 1) / 2) - 1.
  const scaledLow = Math.ceil((3 * score) / 2);
  const scaledHigh = Math.ceil((3 * (score + 1)) / 2) - 1;
  const low = score === 0 ? -Infinity : lowestBadnessWithScaled(scaledLow - SCALE, total);
  return { lowPages: low, highPages: highestBadnessWithScaled(scaledHigh - SCALE, total) };
}

/** The least badness b with trunc(b * 1000 / total) = y. */
function lowestBadnessWithScaled(y: number, total: number): number {
  // y > 0: b * 1000 / total >= y. y <= 0: b * 1000 / total > y - 1 (truncation towards zero).
  return y > 0 ? Math.ceil((y * total) / SCALE) : Math.floor(((y - 1) * total) / SCALE) + 1;
}

/** The greatest badness b with trunc(b * 1000 / total) = y. */
function highestBadnessWithScaled(y: number, total: number): number {
  // y >= 0: b * 1000 / total < y + 1. y < 0: b * 1000 / total <= y.
  return y >= 0 ? Math.ceil(((y + 1) * total) / SCALE) - 1 : Math.floor((y * total) / SCALE);
}
