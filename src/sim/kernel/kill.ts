// SIGKILL and its effect on each thread. A killed thread leaves at its next step boundary, but (the
// rule behind a victim slow to exit, and one stuck behind a lock) a thread blocked on a lock or in
// uninterruptible kernel work cannot exit until it gets the lock or the work ends; a killed thread
// inside an allocation that may fail (GFP_KERNEL, GFP_ATOMIC) gives it up, while GFP_NOFS and
// __GFP_NOFAIL loops keep looping, as in the kernel. A killed task never starts another step, so
// never allocates again.

import { leaveOomWait } from "./memcg.js";
import type { Sim, Task, Thread } from "./state.js";
import { isLive } from "./state.js";
import { endThrottle } from "./throttle.js";

export type KillCause = "oom" | "user" | "exit";

/**
 * Send SIGKILL (or exit_group for cause "exit"). True only when this counts as a kill (in
 * `killed`, `innocentKilled`): the task was alive, had no fatal signal pending and was not yet
 * exiting (exit_mm begun). Signalling a task that is already dying or exiting changes nothing
 * it was not already doing, so it is not a kill.
 */
export function sendSigkill(sim: Sim, task: Task, cause: KillCause): boolean {
  if (!isLive(task)) return false;
  const counts = cause !== "exit" && !task.killed && !task.fatalSignal && task.phase === "running";
  if (counts) {
    task.killed = true;
    task.killedAtMs = sim.nowMs;
    sim.killOrder.push(task);
    sim.liveKilled.add(task);
  }
  if (task.fatalSignal) return counts;
  task.fatalSignal = true;
  for (const t of task.threads) wakeForSignal(sim, t);
  return counts;
}

/** TIF_MEMDIE: chosen by the kernel OOM killer (reserves, reaper, "abort the scan" rule). */
export function markOomVictim(sim: Sim, task: Task, scope: Task["oomScope"]): void {
  if (task.oomVictim) return;
  task.oomVictim = true;
  task.oomScope = scope;
  if (isLive(task)) sim.liveOomVictims.add(task);
}

function wakeForSignal(sim: Sim, t: Thread): void {
  switch (t.state) {
    case "sleep":
      // A sleep holding a lock stands for uninterruptible kernel work: it runs to its end.
      if (t.sleepUninterruptible) return;
      wakeNow(sim, t);
      return;
    case "oom-wait":
      // mem_cgroup_oom_synchronize waits killable: a killed waiter leaves and exits.
      leaveOomWait(t);
      wakeNow(sim, t);
      return;
    case "alloc":
      sim.ensureTick();
      return;
    case "throttled":
      // The memory.high penalty is a killable sleep: the thread is back at its allocation, and
      // the next tick sees the signal as for any allocating thread.
      endThrottle(sim, t);
      return;
    default:
      // ready: its pending run sees the signal; lock-wait: must get the lock first; new/done: nothing.
      return;
  }
}

function wakeNow(sim: Sim, t: Thread): void {
  t.gen++;
  t.state = "ready";
  sim.schedule(sim.nowMs, { kind: "thread-run", thread: t, gen: t.gen });
}
