// The Host over the real kernel: cgroupfs (v1 and v2) and procfs readers, eventfd and
// memory.events notifications, pidfd kills and process_mrelease. Fixture trees plug in through
// the mounts and the LinuxFs, so the same code runs in the v2 fixture tests.

import { accessSync, closeSync, constants as fsConstants, openSync, statSync, watch, writeFileSync, type FSWatcher } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { fail, ok, type Result } from "../../core/result.js";
import { badnessBoundsOf, type BadnessBounds } from "../../core/oom-score.js";
import type { ScreenedListing } from "../../core/screening.js";
import type { CgroupSample, MachinePressure, ProcessSample } from "../../core/types.js";
import type {
  CgroupIdentity,
  CgroupRef,
  Host,
  KernelOomKill,
  ListingOptions,
  MachineMemory,
  OomTakeover,
  PressureTrigger,
  PressureWatch,
  RoutineListing,
  SelfUsage,
  StallEvidence,
  ThreadSchedule,
  TimerHandle,
  Unclaim,
  Unwatch,
  VictimHandle,
} from "../../engine/host.js";
import { readCgroupMounts, validateCgroupPath, type CgroupMounts } from "./cgroup-mounts.js";
import { cgroupDirectory } from "./cgroup-paths.js";
import { listCgroupPids, readCgroupSample } from "./cgroup-reader.js";
import { PROC, V1, V1_UNLIMITED_WRITE, V2, V2_UNLIMITED } from "./control-files.js";
import { lockExclusiveWithin } from "./exclusive-lock.js";
import { KernelLog } from "./kernel-log.js";
import { isVanishedCode, nodeLinuxFs, type LinuxFs } from "./linux-fs.js";
import { MachinePressureReader } from "./machine-pressure-reader.js";
import { figuresWithStandIn, findMemoryStandIn, type MemoryStandIn } from "./container-memory.js";
import { lockResidentCode, type ResidentCodeMode } from "./resident-code.js";
import { listTopLevelCgroups } from "./top-level-cgroups.js";
import { watchPressureFile } from "./pressure-trigger.js";
import * as native from "./native.js";
import { parseOomControl } from "./parse-cgroup.js";
import { CgroupPreferenceReader } from "./cgroup-preference.js";
import type { CgroupPreferenceLookup } from "./process-details.js";
import { CpuCourtesy } from "./cpu-courtesy.js";
import { DaemonPriority } from "./daemon-priority.js";
import { keptFdBudget, ProcessTable, type TableListing } from "./process-table.js";
import { DEFAULT_PROC_ROOT, readMachineMemory, readProcessSample, readProcessStartTime, readStallEvidence } from "./proc-reader.js";
import { OOM_SCORE_ADJ_MIN, parseSchedstat, parseUptimeMs, type CgroupHierarchy } from "./parse-proc.js";
import { KeptFile } from "./kept-file.js";
import { OomGroupReader } from "./oom-group-reader.js";

const SIGKILL = 9;
const SIGTERM = 15;
/** Used only if the addon is missing; every Linux architecture we run on has 4 KiB pages. */
const FALLBACK_PAGE_SIZE_BYTES = 4096;
/** Used only if the addon is missing: USER_HZ, 100 on every architecture Linux exports it for. */
const FALLBACK_CLOCK_TICKS = 100;
/**
 * How long a claim waits for a cgroup held by another process: `oomwarden restore` holds one for
 * the milliseconds it takes to write its settings back, and a daemon starting meanwhile must not
 * take that for an owner and give the cgroup up for its whole life. A real owner costs this once.
 */
const CLAIM_WAIT_MS = 500;
/** Consecutive poll errors on an OOM eventfd after which it is given up (the engine still has its journal and log). */
const MAX_WATCH_REARMS = 3;
/**
 * How old the last machine sample's RAM + swap may be for a decision's screening to use them
 * rather than read /proc/meminfo again (a decision screens within ms of its sample). Swap turned on
 * or off in between shifts oom_score's scale; the screening's band check catches that.
 */
const KERNEL_TOTALS_FRESH_MS = 250;
/** A routine listing's slice looks at the clock after this many processes (a glance at one is a read or two). */
const ROUTINE_PIDS_PER_STEP = 4;

export interface LinuxHostOptions {
  procRoot?: string;
  fs?: LinuxFs;
  /** Cgroup mounts; read from /proc/self/mountinfo when absent (fixture tests pass their own). */
  mounts?: CgroupMounts;
  /** The kernel log the kernel's OOM kills are read from (default /dev/kmsg; fixture tests pass a file). */
  kernelLogPath?: string;
  /** What the xattrs on a process's cgroup ask of an OOM killer (ProcessDetails.cgroupPreference); default: oomd's and systemd-oomd's, read from cgroupfs (cgroup-preference.ts). */
  cgroupPreference?: CgroupPreferenceLookup;
  /** The process table's cap on kept fds (default: 4096, or half of RLIMIT_NOFILE where less). */
  maxKeptProcessFds?: number;
  /**
   * Read each process's /proc/PID/cmdline (default true). The daemon reads them only when a victim
   * rule matches on them (rulesReadCommandLines): that read takes the process's mmap lock.
   */
  readCommandLines?: boolean;
}

