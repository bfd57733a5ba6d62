// A scripted Host in virtual time for engine tests: one memory cgroup, processes with sizes,
// and knobs for how a victim dies (promptly, slowly, never; reapable or not).

import { fail, ok, type Result } from "../../src/core/result.js";
import type { CgroupSample, CgroupVersion, MachinePressure, MemoryEventCounters, ProcessDetails, ProcessSample } from "../../src/core/types.js";
import type { LedgerKey } from "../../src/engine/takeover-ledger.js";
import { machinePressure } from "../support/machine-samples.js";
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
} from "../../src/engine/host.js";

const MIB = 1024 * 1024;

export interface FakeProcess {
  pid: number;
  comm: string;
  rssBytes: number;
  oomScoreAdj?: number;
  /** How the process reacts to SIGKILL. */
  onKill?: "exit" | "stall" | { exitAfterMs: number } | { shrinkBytesPerMs: number };
  /** Whether process_mrelease can take its memory (false: e.g. stuck before the mm is released). */
  reapable?: boolean;
  state?: string;
  /**
   * How the process reacts to SIGTERM. "exit" (the default) and dyingForMs: the default action, fatal,
   * its exit taking 1 ms or that long; exitAfterMs: a handler that exits after that long; "ignore".
   */
  onTerm?: "exit" | "ignore" | { exitAfterMs: number } | { dyingForMs: number };
  /** Who it is (uid, process group, cgroup...): rules and kill units read it. */
  details?: ProcessDetails;
}

interface LiveProcess extends Required<Omit<FakeProcess, "onKill" | "onTerm" | "details">> {
  details: ProcessDetails | undefined;
  onKill: FakeProcess["onKill"];
  onTerm: FakeProcess["onTerm"];
  startTimeTicks: number;
  alive: boolean;
  killed: boolean;
  /** SIGKILL, or a SIGTERM left to its default action, is on its way: the kernel lets process_mrelease reap it. */
  dying: boolean;
  /** Past exit_mm: /proc shows no memory while the memory is still charged (being freed). */
  noMmShown: boolean;
  exitWatchers: Set<() => void>;
}

export class FakeHost implements Host {
  timeMs = 0;
  private seq = 0;
  private timers: { atMs: number; seq: number; cb: () => void }[] = [];
  readonly processes = new Map<number, LiveProcess>();
  readonly ref: CgroupRef;
  limitBytes: number;
  baseUsageBytes = 2 * MIB;
  events: MemoryEventCounters = { low: 0, high: 0, max: 0, oom: 0, oomKill: 0, oomGroupKill: 0 };
  oomGroup = false;
  oomKillDisabled = false;
  readonly killed: number[] = [];
  readonly cgroupKills: string[] = [];
  private notify: (() => void) | null = null;
  reapMs = 4;
  /** Share of a victim's memory process_mrelease takes; the rest comes back at its exit. */
  reapShare = 1;

  /**
   * The machine, for the machine guard: RAM of machineTotalBytes holding the processes' memory and
   * machineOtherUsedBytes more; available = free (no page cache). `machine` overrides any field.
   */
  machineTotalBytes = 1024 * MIB;
  machineOtherUsedBytes = 0;
  machine: Partial<MachinePressure> = {};
  machineReads = 0;
  readonly limitWrites: (number | null)[] = [];

  constructor(version: CgroupVersion = 1, limitBytes = 64 * MIB) {
    this.ref = { path: version === 1 ? "/sys/fs/cgroup/memory/test" : "/sys/fs/cgroup/test", version };
    this.limitBytes = limitBytes;
  }

  add(p: FakeProcess): void {
    this.processes.set(p.pid, {
      oomScoreAdj: 0,
      reapable: true,
      state: "S",
      ...p,
      onKill: p.onKill ?? "exit",
      onTerm: p.onTerm,
      details: p.details,
      startTimeTicks: 1000 + p.pid,
      alive: true,
      killed: false,
      dying: false,
      noMmShown: false,
      exitWatchers: new Set(),
    });
  }

  usageBytes(): number {
    let sum = this.baseUsageBytes;
    for (const p of this.processes.values()) if (p.alive || p.rssBytes > 0) sum += p.rssBytes;
    return sum;
  }

