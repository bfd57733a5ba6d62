// What a user-space agent sees of the simulated kernel: the equivalent of procfs, cgroupfs,
// eventfd/inotify notifications, pidfd kills and process_mrelease. The lead wraps it as
// oomwarden's Host (src/host/sim). Sizes in pages, times in virtual ms.
//
// An agent runs "outside" the simulated memory: its calls never stall and never allocate.
// Callbacks (timers, notifications, exit, mrelease completion) always arrive asynchronously, as
// events of the simulation at the current or a later virtual instant, never inside the call.

export type SimTaskState = "R" | "S" | "D" | "Z";

export interface SimThreadInfo {
  tid: number;
  state: SimTaskState;
  /** wchan-like: "" when running, else what the thread waits for ("rwsem:mmap_sem", "mem_cgroup_oom_synchronize", ...). */
  waitingOn: string;
}

export interface SimProcessInfo {
  pid: number;
  name: string;
  /** Start time in clock ticks (USER_HZ = 100) since boot, as /proc/PID/stat field 22. */
  startTimeTicks: number;
  /** State of the thread-group leader ("Z" if the leader exited before the other threads). */
  state: SimTaskState;
  rssPages: number;
  swapPages: number;
  pageTablePages: number;
  oomScoreAdj: number;
  cgroup: string;
  threads: SimThreadInfo[];
  /** SIGKILL is pending (killed by the kernel, by user space, or exit_group). */
  killed: boolean;
}

export interface SimCgroupInfo {
  path: string;
  version: 1 | 2;
  usagePages: number;
  limitPages: number | null;
  /** v2 memory.high, this cgroup's own (null: "max", and always on v1). */
  highPages: number | null;
  /** v1 memory.oom_control under_oom: a task waits in this memcg's OOM (always false on v2). */
  underOom: boolean;
  oomKillDisable: boolean;
  /** v2 memory.events, hierarchical (a child's events count in its ancestors too). */
  events: { low: number; high: number; max: number; oom: number; oomKill: number; oomGroupKill: number };
  oomGroup: boolean;
}

/** /proc/meminfo, /proc/zoneinfo, /proc/vmstat and /proc/pressure/memory, in pages and µs. */
export interface SimMachineInfo {
  totalPages: number;
  /** Like MemAvailable: free above the low watermark plus reclaimable page cache. */
  availablePages: number;
  freePages: number;
  /** Sums over the zones. */
  minWatermarkPages: number;
  lowWatermarkPages: number;
  swapTotalPages: number;
  swapFreePages: number;
  /** pgsteal_kswapd + pgsteal_direct: pages reclaimed so far by global reclaim (memcg limit reclaim left out, as on Linux). */
  reclaimedPagesTotal: number;
  /** allocstall: direct-reclaim entries of allocating threads (one per thread per tick spent there). */
  allocStallsTotal: number;
  psiSomeTotalUs: number;
  psiFullTotalUs: number;
}

export type MreleaseResult = { ok: true; durationMs: number } | { ok: false; code: "ESRCH" | "EINVAL" | "EAGAIN" };

export interface UserspaceApi {
  nowMs(): number;
  /** Virtual-time timer; the callback runs as an event `delayMs` later (0: later at the same instant). */
  setTimer(delayMs: number, cb: () => void): number;
  clearTimer(id: number): void;
  pageSizeBytes: number;
  machine(): SimMachineInfo;
  /** Every live process of the machine, sorted (kernel contexts of the scenario included: they carry oomScoreAdj -1000). */
  allPids(): number[];
  /**
   * memory.limit_in_bytes / memory.max: null removes the limit. EBUSY when the new limit is below
   * the current usage (v1's answer; the simulator does not reclaim down to a lowered v2 limit).
   */
  setLimit(path: string, limitPages: number | null): "ok" | "ENOENT" | "EINVAL" | "EBUSY";
  /**
   * v2 memory.high: null is "max". Above it the kernel throttles the cgroup's charging tasks; set
   * below the usage, the cgroup is reclaimed down to it at once. EINVAL on v1 and the root.
   */
  setHigh(path: string, highPages: number | null): "ok" | "ENOENT" | "EINVAL";
  cgroup(path: string): SimCgroupInfo | null;
  /** Live processes of the cgroup and its descendants, sorted. */
  cgroupPids(path: string): number[];
  process(pid: number): SimProcessInfo | null;
  /** v1 memory.oom_control; false for v2 or an unknown path. Clearing it wakes the tasks waiting in an OOM. */
  setOomKillDisable(path: string, value: boolean): boolean;
  /** v1 eventfd semantics: fires when the memcg (or an ancestor) enters OOM, and at once if it already is. */
  onOomNotification(path: string, cb: () => void): () => void;
  /** v2: memory.events of this cgroup changed (coalesced per virtual instant). */
  onEventsChange(path: string, cb: () => void): () => void;
  /** SIGKILL through a pidfd: ESRCH when the pid is gone or its start time differs. */
  kill(pid: number, startTimeTicks: number): "ok" | "ESRCH";
  /** v2 cgroup.kill: SIGKILL to every live process of the subtree; the pids signalled, sorted. */
  killCgroup(path: string): number[];
  /**
   * process_mrelease: asynchronous in virtual time. Needs the victim's mmap_sem for read (a
   * blocking, FIFO read lock like mmap_read_lock_killable, so a queued writer delays it); EINVAL
   * if the process was not killed first; ESRCH if it is gone or its memory already released;
   * EAGAIN if a blockable mmu notifier stops the reap.
   */
  mrelease(pid: number, startTimeTicks: number, done: (r: MreleaseResult) => void): void;
  /** Fires once when the process has exited (pidfd readable), at once if it already has. */
  onExit(pid: number, cb: () => void): () => void;
}

export interface UserspaceAgent {
  start(): void;
  stop(): void;
}
