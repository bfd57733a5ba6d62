// Plain data shared by every layer. No behaviour, no I/O.

export type CgroupVersion = 1 | 2;

/** One process as seen at one instant. Sizes in bytes, start time in clock ticks since boot (field 22 of /proc/PID/stat). */
export interface ProcessSample {
  pid: number;
  comm: string;
  startTimeTicks: number;
  /** Single-letter state from /proc/PID/stat: R, S, D, Z, T, ... */
  state: string;
  rssBytes: number;
  swapBytes: number;
  pageTablesBytes: number;
  oomScoreAdj: number;
  /** Kernel threads have no mm; they are never candidates. */
  isKernelThread: boolean;
  /** Threads of the process (a zombie leader with live threads still holds memory through them). */
  threads: number;
  /**
   * On its way out: in do_exit() (PF_EXITING, ignored on a zombie leader, whose flag stays set while
   * its other threads run on) or with SIGKILL pending, killed by someone else (the
   * kernel, another tool, its own exit_group). Its memory is coming back, so it is a victim in
   * flight: the kernel's OOM killer waits for such a task rather than choosing another, and so do we.
   */
  exiting: boolean;
  /**
   * Who the process is: what victim rules match on and what a kill unit (process group, cgroup) is
   * made of. Absent where the host cannot tell (the simulator, an unreadable process): a rule that
   * needs a field it lacks does not match, and the unit falls back to the process.
   */
  details?: ProcessDetails;
}

/**
 * The slow-changing facts about a process. Read once per process (pid and start time) and kept by
 * the host, so a decision under pressure reads none of them.
 */
export interface ProcessDetails {
  /** Real uid (/proc/PID/status Uid, first field). */
  uid: number;
  /** Process group and session (/proc/PID/stat fields 5 and 6). */
  pgid: number;
  sid: number;
  /** Arguments joined by single spaces (/proc/PID/cmdline), "" for none, cut at 4096 characters. */
  cmdline: string;
  /** Where /proc/PID/exe points; null where it cannot be read. */
  exe: string | null;
  /** Its cgroup as /proc/PID/cgroup names it ("/" rooted; v2, else the v1 memory controller's). */
  cgroup: string;
  /** What the OOM-handler xattrs on its cgroup, or the nearest ancestor that has one, ask for (null: none). */
  cgroupPreference: CgroupPreference | null;
}

/** A preference set on a cgroup for oomd or systemd-oomd, which oomwarden honours too. */
export interface CgroupPreference {
  /** prefer: chosen first; avoid: chosen last; omit: never chosen. */
  kind: "prefer" | "avoid" | "omit";
  /** The xattr that said so, e.g. "user.oomd_avoid". */
  xattr: string;
  /** The cgroup it was set on (the process's own, or an ancestor). */
  cgroup: string;
}

/** Counters from v2 memory.events (v1 fills oomKill from memory.oom_control and leaves the rest 0). */
export interface MemoryEventCounters {
  low: number;
  high: number;
  max: number;
  oom: number;
  oomKill: number;
  oomGroupKill: number;
}

/** A memory cgroup as seen at one instant. */
export interface CgroupSample {
  /** Absolute path of the cgroup directory in cgroupfs. */
  path: string;
  version: CgroupVersion;
  usageBytes: number;
  /** null: no limit. */
  limitBytes: number | null;
  /** v2 memory.high, where the kernel throttles and reclaims (null: "max", or v1, which has none). */
  highBytes: number | null;
  /** v1: memory.oom_control under_oom. v2: never observable directly, false. */
  underOom: boolean;
  /** v1: memory.oom_control oom_kill_disable. v2: always false (the kernel killer cannot be disabled). */
  oomKillDisabled: boolean;
  events: MemoryEventCounters;
  /** v2 memory.oom.group: the cgroup is killed as a whole. */
  oomGroup: boolean;
}

/** Everything one decision is made from: one snapshot per decision, never re-read while ranking. */
export interface Snapshot {
  takenAtMs: number;
  cgroup: CgroupSample;
  /** The processes ranked: every one read in full. */
  processes: ProcessSample[];
  /**
   * The processes a screening listing left out of the ranking (src/core/screening.ts): their
   * memory and flags as screened, swap, page tables, oom_score_adj and uid as last read in full.
   * Never candidates; members of a victim's unit all the same. Absent: none.
   */
  screenedOut?: ProcessSample[];
  /** The daemon's own pid, never a candidate. */
  selfPid: number;
  pageSizeBytes: number;
}