  /** v1: under_oom while a task waits for memory; it clears once usage fell by oomNeedBytes since the notification. */
  underOom = false;
  oomNeedBytes = 1 * MIB;
  private oomClearsBelowBytes = 0;

  /** The kernel's OOM notification. */
  fireOom(): void {
    this.underOom = true;
    this.oomClearsBelowBytes = this.usageBytes() - this.oomNeedBytes;
    this.events = { ...this.events, oom: this.events.oom + 1 };
    this.notify?.();
  }

  /** A notification with nothing behind it (the v1 eventfd also fires when a cgroup is removed). */
  notifyWithoutOom(): void {
    this.notify?.();
  }

  alive(pid: number): boolean {
    return this.processes.get(pid)?.alive ?? false;
  }

  // ----- virtual time -----
  now(): number {
    return this.timeMs;
  }
  setTimer(delayMs: number, callback: () => void): TimerHandle {
    const entry = { atMs: this.timeMs + delayMs, seq: ++this.seq, cb: callback };
    this.timers.push(entry);
    return { id: entry };
  }
  clearTimer(timer: TimerHandle): void {
    this.timers = this.timers.filter((t) => t !== timer.id);
  }
  /** Runs every timer due within `ms`, in (time, seq) order, letting promises settle between them. */
  async advance(ms: number): Promise<void> {
    const end = this.timeMs + ms;
    await settle();
    for (let next = this.takeDue(end); next !== undefined; next = this.takeDue(end)) {
      next.cb();
      await settle();
    }
    this.timeMs = end;
  }

  /** The first timer due by `end`, taken off the list with the clock moved to it (undefined: none). */
  private takeDue(end: number): { cb: () => void } | undefined {
    this.timers.sort((a, b) => a.atMs - b.atMs || a.seq - b.seq);
    const next = this.timers[0];
    if (!next || next.atMs > end) return undefined;
    this.timers.shift();
    // A listing that costs time (listingCostMs) may have moved the clock past a timer's due time.
    this.timeMs = Math.max(this.timeMs, next.atMs);
    return next;
  }

  // ----- Host -----
  selfPid(): number {
    return 4242;
  }
  pageSizeBytes(): number {
    return 4096;
  }
  readMachineMemory(): Result<MachineMemory> {
    return ok({ totalBytes: 24 * 1024 * MIB, availableBytes: 20 * 1024 * MIB, swapTotalBytes: 0, swapFreeBytes: 0 });
  }
  readMachinePressure(): Result<MachinePressure> {
    this.machineReads++;
    const available = Math.max(0, this.machineTotalBytes - this.machineOtherUsedBytes - this.usageBytes());
    return ok(machinePressure({ totalBytes: this.machineTotalBytes, availableBytes: available, freeBytes: available, ...this.machine }));
  }
  /** What a whole-machine listing costs in virtual time (a slow /proc under pressure): the clock moves on while it runs. */
  listingCostMs = 0;
  /** Whole-machine listings so far. */
  listings = 0;
  /** Listings of the whole machine begun as routine (for growth), and asked for whole (a decision's, the warm-up's). */
  readonly routineListings = { routine: 0, decision: 0 };
  /** Slices a routine listing takes: 1 lists it whole at the first. */
  routineListingSlices = 1;
  /** What each slice of a routine listing costs in virtual time (the clock moves on meanwhile, as for listingCostMs). */
  routineSliceCostMs = 0;
  /** Slices of routine listings taken so far, and when each was (virtual ms). */
  readonly routineSlicesAtMs: number[] = [];
  listAllProcesses(_options: ListingOptions = {}): Result<ProcessSample[]> {
    this.listings++;
    this.routineListings.decision++;
    if (this.listingCostMs > 0) this.runWhileBusy(this.listingCostMs);
    return this.listProcesses();
  }
  beginRoutineListing(_options: ListingOptions = {}): Result<RoutineListing> {
    this.listings++;
    this.routineListings.routine++;
    let left = this.routineListingSlices;
    return ok({
      next: () => {
        this.routineSlicesAtMs.push(this.now());
        if (this.routineSliceCostMs > 0) this.runWhileBusy(this.routineSliceCostMs);
        left--;
        return left > 0 ? null : this.listProcesses();
      },
    });
  }

