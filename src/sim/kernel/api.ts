// The user-space view of the simulated kernel (src/sim/userspace-api.ts): what an agent such as
// oomwarden's engine reads and does. Reads are snapshots of the current instant; every callback
// is delivered as an event, never inside the call that caused it.

import { PAGE_SIZE_BYTES } from "../scenario.js";
import type { MreleaseResult, SimCgroupInfo, SimMachineInfo, SimProcessInfo, SimTaskState, SimThreadInfo, UserspaceApi } from "../userspace-api.js";
import { addJob, reapablePages } from "./jobs.js";
import type { Kernel } from "./kernel.js";
import { sendSigkill } from "./kill.js";
import { subtreeTasks, underOomOrAncestor, wakeOomWaiters } from "./memcg.js";
import { setMemoryHigh } from "./memcg-high.js";
import type { Task, Thread } from "./state.js";
import { exitPagesPerMs, isLive, rssPages } from "./state.js";

export class SimUserspaceApi implements UserspaceApi {
  readonly pageSizeBytes = PAGE_SIZE_BYTES;
  private nextTimerId = 1;
  private readonly timers = new Set<number>();

  constructor(private readonly k: Kernel) {}

  nowMs(): number {
    return this.k.nowMs;
  }

  setTimer(delayMs: number, cb: () => void): number {
    const id = this.nextTimerId++;
    this.timers.add(id);
    this.later(Math.max(0, delayMs), () => {
      if (!this.timers.delete(id)) return;
      cb();
    });
    return id;
  }

  clearTimer(id: number): void {
    this.timers.delete(id);
  }

  /** Timers and notifications stop reaching an agent that was stopped. */
  cancelAll(): void {
    this.timers.clear();
  }

  machine(): SimMachineInfo {
    let total = 0;
    let available = 0;
    let free = 0;
    let min = 0;
    let low = 0;
    for (const z of this.k.zones) {
      total += z.totalPages;
      // Like MemAvailable: free above the low watermark plus reclaimable page cache.
      available += Math.max(0, z.freePages - z.lowPages) + z.cachePages;
      free += z.freePages;
      min += z.minPages;
      low += z.lowPages;
    }
    const psi = this.k.stats.pressureTotalsUs(this.k.nowMs);
    return {
      totalPages: total,
      availablePages: available,
      freePages: free,
      minWatermarkPages: min,
      lowWatermarkPages: low,
      swapTotalPages: this.k.swapTotalPages,
      swapFreePages: this.k.swapFreePages,
      reclaimedPagesTotal: this.k.vmstat.reclaimedPages,
      allocStallsTotal: this.k.vmstat.allocStalls,
      psiSomeTotalUs: psi.someUs,
      psiFullTotalUs: psi.fullUs,
    };
  }

  allPids(): number[] {
    return this.k.tasks
      .filter(isLive)
      .map((t) => t.pid)
      .sort((a, b) => a - b);
  }

  setLimit(path: string, limitPages: number | null): "ok" | "ENOENT" | "EINVAL" | "EBUSY" {
    const m = this.k.memcgs.get(path);
    if (m === undefined) return "ENOENT";
    if (m === this.k.root || (limitPages !== null && !(Number.isInteger(limitPages) && limitPages >= 0))) return "EINVAL";
    if (limitPages !== null && limitPages < m.usagePages) return "EBUSY";
    m.limitPages = limitPages;
    // Room again: tasks waiting in this memcg's OOM retry their charge (memcg_oom_recover).
    if (m.oomWaiters.size > 0) wakeOomWaiters(this.k, m);
    this.k.ensureTick();
    return "ok";
  }

  setHigh(path: string, highPages: number | null): "ok" | "ENOENT" | "EINVAL" {
    const m = this.k.memcgs.get(path);
    if (m === undefined) return "ENOENT";
    // Only v2 has memory.high, and the root has none.
    if (m === this.k.root || m.version !== 2 || (highPages !== null && !(Number.isInteger(highPages) && highPages >= 0))) return "EINVAL";
    setMemoryHigh(this.k, m, highPages);
    return "ok";
  }

  cgroup(path: string): SimCgroupInfo | null {
    const m = this.k.memcgs.get(path);
    if (m === undefined) return null;
    return {
      path: m.path,
      version: m.version,
      usagePages: m.usagePages,
      limitPages: m.limitPages,
      highPages: m.highPages,
      underOom: m.version === 1 && underOomOrAncestor(m),
      oomKillDisable: m.oomKillDisable,
      events: { ...m.events },
      oomGroup: m.oomGroup,
    };
  }

  cgroupPids(path: string): number[] {
    const m = this.k.memcgs.get(path);
    if (m === undefined) return [];
    return subtreeTasks(m)
      .filter(isLive)
      .map((t) => t.pid)
      .sort((a, b) => a - b);
  }

  process(pid: number): SimProcessInfo | null {
    const task = this.k.tasksByPid.get(pid);
    if (task === undefined || !isLive(task)) return null;
    const threads = task.threads.filter((t) => t.state !== "done").map(threadInfo);
    const leader = task.threads[0] as Thread;
    const exiting = task.phase === "exiting";
    const state: SimTaskState = exiting ? "D" : leader.state === "done" ? "Z" : threadState(leader);
    if (task.phase === "exiting") threads.push({ tid: task.pid, state: "D", waitingOn: "exit_mmap" });
    return {
      pid: task.pid,
      name: task.name,
      startTimeTicks: task.startTimeTicks,
      state,
      // Once exit_mm has begun the task has no mm: /proc shows no rss, swap or page tables
      // (exit_mmap is still freeing them, charged to the memcg, but not this task's any more).
      rssPages: exiting ? 0 : rssPages(task.mm),
      swapPages: exiting ? 0 : task.mm.swapPages,
      pageTablePages: exiting ? 0 : task.mm.pageTablePages,
      oomScoreAdj: task.oomScoreAdj,
      cgroup: task.memcg.path,
      threads,
      killed: task.fatalSignal,
    };
  }

