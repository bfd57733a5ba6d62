// The memory.high sleep of one thread (schedule_timeout_killable in mem_cgroup_handle_over_high):
// the thread leaves the tick's service, is a memory stall for PSI while it sleeps, and comes back
// to its allocation when the penalty is over or SIGKILL cuts it short. memcg-high.ts decides how
// long; this file only moves the thread in and out of the sleep.

import type { Sim, Thread } from "./state.js";

export function startThrottle(sim: Sim, t: Thread, sleepMs: number): void {
  t.state = "throttled";
  sim.allocThreads.delete(t);
  t.gen++;
  sim.stats.throttleStart(t);
  sim.schedule(sim.nowMs + sleepMs, { kind: "thread-run", thread: t, gen: t.gen });
}

/**
 * Back to the allocation, served again from the next tick. Its rate restarts now: a sleeping
 * thread earns no pages. The caller finishes the step if nothing is left of it.
 */
export function endThrottle(sim: Sim, t: Thread): void {
  if (t.state !== "throttled") return;
  t.gen++;
  sim.stats.throttleEnd(t);
  t.state = "alloc";
  if (t.alloc !== null) t.alloc.lastServedMs = sim.nowMs;
  sim.allocThreads.add(t);
  sim.ensureTick();
}