  /**
   * The world goes on while the daemon is busy for `ms`: the timers due meanwhile run now, in
   * order (a hog's growth timer, say), without letting promises settle in between. The engine's
   * own timers may run here too; a test using this arms none that re-enter the listing.
   */
  private runWhileBusy(ms: number): void {
    const end = this.timeMs + ms;
    for (let next = this.takeDue(end); next !== undefined; next = this.takeDue(end)) next.cb();
    this.timeMs = end;
  }
  /** The machine's PSI trigger: refused unless a test sets one up (the machine guard samples instead). */
  watchMachinePressure(_trigger: PressureTrigger, _onPressure: () => void): Result<PressureWatch> {
    return fail("ENOTSUP", "the fake host has no machine pressure trigger");
  }
  listTopLevelCgroups(): Result<CgroupRef[]> {
    return ok([]);
  }
  /** Major faults of the daemon: tests add to it to stand for code read back from disk. */
  majorFaults = 0;
  /** What cpuGivenBackMs answers: each listing adds givenBackPerListingMs, as a long listing at the raised priority pauses. */
  givenBackMs = 0;
  givenBackPerListingMs = 0;
  /** CPU time of the daemon, user and system: each listing adds cpuPerListingMs to both. */
  cpuMs: { user: number; system: number } | null = null;
  cpuPerListingMs = 0;
  selfUsage(): SelfUsage {
    return { majorFaults: this.majorFaults, userCpuMs: this.cpuMs?.user ?? null, systemCpuMs: this.cpuMs?.system ?? null };
  }
  /** What mainThreadSchedule answers (null: a kernel without scheduler statistics); each listing adds schedulePerListing to it. */
  schedule: ThreadSchedule | null = null;
  schedulePerListing: ThreadSchedule = { onCpuMs: 0, runQueueMs: 0 };
  mainThreadSchedule(): ThreadSchedule | null {
    return this.schedule === null ? null : { ...this.schedule };
  }
  cpuGivenBackMs(): number {
    return this.givenBackMs;
  }
  /** Urgent work under way (beginUrgentWork's releases not yet called). */
  urgentWork = 0;
  /** Each beginUrgentWork's racing, in order. */
  readonly urgentRacing: boolean[] = [];
  beginUrgentWork(racing = false): () => void {
    this.urgentRacing.push(racing);
    this.urgentWork++;
    let released = false;
    return () => {
      if (!released) this.urgentWork--;
      released = true;
    };
  }
  setMemoryLimit(_ref: CgroupRef, limitBytes: number | null): Result<void> {
    if (this.removed) return fail("ENOENT", `cannot write ${this.ref.path}/memory.limit_in_bytes: no such file or directory`);
    if (limitBytes !== null && limitBytes < this.usageBytes()) return fail("EBUSY", `limit ${limitBytes} below usage`);
    this.limitWrites.push(limitBytes);
    this.limitBytes = limitBytes ?? Number.MAX_SAFE_INTEGER;
    return ok(undefined);
  }
  resolveCgroup(path: string): Result<CgroupRef> {
    return path === this.ref.path ? ok(this.ref) : fail("ENOENT", `cgroup ${path} does not exist`);
  }
  /** Cgroups claimed through this host and not given up (as flock, per machine). */
  readonly claimed = new Set<string>();
  claimCgroup(ref: CgroupRef): Result<Unclaim> {
    if (this.claimed.has(ref.path)) return fail("CLAIMED", `another oomwarden manages ${ref.path}`);
    this.claimed.add(ref.path);
    let released = false;
    return ok(() => {
      if (released) return;
      released = true;
      this.claimed.delete(ref.path);
    });
  }
  /** The cgroup's directory: removed (rmdir) or made again at the same path (a new inode), and the boot. */
  removed = false;
  inode = 1;
  bootId = "fake-boot";
  /** rmdir of the cgroup: its files are gone, and the v1 eventfd fires. */
  removeCgroup(): void {
    this.removed = true;
    this.notify?.();
  }
  /** mkdir at the same path after a removal: another cgroup, found as the kernel makes it (killer enabled). */
  recreateCgroup(): void {
    this.removed = false;
    this.inode++;
    this.oomKillDisabled = false;
  }
  /** The cgroup as the takeover ledger knows it now (for tests that read or seed the ledger). */
  ledgerKey(): LedgerKey {
    return { path: this.ref.path, identity: { bootId: this.bootId, inode: String(this.inode) } };
  }
  identifyCgroup(): Result<CgroupIdentity> {
    return this.removed ? fail("ENOENT", `cgroup ${this.ref.path} no longer exists`) : ok({ bootId: this.bootId, inode: String(this.inode) });
  }
  /** The next this many readCgroup calls fail (EMFILE under pressure). */
  failCgroupReads = 0;
  readCgroup(ref: CgroupRef = this.ref): Result<CgroupSample> {
    if (ref.path.startsWith(FakeHost.UNIT_ROOT)) {
      // A unit cgroup of the details (kill-unit tests): only memory.oom.group matters.
      const cgroup = ref.path.slice(FakeHost.UNIT_ROOT.length) || "/";
      const none = { low: 0, high: 0, max: 0, oom: 0, oomKill: 0, oomGroupKill: 0 };
      return ok({ path: ref.path, version: 2, usageBytes: 0, limitBytes: null, underOom: false, oomKillDisabled: false, highBytes: null, events: none, oomGroup: this.oomGroupCgroups.has(cgroup) });
    }
    if (this.removed) return fail("ENODEV", `cannot read ${this.ref.path}/memory.usage_in_bytes: no such device`);
    if (this.failCgroupReads > 0) {
      this.failCgroupReads--;
      return fail("EMFILE", "too many open files");
    }
    const usageBytes = this.usageBytes();
    if (usageBytes <= this.oomClearsBelowBytes) this.underOom = false;
    return ok({
      path: this.ref.path,
      version: this.ref.version,
      usageBytes,
      limitBytes: this.limitBytes,
      underOom: this.ref.version === 1 && this.underOom,
      oomKillDisabled: this.oomKillDisabled,
      highBytes: this.ref.version === 2 ? this.highBytes : null,
      events: this.events,
      oomGroup: this.oomGroup,
    });
  }
  listProcesses(): Result<ProcessSample[]> {
    this.givenBackMs += this.givenBackPerListingMs;
    if (this.cpuMs !== null) this.cpuMs = { user: this.cpuMs.user + this.cpuPerListingMs, system: this.cpuMs.system + this.cpuPerListingMs };
    if (this.schedule !== null) {
      this.schedule = { onCpuMs: this.schedule.onCpuMs + this.schedulePerListing.onCpuMs, runQueueMs: this.schedule.runQueueMs + this.schedulePerListing.runQueueMs };
    }
    return ok([...this.processes.values()].filter((p) => p.alive).map((p) => this.sample(p)));
  }
  readProcess(pid: number): Result<ProcessSample> {
    const p = this.processes.get(pid);
    return p && p.alive ? ok(this.sample(p)) : fail("ESRCH", `pid ${pid} is gone`);
  }
  readStallEvidence(pid: number): Result<StallEvidence> {
    const p = this.processes.get(pid);
    if (!p || !p.alive) return fail("ESRCH", `pid ${pid} is gone`);
    return ok({ state: p.state, wchan: p.state === "D" ? "mem_cgroup_oom_synchronize" : "", threads: [`${pid}:${p.state}`] });
  }
  /** As LinuxHost: a killer already disabled is left as found (null: nothing to restore). */
  takeOverOom(): Result<OomTakeover> {
    if (this.oomKillDisabled) return ok({ previousOomKillDisable: null, notes: ["oom_kill_disable was already 1"] });
    this.oomKillDisabled = true;
    return ok({ previousOomKillDisable: false, notes: [] });
  }
  /** The kernel killer takes the biggest process at once, as the real one would (the fake has no badness of its own). */
  handOomToKernel(): Result<void> {
    this.oomKillDisabled = false;
    const biggest = [...this.processes.values()]
      .filter((p) => p.alive && p.oomScoreAdj !== -1000)
      .sort((a, b) => b.rssBytes - a.rssBytes)[0];
    if (biggest) {
      this.kernelKilled.push(biggest.pid);
      this.exit(biggest);
      this.events = { ...this.events, oomKill: this.events.oomKill + 1 };
    } else {
      // Nothing killable: today's kernel forces the charge past the limit; the OOM is over.
      this.underOom = false;
    }
    return ok(undefined);
  }
  readonly kernelKilled: number[] = [];

