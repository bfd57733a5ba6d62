// Build the initial kernel state from a Scenario, rejecting what the model cannot run with a
// message that names the scenario, task, thread or cgroup at fault.

import type { CgroupSpec, Scenario, TaskSpec } from "../scenario.js";
import { SimLock } from "./locks.js";
import { charge } from "./memcg.js";
import { allSteps } from "./programs.js";
import type { InternalStep, Memcg, Task, Thread, Zone } from "./state.js";
import { takePages } from "./zones.js";

/** A task that starts later faults its initial mm in at this rate, as exec and startup do. */
export const INITIAL_FAULT_PAGES_PER_MS = 256;
/** First pid handed out: low pids (1 is init) never belong to a scenario task. */
const FIRST_PID = 1000;
/** USER_HZ: /proc start times are in 10 ms ticks; the simulated machine booted 1 s before t = 0. */
const MS_PER_CLOCK_TICK = 10;
const BOOT_TICKS = 100;

export interface World {
  zones: Zone[];
  root: Memcg;
  memcgs: Map<string, Memcg>;
  tasks: Task[];
  locks: Map<string, SimLock>;
}

export function buildWorld(s: Scenario): World {
  const where = `scenario "${s.name}"`;
  if (!(s.tickMs > 0)) throw new Error(`${where}: tickMs must be > 0`);
  if (!(s.durationMs >= 0)) throw new Error(`${where}: durationMs must be >= 0`);
  if (s.memory.zones.length === 0) throw new Error(`${where}: memory.zones is empty`);
  const zones: Zone[] = s.memory.zones.map((z) => {
    if (!(z.minPages <= z.lowPages && z.lowPages <= z.highPages && z.highPages <= z.pages)) {
      throw new Error(`${where}: zone ${z.name}: watermarks must satisfy min <= low <= high <= pages`);
    }
    return { name: z.name, totalPages: z.pages, minPages: z.minPages, lowPages: z.lowPages, highPages: z.highPages, freePages: z.pages, usedPages: 0, cachePages: 0, lowWaterPages: z.pages, prevLowWaterPages: z.pages };
  });
  const memcgs = buildMemcgs(s);
  const root = memcgs.get("/") as Memcg;
  const locks = new Map<string, SimLock>();
  for (const l of s.locks) {
    if (locks.has(l.name)) throw new Error(`${where}: lock "${l.name}" is declared twice`);
    locks.set(l.name, new SimLock(l.name, l.kind));
  }
  const names = new Set(s.tasks.map((t) => t.name));
  let nextPid = FIRST_PID;
  const tasks: Task[] = [];
  for (const spec of s.tasks) {
    const memcg = memcgs.get(spec.cgroup);
    if (memcg === undefined) throw new Error(`${where}: task "${spec.name}": cgroup "${spec.cgroup}" is not declared`);
    if (tasks.some((t) => t.name === spec.name)) throw new Error(`${where}: task name "${spec.name}" is used twice`);
    if (spec.threads.length === 0) throw new Error(`${where}: task "${spec.name}" has no thread`);
    validatePrograms(where, spec, locks, names);
    const pid = nextPid;
    nextPid += spec.threads.length;
    const task = makeTask(spec, pid, memcg, zones.length);
    tasks.push(task);
  }
  // Memory present at t = 0: tasks first, then the page cache, keeping zones at their high mark while possible.
  for (const task of tasks) {
    if (task.spec.startMs > 0) continue;
    const mm = task.spec.mm;
    const pages = mm.anonPages + mm.sharedPages + mm.pageTablePages;
    const got = placeInitial(zones, pages, "used", task.mm.zonePages);
    if (got < pages) throw new Error(`${where}: the tasks' initial memory does not fit in the zones (task "${task.name}")`);
    task.mm.anonPages = mm.anonPages;
    task.mm.mlockedPages = Math.min(mm.mlockedPages, mm.anonPages);
    task.mm.sharedPages = mm.sharedPages;
    task.mm.pageTablePages = mm.pageTablePages;
    charge(task.memcg, pages);
    for (let c: Memcg | null = task.memcg; c !== null; c = c.parent) {
      if (c.limitPages !== null && c.usagePages > c.limitPages) {
        throw new Error(`${where}: cgroup "${c.path}": the initial memory of its tasks exceeds its limit (${c.usagePages} > ${c.limitPages} pages)`);
      }
    }
  }
  const cache = s.memory.fileCachePages;
  if (placeInitial(zones, cache, "cache", null) < cache) throw new Error(`${where}: memory.fileCachePages does not fit in the zones`);
  root.cachePages = cache;
  charge(root, cache);
  return { zones, root, memcgs, tasks, locks };
}

function placeInitial(zones: Zone[], pages: number, into: "used" | "cache", perZone: number[] | null): number {
  const got = takePages(zones, pages, "high", into, perZone);
  return got + takePages(zones, pages - got, "zero", into, perZone);
}

