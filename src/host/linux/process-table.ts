// A process listing for a few reads a process: between listings the table keeps each process's
// /proc/PID/stat, status, oom_score_adj and oom_score open and reads them again with pread (no
// open, no close, no path lookup), and keeps its slow-changing details (cmdline, exe, cgroup), so
// that a listing under pressure reads three small files a known process and nothing else, and a
// screening listing (screen) two: stat and oom_score, the kernel's badness in a band
// (src/core/screening.ts chooses the few to read in full from there), and a routine listing
// (glance, for growth) one, stat, for a process whose rss has not moved since its last full read.
//
// An fd of /proc/PID/<file> names the process it was opened for, not the pid: once that process
// is gone (reaped), every read through it is ESRCH, even after the pid was given to a new process
// (checked on this kernel: test/host/process-table-host.test.ts). So a kept fd can never read
// another process; ESRCH drops the entry and the pid is opened afresh. The three files of a new
// process are opened by path one after another, so the pid could change hands between two opens:
// stat is opened first and read again through its fd after the others were opened; that read
// succeeding proves the process was alive after the last open, so every fd is its own (the start
// times of both stat reads are compared as well). Beyond the fd cap, or when an open fails with
// EMFILE, a process is read by path as before (readProcessFiles), with the same start-time check.

import { fail, ok, type Result } from "../../core/result.js";
import type { CgroupPreference, ProcessDetails, ProcessSample } from "../../core/types.js";
import { PROC } from "./control-files.js";
import { isVanishedCode, type LinuxFs } from "./linux-fs.js";
import { parseOomScore, parseOomScoreAdj, parseOpenFilesSoftLimit, parseProcStat, parseProcStatus, type CgroupHierarchy, type ProcStat } from "./parse-proc.js";
import { isCgroupWithin, readPathDetails, type CgroupPreferenceLookup, type PathDetails } from "./process-details.js";
import { glancedSample, KERNEL_THREAD, readProcessFiles, readProcessStartTime, sampleFromReads, screenedSample, type LastFullReads, type ProcessReads, type ProcessSamples } from "./proc-reader.js";

/** Fds kept at most (four a process, one a kernel thread): some 1,000 processes read warm, the rest by path. */
export const DEFAULT_MAX_KEPT_FDS = 4096;
/** What a process costs the cap until its stat says whether it is a kernel thread (which keeps one). */
const FDS_PER_PROCESS = 4;
/** The soft RLIMIT_NOFILE assumed where /proc/self/limits cannot be read: the usual default. */
const ASSUMED_OPEN_FILES_LIMIT = 1024;

/**
 * When a process's cmdline, exe and cgroup are read again (all by path, so each costs as much as
 * the process's whole sample: they are read again only where they may have changed):
 * - after an exec (comm changed) or, in a cgroup's listing, where the cgroup kept lies outside the
 *   cgroup listed: at once, whatever the memory;
 * - details read in a process's first DETAILS_SETTLE_MS: once more, at the first listing past that
 *   age that allows it (memory plentiful, ListingOptions.refreshStaleDetails). systemd moves a
 *   process into its unit's cgroup just after forking it, servers rename their workers
 *   (setproctitle) just after forking them: the first read may have caught the moment before;
 * - others (and details that could not be read): when older than DETAILS_RECHECK_MS, on such a
 *   listing: a process moved by hand or by a container runtime is seen within minutes.
 * Under pressure only the first kind is read again. Measured in the VM under TCG, reading every
 * process's details again cost 5.6 times its plain listing (1.5 s for 300 processes).
 */
export const DETAILS_SETTLE_MS = 10_000;
export const DETAILS_RECHECK_MS = 300_000;
/**
 * A routine listing (glance) takes a process's swap and page tables from its last full read while
 * its rss, in stat, has not moved since: swapping out or in moves pages between rss and swap, and
 * mapping more moves rss, so an rss that stayed put is a process whose memory stayed put. A full
 * read at least this often still catches what leaves rss alone (swap freed by an munmap): one per
 * growth window (src/core/process-growth.ts), so every window has a fresh point.
 */