  /** v2 memory.high (null: "max"), and every value written to it. */
  highBytes: number | null = null;
  readonly highWrites: (number | null)[] = [];
  setMemoryHigh(_ref: CgroupRef, highBytes: number | null): Result<void> {
    if (this.ref.version === 1) return fail("ENOTSUP", "cgroup v1 has no memory.high");
    if (this.removed) return fail("ENOENT", `cannot write ${this.ref.path}/memory.high: no such file or directory`);
    this.highWrites.push(highBytes);
    this.highBytes = highBytes;
    return ok(undefined);
  }
  /** The pressure trigger registered (null: none), and how the fake answers a registration. */
  pressureTrigger: PressureTrigger | null = null;
  private onPressure: (() => void) | null = null;
  pressureRefusal: string | null = null;
  watchPressure(_ref: CgroupRef, trigger: PressureTrigger, onPressure: () => void): Result<PressureWatch> {
    if (this.pressureRefusal !== null) return fail("EPERM", this.pressureRefusal);
    this.pressureTrigger = trigger;
    this.onPressure = onPressure;
    return ok({ unwatch: () => (this.onPressure = null), trigger, note: null });
  }
  /** The PSI trigger fires. */
  firePressure(): void {
    this.onPressure?.();
  }
  /** The kernel log as the fake's kernel wrote it; null: not readable (as without root). */
  kernelLog: KernelOomKill[] | null = [];
  private readonly kernelLogRead = { memcg: 0, global: 0 };
  /** The memcg kills (ref) or the global ones (null) logged since the last call for that kind. */
  kernelOomKills(ref: CgroupRef | null): Result<KernelOomKill[]> {
    if (this.kernelLog === null) return fail("EACCES", "cannot read /dev/kmsg");
    const kind = ref === null ? "global" : "memcg";
    const fresh = this.kernelLog.slice(this.kernelLogRead[kind]).filter((kill) => kill.global === (ref === null));
    this.kernelLogRead[kind] = this.kernelLog.length;
    return ok(fresh);
  }
  /**
   * v2: usage grows into the band (the kernel throttles, memory.events high rises and notifies).
   * The cgroup's base usage takes the growth, as a workload's page faults would.
   */
  growInto(usageBytes: number): void {
    this.baseUsageBytes += usageBytes - this.usageBytes();
    this.events = { ...this.events, high: this.events.high + 1 };
    this.notify?.();
  }
  /**
   * v2: the kernel's memcg OOM killer at memory.max takes this process: oom rises, then oom_kill
   * with the kill (logged to the kernel log unless unreadable), as memory.events shows them.
   */
  kernelKills(pid: number, options: { logged?: boolean; noMm?: boolean; goneBeforeNotify?: boolean } = {}): void {
    const p = this.processes.get(pid);
    if (!p || !p.alive) return;
    this.events = { ...this.events, oom: this.events.oom + 1 };
    this.killFromOutside(pid, { noMm: options.noMm ?? false });
    if (options.goneBeforeNotify === true) this.exit(p);
    this.events = { ...this.events, oomKill: this.events.oomKill + 1 };
    if (options.logged !== false) this.kernelLog?.push({ pid, comm: p.comm, taskCgroup: "/test", rssBytes: p.rssBytes, global: false });
    this.notify?.();
  }

