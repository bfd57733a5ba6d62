// The simulated kernel: state plus the event loop. Event-driven with a coarse tick: ticks run
// only while something needs continuous service (a thread inside an allocation, kswapd awake,
// memory being freed by exit_mmap or a reaper), and cost O(those) each, never O(pages).
// Everything else (sleeps, lock hand-overs, reaper retries, timers, notifications) is an event
// at its exact virtual time. Order is (time, sequence), so a run is deterministic.

import type { KernelVersion, PolicySpec, Scenario, TimelineEvent, TimelineEventKind, TimelineSample } from "../scenario.js";
import { EventQueue } from "./event-queue.js";
import { startHandler } from "./handler.js";
import { runJobs } from "./jobs.js";
import type { SimLock } from "./locks.js";
import { readProposals, type Proposals } from "./proposals.js";
import { runKswapd } from "./reclaim.js";
import { Rng } from "./rng.js";
import { buildWorld } from "./setup.js";
import type { HandlerState, Job, Memcg, ReaperState, Sim, SimEvent, Task, Thread, Zone } from "./state.js";
import { Stats } from "./stats.js";
import { rollLowWater } from "./zones.js";
import { onThreadRun, runThread, serviceAlloc } from "./threads.js";

export interface KernelOptions {
  /** Interval of TimelineSample records; default: a tick, or about 600 samples per run if that is coarser. */
  sampleEveryMs?: number;
}

export class Kernel implements Sim {
  readonly version: KernelVersion;
  readonly proposals: Proposals;
  readonly tickMs: number;
  readonly rng: Rng;
  readonly stats = new Stats();
  readonly queue = new EventQueue<SimEvent>();
  nowMs = 0;
  tickIndex = 0;
  zones: Zone[];
  root: Memcg;
  memcgs: Map<string, Memcg>;
  tasks: Task[];
  tasksByPid = new Map<number, Task>();
  tasksByName = new Map<string, Task>();
  locks: Map<string, SimLock>;
  swapTotalPages: number;
  swapFreePages: number;
  kswapdAwake = false;
  reclaimCursor = { owner: 0, task: 0 };
  vmstat = { reclaimedPages: 0, allocStalls: 0 };
  allocThreads = new Set<Thread>();
  jobs: Job[] = [];
  liveOomVictims = new Set<Task>();
  liveKilled = new Set<Task>();
  killOrder: Task[] = [];
  events: TimelineEvent[] = [];
  samples: TimelineSample[] = [];
  panicked = false;
  lastGlobalOomTick = -1;
  reaper: ReaperState = { queue: [], busy: false };
  handler: HandlerState | null = null;
  simulatedEvents = 0;
  private tickPending = false;
  private lastTickMs = 0;
  /** Index of the last tick scheduled: tick n runs at n × tickMs, and n only grows. */
  private lastTickN = 0;
  private readonly sampleEveryMs: number;
  private readonly allThreads: Thread[] = [];

  constructor(
    readonly scenario: Scenario,
    readonly policy: PolicySpec,
    options: KernelOptions = {},
  ) {
    this.version = policy.kernel.version;
    this.proposals = readProposals(policy.kernel.proposals);
    this.tickMs = scenario.tickMs;
    this.rng = new Rng(scenario.randomSeed);
    const world = buildWorld(scenario);
    this.zones = world.zones;
    this.root = world.root;
    this.memcgs = world.memcgs;
    this.tasks = world.tasks;
    this.locks = world.locks;
    for (const t of this.tasks) {
      this.tasksByPid.set(t.pid, t);
      this.tasksByName.set(t.name, t);
      this.allThreads.push(...t.threads);
    }
    this.swapTotalPages = Math.max(0, scenario.memory.swapPages);
    this.swapFreePages = this.swapTotalPages;
    const defaultSample = Math.max(this.tickMs, Math.ceil(scenario.durationMs / 600 / this.tickMs) * this.tickMs);
    this.sampleEveryMs = options.sampleEveryMs !== undefined && options.sampleEveryMs > 0 ? options.sampleEveryMs : defaultSample;
    if (policy.userspace.kind === "handler") this.handler = startHandler(this, policy.userspace);
    for (const t of this.tasks) this.schedule(Math.max(0, t.spec.startMs), { kind: "task-start", task: t });
    this.schedule(0, { kind: "sample" });
  }

