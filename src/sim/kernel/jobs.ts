// Memory an mm gives back over virtual time: exit_mmap, the OOM reaper's unmapping and
// process_mrelease, all at the scenario's exit_mmap rate (we measured 40-70 ms/GiB for
// process_mrelease, so one rate for all is a fair simplification). Jobs run at each tick.

import { EXIT_ORDER, type FreeCategory, freeInOrder } from "./mm.js";
import type { Job, Sim, Task } from "./state.js";

const REAP_ORDER: readonly FreeCategory[] = ["anon", "swap"];
const REAP_ORDER_MLOCKED: readonly FreeCategory[] = ["anon", "swap", "mlocked"];

export function addJob(sim: Sim, job: Job): void {
  sim.jobs.push(job);
  sim.ensureTick();
}

/** Pages the reaper (or process_mrelease) can take from this mm. */
export function reapablePages(task: Task, reapMlocked: boolean): number {
  const mm = task.mm;
  return mm.anonPages - (reapMlocked ? 0 : mm.mlockedPages) + mm.swapPages;
}

export function runJobs(sim: Sim, dtMs: number): void {
  if (sim.jobs.length === 0) return;
  for (const job of [...sim.jobs]) {
    // An exit_mmap rate of 0 ms/KiPage frees everything at the next tick.
    job.creditPages = Number.isFinite(job.pagesPerMs) ? job.creditPages + job.pagesPerMs * dtMs : Number.POSITIVE_INFINITY;
    const n = Math.floor(Math.min(job.creditPages, job.budgetPages));
    const order = job.kind === "exit" ? EXIT_ORDER : job.reapMlocked ? REAP_ORDER_MLOCKED : REAP_ORDER;
    const freed = n > 0 ? freeInOrder(sim, job.task, order, n) : 0;
    job.creditPages = Number.isFinite(job.creditPages) ? job.creditPages - freed : 0;
    job.budgetPages -= freed;
    const left = job.kind === "exit" ? exitLeft(job.task) : Math.min(job.budgetPages, reapablePages(job.task, job.reapMlocked));
    if (job.kind === "exit") onExitProgress(sim, job.task);
    if (left <= 0) {
      sim.jobs.splice(sim.jobs.indexOf(job), 1);
      job.onDone();
    }
  }
}

function exitLeft(task: Task): number {
  const mm = task.mm;
  return mm.anonPages + mm.sharedPages + mm.pageTablePages + mm.kmemPages + mm.swapPages;
}

/**
 * 2018 exit_mmap of an OOM victim reaps the unlocked anon itself, then sets MMF_OOM_SKIP before
 * it munlocks and unmaps the rest: mlocked memory is still held when the killer may pick again
 * (the "most trivial reproducer" of the reaper giving up on a victim). Today exit_mmap sets it once
 * everything is unmapped.
 */
function onExitProgress(sim: Sim, task: Task): void {
  if (sim.version !== "2018" || !task.oomVictim || task.mm.oomSkip) return;
  if (task.mm.anonPages - task.mm.mlockedPages + task.mm.swapPages > 0) return;
  if (sim.proposals.victimTimeoutMs !== null) return;
  setOomSkip(sim, task, "exit_mmap reaped what it could (2018: before munlock)");
}

/** MMF_OOM_SKIP: the OOM killer no longer waits for this victim. */
export function setOomSkip(sim: Sim, task: Task, why: string): void {
  if (task.mm.oomSkip) return;
  task.mm.oomSkip = true;
  if (task.oomVictim) sim.log("mmf-oom-skip", task.name, why);
}
