// The engine's view of the machine. Implemented by src/host/linux (real kernel, v1 and v2),
// and later by the simulator adapter. Time and timers come only from here.

import type { ScreenedListing } from "../core/screening.js";
import type { Result } from "../core/result.js";
import type { CgroupSample, CgroupVersion, MachinePressure, ProcessSample } from "../core/types.js";

export type { MachinePressure } from "../core/types.js";

/** A validated memory cgroup. */
export interface CgroupRef {
  /** Absolute cgroupfs path of the directory. */
  path: string;
  version: CgroupVersion;
}

/**
 * Which cgroup a path names, on which boot. A cgroup removed and made again at the same path (a
 * service restart), or one of an earlier boot, is another cgroup: what was written down about the
 * first must not be written into the second.
 */
export interface CgroupIdentity {
  /** The kernel's boot id (Linux: /proc/sys/kernel/random/boot_id), new at every boot. */
  bootId: string;
  /** The directory's inode number, as text: kernfs gives every directory it makes a new one. */
  inode: string;
}

/** A process pinned by a pidfd whose start time matched the snapshot: signals cannot hit a reused pid. */
export interface VictimHandle {
  pid: number;
  startTimeTicks: number;
  /** Opaque to the engine. */
  readonly token: unknown;
}

export interface MachineMemory {
  totalBytes: number;
  availableBytes: number;
  swapTotalBytes: number;
  swapFreeBytes: number;
}

export interface StallEvidence {
  /** Single-letter state from /proc/PID/stat. */
  state: string;
  /** Kernel function the task sleeps in (/proc/PID/wchan), "" if running or unknown. */
  wchan: string;
  /** Per-thread states for a multi-threaded victim ("tid:state"). */
  threads: string[];
}

export interface OomTakeover {
  /** v1: the oom_kill_disable value found before we changed it; null if we did not change it. */
  previousOomKillDisable: boolean | null;
  /** Plain words on what the takeover could and could not do (v2 cannot disable the kernel killer). */
  notes: string[];
}

export interface Unwatch {
  (): void;
}

/** A PSI trigger: stalls of stallUs within every windowUs. */
export interface PressureTrigger {
  stallUs: number;
  windowUs: number;
}

export interface PressureWatch {
  unwatch: Unwatch;
  /** The trigger in force: the window may have been widened to what the kernel allows this process. */
  trigger: PressureTrigger;
  /** Why it differs from the one asked for, in plain words (null: it does not). */
  note: string | null;
}

/** A victim of the kernel's own OOM killer, as the kernel log names it. */
export interface KernelOomKill {
  pid: number;
  comm: string;
  /** The victim's cgroup as the kernel names it (relative to the cgroup2 mount). */
  taskCgroup: string;
  /** anon + file + shmem RSS at the kill, when the log line gives them. */
  rssBytes: number | null;
  /** The machine ran out (the global OOM killer), not a memory cgroup. */
  global: boolean;
}

/** Gives up a claim taken by claimCgroup. Idempotent. */
export interface Unclaim {
  (): void;
}

export interface TimerHandle {
  readonly id: unknown;
}

/** What a process listing may spend beyond its samples. */
export interface ListingOptions {
  /**
   * Memory is plentiful: the slow-changing details the host keeps for each process (cmdline, exe,
   * cgroup and its preference) are read again where they are older than the host's recheck age
   * (Linux: 10 s), catching a process moved to another cgroup or renamed after it was first seen.
   * Leave it unset under pressure: a listing then reads them only for processes it has not seen.
   */
  refreshStaleDetails?: boolean;
}

/**
 * A routine listing (for growth, not a decision's), taken a slice at a time: the caller gives the
 * CPU and its event loop back between slices, so that neither a process waking beside the daemon
 * nor the daemon's next sample waits for the whole of it. The Linux host runs each slice at the
 * priority the daemon was started with and reads one file (stat) of a process whose rss has not
 * moved since it was last read in full, its swap and page tables as they were then.
 */
export interface RoutineListing {
  /** Lists on for about budgetMs: every process once the last slice is done, null while some are left. */
  next(budgetMs: number): Result<ProcessSample[]> | null;
}

/** What the daemon has used so far (getrusage). */
export interface SelfUsage {
  majorFaults: number;
  /** null: not measured (the simulator's time is virtual). */
  userCpuMs: number | null;
  systemCpuMs: number | null;
}