export const GLANCE_FULL_READ_MAX_AGE_MS = 10_000;
/** How often the entries no listing asked for since the last sweep are checked (one pread each) and dropped if their process is gone. */
export const IDLE_SWEEP_MS = 30_000;
/**
 * The kernel gives each pid below this at most once (RESERVED_PIDS in kernel/pid.c): pids are
 * handed out upward from the last one given, and once they wrap past pid_max they start again at
 * 300. So a pid below it that /proc still lists still names the process first given it, and a
 * kernel thread there (most of them: they start at boot) needs no read to show it is still that
 * thread. Only checkpoint/restore (clone3's set_tid, ns_last_pid; CAP_CHECKPOINT_RESTORE) can hand
 * out such a pid again, so an unhurried listing still reads it.
 */
export const PIDS_GIVEN_ONCE_BELOW = 300;

/**
 * The fds the table may keep: DEFAULT_MAX_KEPT_FDS, or half of the soft limit on open files where
 * that is less, leaving the rest to everything else the daemon opens (journal, cgroups, pidfds).
 */
export function keptFdBudget(limitsText: string | null): number {
  const soft = (limitsText === null ? null : parseOpenFilesSoftLimit(limitsText)) ?? ASSUMED_OPEN_FILES_LIMIT;
  return Math.min(DEFAULT_MAX_KEPT_FDS, Math.floor(soft / 2));
}

export interface ProcessTableOptions {
  procRoot: string;
  fs: LinuxFs;
  /** Milliseconds since boot: the clock of the processes' start times (stat field 22). */
  now: () => number;
  /** The unit of those start times (sysconf(_SC_CLK_TCK), 100 nearly everywhere). */
  clockTicksPerSecond: number;
  maxKeptFds: number;
  /** Which line of /proc/PID/cgroup is a process's cgroup. */
  hierarchy: CgroupHierarchy;
  /** Read each process's command line (only victim rules match on it; rulesReadCommandLines). Default true. */
  readCommandLines?: boolean;
  cgroupPreference: CgroupPreferenceLookup;
  /** Told when a listing begins and between its processes: long work at the raised priority pauses there (cpu-courtesy.ts). */
  courtesy?: { begin(): void; step(): void };
}

export interface TableListing {
  /** Kernel threads left out after one read of their stat (whole-machine listings). */
  skipKernelThreads: boolean;
  /** Memory is plentiful: details that may have changed since they were read are read again (DETAILS_SETTLE_MS). */
  refreshStaleDetails: boolean;
  /** The cgroup every listed pid is in or below ("/"-rooted, the table's hierarchy): a kept cgroup outside it is stale. */
  within: string | null;
}

interface KeptFds {
  /** null for a kernel thread, of which only oom_score_adj is kept: the cheapest file, read to see it is still there. */
  stat: number | null;
  status: number | null;
  /** Read to tell whether the process still holds its pid, a fifth of the kernel's work for stat. */
  oomScoreAdj: number;
  /** null for a kernel thread. */
  oomScore: number | null;
}

interface KeptDetails {
  /** The comm they were read under: another one means an exec (or a rename), and details read again. */
  comm: string;
  readAtMs: number;
  /** Read when the process was DETAILS_SETTLE_MS old or older: past the changes right after a fork. */
  settled: boolean;
  /** null: they could not be read (tried again when stale). */
  facts: { path: PathDetails; cgroupPreference: CgroupPreference | null } | null;
}

interface Entry {
  startTimeTicks: number;
  /** null: read by path (the cap was reached, or an open failed). */
  fds: KeptFds | null;
  details: KeptDetails | null;
  listedAtMs: number;
  /** What the last full reads left: a screened sample takes swap, page tables, oom_score_adj and uid from here. */
  lastFull: KeptFullReads | null;
}

/** The last full reads, with stat's rss then and when they were made: what a glance compares with. */
interface KeptFullReads extends LastFullReads {
  rssPages: number;
  atMs: number;
}

/** A process just opened (or read by path): its fds, if kept, and its reads (null: a kernel thread left out). */
interface Opened {
  startTimeTicks: number;
  fds: KeptFds | null;
  reads: ProcessReads | null;
}

export class ProcessTable {
  private readonly entries = new Map<number, Entry>();
  private kept = 0;
  private lastSweepMs: number;

  constructor(private readonly options: ProcessTableOptions) {
    this.lastSweepMs = options.now();
  }

  /** Fds held open now. */
  get keptFds(): number {
    return this.kept;
  }