  restoreOom(_ref: CgroupRef, takeover: OomTakeover): Result<void> {
    if (this.removed) return fail("ENOENT", `cannot write ${this.ref.path}/memory.oom_control: no such file or directory`);
    if (takeover.previousOomKillDisable !== null) this.oomKillDisabled = takeover.previousOomKillDisable;
    return ok(undefined);
  }
  watchOom(_ref: CgroupRef, onEvent: () => void): Result<Unwatch> {
    this.notify = onEvent;
    return ok(() => {
      this.notify = null;
    });
  }
  /** Runs once at the next openVictim, before the engine's re-read of the scope and its signal. */
  beforeNextSignal: (() => void) | null = null;

  /**
   * SIGKILL from someone else (the kernel's killer, another tool): the process dies as its onKill
   * says, but the kill is not oomwarden's. noMm: it shows no memory at once (past exit_mm) while
   * its memory is still charged until it exits.
   */
  killFromOutside(pid: number, options: { noMm?: boolean } = {}): void {
    const p = this.processes.get(pid);
    if (!p || !p.alive) return;
    const before = this.killed.length;
    this.kill({ pid, startTimeTicks: p.startTimeTicks, token: p });
    this.killed.splice(before);
    this.killedFromOutside.push(pid);
    p.noMmShown = options.noMm ?? false;
  }
  readonly killedFromOutside: number[] = [];

