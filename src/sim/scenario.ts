// The contract between a scenario file (scenarios/*.yaml, parsed and validated by
// src/sim/scenario-file.ts) and the simulated kernel (src/sim/kernel/). Plain data, validated:
// sizes in pages of PAGE_SIZE_BYTES, times in ms of virtual time.
//
// Conventions the parser and the kernel both follow:
// - Memory: `mlockedPages` is part of `anonPages`, not in addition to it (the parser rejects
//   mlockedPages > anonPages; the kernel counts mlocked pages inside anon, as rss does).
// - Lock names in `lock`/`unlock` steps: a lock declared in `locks`; `mmap_sem`, the running
//   task's own mmap_sem; or `mmap_sem:TASK`, another task's (e.g. a handler reading
//   /proc/PID/cmdline of the OOMing task). mmap_sem locks are rwsems and never listed in `locks`.
// - `PolicyResult.recoveredMs`: 0 when there never was an OOM condition; null when one is still
//   active at the end of the run (or the run panicked); else ms from the first OOM condition to
//   the end of the last one.

export const PAGE_SIZE_BYTES = 4096;

/** Allocation contexts (gfp masks) the simulated allocator distinguishes. */
export type GfpContext =
  /** May reclaim, may invoke the OOM killer, may fail after the OOM killer made no progress. */
  | "GFP_KERNEL"
  /** May reclaim (not via filesystems); never invokes the OOM killer; loops (or fails) instead. */
  | "GFP_NOFS"
  /** GFP_NOFS | __GFP_NOFAIL: never fails; loops until it succeeds (may invoke OOM in today's kernel). */
  | "GFP_NOFS_NOFAIL"
  /** GFP_KERNEL | __GFP_NOFAIL. */
  | "GFP_KERNEL_NOFAIL"
  /** Cannot sleep or reclaim; may dip below min down to the ALLOC_HIGH level (min/2); fails below it. */
  | "GFP_ATOMIC";

/** How a memcg charge that would exceed the hard limit ends. */
export type ChargeFailure =
  /** Syscall-context charges fail with ENOMEM; fault-context charges enter memcg OOM (the 2018 baseline of ENOMEM at the memcg limit). */
  | "enomem"
  /** The charge is forced past the limit and reconciled later (the proposal against ENOMEM at the memcg limit). */
  | "overcharge";

export type KernelVersion =
  /** OOM reaper as of 2018: runs at once, 10 tries x 100 ms, skips mlocked VMAs; no forced charges. */
  | "2018"
  /** Today: reaper waits 2 s (OOM_REAPER_DELAY), then 10 tries, mlocked memory reapable. */
  | "today";

/** The upstream proposals for the five kernel problems, as alternative kernel policies. */
export type KernelProposal =
  /** 000: a victim keeps blocking new selections until this timeout, not until the reaper gives up. */
  | { kind: "victim-timeout"; timeoutMs: number }
  /** 001: the OOM victim (TIF_MEMDIE) gets access to memory reserves, also for its NOFAIL waits. */
  | { kind: "victim-reserves" }
  /** 002: memcg charges are forced past the limit and reconciled asynchronously (kill or reclaim). */
  | { kind: "overcharge-reconcile"; reconcileMs: number }
  /** 003: OOM-kill instead of looping when free pages fall below min/2 while reclaim keeps running. */
  | { kind: "kill-below-half-min" }
  /** 004: the kernel waits this long for a user-space handler before acting on a memcg OOM. */
  | { kind: "oom-delay"; delayMs: number };

/** One instruction of a task's program. Programs run step by step in virtual time. */
export type Step =
  | { op: "alloc"; pages: number; pagesPerMs: number; context: GfpContext; charge: "fault" | "syscall"; mlocked?: boolean; fileBacked?: boolean }
  | { op: "free"; pages: number }
  /** `lock`: a declared lock, "mmap_sem" (the task's own) or "mmap_sem:TASK" (another task's). */
  | { op: "lock"; lock: string; mode: "read" | "write" | "exclusive" }
  | { op: "unlock"; lock: string }
  | { op: "sleep"; ms: number }
  /** Repeat the steps `times` times (null: forever). */
  | { op: "loop"; times: number | null; steps: Step[] }
  | { op: "exit" };