  /** Processes known (with or without kept fds). */
  get size(): number {
    return this.entries.size;
  }

  /** Samples with details for pids, in the order given; pids gone meanwhile are left out silently. */
  list(pids: readonly number[], listing: TableListing): ProcessSamples {
    return this.listEach(pids, listing, null);
  }

  /**
   * A screening listing: a process known with its fds and details reads stat and oom_score
   * (screenedSample: its memory and flags now, the rest as last read in full) and comes with its
   * oom_score; any other (new, read by path, after an exec) is read in full, as list does. Read the
   * chosen ones in full afterwards with list.
   */
  screen(pids: readonly number[], listing: TableListing, pageSizeBytes: number): ProcessSamples & { oomScores: Map<number, number> } {
    const oomScores = new Map<number, number>();
    const listed = this.listEach(pids, listing, (pid, now) => {
      const screened = this.screenOne(pid, pageSizeBytes, now);
      if (screened === null || !screened.ok) return screened;
      oomScores.set(pid, screened.value.oomScore);
      return ok(screened.value.sample);
    });
    return { ...listed, oomScores };
  }

  /**
   * A routine listing, for growth: a known process whose rss in stat has not moved since its last
   * full read, made within GLANCE_FULL_READ_MAX_AGE_MS, reads stat alone (its memory as that read
   * left it: glancedSample); any other (new, changed, exec'd, details stale for this listing) is
   * read in full, as list does.
   */
  glance(pids: readonly number[], listing: TableListing): ProcessSamples {
    return this.listEach(pids, listing, (pid, now) => this.glanceOne(pid, listing, now));
  }

  /**
   * Each pid through `quick` where given (null: it cannot be read that way, or is gone, so it is
   * read in full; an error other than ESRCH: unreadable), else in full; then the idle sweep when due.
   */
  private listEach(pids: readonly number[], listing: TableListing, quick: ((pid: number, now: number) => Result<ProcessSample> | null) | null): ProcessSamples {
    const now = this.options.now();
    // Many processes share a cgroup: its preference is looked up once a listing.
    const preferences = new Map<string, CgroupPreference | null>();
    const samples: ProcessSample[] = [];
    const unreadable: ProcessSamples["unreadable"] = [];
    const courtesy = this.options.courtesy;
    courtesy?.begin();
    for (const pid of pids) {
      courtesy?.step();
      const fast = quick?.(pid, now) ?? null;
      if (fast !== null && fast.ok) {
        samples.push(fast.value);
        continue;
      }
      if (fast !== null && fast.error.code !== "ESRCH") {
        unreadable.push({ pid, error: fast.error });
        continue;
      }
      // Not readable the quick way, or gone since (a new process may hold the pid now): in full.
      const sample = this.sample(pid, listing, now, preferences);
      if (sample.ok) samples.push(sample.value);
      else if (sample.error.code !== "ESRCH" && sample.error.code !== KERNEL_THREAD) unreadable.push({ pid, error: sample.error });
    }
    if (now - this.lastSweepMs >= IDLE_SWEEP_MS) this.sweepIdle(now);
    return { samples, unreadable };
  }

  /** One known process through its kept stat alone (null: it cannot be glanced at, read it in full). */
  private glanceOne(pid: number, listing: TableListing, now: number): Result<ProcessSample> | null {
    const kept = this.keptStat(pid);
    if (kept === null || !kept.ok) return kept;
    const { entry, lastFull, stat } = kept.value;
    if (stat.rssPages !== lastFull.rssPages || now - lastFull.atMs >= GLANCE_FULL_READ_MAX_AGE_MS) return null;
    const startedAtMs = (entry.startTimeTicks * 1000) / this.options.clockTicksPerSecond;
    if (detailsStale(entry.details, stat.comm, listing, now, startedAtMs)) return null;
    entry.listedAtMs = now;
    return ok(withKeptDetails(glancedSample(pid, stat, lastFull), entry, stat));
  }