export interface ProtectSelfOptions {
  /** How the daemon's own code is kept in memory (resident-code.ts); "off" leaves it pageable. Default "on-fault". */
  residentCode?: ResidentCodeMode | "off";
}

/** A pidfd plus the bookkeeping that keeps it open while process_mrelease still uses it. */
interface PidfdToken {
  pidfd: number;
  reapInFlight: Promise<unknown> | null;
  released: boolean;
  closed: boolean;
}

export interface ManageableCgroup {
  path: string;
  version: 1 | 2;
  usageBytes: number;
  limitBytes: number | null;
  /** Whether this process may write what a takeover writes there (see mayTakeOver). */
  writable: boolean;
}

export interface HostCapabilities {
  root: boolean;
  canManage: boolean;
  notes: string[];
}

const EMPTY_MOUNTS: CgroupMounts = { v1Memory: null, v2: null, v1Freezer: null, all: [] };

export class LinuxHost implements Host {
  readonly procRoot: string;
  readonly fs: LinuxFs;
  readonly mounts: CgroupMounts;
  private readonly mountsError: string | null;
  private readonly pageSize: number;
  /** Read at the first need, once: it cannot change while this process lives. */
  private bootId: Result<string> | undefined;
  private readonly kernelLog: KernelLog;
  /** The listings' kept fds and details (process-table.ts). */
  readonly processTable: ProcessTable;
  private machineFiles: MachinePressureReader | null = null;
  private scheduleFile: KeptFile | null = null;
  private oomGroups: OomGroupReader | null = null;
  private readonly priority = new DaemonPriority();
  private readonly courtesy = new CpuCourtesy(() => this.priority.pausesForOthers());
  /** When the last machine sample read the kernel's RAM + swap (machineFiles.kernelTotalBytes). */
  private kernelTotalsAtMs: number | null = null;
  /** The hierarchy whose /proc/PID/cgroup line is a process's ProcessDetails.cgroup. */
  private readonly detailsHierarchy: CgroupHierarchy;
  /** Inside a container: the cgroup whose limit stands in for /proc/meminfo (container-memory.ts). */
  private readonly memoryStandIn: MemoryStandIn | null;
  private readonly memoryStandInNote: string | null;

  constructor(options: LinuxHostOptions = {}) {
    this.procRoot = options.procRoot ?? DEFAULT_PROC_ROOT;
    this.fs = options.fs ?? nodeLinuxFs;
    if (options.mounts) {
      this.mounts = options.mounts;
      this.mountsError = null;
    } else {
      const read = readCgroupMounts(this.procRoot, this.fs);
      this.mounts = read.ok ? read.value : EMPTY_MOUNTS;
      this.mountsError = read.ok ? null : read.error.message;
    }
    this.pageSize = native.nativeStatus().ok ? native.sysconfPageSize() : FALLBACK_PAGE_SIZE_BYTES;
    this.kernelLog = new KernelLog(options.kernelLogPath);
    // As ProcessDetails.cgroup says: the v2 hierarchy's cgroup, the v1 memory controller's where v2 is not mounted.
    this.detailsHierarchy = this.mounts.v2 !== null || this.mounts.v1Memory === null ? "v2" : "v1-memory";
    const limits = this.fs.readText(join(this.procRoot, PROC.limits));
    // The table's clock is the boot clock of the start times: read once, then carried by now().
    const uptimeText = this.fs.readText(join(this.procRoot, PROC.uptime));
    const uptimeMs = uptimeText.ok ? parseUptimeMs(uptimeText.value) : null;
    const bootOffsetMs = uptimeMs === null ? 0 : uptimeMs - this.now();
    this.processTable = new ProcessTable({
      procRoot: this.procRoot,
      fs: this.fs,
      now: () => this.now() + bootOffsetMs,
      clockTicksPerSecond: native.nativeStatus().ok ? native.sysconfClockTicks() : FALLBACK_CLOCK_TICKS,
      maxKeptFds: options.maxKeptProcessFds ?? keptFdBudget(limits.ok ? limits.value : null),
      hierarchy: this.detailsHierarchy,
      ...(options.readCommandLines !== undefined ? { readCommandLines: options.readCommandLines } : {}),
      cgroupPreference: options.cgroupPreference ?? new CgroupPreferenceReader({ mounts: this.mounts, now: () => this.now() }).hook,
      courtesy: this.courtesy,
    });
    const memTotal = readMachineMemory(this.procRoot, this.fs);
    const choice = memTotal.ok ? findMemoryStandIn(this.procRoot, this.fs, this.mounts, memTotal.value.totalBytes) : { standIn: null, note: null };
    this.memoryStandIn = choice.standIn;
    this.memoryStandInNote = choice.note;
  }