  setOomKillDisable(path: string, value: boolean): boolean {
    const m = this.k.memcgs.get(path);
    if (m === undefined || m.version !== 1 || m === this.k.root) return false;
    m.oomKillDisable = value;
    // Re-enabling the kernel killer lets the waiting tasks retry, now through the OOM killer.
    if (!value && m.oomWaiters.size > 0) wakeOomWaiters(this.k, m);
    return true;
  }

  onOomNotification(path: string, cb: () => void): () => void {
    const m = this.k.memcgs.get(path);
    if (m === undefined || m.version !== 1) return () => {};
    m.oomListeners.add(cb);
    if (underOomOrAncestor(m)) this.later(0, () => m.oomListeners.has(cb) && cb());
    return () => {
      m.oomListeners.delete(cb);
    };
  }

  onEventsChange(path: string, cb: () => void): () => void {
    const m = this.k.memcgs.get(path);
    if (m === undefined) return () => {};
    m.eventListeners.add(cb);
    return () => {
      m.eventListeners.delete(cb);
    };
  }

  kill(pid: number, startTimeTicks: number): "ok" | "ESRCH" {
    const task = this.live(pid, startTimeTicks);
    if (task === null) return "ESRCH";
    if (sendSigkill(this.k, task, "user")) this.k.log("userspace-kill", task.name, `SIGKILL from user space (pid ${pid})`);
    return "ok";
  }

  killCgroup(path: string): number[] {
    const m = this.k.memcgs.get(path);
    if (m === undefined) return [];
    const pids: number[] = [];
    for (const task of subtreeTasks(m)) {
      if (!isLive(task)) continue;
      if (sendSigkill(this.k, task, "user")) this.k.log("userspace-kill", task.name, `cgroup.kill ${path}`);
      pids.push(task.pid);
    }
    return pids.sort((a, b) => a - b);
  }

  mrelease(pid: number, startTimeTicks: number, done: (r: MreleaseResult) => void): void {
    const k = this.k;
    const startedMs = k.nowMs;
    const finish = (r: MreleaseResult): void => this.later(0, () => done(r));
    const task = this.live(pid, startTimeTicks);
    // No mm left to take: it exited, or exit_mmap already owns it.
    if (task === null || task.phase !== "running") return finish({ ok: false, code: "ESRCH" });
    if (!task.fatalSignal) return finish({ ok: false, code: "EINVAL" });
    if (task.mm.oomSkip) return finish({ ok: true, durationMs: 0 });
    const mmapSem = task.mm.mmapSem;
    const reap = (): void => {
      if (!isLive(task) || task.mm.oomSkip) {
        mmapSem.release("read");
        return finish({ ok: true, durationMs: k.nowMs - startedMs });
      }
      if (task.mm.blockableMmuNotifier) {
        mmapSem.release("read");
        return finish({ ok: false, code: "EAGAIN" });
      }
      addJob(k, {
        kind: "reap",
        task,
        pagesPerMs: exitPagesPerMs(k),
        budgetPages: reapablePages(task, true),
        reapMlocked: true,
        creditPages: 0,
        onDone: () => {
          mmapSem.release("read");
          finish({ ok: true, durationMs: k.nowMs - startedMs });
        },
      });
    };
    // mmap_read_lock_killable: a blocking read lock, FIFO behind a queued writer.
    if (!mmapSem.acquire({ mode: "read", who: "process_mrelease", granted: reap })) return;
    reap();
  }

  onExit(pid: number, cb: () => void): () => void {
    const task = this.k.tasksByPid.get(pid);
    if (task === undefined || task.phase === "gone") {
      let cancelled = false;
      this.later(0, () => cancelled || cb());
      return () => {
        cancelled = true;
      };
    }
    let fired = false;
    const once = (): void => {
      if (fired) return;
      fired = true;
      cb();
    };
    task.exitListeners.add(once);
    return () => {
      task.exitListeners.delete(once);
    };
  }

  private live(pid: number, startTimeTicks: number): Task | null {
    const task = this.k.tasksByPid.get(pid);
    if (task === undefined || !isLive(task) || task.startTimeTicks !== startTimeTicks) return null;
    return task;
  }

  private later(delayMs: number, fn: () => void): void {
    this.k.schedule(this.k.nowMs + delayMs, { kind: "call", fn });
  }
}

function threadState(t: Thread): SimTaskState {
  switch (t.state) {
    case "alloc":
      return t.stallSinceMs === null ? "R" : "D";
    case "sleep":
      return t.sleepUninterruptible ? "D" : "S";
    case "lock-wait":
    case "oom-wait":
    case "throttled":
      return "D";
    case "done":
      return "Z";
    default:
      return "R";
  }
}

function threadInfo(t: Thread): SimThreadInfo {
  return { tid: t.tid, state: threadState(t), waitingOn: waitingOn(t) };
}

function waitingOn(t: Thread): string {
  switch (t.state) {
    case "lock-wait":
      return t.lockWait ? `${t.lockWait.lock.kind}:${t.lockWait.lock.name}` : "";
    case "oom-wait":
      return "mem_cgroup_oom_synchronize";
    case "throttled":
      return "mem_cgroup_handle_over_high";
    case "alloc":
      return t.stallSinceMs === null ? "" : t.task.memcg.limitPages !== null || t.task.memcg.parent?.limitPages != null ? "try_charge" : "__alloc_pages_slowpath";
    case "sleep":
      return t.sleepUninterruptible ? "io_schedule" : "hrtimer_nanosleep";
    default:
      return "";
  }
}
