// The daemon's scheduling priority. It is raised at start (nice -20, as earlyoom -p) so that a
// decision runs ahead of the workload that is filling memory. A routine listing for growth is not
// a decision, yet in an emulated guest it holds a CPU for 100-300 ms, and at nice -20 nothing of
// nice 0 that wakes on that CPU can preempt it: so routine work runs at the priority the daemon
// was started with, and only the decision path keeps the raised one. Linux keeps the nice value per
// thread; Node's os.setPriority() without a pid changes the calling thread's, the one running the
// daemon's JavaScript (the kernel's own threads and libuv's pool keep theirs).

import { getPriority, setPriority } from "node:os";

/** As earlyoom -p. */
export const DAEMON_NICENESS = -20;

export class DaemonPriority {
  /** The nice value the daemon was started with, once raised; null: never raised, nothing to step down from. */
  private startNiceness: number | null = null;
  /** Why the raised priority could not be restored once: routine work then stays where it is (not lowered again). */
  private restoreError: string | null = null;

  /** Raises the calling thread to DAEMON_NICENESS; the start note says whether it could. */
  raise(): string {
    const before = getPriority();
    try {
      setPriority(DAEMON_NICENESS);
    } catch (error) {
      return `cannot raise scheduling priority to nice ${DAEMON_NICENESS} (${codeOf(error)}; needs CAP_SYS_NICE): kills may wait behind busy processes`;
    }
    this.startNiceness = before;
    return `scheduling priority raised (nice ${DAEMON_NICENESS}; routine listings at nice ${before})`;
  }

  /**
   * Runs work at the start priority, then raises the thread again. Raising needs CAP_SYS_NICE, which
   * the start proved; should it fail all the same, the thread stays at the start priority and every
   * later call runs its work as it is (restoreFailure says why).
   */
  atStartPriority<T>(work: () => T): T {
    if (this.startNiceness === null || this.restoreError !== null) return work();
    try {
      setPriority(this.startNiceness);
    } catch {
      return work();
    }
    try {
      return work();
    } finally {
      try {
        setPriority(DAEMON_NICENESS);
      } catch (error) {
        this.restoreError = `cannot raise scheduling priority back to nice ${DAEMON_NICENESS} (${codeOf(error)}): staying at nice ${this.startNiceness}`;
      }
    }
  }

  /** Null while the raised priority has always been restored. */
  restoreFailure(): string | null {
    return this.restoreError;
  }
}

function codeOf(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? "error";
}