  /** One known process through its kept stat and oom_score (null: it cannot be screened, read it in full). */
  private screenOne(pid: number, pageSizeBytes: number, now: number): Result<{ sample: ProcessSample; oomScore: number }> | null {
    const kept = this.keptStat(pid);
    if (kept === null || !kept.ok) return kept;
    const { entry, lastFull, fds, stat } = kept.value;
    if (fds.oomScore === null) return null;
    const oomScore = this.readFd(pid, fds.oomScore, PROC.oomScore, parseOomScore);
    if (!oomScore.ok) {
      if (oomScore.error.code === "ESRCH") this.drop(pid);
      return oomScore.error.code === "ESRCH" ? null : oomScore;
    }
    entry.listedAtMs = now;
    return ok({ sample: withKeptDetails(screenedSample(pid, stat, lastFull, pageSizeBytes), entry, stat), oomScore: oomScore.value });
  }

  /**
   * A known process's stat through its kept fd, where it has a full read and details to go with it
   * and has not exec'd since (another comm: read in full, details again). null: it cannot be read
   * that way (or is gone: its entry dropped), read it in full.
   */
  private keptStat(pid: number): Result<{ entry: Entry; fds: KeptFds; lastFull: KeptFullReads; stat: ProcStat }> | null {
    const entry = this.entries.get(pid);
    const fds = entry?.fds;
    if (entry === undefined || fds === undefined || fds === null || fds.stat === null || entry.lastFull === null) return null;
    const facts = entry.details?.facts;
    if (facts === undefined || facts === null) return null;
    const stat = this.readFd(pid, fds.stat, PROC.stat, parseProcStat);
    if (!stat.ok) {
      if (stat.error.code === "ESRCH") this.drop(pid);
      return stat.error.code === "ESRCH" ? null : stat;
    }
    if (stat.value.comm !== entry.details?.comm) return null;
    return ok({ entry, fds, lastFull: entry.lastFull, stat: stat.value });
  }


  /** After a readdir of /proc: the processes whose pids are no longer there are gone, and their fds are closed. */
  keepOnly(pids: readonly number[]): void {
    if (this.entries.size === 0) return;
    const live = new Set(pids);
    for (const pid of [...this.entries.keys()]) if (!live.has(pid)) this.drop(pid);
  }

  /** Closes every kept fd and forgets every process. */
  close(): void {
    for (const pid of [...this.entries.keys()]) this.drop(pid);
  }

  private sample(pid: number, listing: TableListing, now: number, preferences: Map<string, CgroupPreference | null>): Result<ProcessSample> {
    const found = this.known(pid, listing);
    if (!found.ok) return found;
    const { entry, reads } = found.value;
    entry.listedAtMs = now;
    if (reads === null) return fail(KERNEL_THREAD, `pid ${pid} is a kernel thread`);
    if (!reads.ok) return reads;
    entry.lastFull = { status: reads.value.status, oomScoreAdj: reads.value.oomScoreAdj, rssPages: reads.value.statLater.rssPages, atMs: now };
    const details = this.details(pid, entry, reads.value, listing, now, preferences);
    if (!details.ok) return details;
    const sample = sampleFromReads(pid, reads.value);
    return ok(details.value === null ? sample : { ...sample, details: details.value });
  }

  /**
   * The entry of the process now holding pid, and its reads (null: a kernel thread left out):
   * through the kept fds where there are some, else opened now. An entry whose process is gone is
   * dropped first, so nothing kept for it passes to a process that took its pid.
   */
  private known(pid: number, listing: TableListing): Result<{ entry: Entry; reads: Result<ProcessReads> | null }> {
    const entry = this.entries.get(pid);
    if (entry?.fds) {
      const reads = this.readKept(pid, entry, listing);
      if (!reads.ok && reads.error.code === KERNEL_THREAD) return ok({ entry, reads: null });
      if (reads.ok || reads.error.code !== "ESRCH") return ok({ entry, reads });
      this.drop(pid);
    }
    const opened = this.open(pid, listing);
    if (!opened.ok) {
      if (opened.error.code === "ESRCH") this.drop(pid);
      return opened;
    }
    const { startTimeTicks, fds, reads } = opened.value;
    const before = this.entries.get(pid);
    if (before !== undefined && before.startTimeTicks === startTimeTicks) {
      // Known by path until now: the same process, its details still its own.
      before.fds = fds;
      return ok({ entry: before, reads: reads === null ? null : ok(reads) });
    }
    // A pid that now names another process takes nothing of the one before.
    this.drop(pid);
    const fresh: Entry = { startTimeTicks, fds, details: null, listedAtMs: this.options.now(), lastFull: null };
    this.entries.set(pid, fresh);
    return ok({ entry: fresh, reads: reads === null ? null : ok(reads) });
  }