  now(): number {
    return performance.now();
  }
  setTimer(delayMs: number, callback: () => void): TimerHandle {
    return { id: setTimeout(callback, delayMs) };
  }
  clearTimer(timer: TimerHandle): void {
    clearTimeout(timer.id as NodeJS.Timeout);
  }
  selfPid(): number {
    return process.pid;
  }
  pageSizeBytes(): number {
    return this.pageSize;
  }
  readMachineMemory(): Result<MachineMemory> {
    const machine = readMachineMemory(this.procRoot, this.fs);
    return machine.ok ? figuresWithStandIn(machine.value, this.memoryStandIn, this.fs) : machine;
  }
  readMachinePressure(): Result<MachinePressure> {
    // Files kept open for the host's life: a sample every few tens of ms near a line.
    this.machineFiles ??= new MachinePressureReader(this.procRoot, this.fs);
    const read = this.machineFiles.read(this.pageSize, this.memoryStandIn);
    if (this.machineFiles.kernelTotalBytes !== null) this.kernelTotalsAtMs = this.now();
    return read;
  }
  /** getrusage: a system call, no file read. */
  selfUsage(): SelfUsage {
    const usage = process.resourceUsage();
    return { majorFaults: usage.majorPageFault, userCpuMs: usage.userCPUTime / 1000, systemCpuMs: usage.systemCPUTime / 1000 };
  }
  /** The main thread's own schedstat through a kept fd (opened on the first call, which comes from the main thread: thread-self names the thread that opened it). Its time on a CPU lags by up to a scheduler tick. */
  mainThreadSchedule(): ThreadSchedule | null {
    this.scheduleFile ??= new KeptFile(join(this.procRoot, PROC.threadSchedstat), this.fs);
    const text = this.scheduleFile.read();
    const parsed = text.ok ? parseSchedstat(text.value) : null;
    if (parsed === null || !parsed.ok || parsed.value === null) return null;
    return { onCpuMs: parsed.value.onCpuNs / 1e6, runQueueMs: parsed.value.runQueueNs / 1e6 };
  }
  cpuGivenBackMs(): number {
    return this.courtesy.totalGivenBackMs();
  }
  beginUrgentWork(racing = false): () => void {
    return this.priority.beginUrgent(racing);
  }
  watchMachinePressure(trigger: PressureTrigger, onPressure: () => void): Result<PressureWatch> {
    return watchPressureFile(join(this.procRoot, PROC.pressureMemory), trigger, onPressure);
  }
  listTopLevelCgroups(): Result<CgroupRef[]> {
    return listTopLevelCgroups(this.mounts, this.fs);
  }
  listAllProcesses(options: ListingOptions = {}): Result<ProcessSample[]> {
    const pids = this.userPids();
    if (!pids.ok) return pids;
    // As in listProcesses: a process that cannot be read (hidepid) cannot be scored, so it is left out.
    return ok(this.processTable.list(pids.value, this.allListing(options)).samples);
  }
  beginRoutineListing(options: ListingOptions = {}): Result<RoutineListing> {
    const pids = this.userPids();
    if (!pids.ok) return pids;
    const listing = this.allListing(options);
    const samples: ProcessSample[] = [];
    let at = 0;
    return ok({
      // Each slice glances at the processes whose rss has not moved (stat alone), at the start priority.
      next: (budgetMs) =>
        this.priority.atStartPriority(() => {
          const untilMs = this.now() + budgetMs;
          do {
            const slice = pids.value.slice(at, at + ROUTINE_PIDS_PER_STEP);
            at += slice.length;
            samples.push(...this.processTable.glance(slice, listing).samples);
          } while (at < pids.value.length && this.now() < untilMs);
          return at < pids.value.length ? null : ok(samples);
        }),
    });
  }
  private allListing(options: ListingOptions): TableListing {
    return { skipKernelThreads: true, refreshStaleDetails: options.refreshStaleDetails === true, within: null };
  }
  /** The pids of /proc, ascending; the table forgets the processes no longer there. */
  private userPids(): Result<number[]> {
    const entries = this.fs.listEntries(this.procRoot);
    if (!entries.ok) return fail(entries.error.code, `cannot list processes: ${entries.error.message}`);
    // Numeric entries are the processes (thread ids are hidden from readdir); "self", "meminfo", ... are not.
    const pids = entries.value.filter((name) => /^\d+$/.test(name)).map(Number).sort((a, b) => a - b);
    this.processTable.keepOnly(pids);
    return ok(pids);
  }

