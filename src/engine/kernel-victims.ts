// The processes the kernel's OOM killer took lately, as its kill records named them: an outcome of
// ours whose victim went that way says so (the kernel's SIGKILL landed first, during a SIGTERM's
// grace or between our decision and our signal), rather than credit our own signal with it.
// Pids only, as the kernel log gives them; a few seconds of reuse risk is why the list is short.

/** The kernel's victims remembered: enough for a burst of kills during one decision. */
const KEPT_VICTIMS = 64;

export class KernelVictims {
  private readonly pids: number[] = [];

  record(pids: readonly number[]): void {
    for (const pid of pids) {
      this.pids.push(pid);
      if (this.pids.length > KEPT_VICTIMS) this.pids.shift();
    }
  }

  has(pid: number): boolean {
    return this.pids.includes(pid);
  }
}