  /** A known process through its kept fds: status, oom_score_adj, then stat (so a kill landing meanwhile shows in its flags). */
  private readKept(pid: number, entry: Entry, listing: TableListing): Result<ProcessReads> {
    const fds = entry.fds as KeptFds;
    if (fds.stat === null || fds.status === null) {
      // A kernel thread whose pid is given only once, in a listing under pressure: still that thread, unread.
      if (listing.skipKernelThreads && !listing.refreshStaleDetails && pid < PIDS_GIVEN_ONCE_BELOW) return fail(KERNEL_THREAD, `pid ${pid} is a kernel thread`);
      // A kernel thread: its fd still reads, so it is still that kernel thread (PF_KTHREAD never changes).
      const alive = this.readFd(pid, fds.oomScoreAdj, PROC.oomScoreAdj, (text) => ok(text));
      if (!alive.ok) return alive;
      if (listing.skipKernelThreads) return fail(KERNEL_THREAD, `pid ${pid} is a kernel thread`);
      // A kernel thread asked for whole (a cgroup listing, which never holds one in practice): by path, this once.
      const whole = readProcessFiles(pid, this.options.procRoot, this.options.fs);
      if (whole.ok && whole.value.stat.startTimeTicks !== entry.startTimeTicks) return fail("ESRCH", `process ${pid} no longer exists`);
      return whole;
    }
    const status = this.readFd(pid, fds.status, PROC.status, parseProcStatus);
    if (!status.ok) return status;
    const oomScoreAdj = this.readFd(pid, fds.oomScoreAdj, PROC.oomScoreAdj, parseOomScoreAdj);
    if (!oomScoreAdj.ok) return oomScoreAdj;
    const stat = this.readFd(pid, fds.stat, PROC.stat, parseProcStat);
    if (!stat.ok) return stat;
    return ok({ stat: stat.value, status: status.value, oomScoreAdj: oomScoreAdj.value, statLater: stat.value });
  }

  /** A process not known (or known by path only): its files opened and kept where the cap allows, else read by path. */
  private open(pid: number, listing: TableListing): Result<Opened> {
    if (this.kept + FDS_PER_PROCESS > this.options.maxKeptFds) return this.readByPath(pid, listing);
    const statFd = this.openFd(pid, PROC.stat);
    if (!statFd.ok) return isOutOfFds(statFd.error.code) ? this.readByPath(pid, listing) : statFd;
    const opened: number[] = [statFd.value];
    const closeOpened = (): void => {
      for (const fd of opened) this.options.fs.closeFile(fd);
    };
    const giveUp = <T>(result: Result<T>): Result<T> => {
      closeOpened();
      return result;
    };
    // Out of fds halfway: the ones just opened are closed before the files are read by path.
    const outOfFds = (): Result<Opened> => {
      closeOpened();
      return this.readByPath(pid, listing);
    };

    const stat = this.readFd(pid, statFd.value, PROC.stat, parseProcStat);
    if (!stat.ok) return giveUp(stat);
    if (stat.value.isKernelThread && listing.skipKernelThreads) return this.keepKernelThread(pid, statFd.value, stat.value.startTimeTicks);
    const statusFd = this.openFd(pid, PROC.status);
    if (!statusFd.ok) return isOutOfFds(statusFd.error.code) ? outOfFds() : giveUp(statusFd);
    opened.push(statusFd.value);
    const oomScoreAdjFd = this.openFd(pid, PROC.oomScoreAdj);
    if (!oomScoreAdjFd.ok) return isOutOfFds(oomScoreAdjFd.error.code) ? outOfFds() : giveUp(oomScoreAdjFd);
    opened.push(oomScoreAdjFd.value);
    const oomScoreFd = this.openFd(pid, PROC.oomScore);
    if (!oomScoreFd.ok) return isOutOfFds(oomScoreFd.error.code) ? outOfFds() : giveUp(oomScoreFd);
    opened.push(oomScoreFd.value);

    const status = this.readFd(pid, statusFd.value, PROC.status, parseProcStatus);
    if (!status.ok) return giveUp(status);
    const oomScoreAdj = this.readFd(pid, oomScoreAdjFd.value, PROC.oomScoreAdj, parseOomScoreAdj);
    if (!oomScoreAdj.ok) return giveUp(oomScoreAdj);
    // Through the fd opened first: it still reads, so its process held the pid at every open since.
    const statLater = this.readFd(pid, statFd.value, PROC.stat, parseProcStat);
    if (!statLater.ok) return giveUp(statLater);
    if (statLater.value.startTimeTicks !== stat.value.startTimeTicks) {
      return giveUp(fail("ESRCH", `process ${pid} exited and its pid was reused while it was being read`));
    }
    this.kept += FDS_PER_PROCESS;
    return ok({
      startTimeTicks: stat.value.startTimeTicks,
      fds: { stat: statFd.value, status: statusFd.value, oomScoreAdj: oomScoreAdjFd.value, oomScore: oomScoreFd.value },
      reads: { stat: stat.value, status: status.value, oomScoreAdj: oomScoreAdj.value, statLater: statLater.value },
    });
  }