  /** pidfd_open fails with this code for these pids (EMFILE, no addon). */
  readonly openFails = new Map<number, string>();
  /** SIGKILL is refused (EPERM from a security module) for these pids, while signal 0 passes. */
  readonly killRefused = new Set<number>();
  /** Pids process_mrelease was called on. */
  readonly reaped: number[] = [];

  openVictim(pid: number, startTimeTicks: number): Result<VictimHandle> {
    const hook = this.beforeNextSignal;
    this.beforeNextSignal = null;
    hook?.();
    const refusedWith = this.openFails.get(pid);
    if (refusedWith !== undefined) return fail(refusedWith, `pidfd_open(${pid}): ${refusedWith}`);
    const p = this.processes.get(pid);
    if (!p || !p.alive) return fail("ESRCH", `pid ${pid} is gone`);
    if (p.startTimeTicks !== startTimeTicks) return fail("START_TIME_MISMATCH", `pid ${pid} was reused`);
    this.victimsOpened++;
    return ok({ pid, startTimeTicks, token: p });
  }
  /** Pids whose signals fail with EPERM (another user's processes). */
  readonly notOurs = new Set<number>();
  /** Pids signal 0 went to (may we signal it?), in order. */
  readonly signalZero: number[] = [];
  maySignal(victim: VictimHandle): Result<void> {
    this.signalZero.push(victim.pid);
    const p = this.processes.get(victim.pid);
    if (!p || !p.alive) return fail("ESRCH", `pid ${victim.pid} is gone`);
    return this.notOurs.has(victim.pid) ? fail("EPERM", `pid ${victim.pid}: operation not permitted`) : ok(undefined);
  }