export type IncidentKind =
  /** v1: the kernel killer is disabled and the cgroup sits under_oom; v2: memory.events oom rose without the kernel killing. */
  | "memcg-oom"
  /** v2: usage is past memory.high in the guard band oomwarden set below memory.max, and the kernel is throttling the cgroup. */
  | "guard-band"
  /** v2: the kernel's own OOM killer acted (memory.events oom_kill rose); recorded, not acted on. */
  | "kernel-oom-kill"
  /** Machine guard: MemAvailable (and free swap) below the configured share of RAM (and swap). */
  | "low-memory"
  /** Machine guard (atomic allocations starve the watermark): free memory below the min watermark for a sustained window while reclaim keeps running. */
  | "watermark-starvation"
  /** Machine guard: tasks stalled on memory (PSI "full") for a large share of a window. */
  | "memory-pressure"
  /** Soft-limit mode (against ENOMEM at the memcg limit): usage above the logical limit for longer than the reconcile window. */
  | "soft-limit";

export interface Incident {
  kind: IncidentKind;
  cgroup: string;
  /** host.now() when the kernel's notification reached us; all durations are measured from here. */
  notifiedAtMs: number;
}

/** A process that may be killed, with the reason for its score. */
export interface Candidate {
  pid: number;
  comm: string;
  startTimeTicks: number;
  rssBytes: number;
  /** Kernel-compatible badness in pages (may be negative after oom_score_adj). */
  score: number;
  /**
   * Pages its growth adds over the projection horizon (growth rate x horizon), present when it
   * grows: it is ranked on score + growthPages. Absent: not growing, or no growth was measured.
   */
  growthPages?: number;
  /**
   * Growth was measured and it is not growing (under IDLE_BELOW_BYTES_PER_SEC): it is not what is
   * filling the memory, so every growing candidate, and every one whose growth is not known, goes
   * first. Absent: growing, or not measured.
   */
  idle?: true;
  /** The victim rule (or the cgroup xattr, e.g. "user.oomd_avoid") that matched it, with what it does. */
  rule?: string;
  ruleAction?: "prefer" | "avoid";
  /**
   * Listed for the journal only, after the candidates: a process a screening left out of the
   * ranking (Snapshot.screenedOut), ranked on what the screening read. Never chosen.
   */
  screened?: true;
  reason: string;
}

export interface Exclusion {
  pid: number;
  comm: string;
  reason: string;
  /** The victim rule (or cgroup xattr) that protects it. */
  rule?: string;
}

export interface Ranking {
  /** Best victim first. */
  candidates: Candidate[];
  excluded: Exclusion[];
}

/**
 * Whole-machine memory state for the machine guard's detectors: one sample
 * of /proc/meminfo, /proc/zoneinfo, /proc/vmstat and /proc/pressure/memory (or the simulator's
 * equivalents). Counters are cumulative since boot; detectors look at their differences.
 */
export interface MachinePressure {
  totalBytes: number;
  /** MemAvailable: free above the low watermarks plus reclaimable page cache. */
  availableBytes: number;
  /** MemFree. */
  freeBytes: number;
  /** Sum over the zones of the min watermark (/proc/zoneinfo "min"), in bytes. */
  minWatermarkBytes: number;
  /** Sum over the zones of the low watermark. */
  lowWatermarkBytes: number;
  swapTotalBytes: number;
  swapFreeBytes: number;
  /** Pages reclaimed so far (vmstat pgsteal_kswapd + pgsteal_direct + pgsteal_khugepaged). */
  reclaimedPagesTotal: number;
  /** Times an allocating task entered direct reclaim (vmstat allocstall_*). */
  allocStallsTotal: number;
  /** /proc/pressure/memory "some" total= (microseconds); null where PSI is unavailable. */
  psiSomeTotalUs: number | null;
  /** /proc/pressure/memory "full" total= (microseconds); null where PSI is unavailable. */
  psiFullTotalUs: number | null;
  /** /proc/vmstat oom_kill: the kernel's OOM kills so far, global and memcg (absent: not known). */
  oomKillsTotal?: number;
}