  /**
   * A kernel thread keeps one fd, of its oom_score_adj; stat is read once more through its own fd
   * after that open (so the new fd is the same thread's) and closed. If the open fails, nothing is
   * kept and the next listing looks again.
   */
  private keepKernelThread(pid: number, statFd: number, startTimeTicks: number): Result<Opened> {
    const leftOut = fail<Opened>(KERNEL_THREAD, `pid ${pid} is a kernel thread`);
    const aliveFd = this.openFd(pid, PROC.oomScoreAdj);
    const again = aliveFd.ok ? this.options.fs.readOpenFile(statFd) : null;
    this.options.fs.closeFile(statFd);
    if (!aliveFd.ok) return aliveFd.error.code === "ESRCH" ? aliveFd : leftOut;
    if (again === null || !again.ok) {
      this.options.fs.closeFile(aliveFd.value);
      return fail("ESRCH", `process ${pid} no longer exists`);
    }
    this.kept += 1;
    return ok({ startTimeTicks, fds: { stat: null, status: null, oomScoreAdj: aliveFd.value, oomScore: null }, reads: null });
  }

  /** Open, read, close, as before the table: beyond the cap, or when the process is out of fds. */
  private readByPath(pid: number, listing: TableListing): Result<Opened> {
    const reads = readProcessFiles(pid, this.options.procRoot, this.options.fs, { skipKernelThreads: listing.skipKernelThreads });
    if (!reads.ok) return reads;
    return ok({ startTimeTicks: reads.value.stat.startTimeTicks, fds: null, reads: reads.value });
  }

  /**
   * Details kept for the process, read (by path) when there are none yet, after an exec, when they
   * are stale and the listing allows it, or when the cgroup kept is outside the one listed. uid,
   * pgid and sid come from this listing's own reads. null: they cannot be read.
   */
  private details(pid: number, entry: Entry, reads: ProcessReads, listing: TableListing, now: number, preferences: Map<string, CgroupPreference | null>): Result<ProcessDetails | null> {
    const startedAtMs = (entry.startTimeTicks * 1000) / this.options.clockTicksPerSecond;
    if (detailsStale(entry.details, reads.stat.comm, listing, now, startedAtMs)) {
      const path = readPathDetails(pid, this.options.procRoot, this.options.fs, this.options.hierarchy, this.options.readCommandLines ?? true);
      // Opened by path: they are this process's only if it still holds the pid now.
      const same = this.stillThere(pid, entry);
      if (!same.ok) return same;
      const facts = path.ok ? { path: path.value, cgroupPreference: this.preferenceOf(path.value.cgroup, preferences) } : null;
      entry.details = { comm: reads.stat.comm, readAtMs: now, settled: now - startedAtMs >= DETAILS_SETTLE_MS, facts };
    }
    const facts = entry.details?.facts ?? null;
    const uid = reads.status.uid;
    if (facts === null || uid === null) return ok(null);
    const { cmdline, exe, cgroup } = facts.path;
    return ok({ uid, pgid: reads.statLater.pgid, sid: reads.statLater.sid, cmdline, exe, cgroup, cgroupPreference: facts.cgroupPreference });
  }

