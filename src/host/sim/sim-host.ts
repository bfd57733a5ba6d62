// oomwarden's Host over the simulated kernel: the engine runs inside the simulator unchanged,
// seeing the simulated cgroups, processes, notifications and kills through the same interface as
// on Linux. Time is the simulator's virtual time.

import { fail, ok, type Result } from "../../core/result.js";
import { oomBadness } from "../../core/badness.js";
import { badnessBoundsOf, oomScoreOf, type BadnessBounds } from "../../core/oom-score.js";
import type { ScreenedListing } from "../../core/screening.js";
import type { CgroupSample, MachinePressure, ProcessSample } from "../../core/types.js";
import type {
  CgroupIdentity,
  CgroupRef,
  Host,
  KernelOomKill,
  MachineMemory,
  OomTakeover,
  PressureTrigger,
  PressureWatch,
  RoutineListing,
  SelfUsage,
  StallEvidence,
  TimerHandle,
  Unclaim,
  Unwatch,
  VictimHandle,
} from "../../engine/host.js";
import type { SimCgroupInfo, SimProcessInfo, UserspaceApi } from "../../sim/userspace-api.js";
import { watchSimPressure } from "./sim-pressure-trigger.js";

/** The agent is not a simulated task: no pid of the simulation can be its own. */
const AGENT_PID = -1;

/** Claimed cgroups per simulated kernel: like a flock, a claim is the kernel's, seen by every agent of that simulation. */
const claimsBySimulation = new WeakMap<UserspaceApi, Set<string>>();

export class SimHost implements Host {
  constructor(private readonly api: UserspaceApi) {}

  now(): number {
    return this.api.nowMs();
  }
  setTimer(delayMs: number, callback: () => void): TimerHandle {
    return { id: this.api.setTimer(delayMs, callback) };
  }
  clearTimer(timer: TimerHandle): void {
    this.api.clearTimer(timer.id as number);
  }
  selfPid(): number {
    return AGENT_PID;
  }
  pageSizeBytes(): number {
    return this.api.pageSizeBytes;
  }
  readMachineMemory(): Result<MachineMemory> {
    const m = this.api.machine();
    const page = this.api.pageSizeBytes;
    return ok({
      totalBytes: m.totalPages * page,
      availableBytes: m.availablePages * page,
      swapTotalBytes: m.swapTotalPages * page,
      swapFreeBytes: m.swapFreePages * page,
    });
  }