  screenAllProcesses(): Result<ScreenedListing> {
    // The kernel scales oom_score over its own RAM + swap: /proc/meminfo's, whatever stands in for
    // the machine. The decision's own sample read them a moment ago; older than that, read again.
    let kernelTotalBytes: number;
    const sampled = this.machineFiles?.kernelTotalBytes ?? null;
    if (sampled !== null && this.kernelTotalsAtMs !== null && this.now() - this.kernelTotalsAtMs <= KERNEL_TOTALS_FRESH_MS) {
      kernelTotalBytes = sampled;
    } else {
      const memory = readMachineMemory(this.procRoot, this.fs);
      if (!memory.ok) return memory;
      kernelTotalBytes = memory.value.totalBytes + memory.value.swapTotalBytes;
    }
    const pids = this.userPids();
    if (!pids.ok) return pids;
    const kernelTotalPages = Math.floor(kernelTotalBytes / this.pageSize);
    const { samples, oomScores } = this.processTable.screen(pids.value, { skipKernelThreads: true, refreshStaleDetails: false, within: null }, this.pageSize);
    const bounds = new Map<number, BadnessBounds>();
    for (const [pid, score] of oomScores) bounds.set(pid, badnessBoundsOf(score, kernelTotalPages));
    return ok({ processes: samples, bounds, kernelTotalPages });
  }
  readInFull(pids: readonly number[]): Result<ProcessSample[]> {
    return ok(this.processTable.list(pids, { skipKernelThreads: true, refreshStaleDetails: false, within: null }).samples);
  }

  resolveProcessCgroup(cgroup: string): Result<CgroupRef> {
    const mountPoint = this.detailsHierarchy === "v2" ? this.mounts.v2 : this.mounts.v1Memory;
    const mount = this.mounts.all.find((candidate) => candidate.mountPoint === mountPoint);
    const directory = mountPoint === null || mount === undefined ? null : cgroupDirectory(cgroup, mountPoint, mount.root);
    if (directory === null) return fail("ENOENT", `cgroup ${cgroup} is not visible under this process's cgroup mounts`);
    return this.resolveCgroup(directory);
  }
  readOomGroup(cgroup: string): Result<boolean> {
    const mount = this.detailsHierarchy === "v2" ? this.mounts.all.find((candidate) => candidate.mountPoint === this.mounts.v2) : undefined;
    if (mount === undefined) return ok(false);
    this.oomGroups ??= new OomGroupReader({ mountPoint: mount.mountPoint, root: mount.root }, this.fs, () => this.now());
    return this.oomGroups.read(cgroup);
  }
  resolveCgroup(path: string): Result<CgroupRef> {
    // Without the mount table no answer is sure, "does not exist" least of all.
    if (this.mountsError !== null) return fail("MOUNTS_UNKNOWN", `cgroup path ${path} cannot be checked: ${this.mountsError}`);
    return validateCgroupPath(path, this.mounts, this.fs);
  }
  /**
   * flock on an fd of the cgroup's own directory (kernfs directories take flock), held until the
   * claim is given up: it catches a second daemon whatever its state directory.
   */
  claimCgroup(ref: CgroupRef): Result<Unclaim> {
    let fd: number;
    try {
      fd = openSync(ref.path, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY);
    } catch (error) {
      return fail((error as NodeJS.ErrnoException).code ?? "EIO", `cannot open ${ref.path} to claim it: ${(error as Error).message}`);
    }
    const lock = lockExclusiveWithin(fd, CLAIM_WAIT_MS, this.procRoot, this.fs);
    if (lock.kind !== "locked") {
      closeSync(fd);
      if (lock.kind === "failed") return fail(lock.error.code, `cannot claim ${ref.path}: ${lock.error.message}`);
      if (lock.holderPid === process.pid) return fail("CLAIMED", `another oomwarden manages ${ref.path} (this daemon (under another path) holds its lock)`);
      const holder = lock.holderPid === null ? "another process" : `pid ${lock.holderPid}`;
      return fail("CLAIMED", `another oomwarden manages ${ref.path} (${holder} holds its lock), still after waiting ${CLAIM_WAIT_MS} ms`);
    }
    let released = false;
    return ok(() => {
      if (released) return;
      released = true;
      closeSync(fd);
    });
  }
  identifyCgroup(ref: CgroupRef): Result<CgroupIdentity> {
    this.bootId ??= readBootId(this.procRoot, this.fs);
    // Never ENOENT: that would say the cgroup was removed.
    if (!this.bootId.ok) return fail("BOOT_ID_UNKNOWN", `cannot tell this boot from another: ${this.bootId.error.message}`);
    try {
      // bigint: a 64-bit kernfs inode number carries a generation in its upper half.
      const stats = statSync(ref.path, { bigint: true });
      if (!stats.isDirectory()) return fail("ENOTDIR", `cgroup ${ref.path} is no longer a directory`);
      return ok({ bootId: this.bootId.value, inode: stats.ino.toString() });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? "EIO";
      return isVanishedCode(code) ? fail("ENOENT", `cgroup ${ref.path} no longer exists`) : fail(code, `cannot examine cgroup ${ref.path}: ${(error as Error).message}`);
    }
  }
  readCgroup(ref: CgroupRef): Result<CgroupSample> {
    return readCgroupSample(ref, this.fs);
  }
  listProcesses(ref: CgroupRef, options: ListingOptions = {}): Result<ProcessSample[]> {
    const pids = listCgroupPids(ref, this.fs);
    if (!pids.ok) return pids;
    // Unreadable processes (EACCES under hidepid) cannot be scored and therefore cannot be chosen.
    const listing = { skipKernelThreads: false, refreshStaleDetails: options.refreshStaleDetails === true, within: this.cgroupAsProcNamesIt(ref) };
    return ok(this.processTable.list(pids.value, listing).samples);
  }
  /**
   * ref as /proc/PID/cgroup names it, if that is the hierarchy the process table reads: each of its
   * members is there or below, so a member's kept cgroup elsewhere is stale (it was moved in).
   */
  private cgroupAsProcNamesIt(ref: CgroupRef): string | null {
    const mount = ref.version === 2 ? this.mounts.v2 : this.mounts.v1Memory;
    if (mount === null || ref.version !== (this.detailsHierarchy === "v2" ? 2 : 1) || !(ref.path === mount || ref.path.startsWith(`${mount}/`))) return null;
    const below = ref.path === mount ? "/" : ref.path.slice(mount.length);
    // A mount that shows part of the hierarchy (mountinfo root "/docker/<id>") starts there.
    const root = (this.mounts.all.find((candidate) => candidate.mountPoint === mount)?.root ?? "/").replace(/\/+$/, "");
    return root === "" ? below : below === "/" ? root : `${root}${below}`;
  }
  readProcess(pid: number): Result<ProcessSample> {
    return readProcessSample(pid, this.procRoot, this.fs);
  }
  readStallEvidence(pid: number): Result<StallEvidence> {
    return readStallEvidence(pid, this.procRoot, this.fs);
  }

