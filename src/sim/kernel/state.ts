// The simulated kernel's state: plain records the other modules read and change. No behaviour
// here beyond tiny accessors; each mechanism lives in its own module.

import type { ChargeFailure, GfpContext, KernelVersion, PolicySpec, Scenario, Step, TaskSpec, TimelineEvent, TimelineEventKind } from "../scenario.js";
import type { EventQueue } from "./event-queue.js";
import type { LockMode, LockWaiter, SimLock } from "./locks.js";
import type { Proposals } from "./proposals.js";
import type { Rng } from "./rng.js";
import type { Stats } from "./stats.js";

/** What a page allocated by a task becomes. */
export type PageKind = "anon" | "shared" | "pagetable" | "kmem" | "cache";

export type AllocStep = Extract<Step, { op: "alloc" }> & {
  /** Internal: the initial mm of a task that starts later is faulted in with these kinds. */
  kind?: PageKind;
};

/** Steps a thread runs: the scenario's, plus the scripted handler's action (a user-space handler that can deadlock). */
export type InternalStep = Exclude<Step, { op: "alloc" }> | AllocStep | { op: "handler-act"; cgroup: string };

export interface Frame {
  steps: readonly InternalStep[];
  index: number;
  /** Further passes of a loop after the current one; null: forever; 0: the last pass (or not a loop). */
  repeatsLeft: number | null;
}

export type ThreadState =
  /** The task has not started. */
  | "new"
  /** At a step boundary, a run event is pending. */
  | "ready"
  /** Inside an alloc step; served by the tick. */
  | "alloc"
  | "sleep"
  | "lock-wait"
  /** v1 memcg OOM with the kernel killer disabled: waits in mem_cgroup_oom_synchronize (D, killable). */
  | "oom-wait"
  /** Inside an alloc step, sleeping the memory.high penalty (mem_cgroup_handle_over_high: D, killable). */
  | "throttled"
  | "done";

export interface AllocState {
  step: AllocStep;
  kind: PageKind;
  context: GfpContext;
  remaining: number;
  /** Fractional pages earned at the step's rate and not yet allocated. */
  creditPages: number;
  lastServedMs: number;
}

export interface HeldLock {
  lock: SimLock;
  mode: LockMode;
}

export interface Thread {
  tid: number;
  name: string;
  task: Task;
  frames: Frame[];
  state: ThreadState;
  /** Bumped whenever a pending wake-up becomes stale (e.g. a sleep cut short by SIGKILL). */
  gen: number;
  alloc: AllocState | null;
  lockWait: { lock: SimLock; waiter: LockWaiter; resume: "step" | "alloc" } | null;
  /** A sleep while holding a lock models uninterruptible kernel work (compaction, I/O). */
  sleepUninterruptible: boolean;
  held: HeldLock[];
  /** mmap_sem read holds dropped while waiting in a memcg OOM (the fault unwinds first, since 3.12); retaken before the retry. */
  unwound: HeldLock[];
  oomWaitMemcg: Memcg | null;
  /** Set once the thread got nothing it waited for; cleared on progress. */
  stallSinceMs: number | null;
  /** Reading evicted working-set pages back before its next step (thrashing): a memory stall for PSI. */
  refaulting: boolean;
  /** The step after a refault runs without another refault check (it would otherwise never start while eviction goes on). */
  refaultDone: boolean;
  /** The instant this thread last did direct reclaim: PSI counts that time as a memory stall even when it got its pages. */
  directReclaimAtMs: number;
  /** The stall is a wait for memory (allocator loop or memcg OOM), not only for a lock. */
  memoryStall: boolean;
  lastProgressMs: number;
  /** Steps pushed on the thread from outside (the scripted handler's action) at its next step boundary. */
  pendingFrames: Frame[];
  /** Last virtual ms an alloc-fail event was logged for this thread (rate limit, like printk_ratelimit). */
  lastFailLogMs: number;
  failsSinceLog: number;
  /** The instant stepsThisInstant counts for: zero-time steps are limited per instant (threads.ts). */
  stepsAtMs: number;
  stepsThisInstant: number;
}

export interface Mm {
  /** Resident anonymous pages, mlocked ones included. */
  anonPages: number;
  mlockedPages: number;
  sharedPages: number;
  pageTablePages: number;
  /** Kernel memory charged to the task (syscall kmem, GFP_ATOMIC buffers): not in rss, never reaped. */
  kmemPages: number;
  swapPages: number;
  /** Resident pages of this mm (anon + shared + page tables + kmem) per zone. */
  zonePages: number[];
  blockableMmuNotifier: boolean;
  mmapSem: SimLock;
  /** MMF_OOM_SKIP: the OOM killer ignores this mm from now on. */
  oomSkip: boolean;
}

export type TaskPhase = "pending" | "running" | "exiting" | "gone";

export interface Task {
  pid: number;
  name: string;
  spec: TaskSpec;
  memcg: Memcg;
  oomScoreAdj: number;
  innocent: boolean;
  startTimeTicks: number;
  phase: TaskPhase;
  mm: Mm;
  threads: Thread[];
  /** SIGKILL pending (OOM kill, user-space kill, or exit_group). */
  fatalSignal: boolean;
  /** TIF_MEMDIE / tsk_is_oom_victim: chosen by the kernel OOM killer. */
  oomVictim: boolean;
  /** Counted in the result's kill list (kernel or user-space kill). */
  killed: boolean;
  killedAtMs: number | null;
  /** The OOM domain the task was chosen in: null for a global OOM, else the OOMing memcg. */
  oomScope: Memcg | null;
  exitListeners: Set<() => void>;
}