  readMachinePressure(): Result<MachinePressure> {
    const m = this.api.machine();
    const page = this.api.pageSizeBytes;
    return ok({
      totalBytes: m.totalPages * page,
      availableBytes: m.availablePages * page,
      freeBytes: m.freePages * page,
      minWatermarkBytes: m.minWatermarkPages * page,
      lowWatermarkBytes: m.lowWatermarkPages * page,
      swapTotalBytes: m.swapTotalPages * page,
      swapFreeBytes: m.swapFreePages * page,
      reclaimedPagesTotal: m.reclaimedPagesTotal,
      allocStallsTotal: m.allocStallsTotal,
      psiSomeTotalUs: m.psiSomeTotalUs,
      psiFullTotalUs: m.psiFullTotalUs,
    });
  }
  listAllProcesses(): Result<ProcessSample[]> {
    const samples: ProcessSample[] = [];
    for (const pid of this.api.allPids()) {
      const info = this.api.process(pid);
      if (info !== null) samples.push(this.toProcess(info));
    }
    return ok(samples);
  }
  /** Reading a simulated process costs no virtual time: the whole listing is the first slice. */
  beginRoutineListing(): Result<RoutineListing> {
    return ok({ next: () => this.listAllProcesses() });
  }
  /**
   * Screened as the Linux host screens a process it knows: each with the oom_score the kernel would
   * print for it (its band of badness, src/core/oom-score.ts). The simulated processes are read
   * exactly either way, so what screening changes here is only which of them the decision ranks.
   */
  screenAllProcesses(): Result<ScreenedListing> {
    const listed = this.listAllProcesses();
    if (!listed.ok) return listed;
    const m = this.api.machine();
    const kernelTotalPages = m.totalPages + m.swapTotalPages;
    const bounds = new Map<number, BadnessBounds>();
    for (const proc of listed.value) {
      // The kernel's own view: it does not spare the daemon (selfPid -1 matches nobody).
      const badness = oomBadness(proc, -1, kernelTotalPages, this.api.pageSizeBytes);
      bounds.set(proc.pid, badnessBoundsOf(oomScoreOf(badness.points, kernelTotalPages), kernelTotalPages));
    }
    return ok({ processes: listed.value, bounds, kernelTotalPages });
  }
  readInFull(pids: readonly number[]): Result<ProcessSample[]> {
    const samples: ProcessSample[] = [];
    for (const pid of pids) {
      const info = this.api.process(pid);
      if (info !== null) samples.push(this.toProcess(info));
    }
    return ok(samples);
  }
  /** The simulator models the machine's PSI totals: a trigger over them (sim-pressure-trigger.ts). */
  watchMachinePressure(trigger: PressureTrigger, onPressure: () => void): Result<PressureWatch> {
    return ok(watchSimPressure(this.api, trigger, onPressure));
  }
  /**
   * The v2 cgroups right below the root that hold a live process: the simulated kernel lists no
   * cgroups, only processes and their cgroups, so an empty top-level cgroup is not seen.
   */
  listTopLevelCgroups(): Result<CgroupRef[]> {
    const tops = new Set<string>();
    for (const pid of this.api.allPids()) {
      const top = this.api.process(pid)?.cgroup.split("/")[1];
      if (top !== undefined && top !== "") tops.add(`/${top}`);
    }
    const refs: CgroupRef[] = [];
    for (const path of [...tops].sort()) if (this.api.cgroup(path)?.version === 2) refs.push({ path, version: 2 });
    return ok(refs);
  }
  /** The agent runs outside the simulated memory (it never faults), and in virtual time (no CPU time to tell). */
  selfUsage(): SelfUsage {
    return { majorFaults: 0, userCpuMs: null, systemCpuMs: null };
  }
  /** The agent's time is virtual: its decisions take no CPU time to split up. */
  mainThreadSchedule(): null {
    return null;
  }
  /** Nor does it share a CPU with the simulated tasks: nothing to give back, and no priority to raise. */
  cpuGivenBackMs(): number {
    return 0;
  }
  beginUrgentWork(_racing?: boolean): () => void {
    return () => {};
  }
  watchPressure(ref: CgroupRef): Result<PressureWatch> {
    return fail("ENOTSUP", `${ref.path}: the simulator has no pressure triggers`);
  }
  /** The engine names the kernel's victims from the processes instead, as where /dev/kmsg cannot be read. */
  kernelOomKills(ref: CgroupRef | null): Result<KernelOomKill[]> {
    return fail("ENOTSUP", `${ref?.path ?? "machine"}: the simulator has no kernel log`);
  }
  setMemoryLimit(ref: CgroupRef, limitBytes: number | null): Result<void> {
    const pages = limitBytes === null ? null : Math.floor(limitBytes / this.api.pageSizeBytes);
    const done = this.api.setLimit(ref.path, pages);
    return done === "ok" ? ok(undefined) : fail(done, `cannot set the memory limit of ${ref.path} to ${limitBytes === null ? "max" : `${limitBytes} bytes`}: ${done}`);
  }

  /** v2 memory.high (null: "max"); bytes round down to whole pages, as the kernel's page_counter_memparse does. */
  setMemoryHigh(ref: CgroupRef, highBytes: number | null): Result<void> {
    const pages = highBytes === null ? null : Math.floor(highBytes / this.api.pageSizeBytes);
    const done = this.api.setHigh(ref.path, pages);
    return done === "ok" ? ok(undefined) : fail(done, `cannot set memory.high of ${ref.path} to ${highBytes === null ? "max" : `${highBytes} bytes`}: ${done}${done === "EINVAL" ? " (cgroup v2 only, not the root)" : ""}`);
  }