  schedule(atMs: number, event: SimEvent): void {
    this.queue.push(Math.max(this.nowMs, atMs), event);
  }

  ensureTick(): void {
    if (this.tickPending) return;
    this.tickPending = true;
    if (this.nowMs - this.lastTickMs > this.tickMs) this.lastTickMs = this.nowMs;
    // The next tick is the first index whose time n × tickMs lies strictly after now. Computed from
    // an integer index (never by adding or rounding times), so with fractional ticks such as 0.7
    // the clock still always advances.
    let n = Math.max(this.lastTickN + 1, Math.floor(this.nowMs / this.tickMs));
    while (n * this.tickMs <= this.nowMs) n++;
    this.lastTickN = n;
    this.schedule(n * this.tickMs, { kind: "tick" });
  }

  log(kind: TimelineEventKind, subject: string, detail: string): void {
    this.events.push({ tMs: this.nowMs, kind, subject, detail });
  }

  get threads(): readonly Thread[] {
    return this.allThreads;
  }

  /** Whether another instant is due within the run. */
  hasNext(): boolean {
    if (this.panicked) return false;
    const t = this.queue.peekTime();
    return t !== undefined && t <= this.scenario.durationMs;
  }

  /** Run every event of the next virtual instant; false when the run is over. */
  stepInstant(): boolean {
    if (!this.hasNext()) return false;
    this.nowMs = Math.max(this.nowMs, this.queue.peekTime() as number);
    for (;;) {
      const t = this.queue.peekTime();
      if (t === undefined || t > this.nowMs || this.panicked) break;
      const entry = this.queue.pop();
      if (entry === undefined) break;
      this.simulatedEvents++;
      this.dispatch(entry.item);
    }
    this.stats.afterInstant(this.nowMs, this.liveKilled.size, this.allocThreads);
    return true;
  }

  /** End of the run: the clock reads the duration (or the panic instant). */
  finish(): void {
    if (!this.panicked) this.nowMs = Math.max(this.nowMs, this.scenario.durationMs);
  }

  private dispatch(ev: SimEvent): void {
    switch (ev.kind) {
      case "tick":
        this.tick();
        return;
      case "thread-run":
        onThreadRun(this, ev.thread, ev.gen);
        return;
      case "task-start":
        this.startTask(ev.task);
        return;
      case "call":
        ev.fn();
        return;
      case "sample":
        this.sample();
        return;
    }
  }

  private startTask(task: Task): void {
    if (task.phase !== "pending") return;
    task.phase = "running";
    for (const t of task.threads) {
      t.state = "ready";
      t.lastProgressMs = this.nowMs;
    }
    for (const t of task.threads) if (t.state === "ready") runThread(this, t);
  }

  private tick(): void {
    this.tickPending = false;
    this.tickIndex++;
    const dtMs = this.nowMs - this.lastTickMs;
    this.lastTickMs = this.nowMs;
    rollLowWater(this.zones);
    runKswapd(this, dtMs);
    runJobs(this, dtMs);
    if (this.allocThreads.size > 0) {
      // A seeded rotation of the service order: no thread always wins the race for a freed page.
      const threads = [...this.allocThreads];
      const start = this.rng.int(threads.length);
      for (let i = 0; i < threads.length && !this.panicked; i++) {
        serviceAlloc(this, threads[(start + i) % threads.length] as Thread);
      }
    }
    if (this.panicked) return;
    if (this.allocThreads.size > 0 || this.jobs.length > 0 || this.kswapdAwake) this.ensureTick();
  }

  private sample(): void {
    const z = this.zones[0] as Zone;
    const cgroups: TimelineSample["cgroups"] = {};
    for (const m of this.memcgs.values()) if (m !== this.root) cgroups[m.path] = { usagePages: m.usagePages, limitPages: m.limitPages };
    this.samples.push({ tMs: this.nowMs, freePages: z.freePages, minPages: z.minPages, lowPages: z.lowPages, highPages: z.highPages, cgroups });
    const next = this.nowMs + this.sampleEveryMs;
    if (next <= this.scenario.durationMs) this.schedule(next, { kind: "sample" });
  }
}