/** A thread's time on a CPU and runnable but waiting for one (ms, since it started). */
export interface ThreadSchedule {
  onCpuMs: number;
  runQueueMs: number;
}

export interface Host {
  /** Monotonic milliseconds (fractional). */
  now(): number;
  setTimer(delayMs: number, callback: () => void): TimerHandle;
  clearTimer(timer: TimerHandle): void;
  selfPid(): number;
  pageSizeBytes(): number;
  /** Whole-machine memory (MemTotal, MemAvailable, swap) for reports and for scaling oom_score_adj when a cgroup has no limit. */
  readMachineMemory(): Result<MachineMemory>;

  /** The machine guard's sample: watermarks, free and available memory, reclaim counters, PSI. */
  readMachinePressure(): Result<MachinePressure>;
  /**
   * Every user-space process of the machine (kernel threads left out), each with its details where
   * the host can tell them; pids that vanish while reading are skipped.
   */
  listAllProcesses(options?: ListingOptions): Result<ProcessSample[]>;
  /** Every user-space process, as listAllProcesses, in slices (RoutineListing): the processes are those of /proc now. */
  beginRoutineListing(options?: ListingOptions): Result<RoutineListing>;
  /**
   * A decision's listing of every user-space process: the processes the host knows it screens
   * (cheap reads: memory and flags now, the kernel's badness within ScreenedListing.bounds, swap,
   * page tables, oom_score_adj and uid as last read in full), the others it reads in full.
   * Absent: the host lists everything in full (listAllProcesses).
   */
  screenAllProcesses?(): Result<ScreenedListing>;
  /** The given processes read in full (after screenAllProcesses); pids gone meanwhile are left out. */
  readInFull?(pids: readonly number[]): Result<ProcessSample[]>;
  /**
   * The machine's memory pressure as the kernel reports it (Linux: a PSI trigger on
   * /proc/pressure/memory): onPressure runs each time stalls reach trigger.stallUs within a window.
   * The window may be widened to what this process may use (PressureWatch.note says so).
   */
  watchMachinePressure(trigger: PressureTrigger, onPressure: () => void): Result<PressureWatch>;
  /** The memory cgroups right below the cgroup v2 root (none without v2 memory), whose memory.events watchOom can watch. */
  listTopLevelCgroups(): Result<CgroupRef[]>;
  /**
   * This process's major page faults so far (pages read back from disk) and its CPU time in user
   * and in kernel mode (all its threads), in one cheap call: the differences across a decision
   * say whether the daemon's own code was paged out while it decided, and how much of its time on
   * a CPU the kernel spent on its behalf (system calls, and reclaiming memory for its allocations
   * when the machine has none free).
   */
  selfUsage(): SelfUsage;
  /**
   * The time the daemon's main thread (the one that decides) has spent on a CPU and runnable but
   * waiting for one, so far (null: the kernel does not say). The differences across a decision
   * split its time into work, waiting for a CPU and the rest (blocked: faults, I/O, locks).
   */
  mainThreadSchedule(): ThreadSchedule | null;
  /**
   * The time this process gave the CPU back so far, in ms, in pauses within long work at its
   * raised priority (so that a process of lower priority waiting on that CPU can run): the
   * difference across a decision is what those pauses added to it.
   */
  cpuGivenBackMs(): number;
  /**
   * An incident begins: the daemon runs ahead of other processes (a raised scheduling priority)
   * until the returned release is called, and at its usual priority otherwise. Nested calls hold it
   * until every release has been called. Long work at the raised priority pauses now and then for
   * the processes it holds off, unless `racing`: memory runs out within moments, and a neighbour
   * late by some tens of ms costs less than the kernel's OOM killer that a slower decision meets.
   */
  beginUrgentWork(racing?: boolean): () => void;