  resolveCgroup(path: string): Result<CgroupRef> {
    const cgroup = this.api.cgroup(path);
    return cgroup === null ? fail("ENOENT", `cgroup path ${path} does not exist in the simulation`) : ok({ path, version: cgroup.version });
  }
  claimCgroup(ref: CgroupRef): Result<Unclaim> {
    let claimed = claimsBySimulation.get(this.api);
    if (claimed === undefined) {
      claimed = new Set();
      claimsBySimulation.set(this.api, claimed);
    }
    if (claimed.has(ref.path)) return fail("CLAIMED", `another agent manages ${ref.path}; one per cgroup`);
    claimed.add(ref.path);
    const set = claimed;
    let released = false;
    return ok(() => {
      if (released) return;
      released = true;
      set.delete(ref.path);
    });
  }
  /** One simulation is one boot, and its cgroups are never made again: the path is identity enough. */
  identifyCgroup(ref: CgroupRef): Result<CgroupIdentity> {
    return this.api.cgroup(ref.path) === null ? fail("ENOENT", `cgroup ${ref.path} no longer exists`) : ok({ bootId: "simulation", inode: ref.path });
  }
  readCgroup(ref: CgroupRef): Result<CgroupSample> {
    const cgroup = this.api.cgroup(ref.path);
    return cgroup === null ? fail("ENOENT", `cgroup ${ref.path} no longer exists`) : ok(this.toSample(cgroup));
  }
  listProcesses(ref: CgroupRef): Result<ProcessSample[]> {
    if (this.api.cgroup(ref.path) === null) return fail("ENOENT", `cgroup ${ref.path} no longer exists`);
    const samples: ProcessSample[] = [];
    for (const pid of this.api.cgroupPids(ref.path)) {
      const info = this.api.process(pid);
      if (info !== null) samples.push(this.toProcess(info));
    }
    return ok(samples);
  }
  readProcess(pid: number): Result<ProcessSample> {
    const info = this.api.process(pid);
    return info === null ? fail("ESRCH", `process ${pid} no longer exists`) : ok(this.toProcess(info));
  }
  readStallEvidence(pid: number): Result<StallEvidence> {
    const info = this.api.process(pid);
    if (info === null) return fail("ESRCH", `process ${pid} no longer exists`);
    const main = info.threads[0];
    return ok({
      state: info.state,
      wchan: main?.waitingOn ?? "",
      threads: info.threads.map((t) => `${t.tid}:${t.state}${t.waitingOn ? `(${t.waitingOn})` : ""}`),
    });
  }

  takeOverOom(ref: CgroupRef): Result<OomTakeover> {
    const cgroup = this.api.cgroup(ref.path);
    if (cgroup === null) return fail("ENOENT", `cgroup ${ref.path} no longer exists`);
    if (ref.version === 2) {
      return ok({ previousOomKillDisable: null, notes: ["cgroup v2 cannot disable the kernel OOM killer"] });
    }
    if (cgroup.oomKillDisable) return ok({ previousOomKillDisable: null, notes: ["oom_kill_disable was already 1"] });
    // As on Linux, where the root's memory.oom_control refuses the write (EINVAL): global OOMs stay the kernel's.
    if (!this.api.setOomKillDisable(ref.path, true)) {
      return fail("EINVAL", `cannot disable the kernel OOM killer of ${ref.path} (the root cgroup, or no v1 memory.oom_control)`);
    }
    return ok({ previousOomKillDisable: false, notes: ["kernel OOM killer disabled here (oom_kill_disable 0 -> 1)"] });
  }
  handOomToKernel(ref: CgroupRef): Result<void> {
    if (ref.version === 1) this.api.setOomKillDisable(ref.path, false);
    return ok(undefined);
  }
  restoreOom(ref: CgroupRef, takeover: OomTakeover): Result<void> {
    if (ref.version === 1 && takeover.previousOomKillDisable !== null) this.api.setOomKillDisable(ref.path, takeover.previousOomKillDisable);
    return ok(undefined);
  }
  watchOom(ref: CgroupRef, onEvent: () => void): Result<Unwatch> {
    const unwatch = ref.version === 1 ? this.api.onOomNotification(ref.path, onEvent) : this.api.onEventsChange(ref.path, onEvent);
    return ok(unwatch);
  }

