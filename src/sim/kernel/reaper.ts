// The OOM reaper (mm/oom_kill.c oom_reaper), by kernel version:
//   2018: a victim is queued at once; up to 10 tries 100 ms apart, each needing mmap_sem by
//         down_read_trylock (fails while a writer holds it or anyone is queued: how the reaper
//         gives up on a victim); mlocked VMAs are skipped; a blockable mmu notifier makes it give
//         up on the mm at once.
//   today: the victim is queued after OOM_REAPER_DELAY (2 s) so it can exit by itself first;
//         mlocked memory is reapable; a blockable mmu notifier makes each try fail.
// Either way MMF_OOM_SKIP is set when it is done or gives up, so the next OOM picks a new victim.
// Under the victim-timeout proposal (against the reaper giving up) the reaper no longer sets
// MMF_OOM_SKIP: the victim blocks new selections until the timeout or its own exit_mmap.
// One reaper thread works through the queue, one victim at a time, like the kernel's.

import { addJob, reapablePages, setOomSkip } from "./jobs.js";
import type { Sim, Task } from "./state.js";
import { exitPagesPerMs, isLive } from "./state.js";

export const OOM_REAPER_TRIES = 10;
export const OOM_REAPER_RETRY_MS = 100;
export const OOM_REAPER_DELAY_MS = 2000;

/** wake_oom_reaper(victim): called when the kernel OOM killer picks a victim. */
export function queueOomReaper(sim: Sim, task: Task): void {
  if (sim.version === "2018") {
    enqueue(sim, task);
  } else {
    sim.schedule(sim.nowMs + OOM_REAPER_DELAY_MS, { kind: "call", fn: () => enqueue(sim, task) });
  }
  const timeoutMs = sim.proposals.victimTimeoutMs;
  if (timeoutMs !== null) {
    sim.schedule(sim.nowMs + timeoutMs, {
      kind: "call",
      fn: () => {
        if (isLive(task)) setOomSkip(sim, task, `victim timeout ${timeoutMs} ms expired`);
      },
    });
  }
}

function enqueue(sim: Sim, task: Task): void {
  if (!isLive(task) || task.mm.oomSkip || sim.reaper.queue.includes(task)) return;
  sim.reaper.queue.push(task);
  if (!sim.reaper.busy) next(sim);
}

function next(sim: Sim): void {
  const task = sim.reaper.queue.shift();
  if (task === undefined) {
    sim.reaper.busy = false;
    return;
  }
  sim.reaper.busy = true;
  attempt(sim, task, 1);
}

function attempt(sim: Sim, task: Task, tryNo: number): void {
  if (!isLive(task) || task.mm.oomSkip) {
    next(sim);
    return;
  }
  const mm = task.mm;
  if (mm.blockableMmuNotifier && sim.version === "2018") {
    sim.log("reaper-gave-up", task.name, "blockable mmu notifier: mm disregarded at once");
    done(sim, task, "oom_reaper gave up (blockable mmu notifier)");
    return;
  }
  if (!mm.mmapSem.tryAcquire("read")) {
    const why = mm.mmapSem.writeHeld ? "mmap_sem held for write" : "mmap_sem has queued waiters";
    retryOrGiveUp(sim, task, tryNo, why);
    return;
  }
  if (mm.blockableMmuNotifier) {
    mm.mmapSem.release("read");
    retryOrGiveUp(sim, task, tryNo, "blockable mmu notifier");
    return;
  }
  const reapMlocked = sim.version !== "2018";
  const pages = reapablePages(task, reapMlocked);
  sim.log("reaper-attempt", task.name, `try ${tryNo}/${OOM_REAPER_TRIES}: reaping ${pages} pages${reapMlocked ? "" : ` (${mm.mlockedPages} mlocked skipped)`}`);
  addJob(sim, {
    kind: "reap",
    task,
    pagesPerMs: exitPagesPerMs(sim),
    budgetPages: pages,
    reapMlocked,
    creditPages: 0,
    onDone: () => {
      mm.mmapSem.release("read");
      done(sim, task, "oom_reaper reaped the mm");
    },
  });
}

function retryOrGiveUp(sim: Sim, task: Task, tryNo: number, why: string): void {
  sim.log("reaper-attempt", task.name, `try ${tryNo}/${OOM_REAPER_TRIES} failed: ${why}`);
  if (tryNo < OOM_REAPER_TRIES) {
    sim.schedule(sim.nowMs + OOM_REAPER_RETRY_MS, { kind: "call", fn: () => attempt(sim, task, tryNo + 1) });
    return;
  }
  sim.log("reaper-gave-up", task.name, `${OOM_REAPER_TRIES} tries failed (${why})`);
  done(sim, task, "oom_reaper gave up");
}

function done(sim: Sim, task: Task, why: string): void {
  if (sim.proposals.victimTimeoutMs === null) setOomSkip(sim, task, why);
  next(sim);
}