  /** Whether the process entry describes still holds its pid: one read of its kept oom_score_adj, else its start time by path. */
  private stillThere(pid: number, entry: Entry): Result<void> {
    if (entry.fds !== null) {
      const alive = this.options.fs.readOpenFile(entry.fds.oomScoreAdj);
      if (alive.ok) return ok(undefined);
      return isVanishedCode(alive.error.code) ? fail("ESRCH", `process ${pid} no longer exists`) : alive;
    }
    const startTime = readProcessStartTime(pid, this.options.procRoot, this.options.fs);
    if (!startTime.ok) return startTime;
    return startTime.value === entry.startTimeTicks ? ok(undefined) : fail("ESRCH", `process ${pid} exited and its pid was reused while its details were read`);
  }

  private preferenceOf(cgroup: string, preferences: Map<string, CgroupPreference | null>): CgroupPreference | null {
    let preference = preferences.get(cgroup);
    if (preference === undefined) {
      preference = this.options.cgroupPreference(cgroup);
      preferences.set(cgroup, preference);
    }
    return preference;
  }

  private openFd(pid: number, file: string): Result<number> {
    const path = `${this.options.procRoot}/${pid}/${file}`;
    const fd = this.options.fs.openFile(path);
    if (fd.ok) return fd;
    return isVanishedCode(fd.error.code) ? fail("ESRCH", `process ${pid} no longer exists`) : fail(fd.error.code, `cannot open ${path}: ${fd.error.message}`);
  }

  private readFd<T>(pid: number, fd: number, file: string, parse: (text: string) => Result<T>): Result<T> {
    const path = `${this.options.procRoot}/${pid}/${file}`;
    const text = this.options.fs.readOpenFile(fd);
    if (!text.ok) {
      return isVanishedCode(text.error.code) ? fail("ESRCH", `process ${pid} no longer exists`) : fail(text.error.code, `cannot read ${path}: ${text.error.message}`);
    }
    const parsed = parse(text.value);
    return parsed.ok ? parsed : fail(parsed.error.code, `${path}: ${parsed.error.message}`);
  }

  /** Entries no listing asked for since the last sweep: kept while their process lives (one pread of oom_score_adj), dropped once it is gone. */
  private sweepIdle(now: number): void {
    for (const [pid, entry] of [...this.entries]) {
      if (entry.listedAtMs >= this.lastSweepMs) continue;
      const alive = entry.fds !== null && this.options.fs.readOpenFile(entry.fds.oomScoreAdj).ok;
      if (!alive) this.drop(pid);
    }
    this.lastSweepMs = now;
  }

  private drop(pid: number): void {
    const entry = this.entries.get(pid);
    if (entry === undefined) return;
    this.entries.delete(pid);
    if (entry.fds === null) return;
    for (const fd of [entry.fds.stat, entry.fds.status, entry.fds.oomScoreAdj, entry.fds.oomScore]) {
      if (fd === null) continue;
      this.options.fs.closeFile(fd);
      this.kept--;
    }
  }
}

/** A sample of one stat read with the details kept: uid as the last full read left it, pgid and sid from that stat. */
function withKeptDetails(sample: ProcessSample, entry: Entry, stat: ProcStat): ProcessSample {
  const facts = entry.details?.facts;
  const uid = entry.lastFull?.status.uid ?? null;
  if (uid === null || facts === undefined || facts === null) return sample;
  const { cmdline, exe, cgroup } = facts.path;
  return { ...sample, details: { uid, pgid: stat.pgid, sid: stat.sid, cmdline, exe, cgroup, cgroupPreference: facts.cgroupPreference } };
}

/** Whether kept details must be read again now (see DETAILS_SETTLE_MS). */
function detailsStale(kept: KeptDetails | null, comm: string, listing: TableListing, now: number, startedAtMs: number): boolean {
  if (kept === null || kept.comm !== comm) return true;
  if (listing.within !== null && kept.facts !== null && !isCgroupWithin(kept.facts.path.cgroup, listing.within)) return true;
  if (!listing.refreshStaleDetails) return false;
  if (kept.facts !== null && !kept.settled) return now - startedAtMs >= DETAILS_SETTLE_MS;
  return now - kept.readAtMs >= DETAILS_RECHECK_MS;
}

function isOutOfFds(code: string): boolean {
  return code === "EMFILE" || code === "ENFILE";
}