function buildMemcgs(s: Scenario): Map<string, Memcg> {
  const map = new Map<string, Memcg>();
  const rootVersion = s.cgroups.length > 0 && s.cgroups.every((c) => c.version === 2) ? 2 : 1;
  map.set("/", makeMemcg({ path: "/", limitPages: null, version: rootVersion, oomKillDisable: false, oomGroup: false, chargeFailure: "enomem" }, null));
  const specs = [...s.cgroups].sort((a, b) => depth(a.path) - depth(b.path) || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  for (const spec of specs) {
    if (!spec.path.startsWith("/") || spec.path === "/" || spec.path.endsWith("/")) {
      throw new Error(`scenario "${s.name}": cgroup path "${spec.path}" must be absolute, not the root, without a trailing slash`);
    }
    if (map.has(spec.path)) throw new Error(`scenario "${s.name}": cgroup "${spec.path}" is declared twice`);
    let parentPath = spec.path.slice(0, spec.path.lastIndexOf("/")) || "/";
    while (!map.has(parentPath)) parentPath = parentPath.slice(0, parentPath.lastIndexOf("/")) || "/";
    const parent = map.get(parentPath) as Memcg;
    const m = makeMemcg(spec, parent);
    parent.children.push(m);
    map.set(spec.path, m);
  }
  return map;
}

function depth(path: string): number {
  return path.split("/").length;
}

function makeMemcg(spec: CgroupSpec, parent: Memcg | null): Memcg {
  return {
    path: spec.path,
    parent,
    children: [],
    version: spec.version,
    limitPages: spec.limitPages,
    highPages: spec.version === 2 ? (spec.highPages ?? null) : null,
    oomKillDisable: spec.version === 1 && spec.oomKillDisable,
    oomGroup: spec.version === 2 && spec.oomGroup,
    chargeFailure: spec.chargeFailure,
    usagePages: 0,
    cachePages: 0,
    tasks: [],
    events: { low: 0, high: 0, max: 0, oom: 0, oomKill: 0, oomGroupKill: 0 },
    oomWaiters: new Set(),
    delayExpired: false,
    oomEpisode: 0,
    lastOomAttemptTick: -1,
    reconcilePending: false,
    oomListeners: new Set(),
    eventListeners: new Set(),
    eventsNotifyPending: false,
  };
}

function makeTask(spec: TaskSpec, pid: number, memcg: Memcg, zoneCount: number): Task {
  const task: Task = {
    pid,
    name: spec.name,
    spec,
    memcg,
    oomScoreAdj: Math.max(-1000, Math.min(1000, spec.oomScoreAdj)),
    innocent: spec.innocent,
    startTimeTicks: BOOT_TICKS + Math.floor(spec.startMs / MS_PER_CLOCK_TICK),
    phase: "pending",
    mm: {
      anonPages: 0,
      mlockedPages: 0,
      sharedPages: 0,
      pageTablePages: 0,
      kmemPages: 0,
      swapPages: 0,
      zonePages: new Array<number>(zoneCount).fill(0),
      blockableMmuNotifier: spec.mm.blockableMmuNotifier,
      mmapSem: new SimLock(`mmap_sem:${spec.name}`, "rwsem"),
      oomSkip: false,
    },
    threads: [],
    fatalSignal: false,
    oomVictim: false,
    killed: false,
    killedAtMs: null,
    oomScope: null,
    exitListeners: new Set(),
  };
  task.threads = spec.threads.map((ts, i): Thread => {
    const program: InternalStep[] = i === 0 && spec.startMs > 0 ? [...initialFaults(spec), ...ts.program] : ts.program;
    return {
      tid: pid + i,
      name: `${spec.name}/${ts.name}`,
      task,
      frames: [{ steps: program, index: 0, repeatsLeft: 0 }],
      state: "new",
      gen: 0,
      alloc: null,
      lockWait: null,
      sleepUninterruptible: false,
      held: [],
      unwound: [],
      oomWaitMemcg: null,
      stallSinceMs: null,
      directReclaimAtMs: -1,
      refaulting: false,
      refaultDone: false,
      memoryStall: false,
      lastProgressMs: spec.startMs,
      pendingFrames: [],
      lastFailLogMs: Number.NEGATIVE_INFINITY,
      failsSinceLog: 0,
      stepsAtMs: -1,
      stepsThisInstant: 0,
    };
  });
  memcg.tasks.push(task);
  return task;
}

/** A task starting later faults its initial mm in (exec + startup) before its program runs. */
function initialFaults(spec: TaskSpec): InternalStep[] {
  const mm = spec.mm;
  const mlocked = Math.min(mm.mlockedPages, mm.anonPages);
  const base = { op: "alloc" as const, pagesPerMs: INITIAL_FAULT_PAGES_PER_MS, context: "GFP_KERNEL" as const, charge: "fault" as const };
  const steps: InternalStep[] = [];
  if (mm.anonPages - mlocked > 0) steps.push({ ...base, pages: mm.anonPages - mlocked, kind: "anon" });
  if (mlocked > 0) steps.push({ ...base, pages: mlocked, kind: "anon", mlocked: true });
  if (mm.sharedPages > 0) steps.push({ ...base, pages: mm.sharedPages, kind: "shared" });
  if (mm.pageTablePages > 0) steps.push({ ...base, pages: mm.pageTablePages, kind: "pagetable" });
  return steps;
}

function validatePrograms(where: string, spec: TaskSpec, locks: Map<string, SimLock>, names: Set<string>): void {
  for (const th of spec.threads) {
    const at = `${where}: task "${spec.name}" thread "${th.name}"`;
    for (const step of allSteps(th.program)) {
      if (step.op === "alloc") {
        if (!(step.pagesPerMs > 0)) throw new Error(`${at}: alloc pagesPerMs must be > 0`);
        if (!(step.pages >= 0)) throw new Error(`${at}: alloc pages must be >= 0`);
      } else if (step.op === "lock" || step.op === "unlock") {
        const ok = locks.has(step.lock) || step.lock === "mmap_sem" || (step.lock.startsWith("mmap_sem:") && names.has(step.lock.slice("mmap_sem:".length)));
        if (!ok) throw new Error(`${at}: lock "${step.lock}" is neither declared, "mmap_sem", nor "mmap_sem:<task>"`);
      } else if (step.op === "sleep" && !(step.ms >= 0)) {
        throw new Error(`${at}: sleep ms must be >= 0`);
      }
    }
  }
}