  kill(victim: VictimHandle): Result<void> {
    const p = this.processes.get(victim.pid);
    if (!p || !p.alive) return fail("ESRCH", `pid ${victim.pid} is gone`);
    if (this.killRefused.has(victim.pid)) return fail("EPERM", `pid ${victim.pid}: SIGKILL not permitted`);
    this.killed.push(victim.pid);
    p.killed = true;
    p.dying = true;
    const how = p.onKill;
    if (how === "exit") this.setTimer(1, () => this.exit(p));
    else if (how !== undefined && how !== "stall" && "exitAfterMs" in how) this.setTimer(how.exitAfterMs, () => this.exit(p));
    else if (how !== undefined && how !== "stall" && "shrinkBytesPerMs" in how) {
      const tick = (): void => {
        if (!p.alive) return;
        p.rssBytes = Math.max(0, p.rssBytes - how.shrinkBytesPerMs * 10);
        if (p.rssBytes === 0) this.exit(p);
        else this.setTimer(10, tick);
      };
      this.setTimer(10, tick);
    } else {
      p.state = "D";
    }
    return ok(undefined);
  }
  /** Pids SIGTERM went to, in order. */
  terminated: number[] = [];
  terminate(victim: VictimHandle): Result<void> {
    const p = this.processes.get(victim.pid);
    if (!p || !p.alive) return fail("ESRCH", `pid ${victim.pid} is gone`);
    if (this.killRefused.has(victim.pid)) return fail("EPERM", `pid ${victim.pid}: SIGTERM not permitted`);
    this.terminated.push(victim.pid);
    const how = p.onTerm ?? "exit";
    if (how === "ignore") return ok(undefined);
    // Only the default action makes SIGTERM fatal; a handler leaves the process alive until it exits by itself.
    if (how === "exit" || "dyingForMs" in how) p.dying = true;
    this.setTimer(how === "exit" ? 1 : "dyingForMs" in how ? how.dyingForMs : how.exitAfterMs, () => this.exit(p));
    return ok(undefined);
  }
  /** Where the details' cgroups live in this fake: resolveProcessCgroup maps "/a/b" to UNIT_ROOT + "/a/b". */
  static readonly UNIT_ROOT = "/fake/unified";
  /** cgroups (as details name them) with memory.oom.group set. */
  readonly oomGroupCgroups = new Set<string>();
  resolveProcessCgroup(cgroup: string): Result<CgroupRef> {
    return ok({ path: `${FakeHost.UNIT_ROOT}${cgroup === "/" ? "" : cgroup}`, version: 2 });
  }
  /** memory.oom.group of the details' cgroups: oomGroupCgroups; readOomGroupCalls counts the asks. */
  readOomGroupCalls = 0;
  readOomGroup(cgroup: string): Result<boolean> {
    this.readOomGroupCalls++;
    return ok(this.oomGroupCgroups.has(cgroup));
  }
  killCgroup(ref: CgroupRef = this.ref): Result<{ killedPids: number[] }> {
    this.cgroupKills.push(ref.path);
    const unit = ref.path.startsWith(FakeHost.UNIT_ROOT) ? ref.path.slice(FakeHost.UNIT_ROOT.length) || "/" : null;
    const inUnit = (p: LiveProcess): boolean => unit === null || (p.details !== undefined && (p.details.cgroup === unit || p.details.cgroup.startsWith(`${unit}/`)));
    const pids = [...this.processes.values()].filter((p) => p.alive && inUnit(p)).map((p) => p.pid);
    for (const pid of pids) this.kill({ pid, startTimeTicks: 0, token: null });
    return ok({ killedPids: pids });
  }
  reap(victim: VictimHandle): Promise<Result<{ durationMs: number; alreadyGone: boolean }>> {
    this.reaped.push(victim.pid);
    const p = this.processes.get(victim.pid);
    // As the kernel: only a process with a fatal signal pending may be reaped, and it says so at once.
    if (p !== undefined && p.alive && !p.dying) return Promise.resolve(fail("EINVAL", `pid ${victim.pid}: no fatal signal pending`));
    return new Promise((resolve) => {
      // A victim whose exit finishes first leaves the reap nothing to do: it returns at the exit.
      const startedAtMs = this.timeMs;
      const onExit = (): void => resolve(ok({ durationMs: this.timeMs - startedAtMs, alreadyGone: true }));
      p?.exitWatchers.add(onExit);
      this.setTimer(this.reapMs, () => {
        p?.exitWatchers.delete(onExit);
        if (!p || !p.alive) return resolve(ok({ durationMs: this.reapMs, alreadyGone: true }));
        if (!p.reapable) return resolve(fail("EAGAIN", `pid ${victim.pid}: mm busy`));
        p.rssBytes = Math.round(p.rssBytes * (1 - this.reapShare));
        resolve(ok({ durationMs: this.reapMs, alreadyGone: false }));
      });
    });
  }
  watchExit(victim: VictimHandle, onExit: () => void): Result<Unwatch> {
    const p = this.processes.get(victim.pid);
    if (!p) return fail("ESRCH", `pid ${victim.pid} is gone`);
    if (!p.alive) {
      onExit();
      return ok(() => {});
    }
    p.exitWatchers.add(onExit);
    return ok(() => p.exitWatchers.delete(onExit));
  }
  /** pidfds opened (openVictim that succeeded) and closed again (releaseVictim). */
  victimsOpened = 0;
  victimsReleased = 0;
  releaseVictim(): void {
    this.victimsReleased++;
  }

  /** How long after an exit its watchers hear of it (a pidfd's readiness waiting behind timers). */
  exitNoticeLateMs = 0;
  exit(p: LiveProcess): void {
    if (!p.alive) return;
    p.alive = false;
    p.rssBytes = 0;
    const notify = (): void => {
      for (const w of [...p.exitWatchers]) w();
      p.exitWatchers.clear();
    };
    if (this.exitNoticeLateMs === 0) notify();
    else this.setTimer(this.exitNoticeLateMs, notify);
  }

  private sample(p: LiveProcess): ProcessSample {
    return {
      pid: p.pid,
      comm: p.comm,
      startTimeTicks: p.startTimeTicks,
      state: p.state,
      rssBytes: p.noMmShown ? 0 : p.rssBytes,
      swapBytes: 0,
      pageTablesBytes: 0,
      oomScoreAdj: p.oomScoreAdj,
      isKernelThread: false,
      threads: 1,
      exiting: p.killed,
      ...(p.details !== undefined ? { details: p.details } : {}),
    };
  }
}

/** Lets every promise chain run to its next timer: one turn of the real event loop drains them all. */
async function settle(): Promise<void> {
  await new Promise<void>((resolve) => setImmediate(resolve));
}
