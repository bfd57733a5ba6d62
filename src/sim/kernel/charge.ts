// try_charge for one chunk of an allocation: within the limit it simply charges; at the limit it
// reclaims from the memcg, then decides by context and kernel version what an over-limit charge
// becomes. Fault charges may be partial (page by page); syscall and GFP_ATOMIC chunks are one
// kernel allocation each, all or nothing.

import { charge, countEvent, overLimit, roomPages } from "./memcg.js";
import { enterOomWait, killerEnabled, scheduleReconcile } from "./memcg-oom.js";
import { outOfMemory } from "./oom-killer.js";
import { reclaimMemcg } from "./reclaim.js";
import type { Memcg, Sim, Thread } from "./state.js";

export type ChargeResult =
  | { kind: "charged"; pages: number }
  /** The syscall fails with -ENOMEM (the 2018 baseline of ENOMEM at the memcg limit; today only v1 oom_kill_disable). */
  | { kind: "enomem" }
  /** GFP_ATOMIC charge refused (2018). */
  | { kind: "fail" }
  /** The thread now waits in the memcg OOM (v1, killer disabled). */
  | { kind: "wait" }
  /** Nothing charged this time; the caller loops. */
  | { kind: "stall" };

export function tryCharge(sim: Sim, thread: Thread, pages: number, dtMs: number): ChargeResult {
  const a = thread.alloc;
  const m = thread.task.memcg;
  if (a === null) return { kind: "stall" };
  const whole = a.step.charge === "syscall" || a.context === "GFP_ATOMIC";
  let room = roomPages(m);
  if (room >= pages) return charged(m, pages);
  if (!whole && room > 0) return charged(m, room);
  const over = overLimit(m, whole ? pages : 1) ?? m;
  countEvent(sim, over, "max");
  const budget = Math.ceil(sim.scenario.memory.directReclaimPagesPerMs * dtMs);
  reclaimMemcg(sim, over, Math.min(budget, pages));
  room = roomPages(m);
  if (room >= pages || (!whole && room > 0)) return charged(m, Math.min(pages, room));
  return overLimitCharge(sim, thread, over, pages);
}

function charged(m: Memcg, pages: number): ChargeResult {
  charge(m, pages);
  return { kind: "charged", pages };
}

function overLimitCharge(sim: Sim, thread: Thread, over: Memcg, pages: number): ChargeResult {
  const a = thread.alloc;
  const task = thread.task;
  const m = task.memcg;
  if (a === null) return { kind: "stall" };
  const ctx = a.context;
  const syscall = a.step.charge === "syscall";
  const today = sim.version === "today";
  // __GFP_NOFAIL charges are forced past the limit, in both versions.
  if (ctx === "GFP_NOFS_NOFAIL" || ctx === "GFP_KERNEL_NOFAIL") return charged(m, pages);
  // 4.17 try_charge lets dying and OOM-killed tasks bypass the limit so they can exit.
  if (!today && (task.fatalSignal || task.oomVictim)) return charged(m, pages);
  const overcharge = sim.proposals.overchargeReconcileMs !== null || over.chargeFailure === "overcharge";
  if (syscall && overcharge) {
    scheduleReconcile(sim, over);
    return charged(m, pages);
  }
  if (ctx === "GFP_ATOMIC") return today ? charged(m, pages) : { kind: "fail" };
  if (ctx === "GFP_NOFS") {
    // The caller's retry loop (kmem_alloc): today the charge path runs the memcg OOM killer first.
    if (today && killerEnabled(over)) outOfMemory(sim, over, thread, `memcg limit, ${thread.task.name} GFP_NOFS charge`);
    return { kind: "stall" };
  }
  if (syscall) {
    // 2018 (before 4.19): a syscall charge at the limit fails with -ENOMEM; only faults OOM-kill.
    // Today try_charge invokes the memcg OOM killer and retries: after a kill, or while a victim
    // is pending, the charge loops; with nothing killable it is forced. -ENOMEM remains only for
    // v1 oom_kill_disable (the fault-only OOM wait does not apply to syscalls).
    if (!today || !killerEnabled(over)) return { kind: "enomem" };
    const outcome = outOfMemory(sim, over, thread, `memcg limit, ${thread.task.name} syscall charge`);
    if (outcome === "nothing") return charged(m, pages);
    return { kind: "stall" };
  }
  if (!killerEnabled(over)) {
    enterOomWait(sim, over, thread);
    return { kind: "wait" };
  }
  const outcome = outOfMemory(sim, over, thread, `memcg limit, ${thread.task.name} page fault`);
  // Today the charge is forced when the memcg OOM killer finds nothing to kill (what upstream settled on instead of the 2017 overcharge proposal).
  if (outcome === "nothing" && today) return charged(m, pages);
  return { kind: "stall" };
}
