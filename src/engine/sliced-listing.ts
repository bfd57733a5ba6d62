// A routine listing of the machine's processes (for growth) taken in slices of a few ms, with a
// pause between them. In one go, a listing holds the daemon's next sample back for as long as it
// takes, which on a machine with thousands of processes is long enough for a hog to pass a line
// unseen, and holds the CPU: under emulation one of forty processes took 10-90 ms of the thread
// while a process waking on that CPU waited. A decision's listing is not sliced: the kill waits for it.

import type { ListingOptions, RoutineListing, TimerHandle } from "./host.js";
import type { EngineContext } from "./engine-context.js";
import type { ProcessSample } from "../core/types.js";

/** The most of the daemon's thread one slice takes before it gives the CPU back. */
export const ROUTINE_SLICE_MS = 5;
/** How long it gives it back: a timer's sleep, so another process (or the daemon's next sample) runs. */
export const ROUTINE_PAUSE_MS = 1;

/** What a finished listing reports: when it began, what it saw, and the thread time its slices took (pauses left out). */
export type SlicedListingDone = (startedAtMs: number, processes: ProcessSample[], workMs: number) => void;

interface Running {
  listing: RoutineListing;
  startedAtMs: number;
  workMs: number;
  timer: TimerHandle | null;
}

export class SlicedListing {
  private running: Running | null = null;

  constructor(
    private readonly ctx: EngineContext,
    private readonly done: SlicedListingDone,
  ) {}

  /** A listing is under way: the next one waits for it. */
  get busy(): boolean {
    return this.running !== null;
  }

  /** Begins a listing, its first slice now (none while one is under way, or if /proc cannot be listed: growth is then measured from the next). */
  start(atMs: number, options: ListingOptions): void {
    if (this.running !== null) return;
    const begun = this.ctx.host.beginRoutineListing(options);
    if (!begun.ok) return;
    this.running = { listing: begun.value, startedAtMs: atMs, workMs: 0, timer: null };
    this.step();
  }

  /** Drops the listing under way (a decision lists for itself; a stopped guard lists nothing). */
  abandon(): void {
    if (this.running?.timer != null) this.ctx.host.clearTimer(this.running.timer);
    this.running = null;
  }

  private step(): void {
    const running = this.running;
    if (running === null) return;
    running.timer = null;
    const { host } = this.ctx;
    const sliceStartMs = host.now();
    const listed = running.listing.next(ROUTINE_SLICE_MS);
    running.workMs += host.now() - sliceStartMs;
    // Abandoned during its own slice (a sample that began a decision): nothing more of it.
    if (this.running !== running) return;
    if (listed === null) {
      running.timer = host.setTimer(ROUTINE_PAUSE_MS, () => this.step());
      return;
    }
    this.running = null;
    if (listed.ok) this.done(running.startedAtMs, listed.value, running.workMs);
  }
}
