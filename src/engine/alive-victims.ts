// Victims killed in one scope that have not exited yet (frozen, stuck in D state, slow exit_mmap).
// They stay excluded from every later ranking of that scope until their pidfd says they are gone,
// and a later incident waits for the latest of them before anyone else is chosen (seed 000).

import { observe, startTracking } from "../core/victim-tracker.js";
import { trackerConfig } from "./confirm-kill.js";
import type { EngineOptions } from "./engine-options.js";
import type { Host, Unwatch, VictimHandle } from "./host.js";
import type { ScopeProbe } from "./scope-probe.js";

export class AliveVictims {
  private readonly victims = new Map<number, { handle: VictimHandle; unwatch: Unwatch | null }>();

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
  latest(): VictimHandle | undefined {
    return [...this.victims.values()].at(-1)?.handle;
  }

  /** Keeps the victim until its exit is seen; then its pidfd is closed. */
  remember(handle: VictimHandle): void {
    const entry: { handle: VictimHandle; unwatch: Unwatch | null } = { handle, unwatch: null };
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
   * Observes the most recent victim still alive, as after its kill: "recovered" when the scope left
   * the OOM meanwhile; "decide" when it exited with the OOM still there, or made no progress for the
   * configured observations while the scope was critical (it stays excluded; the next decision picks
   * someone else). Without progress in a scope that is not critical it keeps waiting.
   */
  async waitForLatest(probe: ScopeProbe, options: EngineOptions, isStopped: () => boolean): Promise<"recovered" | "decide"> {
    const host = this.host;
    const latest = this.latest();
    if (latest === undefined) return "decide";
    const victim = host.readProcess(latest.pid);
    const scope = probe.read();
    if (!scope.ok) return "recovered";
    const track = (rssBytes: number, usageBytes: number) =>
      startTracking({ pid: latest.pid, startTimeTicks: latest.startTimeTicks, rssBytes }, usageBytes, host.now(), { config: trackerConfig(options) });
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
      });
      tracker = step.state;
      if (step.verdict === "resolved") return "recovered";
      if (step.verdict === "escalate" && !now.value.critical && !exited && current.ok) {
        tracker = track(current.value.rssBytes, now.value.usageBytes);
        continue;
      }
      if (step.verdict === "exited-still-oom" || step.verdict === "escalate") return "decide";
    }
  }
}