  /** Checks that path exists, lies inside a cgroup mount and is a memory cgroup; errors name the path. */
  resolveCgroup(path: string): Result<CgroupRef>;
  /** The memory cgroup a process's details name (as /proc/PID/cgroup does: "/system.slice/x.service"), resolved under the mount that shows it. */
  resolveProcessCgroup(cgroup: string): Result<CgroupRef>;
  /**
   * Whether memory.oom.group is set on the cgroup a process's details name (false where the file
   * is absent: cgroup v1, the v2 root); ENOENT when there is no such cgroup. Cheap enough to ask
   * for every ancestor of a victim on the way to its signal.
   */
  readOomGroup(cgroup: string): Result<boolean>;
  /**
   * Makes this process the cgroup's only manager until the returned function is called: two
   * handlers on one cgroup would both decide each OOM (and kill twice). Refused, naming the holder
   * where known, while another holds it. The claim dies with its holder (SIGKILL included), so a
   * killed daemon leaves none behind. Linux: flock on the cgroup's directory.
   */
  claimCgroup(ref: CgroupRef): Result<Unclaim>;
  /** The cgroup now at ref.path; ENOENT once it is removed. */
  identifyCgroup(ref: CgroupRef): Result<CgroupIdentity>;
  readCgroup(ref: CgroupRef): Result<CgroupSample>;
  /** Processes in the cgroup and its descendants, with their details as listAllProcesses; pids that vanish while reading are skipped. */
  listProcesses(ref: CgroupRef, options?: ListingOptions): Result<ProcessSample[]>;
  readProcess(pid: number): Result<ProcessSample>;
  readStallEvidence(pid: number): Result<StallEvidence>;

  /**
   * Sets the cgroup's hard limit (v1 memory.limit_in_bytes, v2 memory.max); null means no limit.
   * Soft-limit mode raises it to the logical limit plus headroom and puts it back on stop.
   */
  setMemoryLimit(ref: CgroupRef, limitBytes: number | null): Result<void>;
  /** v2 memory.high (null: "max"), where the kernel throttles; the guard band. v1 has none: an error. */
  setMemoryHigh(ref: CgroupRef, highBytes: number | null): Result<void>;

  /** v1: remember and disable the kernel OOM killer. v2: nothing to disable; notes say so. */
  takeOverOom(ref: CgroupRef): Result<OomTakeover>;
  /** v1: re-enable the kernel killer (oom_kill_disable 0) so it resolves the OOM in progress (dry run); takeOverOom again afterwards. v2: nothing. */
  handOomToKernel(ref: CgroupRef): Result<void>;
  /** Undo takeOverOom. */
  restoreOom(ref: CgroupRef, takeover: OomTakeover): Result<void>;
  /** Calls onEvent whenever the kernel signals an OOM-related change (v1 eventfd, v2 memory.events change). Fires at once if already OOM (v1). */
  watchOom(ref: CgroupRef, onEvent: () => void): Result<Unwatch>;
  /** v2: a PSI trigger on the cgroup's memory.pressure; onPressure runs each time it fires. */
  watchPressure(ref: CgroupRef, trigger: PressureTrigger, onPressure: () => void): Result<PressureWatch>;
  /**
   * The kernel's OOM kills since the last call, from the kernel log (/dev/kmsg): the memcg kills
   * in this cgroup or below it, or (null) the global ones; an error where the log cannot be read
   * (the caller names victims otherwise).
   */
  kernelOomKills(ref: CgroupRef | null): Result<KernelOomKill[]>;

  /** Opens a pidfd and checks the start time against the snapshot's. */
  openVictim(pid: number, startTimeTicks: number): Result<VictimHandle>;
  /** Signal 0 through the pidfd: whether we may signal it at all (EPERM for another user's process), without sending anything. */
  maySignal(victim: VictimHandle): Result<void>;
  /** SIGKILL through the pidfd. */
  kill(victim: VictimHandle): Result<void>;
  /** SIGTERM through the pidfd: the terminate level's first signal, which the process may handle (save its state, exit cleanly). */
  terminate(victim: VictimHandle): Result<void>;
  /** v2 cgroup.kill (or each process through a pidfd when cgroup.kill is absent). */
  killCgroup(ref: CgroupRef): Result<{ killedPids: number[] }>;
  /** process_mrelease off the event-loop thread. ESRCH (already gone) is success with alreadyGone. */
  reap(victim: VictimHandle): Promise<Result<{ durationMs: number; alreadyGone: boolean }>>;
  /** Calls onExit once when the pidfd becomes readable (the process has exited). */
  watchExit(victim: VictimHandle, onExit: () => void): Result<Unwatch>;
  /** Closes the pidfd. */
  releaseVictim(victim: VictimHandle): void;
}
