// The terminate level's grace: after SIGTERM the victim has a while to exit on its own (a browser
// saving its session, an editor its buffers). The grace ends early in SIGKILL the moment memory
// reaches the kill level, and at its end in SIGKILL only if memory is still short: a process that
// ignored SIGTERM on a machine that has recovered meanwhile is left alone, and journaled so.

import type { Host, TimerHandle, Unwatch, VictimHandle } from "./host.js";

/** What the scope says while the grace runs. */
export interface TerminatePlan {
  graceMs: number;
  /** Memory reached the kill level (or a rule as urgent fired): SIGKILL now. */
  killNow: () => boolean;
  /** Memory is still short at the grace's end: SIGKILL then. */
  stillNeeded: () => boolean;
}

export type GraceEnding =
  /** The victim exited within the grace. */
  | "exited"
  /** The victim is on its way out (in its exit, freeing its memory): confirmed from here like a kill, never spared. */
  | "exiting"
  /** SIGKILL before the grace ended: the kill level was reached. */
  | "kill-level"
  /** SIGKILL at the grace's end: memory still short. */
  | "grace-over"
  /** Alive at the grace's end, but memory was no longer short: no SIGKILL. */
  | "not-needed"
  /** The engine stopped during the grace. */
  | "stopped";

export interface GraceResult {
  ending: GraceEnding;
  /** host.now() at the SIGKILL (null: none was sent). */
  sigkillAtMs: number | null;
  /** The SIGKILL failed (ESRCH: the victim exited just then). */
  sigkillError?: string;
}

/**
 * How often the kill level is checked during the grace: a hog filling memory at 1 GiB/s takes
 * 100 ms for 100 MiB, about the distance between the terminate and the kill level on a small machine.
 */
export const GRACE_CHECK_MS = 100;

/**
 * dying: resolves true once the kernel is known to be ending the victim (a process_mrelease of it was
 * accepted: SIGTERM was left to its default action, as fatal as SIGKILL); the grace ends there, as
 * for a victim seen exiting.
 */
export function awaitGrace(host: Host, victim: VictimHandle, plan: TerminatePlan, isStopped: () => boolean, dying?: Promise<boolean>): Promise<GraceResult> {
  return new Promise<GraceResult>((resolve) => {
    const startedAtMs = host.now();
    let timer: TimerHandle | null = null;
    let unwatch: Unwatch | null = null;
    let done = false;
    const finish = (result: GraceResult): void => {
      if (done) return;
      done = true;
      if (timer !== null) host.clearTimer(timer);
      unwatch?.();
      resolve(result);
    };
    const sigkill = (ending: "kill-level" | "grace-over"): void => {
      const sent = host.kill(victim);
      finish(sent.ok ? { ending, sigkillAtMs: host.now() } : { ending, sigkillAtMs: null, sigkillError: sent.error.message });
    };
    const check = (): void => {
      timer = null;
      if (done) return;
      if (isStopped()) return finish({ ending: "stopped", sigkillAtMs: null });
      // A victim whose SIGTERM handler (or default action) has it exiting is done with the grace:
      // its memory is coming back, and the confirmation reaps it if it is slow.
      const now = host.readProcess(victim.pid);
      if (now.ok && now.value.startTimeTicks === victim.startTimeTicks && now.value.exiting) return finish({ ending: "exiting", sigkillAtMs: null });
      if (plan.killNow()) return sigkill("kill-level");
      const leftMs = plan.graceMs - (host.now() - startedAtMs);
      if (leftMs <= 0) {
        if (plan.stillNeeded()) return sigkill("grace-over");
        return finish({ ending: "not-needed", sigkillAtMs: null });
      }
      timer = host.setTimer(Math.min(GRACE_CHECK_MS, leftMs), check);
    };
    void dying?.then((yes) => {
      if (yes) finish({ ending: "exiting", sigkillAtMs: null });
    });
    const watched = host.watchExit(victim, () => finish({ ending: "exited", sigkillAtMs: null }));
    if (watched.ok) unwatch = watched.value;
    if (!done) timer = host.setTimer(Math.min(GRACE_CHECK_MS, plan.graceMs), check);
  });
}
