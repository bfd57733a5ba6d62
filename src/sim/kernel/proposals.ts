// The upstream proposals for the five kernel problems, read once from the policy into flags the mechanisms consult.

import type { KernelProposal } from "../scenario.js";

export interface Proposals {
  /** 000 (Rientjes): MMF_OOM_SKIP is set only after this long (or at exit), not when the reaper gives up. */
  victimTimeoutMs: number | null;
  /** 001: victims, and allocations that cannot fail while their domain is OOM, may use all reserves. */
  victimReserves: boolean;
  /** 002 (Weiner/Thelen): syscall charges are forced past the limit and reconciled after this long. */
  overchargeReconcileMs: number | null;
  /** 003 (Rientjes): OOM-kill instead of looping when free pages are below min/2. */
  killBelowHalfMin: boolean;
  /** 004 (Rientjes, 2011/2013): memory.oom_delay_millisecs for memcgs whose kernel killer is disabled. */
  oomDelayMs: number | null;
}

export function readProposals(list: readonly KernelProposal[]): Proposals {
  const p: Proposals = { victimTimeoutMs: null, victimReserves: false, overchargeReconcileMs: null, killBelowHalfMin: false, oomDelayMs: null };
  for (const proposal of list) {
    switch (proposal.kind) {
      case "victim-timeout":
        p.victimTimeoutMs = Math.max(0, proposal.timeoutMs);
        break;
      case "victim-reserves":
        p.victimReserves = true;
        break;
      case "overcharge-reconcile":
        p.overchargeReconcileMs = Math.max(0, proposal.reconcileMs);
        break;
      case "kill-below-half-min":
        p.killBelowHalfMin = true;
        break;
      case "oom-delay":
        p.oomDelayMs = Math.max(0, proposal.delayMs);
        break;
    }
  }
  return p;
}