  setMemoryLimit(ref: CgroupRef, limitBytes: number | null): Result<void> {
    const path = join(ref.path, ref.version === 1 ? V1.limitInBytes : V2.max);
    if (limitBytes !== null && !(Number.isSafeInteger(limitBytes) && limitBytes >= 0)) {
      return fail("EINVAL", `refusing to write ${limitBytes} to ${path}: a limit is a whole number of bytes`);
    }
    const text = limitBytes !== null ? String(limitBytes) : ref.version === 1 ? V1_UNLIMITED_WRITE : V2_UNLIMITED;
    const written = writeControl(path, text);
    if (written.ok || ref.version === 2) return written;
    return fail(written.error.code, `${written.error.message}${v1LimitHint(ref.path, written.error.code, this.fs)}`);
  }

  setMemoryHigh(ref: CgroupRef, highBytes: number | null): Result<void> {
    if (ref.version === 1) return fail("ENOTSUP", `${ref.path}: cgroup v1 has no memory.high`);
    const path = join(ref.path, V2.high);
    if (highBytes !== null && !(Number.isSafeInteger(highBytes) && highBytes >= 0)) {
      return fail("EINVAL", `refusing to write ${highBytes} to ${path}: memory.high is a whole number of bytes`);
    }
    return writeControl(path, highBytes === null ? V2_UNLIMITED : String(highBytes));
  }

  watchPressure(ref: CgroupRef, trigger: PressureTrigger, onPressure: () => void): Result<PressureWatch> {
    if (ref.version === 1) return fail("ENOTSUP", `${ref.path}: cgroup v1 has no memory.pressure`);
    return watchPressureFile(join(ref.path, V2.pressure), trigger, onPressure);
  }

  kernelOomKills(ref: CgroupRef | null): Result<KernelOomKill[]> {
    if (ref === null) return this.kernelLog.globalKills();
    const mount = ref.version === 2 ? this.mounts.v2 : this.mounts.v1Memory;
    if (mount === null) return fail("ENOENT", `no cgroup mount for ${ref.path}`);
    const relative = ref.path === mount ? "/" : ref.path.slice(mount.length);
    return this.kernelLog.killsIn(relative);
  }

  takeOverOom(ref: CgroupRef): Result<OomTakeover> {
    if (ref.version === 2) {
      return ok({
        previousOomKillDisable: null,
        notes: [
          "cgroup v2 cannot disable the kernel OOM killer: its kills are journaled, and OOMs it leaves unanswered are handled here",
        ],
      });
    }
    const path = join(ref.path, V1.oomControl);
    const text = this.fs.readText(path);
    if (!text.ok) return text;
    const control = parseOomControl(text.value);
    if (!control.ok) return fail(control.error.code, `${path}: ${control.error.message}`);
    if (control.value.oomKillDisabled) {
      return ok({ previousOomKillDisable: null, notes: ["oom_kill_disable was already 1; it stays 1 when oomwarden stops"] });
    }
    const written = writeControl(path, "1");
    if (!written.ok) return written;
    return ok({ previousOomKillDisable: false, notes: ["kernel OOM killer disabled here (oom_kill_disable 0 -> 1) until oomwarden stops"] });
  }