export interface MemcgEvents {
  low: number;
  high: number;
  max: number;
  oom: number;
  oomKill: number;
  oomGroupKill: number;
}

export interface Memcg {
  path: string;
  parent: Memcg | null;
  children: Memcg[];
  version: 1 | 2;
  limitPages: number | null;
  /** v2 memory.high (null: "max"; always null on v1 and the root). */
  highPages: number | null;
  oomKillDisable: boolean;
  oomGroup: boolean;
  chargeFailure: ChargeFailure;
  /** Hierarchical usage: this memcg's charges and its descendants'. */
  usagePages: number;
  /** Page cache charged to this memcg itself (reclaimable). */
  cachePages: number;
  /** Tasks charged to this memcg itself. */
  tasks: Task[];
  events: MemcgEvents;
  /** Threads waiting in (or woken from and about to retry) this memcg's OOM. */
  oomWaiters: Set<Thread>;
  /** oom-delay proposal: the delay ran out in this OOM episode, so the kernel killer may act. */
  delayExpired: boolean;
  oomEpisode: number;
  lastOomAttemptTick: number;
  reconcilePending: boolean;
  oomListeners: Set<() => void>;
  eventListeners: Set<() => void>;
  eventsNotifyPending: boolean;
}

export interface Zone {
  name: string;
  totalPages: number;
  minPages: number;
  lowPages: number;
  highPages: number;
  freePages: number;
  /** Pages held by tasks (anon, shared, page tables, kernel memory). */
  usedPages: number;
  /** Page cache (clean, reclaimable). */
  cachePages: number;
  /** Lowest free count seen during the current tick and the previous one (free memory dips between samples). */
  lowWaterPages: number;
  prevLowWaterPages: number;
}

/** Memory freed over time from an mm: exit_mmap, the OOM reaper, process_mrelease. */
export interface Job {
  kind: "exit" | "reap";
  task: Task;
  pagesPerMs: number;
  /** Pages this job may still free (reaps are bounded; exit takes everything). */
  budgetPages: number;
  reapMlocked: boolean;
  creditPages: number;
  onDone: () => void;
}

export type SimEvent =
  | { kind: "tick" }
  | { kind: "thread-run"; thread: Thread; gen: number }
  | { kind: "task-start"; task: Task }
  | { kind: "call"; fn: () => void }
  | { kind: "sample" };

export interface Sim {
  readonly scenario: Scenario;
  readonly policy: PolicySpec;
  readonly version: KernelVersion;
  readonly proposals: Proposals;
  readonly tickMs: number;
  readonly rng: Rng;
  readonly stats: Stats;
  readonly queue: EventQueue<SimEvent>;
  nowMs: number;
  /** Index of the current tick (oom_lock: one OOM invocation per scope per tick). */
  tickIndex: number;
  zones: Zone[];
  root: Memcg;
  memcgs: Map<string, Memcg>;
  tasks: Task[];
  tasksByPid: Map<number, Task>;
  tasksByName: Map<string, Task>;
  locks: Map<string, SimLock>;
  swapTotalPages: number;
  swapFreePages: number;
  kswapdAwake: boolean;
  /** Rotating start points so reclaim spreads over cache owners and tasks instead of always hitting the first. */
  reclaimCursor: { owner: number; task: number };
  /** vmstat-like counters for user space (the machine guard): pages reclaimed, direct-reclaim entries. */
  vmstat: { reclaimedPages: number; allocStalls: number };
  allocThreads: Set<Thread>;
  jobs: Job[];
  /** Kernel OOM victims whose task is not gone yet. */
  liveOomVictims: Set<Task>;
  /** Killed tasks (kernel or user space) whose task is not gone yet. */
  liveKilled: Set<Task>;
  killOrder: Task[];
  events: TimelineEvent[];
  panicked: boolean;
  /** Global OOM episodes for the "oom" timeline event. */
  lastGlobalOomTick: number;
  reaper: ReaperState;
  /** The scripted user-space handler of the policy (one that can deadlock), if any. */
  handler: HandlerState | null;
  schedule(atMs: number, event: SimEvent): void;
  /** Make sure a tick is coming: something needs continuous service. */
  ensureTick(): void;
  log(kind: TimelineEventKind, subject: string, detail: string): void;
}

export interface HandlerState {
  task: Task;
  reactMs: number;
  actionSteps: readonly InternalStep[];
  /** Notified and not done acting yet: further notifications are coalesced. */
  busy: boolean;
  /** v2: memory.events oom count already seen per cgroup. */
  seenOom: Map<Memcg, number>;
}

export interface ReaperState {
  queue: Task[];
  busy: boolean;
}

/** Pages a killed task's memory is freed at, from MemorySpec.exitMmapMsPerKiPage. */
export function exitPagesPerMs(sim: Sim): number {
  const msPerKiPage = sim.scenario.memory.exitMmapMsPerKiPage;
  return msPerKiPage <= 0 ? Number.POSITIVE_INFINITY : 1024 / msPerKiPage;
}

export function residentPages(mm: Mm): number {
  return mm.anonPages + mm.sharedPages + mm.pageTablePages + mm.kmemPages;
}

/** rss as /proc and the OOM killer count it (MM_ANONPAGES + MM_SHMEMPAGES). */
export function rssPages(mm: Mm): number {
  return mm.anonPages + mm.sharedPages;
}

export function isLive(task: Task): boolean {
  return task.phase === "running" || task.phase === "exiting";
}