export interface ThreadSpec {
  name: string;
  program: Step[];
}

export interface TaskSpec {
  name: string;
  /** Path of the memcg the task is charged to ("/" = root, no limit). */
  cgroup: string;
  oomScoreAdj: number;
  /** Memory the task holds at the start. */
  mm: {
    /** Resident anonymous pages, the mlocked ones included. */
    anonPages: number;
    /** The part of anonPages that is mlocked (at most anonPages; not counted twice). */
    mlockedPages: number;
    sharedPages: number;
    pageTablePages: number;
    /** A blockable mmu notifier makes the 2018 reaper skip the mm at once (the reaper gives up on a victim). */
    blockableMmuNotifier: boolean;
    /**
     * File pages (code, libraries, data files) the task touches whenever it runs: while the page
     * cache is smaller than the running tasks' working sets together, they are evicted and
     * refaulted (thrashing, the desktop freeze).
     */
    fileWorkingSetPages: number;
  };
  /** Every task has at least one thread. */
  threads: ThreadSpec[];
  /** Marks a task the scenario counts as innocent: killing it is a wrong kill. */
  innocent: boolean;
  /** Starts at this virtual time. */
  startMs: number;
}

export interface ZoneSpec {
  name: string;
  pages: number;
  minPages: number;
  lowPages: number;
  highPages: number;
}

export interface CgroupSpec {
  path: string;
  /** null: no limit. */
  limitPages: number | null;
  /**
   * v2 memory.high: above it the kernel throttles the charging tasks (reclaim, then a sleep)
   * instead of failing or OOM-killing. Absent or null: "max" (none).
   */
  highPages?: number | null;
  version: 1 | 2;
  /** v1: the kernel killer disabled (a user-space handler is expected). */
  oomKillDisable: boolean;
  /** v2 memory.oom.group. */
  oomGroup: boolean;
  chargeFailure: ChargeFailure;
}

export interface LockSpec {
  name: string;
  /** rwsem: readers share, a queued writer blocks later readers (FIFO); mutex: one holder. */
  kind: "rwsem" | "mutex";
}

/** Who handles OOMs from user space in a run. */
export type UserspaceSpec =
  | { kind: "none" }
  /** oomwarden's engine, unchanged, over the simulator's Host adapter; options as in the daemon config. */
  | { kind: "oomwarden"; managedCgroups: string[]; options: Record<string, unknown> }
  /** A user's own handler task (one that can deadlock): notified on OOM, acts after `reactMs`, may itself be stuck. */
  | {
      kind: "handler";
      task: string;
      cgroups: string[];
      reactMs: number;
      /**
       * What the handler's task does before it can kill (optional; default: fault in one page of
       * heap, as reading a /proc file or growing a buffer does). E.g. take "mmap_sem:TASK" for read
       * to model reading /proc/PID/cmdline of the OOMing task.
       */
      actionSteps?: Step[];
    };

export interface PolicySpec {
  name: string;
  kernel: { version: KernelVersion; proposals: KernelProposal[] };
  userspace: UserspaceSpec;
}

export interface MemorySpec {
  zones: ZoneSpec[];
  swapPages: number;
  /** Page cache at start (reclaimable, clean). */
  fileCachePages: number;
  /** kswapd reclaim rate while free < low, until free >= high. */
  kswapdPagesPerMs: number;
  /** Reclaim an allocating task does itself when free < min. */
  directReclaimPagesPerMs: number;
  /** Time exit_mmap takes per page once a killed task runs it. */
  exitMmapMsPerKiPage: number;
  /** Rate at which a thread reads evicted working-set pages back (random reads from disk). */
  refaultPagesPerMs: number;
}