  handOomToKernel(ref: CgroupRef): Result<void> {
    if (ref.version === 2) return ok(undefined);
    // Writing 0 wakes the tasks waiting in the OOM; their retried charge then meets the kernel killer.
    return writeControl(join(ref.path, V1.oomControl), "0");
  }

  restoreOom(ref: CgroupRef, takeover: OomTakeover): Result<void> {
    if (ref.version === 2 || takeover.previousOomKillDisable === null) return ok(undefined);
    return writeControl(join(ref.path, V1.oomControl), takeover.previousOomKillDisable ? "1" : "0");
  }

  watchOom(ref: CgroupRef, onEvent: () => void): Result<Unwatch> {
    // From here on the kernel's own kills are read from its log (v2 cannot turn them off); what it
    // logged before is not ours to report. Not being able to read it is no reason not to watch.
    if (ref.version === 2) this.kernelLog.prime();
    return ref.version === 1 ? this.watchV1Oom(ref, onEvent) : this.watchV2Events(ref, onEvent);
  }

  /** v1: an eventfd registered on memory.oom_control; it fires on OOM, at once if already OOM, and on removal. */
  private watchV1Oom(ref: CgroupRef, onEvent: () => void): Result<Unwatch> {
    const efd = native.eventfdCreate();
    if (!efd.ok) return efd;
    let controlFd: number;
    try {
      controlFd = openSync(join(ref.path, V1.oomControl), "r");
    } catch (error) {
      native.closeFd(efd.value);
      return fail((error as NodeJS.ErrnoException).code ?? "EIO", `cannot open ${join(ref.path, V1.oomControl)}: ${(error as Error).message}`);
    }
    const registered = writeControl(join(ref.path, V1.eventControl), `${efd.value} ${controlFd}`);
    if (!registered.ok) {
      native.closeFd(efd.value);
      closeSync(controlFd);
      return registered;
    }
    let current: native.FdWatch | null = null;
    let rearms = 0;
    const arm = (): Result<native.FdWatch> => {
      const watched = native.watchFd(efd.value, (error) => {
        if (error) {
          // libuv stopped the handle on a poll error: re-arm, or every later OOM would go unseen
          // (a few times only, so a persistent error cannot spin the loop).
          current?.stop();
          current = null;
          if (++rearms <= MAX_WATCH_REARMS) {
            const again = arm();
            current = again.ok ? again.value : null;
          }
        } else {
          rearms = 0;
          // Level-triggered: drain first, or the callback would run again at once.
          native.eventfdDrain(efd.value);
        }
        onEvent();
      });
      return watched;
    };
    const first = arm();
    if (!first.ok) {
      native.closeFd(efd.value);
      closeSync(controlFd);
      return first;
    }
    current = first.value;
    return ok(() => {
      current?.stop();
      native.closeFd(efd.value);
      closeSync(controlFd);
    });
  }

  /** v2: memory.events changes are signalled through inotify (kernfs_notify); fs.watch rides on it. */
  private watchV2Events(ref: CgroupRef, onEvent: () => void): Result<Unwatch> {
    let watcher: FSWatcher;
    try {
      watcher = watch(join(ref.path, V2.events), { persistent: true }, () => onEvent());
    } catch (error) {
      return fail((error as NodeJS.ErrnoException).code ?? "EIO", `cannot watch ${join(ref.path, V2.events)}: ${(error as Error).message}`);
    }
    // A removed cgroup makes the watcher error out; treat it as one last event so the engine re-reads.
    watcher.on("error", () => onEvent());
    return ok(() => watcher.close());
  }

  openVictim(pid: number, startTimeTicks: number): Result<VictimHandle> {
    const pidfd = native.pidfdOpen(pid);
    if (!pidfd.ok) {
      return fail(pidfd.error.code, pidfd.error.code === "ESRCH" ? `pid ${pid} exited before it could be killed` : pidfd.error.message);
    }
    // The pidfd pins the process; if its start time still matches the snapshot's, it is the process we ranked.
    const now = readProcessStartTime(pid, this.procRoot, this.fs);
    if (!now.ok || now.value !== startTimeTicks) {
      native.closeFd(pidfd.value);
      return now.ok
        ? fail("START_TIME_MISMATCH", `pid ${pid} was reused (start time ${now.value}, ranked ${startTimeTicks})`)
        : fail(now.error.code, `pid ${pid} exited before it could be killed`);
    }
    const token: PidfdToken = { pidfd: pidfd.value, reapInFlight: null, released: false, closed: false };
    return ok({ pid, startTimeTicks, token });
  }

