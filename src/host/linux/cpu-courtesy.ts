// Long work at the raised priority gives the CPU back for a moment now and then. At nice -20 the
// daemon's thread is worth 86 threads of nice 0 to the scheduler: a process of nice 0 that wakes
// on the CPU it holds waits until it stops, however briefly the sleeper meant to run. A decision
// natively takes a few ms, but in an emulated guest, or with hundreds of processes to read in full,
// it runs for 40-120 ms, and a latency-sensitive neighbour (a 10 ms heartbeat in the peers
// benchmark) then woke that much late. So a listing at the raised priority blocks for
// COURTESY_PAUSE_MS after every COURTESY_SLICE_MS of its work: whoever waits on that CPU runs, and
// the daemon, waking with its priority, takes the CPU back at once. Measured in the VM test bed (a
// nice -20 burst of 100 ms every 300 ms beside a 10 ms heartbeat and a busy loop of nice 0): the
// heartbeat was late by more than 30 ms 15-17 times in 15 s without pauses, 2 times with them, and
// each burst took 7% longer. A decision shorter than a slice never pauses, and neither does one
// racing memory running out (DaemonPriority.pausesForOthers): with a fast hog in the emulated guest
// the pauses and the wait for the CPU after each added 10-40 ms to a decision of 50-140.

/** The work at the raised priority between two pauses, in ms. */
export const COURTESY_SLICE_MS = 10;
/** How long each pause gives the CPU back, in ms. */
export const COURTESY_PAUSE_MS = 0.5;

export interface CourtesyClock {
  now(): number;
  /** Blocks the thread (not the event loop's turn: the whole thread, as a system call does) for ms. */
  block(ms: number): void;
}

const blockCell = new Int32Array(new SharedArrayBuffer(4));

/** performance.now(), and Atomics.wait for the block: a futex wait, so the kernel runs someone else meanwhile. */
export const THREAD_CLOCK: CourtesyClock = {
  now: () => performance.now(),
  block: (ms) => {
    Atomics.wait(blockCell, 0, 0, ms);
  },
};

export class CpuCourtesy {
  private sliceStartMs: number | null = null;
  private givenBackMs = 0;

  /** shouldPause: whether work now pauses for others (at the raised priority and not racing; work at nice 0 competes as an equal and needs no courtesy). */
  constructor(
    private readonly shouldPause: () => boolean,
    private readonly clock: CourtesyClock = THREAD_CLOCK,
  ) {}

  /** A run of work begins (a listing): its first slice counts from here, not from the last pause (the thread may have slept since). */
  begin(): void {
    this.sliceStartMs = this.clock.now();
  }

  /** Between two steps of that work: past a slice at the raised priority, the CPU is given back for a moment. */
  step(): void {
    if (this.sliceStartMs === null || !this.shouldPause()) return;
    const now = this.clock.now();
    if (now - this.sliceStartMs < COURTESY_SLICE_MS) return;
    this.clock.block(COURTESY_PAUSE_MS);
    const after = this.clock.now();
    this.givenBackMs += after - now;
    this.sliceStartMs = after;
  }

  /** All the time given back so far, in ms (pauses as they lasted, waking included). */
  totalGivenBackMs(): number {
    return this.givenBackMs;
  }
}
