// Sleeping locks: an rwsem with strict FIFO queueing and a mutex.
//
// The rwsem rule that makes the reaper give up on a victim: once a writer is queued, later readers
// queue behind it, and down_read_trylock fails while anyone waits. So a memory hog whose faulting
// threads hold mmap_sem for read while a thread doing mmap() waits for write keeps the OOM reaper
// (which only trylocks) out for as long as readers keep arriving ahead of the writer.
// On release, the waiters at the head of the queue are granted: one writer, or every reader up
// to the first queued writer (the 2018 rwsem_mark_wake behaviour).

export type LockMode = "read" | "write";

export interface LockWaiter {
  mode: LockMode;
  /** Who waits (a thread's name, "oom_reaper", "process_mrelease"), for /proc-like views. */
  who: string;
  /** Called when the lock is granted to this waiter (the waiter now holds it). */
  granted: () => void;
}

export class SimLock {
  private readers = 0;
  private writer = false;
  private readonly queue: LockWaiter[] = [];

  constructor(
    readonly name: string,
    readonly kind: "rwsem" | "mutex",
  ) {}

  /** A mutex has one mode: every acquisition is exclusive. */
  normalize(mode: LockMode): LockMode {
    return this.kind === "mutex" ? "write" : mode;
  }

  get readerCount(): number {
    return this.readers;
  }
  get writeHeld(): boolean {
    return this.writer;
  }
  get waiters(): readonly LockWaiter[] {
    return this.queue;
  }

  /** Take the lock now if FIFO allows it (nothing queued and compatible holders). */
  tryAcquire(mode: LockMode): boolean {
    const m = this.normalize(mode);
    if (this.queue.length > 0) return false;
    if (m === "read") {
      if (this.writer) return false;
      this.readers++;
      return true;
    }
    if (this.writer || this.readers > 0) return false;
    this.writer = true;
    return true;
  }

  /** Take the lock or join the queue; true if taken at once. */
  acquire(waiter: LockWaiter): boolean {
    waiter.mode = this.normalize(waiter.mode);
    if (this.tryAcquire(waiter.mode)) return true;
    this.queue.push(waiter);
    return false;
  }

  /** Leave the queue without the lock (e.g. a waiter that gave up); may unblock those behind. */
  cancel(waiter: LockWaiter): void {
    const i = this.queue.indexOf(waiter);
    if (i < 0) return;
    this.queue.splice(i, 1);
    this.grantHead();
  }

  release(mode: LockMode): void {
    const m = this.normalize(mode);
    if (m === "read") {
      if (this.readers > 0) this.readers--;
    } else {
      this.writer = false;
    }
    this.grantHead();
  }

  private grantHead(): void {
    const granted: LockWaiter[] = [];
    while (this.queue.length > 0) {
      const head = this.queue[0] as LockWaiter;
      if (head.mode === "write") {
        if (this.writer || this.readers > 0 || granted.length > 0) break;
        this.writer = true;
        granted.push(this.queue.shift() as LockWaiter);
        break;
      }
      if (this.writer) break;
      this.readers++;
      granted.push(this.queue.shift() as LockWaiter);
    }
    for (const w of granted) w.granted();
  }
}
