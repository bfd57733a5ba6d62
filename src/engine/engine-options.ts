// Engine tunables. Each default carries the reason it has that value.

export interface EngineOptions {
  /** Record decisions, never kill, and leave the kernel OOM killer in charge. */
  dryRun: boolean;
  /** How many top candidates each journal record lists. */
  journalCandidates: number;
  /** Interval between progress observations of a killed victim. */
  observeIntervalMs: number;
  /** Observations in a row without progress before the next victim is chosen (seed 000: progress, not a bare timeout). */
  maxObservationsWithoutProgress: number;
  /** A fall of victim RSS or cgroup usage at least this large counts as progress. */
  minProgressBytes: number;
  /** Pause between the first confirmation reads right after the kill, so a fast recovery is timed precisely. */
  fastConfirmDelaysMs: number[];
}

/** Shorter observation intervals are refused: the timer granularity of a daemon, and of virtual time. */
export const MIN_OBSERVE_INTERVAL_MS = 1;

export const DEFAULT_ENGINE_OPTIONS: EngineOptions = {
  dryRun: false,
  // Five is enough to see why the victim was chosen without bloating every line.
  journalCandidates: 5,
  // Reaping a 1 GiB victim took ~45 ms here: a healthy victim is gone within the first observation.
  observeIntervalMs: 250,
  // 12 x 250 ms = 3 s without any progress before a second victim: never sooner than today's kernel
  // gives up on a victim (OOM_REAPER_DELAY 2 s + 10 x 100 ms). Seed 000's hog, its mmap_sem held by
  // its own compacting threads, needed 2.6 s to exit; half a second of patience killed an innocent
  // in the simulator (scenarios/000-reaper-gives-up-memcg.yaml).
  maxObservationsWithoutProgress: 12,
  // Page-cache noise in a busy cgroup moves usage by less than this between observations.
  minProgressBytes: 1024 * 1024,
  // Memory came back 4-5 ms after the notification for a 64 MiB victim (GUIDE §4): sample densely at first.
  fastConfirmDelaysMs: [0.5, 1, 1, 2, 2, 5, 5, 10, 20, 50],
};
