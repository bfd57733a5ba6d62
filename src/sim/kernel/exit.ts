// Thread and task exit. A thread that exits releases every lock it holds (the syscall unwinds),
// which may let a blocked thread go on. When the last thread is gone the task runs exit_mmap,
// freeing its mm at the configured rate, and only then is it gone (pidfd readable, ESRCH).

import { addJob, setOomSkip } from "./jobs.js";
import { leaveOomWait } from "./memcg.js";
import type { Sim, Task, Thread } from "./state.js";
import { exitPagesPerMs } from "./state.js";

export function threadExit(sim: Sim, t: Thread): void {
  if (t.state === "done") return;
  if (t.lockWait) {
    t.lockWait.lock.cancel(t.lockWait.waiter);
    t.lockWait = null;
  }
  leaveOomWait(t);
  sim.allocThreads.delete(t);
  t.alloc = null;
  t.refaulting = false;
  const held = t.held;
  t.held = [];
  t.unwound = [];
  t.pendingFrames = [];
  t.state = "done";
  t.gen++;
  sim.stats.progress(t, sim.nowMs);
  for (let i = held.length - 1; i >= 0; i--) {
    const h = held[i];
    if (h) h.lock.release(h.mode);
  }
  const task = t.task;
  if (task.phase === "running" && task.threads.every((x) => x.state === "done")) startExitMmap(sim, task);
}

function startExitMmap(sim: Sim, task: Task): void {
  task.phase = "exiting";
  addJob(sim, {
    kind: "exit",
    task,
    pagesPerMs: exitPagesPerMs(sim),
    budgetPages: Number.POSITIVE_INFINITY,
    reapMlocked: true,
    creditPages: 0,
    onDone: () => finishTask(sim, task),
  });
}

function finishTask(sim: Sim, task: Task): void {
  task.phase = "gone";
  setOomSkip(sim, task, "exit_mmap done");
  const list = task.memcg.tasks;
  const i = list.indexOf(task);
  if (i >= 0) list.splice(i, 1);
  sim.liveOomVictims.delete(task);
  sim.liveKilled.delete(task);
  sim.stats.lastProgressMs = sim.nowMs;
  sim.log("exit", task.name, task.killed ? "killed task exited, memory freed" : "exited");
  for (const cb of [...task.exitListeners]) sim.schedule(sim.nowMs, { kind: "call", fn: cb });
  task.exitListeners.clear();
}
