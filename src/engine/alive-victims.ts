// Victims killed in one scope that have not exited yet (frozen, stuck in D state, slow exit_mmap).
// They stay excluded from every later ranking of that scope until their pidfd says they are gone,
// and a later incident waits for the latest of them before anyone else is chosen (a victim slow to exit
// must not cost a second life).

import { observe, startTracking } from "../core/victim-tracker.js";
import { trackerConfig } from "./confirm-kill.js";
import type { EngineOptions } from "./engine-options.js";
import type { Host, Unwatch, VictimHandle } from "./host.js";
import type { ScopeProbe } from "./scope-probe.js";

interface AliveVictim {
  handle: VictimHandle;
  unwatch: Unwatch | null;
  /** It has had the tracker's patience without progress: never waited for again, only excluded. */
  patienceSpent: boolean;
}

export class AliveVictims {
  private readonly victims = new Map<number, AliveVictim>();

  constructor(private readonly host: Host) {}

  get size(): number {
    return this.victims.size;
  }
  has(pid: number): boolean {
    return this.victims.has(pid);
  }
  handles(): VictimHandle[] {
    return [...this.victims.values()].map((v) => v.handle);
  }
  pids(): number[] {
    return [...this.victims.keys()];
  }
  /** The most recent victim still worth waiting for. */
  latest(): VictimHandle | undefined {
    return [...this.victims.values()].filter((v) => !v.patienceSpent).at(-1)?.handle;
  }

  /** Keeps the victim until its exit is seen; then its pidfd is closed. */
  remember(handle: VictimHandle, patienceSpent: boolean): void {
    const entry: AliveVictim = { handle, unwatch: null, patienceSpent };
    this.victims.set(handle.pid, entry);
    let exited = false;
    const watched = this.host.watchExit(handle, () => {
      exited = true;
      entry.unwatch?.();
      if (this.victims.delete(handle.pid)) this.host.releaseVictim(handle);
    });
    if (watched.ok && !exited) entry.unwatch = watched.value;
  }

  releaseAll(): void {
    for (const alive of this.victims.values()) {
      alive.unwatch?.();
      this.host.releaseVictim(alive.handle);
    }
    this.victims.clear();
  }

  /**
   * Observes the most recent victim still alive that has not yet had its patience, as after its
   * kill: "recovered" when the scope left the OOM meanwhile; "decide" when it exited with the OOM
   * still there, or made no progress for the configured observations (it stays excluded, is never
   * waited for again, and the next decision picks someone else; whether that decision may kill is
   * the scope's rule: the machine guard kills a second victim in one episode only when critical).
   */
  async waitForLatest(probe: ScopeProbe, options: EngineOptions, isStopped: () => boolean): Promise<"recovered" | "decide"> {
    const host = this.host;
    const latest = this.latest();
    if (latest === undefined) return "decide";
    const victim = host.readProcess(latest.pid);
    const scope = probe.read();
    if (!scope.ok) return "recovered";
    const track = (rssBytes: number, usageBytes: number) =>
      startTracking({ pid: latest.pid, startTimeTicks: latest.startTimeTicks, rssBytes }, usageBytes, host.now(), trackerConfig(options));
    let tracker = track(victim.ok ? victim.value.rssBytes : 0, scope.value.usageBytes);
    for (;;) {
      await new Promise<void>((resolve) => host.setTimer(options.observeIntervalMs, resolve));
      if (isStopped()) return "recovered";
      const now = probe.read();
      if (!now.ok) return "recovered";
      const current = host.readProcess(latest.pid);
      const exited = !this.victims.has(latest.pid) || !current.ok || current.value.startTimeTicks !== latest.startTimeTicks;
      const step = observe(tracker, {
        atMs: host.now(),
        victimExited: exited,
        victimRssBytes: current.ok ? current.value.rssBytes : null,
        scopeUsageBytes: now.value.usageBytes,
        scopeUnderOom: now.value.outOfMemory,
        // A stall ends the wait either way: whether the next decision may kill is the scope's rule
        // (the machine guard takes a second victim in one episode only when critical).
        scopeCritical: true,
      });
      tracker = step.state;
      if (step.verdict === "resolved") return "recovered";
      if (step.verdict === "escalate") {
        const entry = this.victims.get(latest.pid);
        if (entry !== undefined) entry.patienceSpent = true;
        return "decide";
      }
      if (step.verdict === "exited-still-oom") return "decide";
    }
  }
}
