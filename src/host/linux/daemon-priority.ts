// The daemon's scheduling priority: raised (nice -20, as earlyoom -p) while an incident is being
// handled, so that a decision runs ahead of the workload that is filling memory, and the priority
// the daemon was started with the rest of the time. A thread at nice -20 is worth 86 threads of
// nice 0 to the scheduler, and a process of nice 0 that wakes on the CPU it holds waits until it
// stops: in the emulated test guest every one of the daemon's routine bursts (a listing for growth,
// 100-300 ms there; a garbage collection, 20-30 ms, with V8's helper threads busy on the other CPU
// at the same time) made a 10 ms heartbeat beside it wake that much late, while memory was still
// plentiful. Sampling needs no raised priority: a thread waking from a sleep is placed ahead of
// the busy ones at its own nice value, and a sample is a few reads. Linux keeps the nice value per
// thread; Node's os.setPriority() without a pid changes the calling thread's, the one running the
// daemon's JavaScript (the kernel's own threads, libuv's pool and V8's helpers keep theirs).

import { getPriority, setPriority } from "node:os";

/** As earlyoom -p. */
export const DAEMON_NICENESS = -20;

export class DaemonPriority {
  /** The nice value the daemon was started with, once raising it was shown to work; null: it cannot be raised. */
  private startNiceness: number | null = null;
  /** Incidents under way: the thread is raised while there is at least one. */
  private urgent = 0;
  /** Those of them racing memory running out: no pauses for others while there is at least one. */
  private racing = 0;
  /** Inside atStartPriority's work: the thread runs at the start priority, whatever is under way. */
  private steppedDown = false;
  /** Why the priority could not be changed once after the start: it stays as it is from then on. */
  private changeError: string | null = null;

  /** Shows that the thread may be raised (raises it and steps back down); the start note says whether. */
  prepare(): string {
    const before = getPriority();
    try {
      setPriority(DAEMON_NICENESS);
      setPriority(before);
    } catch (error) {
      return `cannot raise scheduling priority to nice ${DAEMON_NICENESS} (${codeOf(error)}; needs CAP_SYS_NICE): kills may wait behind busy processes`;
    }
    this.startNiceness = before;
    return `scheduling priority: nice ${DAEMON_NICENESS} while an incident is handled, nice ${before} otherwise`;
  }

  /** An incident begins: the thread is raised until every release returned so far has been called (once each). */
  beginUrgent(racing = false): () => void {
    this.urgent++;
    if (racing) this.racing++;
    this.apply();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.urgent--;
      if (racing) this.racing--;
      this.apply();
    };
  }

  /** Runs work at the start priority (a routine listing during an incident elsewhere), then puts the priority back. */
  atStartPriority<T>(work: () => T): T {
    if (this.steppedDown) return work();
    this.steppedDown = true;
    this.apply();
    try {
      return work();
    } finally {
      this.steppedDown = false;
      this.apply();
    }
  }

  /** Whether the thread runs at DAEMON_NICENESS at this moment. */
  raisedNow(): boolean {
    return this.target() === DAEMON_NICENESS && this.changeError === null;
  }

  /** Whether long work should pause for others now (cpu-courtesy.ts): raised, and no incident racing memory running out. */
  pausesForOthers(): boolean {
    return this.raisedNow() && this.racing === 0;
  }

  /** Null while every change of priority after the start has worked. */
  changeFailure(): string | null {
    return this.changeError;
  }

  private target(): number | null {
    if (this.startNiceness === null) return null;
    return this.urgent > 0 && !this.steppedDown ? DAEMON_NICENESS : this.startNiceness;
  }

  private apply(): void {
    const target = this.target();
    if (target === null || this.changeError !== null) return;
    try {
      if (getPriority() !== target) setPriority(target);
    } catch (error) {
      // Raising needs CAP_SYS_NICE, which prepare() proved; should it fail all the same, the thread
      // stays where it is and no later change is tried.
      this.changeError = `cannot set scheduling priority to nice ${target} (${codeOf(error)}): staying at nice ${getPriority()}`;
    }
  }
}

function codeOf(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? "error";
}
