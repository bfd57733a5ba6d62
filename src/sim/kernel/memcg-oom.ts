// What happens when a memcg is at its limit and reclaim cannot help:
// - v1 with oom_kill_disable: the faulting task waits in mem_cgroup_oom_synchronize (D, killable)
//   until memory is uncharged, the limit or oom_kill_disable changes, or it is killed. Since 3.12
//   the fault unwinds before it waits, so the task's own mmap_sem is released while it waits and
//   retaken afterwards (Weiner's fix for user-space handlers that deadlock); other locks its
//   program holds stay held. The memcg is under_oom and v1 eventfd listeners are notified when the
//   episode starts.
// - oom-delay proposal (for user-space handlers that deadlock): after delayMs of such an episode
//   the kernel killer steps in.
// - overcharge (the proposal against ENOMEM at the memcg limit, or chargeFailure "overcharge"):
//   the charge was forced past the limit; after the reconcile period, reclaim, then OOM-kill if
//   the memcg is still over.

import { countEvent, notifyOom, wakeOomWaiters } from "./memcg.js";
import { outOfMemory } from "./oom-killer.js";
import { reclaimMemcg } from "./reclaim.js";
import type { Memcg, Sim, Thread } from "./state.js";

/** The kernel killer may act in this memcg (v1 oom_kill_disable off, or the oom delay ran out). */
export function killerEnabled(m: Memcg): boolean {
  return !(m.version === 1 && m.oomKillDisable && !m.delayExpired);
}

export function enterOomWait(sim: Sim, m: Memcg, thread: Thread): void {
  thread.state = "oom-wait";
  sim.allocThreads.delete(thread);
  thread.oomWaitMemcg = m;
  sim.stats.stall(thread, sim.nowMs, true);
  const mmapSem = thread.task.mm.mmapSem;
  const keep = [];
  for (const h of thread.held) {
    if (h.lock === mmapSem) {
      h.lock.release(h.mode);
      thread.unwound.push(h);
    } else {
      keep.push(h);
    }
  }
  thread.held = keep;
  const newEpisode = m.oomWaiters.size === 0;
  m.oomWaiters.add(thread);
  if (!newEpisode) return;
  countEvent(sim, m, "oom");
  sim.log("oom", m.path, `under_oom: ${thread.task.name} waits, kernel OOM killer disabled`);
  notifyOom(sim, m);
  const delayMs = sim.proposals.oomDelayMs;
  if (delayMs !== null) {
    const episode = m.oomEpisode;
    sim.schedule(sim.nowMs + delayMs, {
      kind: "call",
      fn: () => {
        if (m.oomEpisode !== episode || m.oomWaiters.size === 0) return;
        m.delayExpired = true;
        sim.log("oom", m.path, `oom_delay ${delayMs} ms expired: the kernel OOM killer steps in`);
        wakeOomWaiters(sim, m);
      },
    });
  }
}

/** Queue the asynchronous limit check after an overcharge. */
export function scheduleReconcile(sim: Sim, m: Memcg): void {
  if (m.reconcilePending) return;
  m.reconcilePending = true;
  const afterMs = sim.proposals.overchargeReconcileMs ?? sim.tickMs;
  sim.schedule(sim.nowMs + afterMs, { kind: "call", fn: () => reconcile(sim, m) });
}

function reconcile(sim: Sim, m: Memcg): void {
  m.reconcilePending = false;
  if (m.limitPages === null || m.usagePages <= m.limitPages) return;
  reclaimMemcg(sim, m, m.usagePages - m.limitPages);
  if (m.usagePages <= m.limitPages) return;
  if (killerEnabled(m)) {
    outOfMemory(sim, m, null, `overcharge reconcile: ${m.usagePages - m.limitPages} pages over the limit`);
  } else {
    // v1 with the killer disabled: tell the user-space handler, it owns the decision.
    countEvent(sim, m, "oom");
    notifyOom(sim, m);
  }
  scheduleReconcile(sim, m);
}