  maySignal(victim: VictimHandle): Result<void> {
    // Signal 0 checks existence and permission and sends nothing.
    return native.pidfdSendSignal(tokenOf(victim).pidfd, 0);
  }

  kill(victim: VictimHandle): Result<void> {
    return native.pidfdSendSignal(tokenOf(victim).pidfd, SIGKILL);
  }

  terminate(victim: VictimHandle): Result<void> {
    return native.pidfdSendSignal(tokenOf(victim).pidfd, SIGTERM);
  }

  killCgroup(ref: CgroupRef): Result<{ killedPids: number[] }> {
    const pids = listCgroupPids(ref, this.fs);
    if (!pids.ok) return pids;
    const killPath = join(ref.path, V2.kill);
    const kind = this.fs.kind(killPath);
    if (kind.ok && kind.value === "file") {
      const written = writeControl(killPath, "1");
      if (!written.ok) return written;
      return ok({ killedPids: pids.value });
    }
    // Before Linux 5.14 there is no cgroup.kill: signal each process through its own pidfd.
    const killed: number[] = [];
    for (const pid of pids.value) {
      if (pid === process.pid) continue;
      const fd = native.pidfdOpen(pid);
      if (!fd.ok) continue;
      if (native.pidfdSendSignal(fd.value, SIGKILL).ok) killed.push(pid);
      native.closeFd(fd.value);
    }
    return ok({ killedPids: killed });
  }

  async reap(victim: VictimHandle): Promise<Result<{ durationMs: number; alreadyGone: boolean }>> {
    const token = tokenOf(victim);
    if (token.closed) return fail("EBADF", `pid ${victim.pid}: pidfd already released`);
    const pending = native.processMrelease(token.pidfd);
    token.reapInFlight = pending;
    let result: Awaited<typeof pending>;
    try {
      result = await pending;
    } finally {
      token.reapInFlight = null;
      if (token.released) closeToken(token);
    }
    if (result.ok) return ok({ durationMs: result.value.durationMs, alreadyGone: false });
    // ESRCH: the exit path already released the mm, which is what we wanted.
    if (result.error.code === "ESRCH") return ok({ durationMs: 0, alreadyGone: true });
    return result;
  }

  watchExit(victim: VictimHandle, onExit: () => void): Result<Unwatch> {
    const token = tokenOf(victim);
    let fired = false;
    const watched = native.watchFd(token.pidfd, (error) => {
      // An exited process's pidfd stays readable: report once and stop. A poll error is not an exit;
      // the engine's observations read the process and see its exit anyway.
      watched.ok && watched.value.stop();
      if (fired || error) return;
      fired = true;
      onExit();
    });
    if (!watched.ok) return watched;
    return ok(() => watched.value.stop());
  }

  releaseVictim(victim: VictimHandle): void {
    const token = tokenOf(victim);
    token.released = true;
    // process_mrelease may still be using the pidfd on the threadpool: close once it returns.
    if (token.reapInFlight === null) closeToken(token);
  }

  /** What this host can and cannot do here, in plain words. */
  capabilities(): HostCapabilities {
    const notes: string[] = [];
    const root = process.getuid?.() === 0;
    const nativeOk = native.nativeStatus();
    if (!root) notes.push(`running as uid ${process.getuid?.()}, not root: cannot change memory.oom_control or kill other users' processes; observing only`);
    if (!nativeOk.ok) notes.push(`native addon unavailable (${nativeOk.error.message}): no eventfd notifications, no pidfd kills; run npm ci to build it`);
    if (this.mountsError !== null) notes.push(`cannot read the cgroup mounts: ${this.mountsError}`);
    if (this.mounts.v1Memory !== null) notes.push(`cgroup v1 memory controller at ${this.mounts.v1Memory}`);
    if (this.mounts.v2 !== null) {
      const controllers = this.fs.readText(join(this.mounts.v2, V2.controllers));
      const hasMemory = controllers.ok && controllers.value.split(/\s+/).includes("memory");
      notes.push(`cgroup v2 at ${this.mounts.v2}${hasMemory ? " with the memory controller" : " without the memory controller (memory is not bound to v2 here)"}`);
    }
    if (this.mounts.v1Memory === null && this.mounts.v2 === null) notes.push("no memory cgroup hierarchy is mounted: nothing can be managed");
    if (this.memoryStandInNote !== null) notes.push(this.memoryStandInNote);
    const priorityFailure = this.priority.changeFailure();
    if (priorityFailure !== null) notes.push(priorityFailure);
    return { root, canManage: root && nativeOk.ok && (this.mounts.v1Memory !== null || this.mounts.v2 !== null), notes };
  }