  openVictim(pid: number, startTimeTicks: number): Result<VictimHandle> {
    const info = this.api.process(pid);
    if (info === null) return fail("ESRCH", `pid ${pid} exited before it could be killed`);
    if (info.startTimeTicks !== startTimeTicks) {
      return fail("START_TIME_MISMATCH", `pid ${pid} was reused (start time ${info.startTimeTicks}, ranked ${startTimeTicks})`);
    }
    return ok({ pid, startTimeTicks, token: null });
  }
  maySignal(victim: VictimHandle): Result<void> {
    // Every simulated process is oomwarden's to signal (it runs as root there).
    return this.api.process(victim.pid)?.startTimeTicks === victim.startTimeTicks ? ok(undefined) : fail("ESRCH", `pid ${victim.pid} is gone`);
  }

  kill(victim: VictimHandle): Result<void> {
    return this.api.kill(victim.pid, victim.startTimeTicks) === "ok" ? ok(undefined) : fail("ESRCH", `pid ${victim.pid} is gone`);
  }
  /** The simulated processes keep SIGTERM's default action: they exit as on SIGKILL. */
  terminate(victim: VictimHandle): Result<void> {
    return this.kill(victim);
  }
  /** The simulated processes carry no details, so no unit is ever resolved from them. */
  resolveProcessCgroup(cgroup: string): Result<CgroupRef> {
    return fail("ENOENT", `cgroup ${cgroup}: processes in the simulator name no cgroup`);
  }
  readOomGroup(cgroup: string): Result<boolean> {
    return fail("ENOENT", `cgroup ${cgroup}: processes in the simulator name no cgroup`);
  }
  killCgroup(ref: CgroupRef): Result<{ killedPids: number[] }> {
    return ok({ killedPids: this.api.killCgroup(ref.path) });
  }
  reap(victim: VictimHandle): Promise<Result<{ durationMs: number; alreadyGone: boolean }>> {
    return new Promise((resolve) => {
      this.api.mrelease(victim.pid, victim.startTimeTicks, (r) => {
        if (r.ok) resolve(ok({ durationMs: r.durationMs, alreadyGone: false }));
        else if (r.code === "ESRCH") resolve(ok({ durationMs: 0, alreadyGone: true }));
        else resolve(fail(r.code, `process_mrelease(${victim.pid}): ${r.code}`));
      });
    });
  }
  watchExit(victim: VictimHandle, onExit: () => void): Result<Unwatch> {
    return ok(this.api.onExit(victim.pid, onExit));
  }
  releaseVictim(): void {
    // No descriptors in the simulation.
  }

  private toSample(cgroup: SimCgroupInfo): CgroupSample {
    const page = this.api.pageSizeBytes;
    return {
      path: cgroup.path,
      version: cgroup.version,
      usageBytes: cgroup.usagePages * page,
      limitBytes: cgroup.limitPages === null ? null : cgroup.limitPages * page,
      highBytes: cgroup.highPages === null ? null : cgroup.highPages * page,
      underOom: cgroup.version === 1 && cgroup.underOom,
      oomKillDisabled: cgroup.oomKillDisable,
      events: { ...cgroup.events },
      oomGroup: cgroup.oomGroup,
    };
  }

  private toProcess(info: SimProcessInfo): ProcessSample {
    const page = this.api.pageSizeBytes;
    return {
      pid: info.pid,
      comm: info.name,
      startTimeTicks: info.startTimeTicks,
      state: info.state,
      rssBytes: info.rssPages * page,
      swapBytes: info.swapPages * page,
      pageTablesBytes: info.pageTablePages * page,
      oomScoreAdj: info.oomScoreAdj,
      isKernelThread: false,
      threads: Math.max(1, info.threads.length),
      // SIGKILL pending (from anyone) or past exit_mm: as PF_EXITING / SigPnd show on Linux.
      exiting: info.killed || info.threads.some((t) => t.waitingOn === "exit_mmap"),
    };
  }
}