export interface Scenario {
  name: string;
  /** Which of the five kernel problems of docs/kernel-problems.md this reproduces ("000".."004"), or null. */
  seed: string | null;
  description: string;
  /** Seed of the pseudo-random generator: same scenario + seed = byte-identical results. */
  randomSeed: number;
  durationMs: number;
  /** Granularity of the simulation loop. */
  tickMs: number;
  memory: MemorySpec;
  cgroups: CgroupSpec[];
  locks: LockSpec[];
  tasks: TaskSpec[];
  /** The policies this scenario is compared under, in order; `--policy NAME` picks among them. */
  policies: PolicySpec[];
  /** What the scenario expects of each policy, by policy name (checked by tests, shown by the CLI). */
  expectations: Record<string, Expectation>;
}

/**
 * What a scenario may expect of one policy; every key optional. Besides exact values and upper
 * bounds, lower bounds and failure counts, which the kernel problems' bad outcomes need ("more than one
 * kill", "syscalls fail with ENOMEM", "allocations stall"). src/sim/result-table.ts checks it.
 */
export interface Expectation {
  innocentKilled?: PolicyResult["innocentKilled"];
  livelock?: PolicyResult["livelock"];
  panic?: PolicyResult["panic"];
  maxKilled?: number;
  minKilled?: number;
  minInnocentKilled?: number;
  /** Exactly these tasks killed, in this order. */
  killed?: string[];
  /** false: the OOM condition must never end (recoveredMs null); true: it must end. */
  recovered?: boolean;
  recoveredWithinMs?: number;
  minAllocFailures?: PolicyResult["allocFailures"];
  maxAllocFailures?: PolicyResult["allocFailures"];
  minStallMs?: number;
  maxStallMs?: number;
  minPressureFullMs?: number;
  maxPressureFullMs?: number;
  /** The first kill (kernel or user space) comes at or before this virtual time. */
  firstKillByMs?: number;
  /** The first kill comes after this virtual time (or never): the kernel acting late. */
  firstKillAfterMs?: number;
}

/** One row of `oomwarden simulate` output: what happened under one policy. */
export interface PolicyResult {
  policy: string;
  /** Names of the tasks killed, in kill order (by the kernel or user space). */
  killed: string[];
  /** Number of killed tasks marked innocent. */
  innocentKilled: number;
  /**
   * Virtual ms from the first OOM condition to the end of the last one; 0 if there never was an
   * OOM condition; null if one is still active at the end of the run (or the run panicked).
   */
  recoveredMs: number | null;
  /** Failed allocations by context (ENOMEM in syscalls, GFP_ATOMIC failures, ...). */
  allocFailures: Partial<Record<GfpContext | "memcg-syscall-enomem", number>>;
  /** Longest time any task waited for memory or a lock without progress. */
  maxStallMs: number;
  /**
   * PSI memory "full" over the run: ms during which every non-idle task was stalled on memory
   * (waiting for it, in direct reclaim, or refaulting its working set). The freeze a user feels.
   */
  pressureFullMs: number;
  /** True when no task made progress for the rest of the run while some were runnable-but-stuck. */
  livelock: boolean;
  panic: boolean;
}

export type TimelineEventKind =
  | "oom"
  | "kill"
  | "reaper-attempt"
  | "reaper-gave-up"
  | "mmf-oom-skip"
  | "exit"
  | "alloc-fail"
  | "handler-notified"
  | "handler-acted"
  | "watchdog"
  | "panic"
  | "userspace-kill";

export interface TimelineEvent {
  tMs: number;
  kind: TimelineEventKind;
  /** Task or cgroup concerned. */
  subject: string;
  detail: string;
}

/** Sampled state for plots: free pages and watermarks of the first zone, usage and limit per cgroup. */
export interface TimelineSample {
  tMs: number;
  freePages: number;
  minPages: number;
  lowPages: number;
  highPages: number;
  cgroups: Record<string, { usagePages: number; limitPages: number | null }>;
}

export interface SimulationRun {
  result: PolicyResult;
  events: TimelineEvent[];
  samples: TimelineSample[];
  /** Count of simulated events processed (benchmarks report events per second). */
  simulatedEvents: number;
}