  /**
   * Whether this process may write the file a takeover needs: v1 memory.oom_control; v2
   * cgroup.procs, writable only to root or to the user the cgroup is delegated to (who alone may
   * kill all of its processes). access(2), so root passes and an unprivileged user mostly does not.
   */
  mayTakeOver(ref: CgroupRef): boolean {
    try {
      accessSync(join(ref.path, ref.version === 1 ? V1.oomControl : V2.procs), fsConstants.W_OK);
      return true;
    } catch {
      return false;
    }
  }

  /** Memory cgroups below the roots (two levels deep) that --cgroup would accept. */
  listMemoryCgroups(maxDepth = 2): ManageableCgroup[] {
    const found: ManageableCgroup[] = [];
    const roots = [this.mounts.v1Memory, this.mounts.v2].filter((r): r is string => r !== null);
    for (const root of roots) {
      const pending: { dir: string; depth: number }[] = [{ dir: root, depth: 0 }];
      while (pending.length > 0) {
        const { dir, depth } = pending.shift() as { dir: string; depth: number };
        if (depth > 0) {
          const ref = this.resolveCgroup(dir);
          if (ref.ok) {
            const sample = this.readCgroup(ref.value);
            if (sample.ok) {
              const { usageBytes, limitBytes } = sample.value;
              found.push({ path: ref.value.path, version: ref.value.version, usageBytes, limitBytes, writable: this.mayTakeOver(ref.value) });
            }
          }
        }
        if (depth >= maxDepth) continue;
        const children = this.fs.listSubdirectories(dir);
        if (children.ok) for (const child of children.value.sort()) pending.push({ dir: join(dir, child), depth: depth + 1 });
      }
    }
    return found;
  }

  /**
   * The daemon's own protection (it must stay able to act when a victim is stuck): ask the kernel killer to spare it. Returns what worked and what did not.
   */
  protectSelf(options: ProtectSelfOptions = {}): string[] {
    const notes: string[] = [];
    // Not mlockall: with locked pages V8's madvise(MADV_DONTNEED) fails and Node 20 aborts (measured
    // here, exit 133), at exit always and sometimes while running. Only the file-backed code is
    // locked, which V8 never releases (resident-code.ts).
    const residentCode = options.residentCode ?? "on-fault";
    notes.push(residentCode === "off" ? "code not locked in memory (asked so)" : lockResidentCode({ procRoot: this.procRoot, fs: this.fs, mode: residentCode }).note);
    // Ahead of the allocating workload while an incident is handled (daemon-priority.ts).
    notes.push(this.priority.prepare());
    const adjPath = join(this.procRoot, "self", "oom_score_adj");
    const written = writeControl(adjPath, String(OOM_SCORE_ADJ_MIN));
    if (written.ok) {
      notes.push("oom_score_adj set to -1000: the kernel OOM killer will not choose oomwarden");
    } else {
      const current = this.fs.readText(adjPath);
      notes.push(
        `cannot lower oom_score_adj to -1000 (${written.error.code}; lowering needs CAP_SYS_RESOURCE): the kernel OOM killer could choose oomwarden (current value ${current.ok ? current.value.trim() : "unknown"})`,
      );
    }
    return notes;
  }
}

export function createLinuxHost(options: LinuxHostOptions = {}): LinuxHost {
  return new LinuxHost(options);
}

function tokenOf(victim: VictimHandle): PidfdToken {
  return victim.token as PidfdToken;
}

function closeToken(token: PidfdToken): void {
  if (token.closed) return;
  token.closed = true;
  native.closeFd(token.pidfd);
}

/**
 * Why v1 refused a new limit, in words: EBUSY means the kernel could not reclaim down to it;
 * EINVAL usually means it would exceed memory.memsw.limit_in_bytes, which v1 forbids.
 */
function v1LimitHint(cgroupPath: string, code: string, fs: LinuxFs): string {
  if (code === "EBUSY") return " (usage is above the new limit and the kernel could not reclaim enough)";
  if (code !== "EINVAL") return "";
  const memsw = fs.readText(join(cgroupPath, V1.memswLimitInBytes));
  return memsw.ok ? ` (memory.limit_in_bytes may not exceed ${V1.memswLimitInBytes}, ${memsw.value.trim()})` : "";
}

function readBootId(procRoot: string, fs: LinuxFs): Result<string> {
  const text = fs.readText(join(procRoot, PROC.bootId));
  if (!text.ok) return text;
  const bootId = text.value.trim();
  return bootId === "" ? fail("EINVAL", `${join(procRoot, PROC.bootId)} is empty`) : ok(bootId);
}

function writeControl(path: string, value: string): Result<void> {
  try {
    writeFileSync(path, value);
    return ok(undefined);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? "EIO";
    return fail(code, `cannot write "${value}" to ${path}: ${(error as Error).message}`);
  }
}
