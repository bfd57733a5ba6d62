// cgroupfs control-file names in one place (oomd habit): a typo becomes a compile error, and
// grepping for a file name finds every reader and writer of it.

/** cgroup v1 memory controller (Documentation/admin-guide/cgroup-v1/memory.rst). */
export const V1 = {
  oomControl: "memory.oom_control",
  usageInBytes: "memory.usage_in_bytes",
  limitInBytes: "memory.limit_in_bytes",
  memswLimitInBytes: "memory.memsw.limit_in_bytes",
  memswUsageInBytes: "memory.memsw.usage_in_bytes",
  failcnt: "memory.failcnt",
  stat: "memory.stat",
  useHierarchy: "memory.use_hierarchy",
  pressureLevel: "memory.pressure_level",
  /** Write "<eventfd> <fd of memory.oom_control>" (or of memory.pressure_level plus a level) to register. */
  eventControl: "cgroup.event_control",
  /** Thread-group ids (processes). */
  procs: "cgroup.procs",
  /** Thread ids. */
  tasks: "tasks",
  /** v1 freezer controller: "FROZEN" / "THAWED" / "FREEZING". */
  freezerState: "freezer.state",
} as const;

/** cgroup v2 (Documentation/admin-guide/cgroup-v2.rst). */
export const V2 = {
  current: "memory.current",
  max: "memory.max",
  high: "memory.high",
  low: "memory.low",
  min: "memory.min",
  swapCurrent: "memory.swap.current",
  swapMax: "memory.swap.max",
  /** Hierarchical counters: low, high, max, oom, oom_kill, oom_group_kill. Modified events are signalled by inotify/poll. */
  events: "memory.events",
  /** The same counters for this cgroup alone. */
  eventsLocal: "memory.events.local",
  stat: "memory.stat",
  oomGroup: "memory.oom.group",
  /** PSI for the cgroup: "some avg10=... total=..." / "full ...". */
  pressure: "memory.pressure",
  procs: "cgroup.procs",
  threads: "cgroup.threads",
  /** Writing "1" kills every process in the subtree (Linux 5.14+). */
  kill: "cgroup.kill",
  /** Controllers available to this cgroup (space-separated). */
  controllers: "cgroup.controllers",
  /** Controllers enabled for the children. */
  subtreeControl: "cgroup.subtree_control",
  /** "domain", "threaded", "domain threaded", "domain invalid"; absent in the root. */
  type: "cgroup.type",
  /** "populated 0|1", "frozen 0|1". */
  cgroupEvents: "cgroup.events",
  freeze: "cgroup.freeze",
} as const;

/** /proc/PID files. */
export const PROC = {
  stat: "stat",
  status: "status",
  oomScoreAdj: "oom_score_adj",
  /** The kernel's badness scaled to 0..2000: what a screening listing reads (src/core/oom-score.ts). */
  oomScore: "oom_score",
  wchan: "wchan",
  task: "task",
  cgroup: "cgroup",
  /** Arguments, each NUL-terminated. */
  cmdline: "cmdline",
  /** Symbolic link to the executable. */
  exe: "exe",
  meminfo: "meminfo",
  /** The calling thread's time on a CPU and waiting for one (ns), and its runs: thread-self/schedstat. */
  threadSchedstat: "thread-self/schedstat",
  /** Per-zone free pages and min/low/high watermarks. */
  zoneinfo: "zoneinfo",
  /** Machine-wide event counters (pgsteal_*, allocstall_*). */
  vmstat: "vmstat",
  mountinfo: "self/mountinfo",
  /** This process's resource limits (RLIMIT_NOFILE is "Max open files"). */
  limits: "self/limits",
  /** Seconds since boot (CLOCK_BOOTTIME, the clock of stat's start times), then idle seconds. */
  uptime: "uptime",
  /** New at every boot: what tells a cgroup of this boot from one of an earlier boot at the same path. */
  bootId: "sys/kernel/random/boot_id",
  pressureMemory: "pressure/memory",
} as const;

/**
 * v1 reports "no limit" as PAGE_COUNTER_MAX pages in bytes: LONG_MAX rounded down to the page
 * size, 9223372036854771712 with 4 KiB pages and a different number with 64 KiB pages. Any
 * limit at or above 2^62 bytes (4 EiB) is therefore read as "unlimited" rather than matching
 * one exact value. 2^62 is exactly representable as a double, so the comparison is exact.
 */
export const V1_UNLIMITED_THRESHOLD_BYTES = 2 ** 62;

/** What v1 accepts in memory.limit_in_bytes for "no limit" (it reads back as the PAGE_COUNTER_MAX sentinel). */
export const V1_UNLIMITED_WRITE = "-1";

/** v2 writes the literal "max" for no limit. */
export const V2_UNLIMITED = "max";

/** A byte count read from a limit file, or null for "no limit". */
export function limitOrNull(bytes: number): number | null {
  return bytes >= V1_UNLIMITED_THRESHOLD_BYTES ? null : bytes;
}

/** Flag in field 9 of /proc/PID/stat (include/linux/sched.h): the task is a kernel thread and has no mm. */
export const PF_KTHREAD = 0x00200000;
/** Field 9 flag: the task has begun do_exit(); its memory is on its way back (or already gone, after exit_mm). */
export const PF_EXITING = 0x00000004;
/** SIGKILL (signal 9) in the SigPnd/ShdPnd masks of /proc/PID/status: bit signo - 1. */
export const SIGKILL_PENDING_BIT = 1 << (9 - 1);
