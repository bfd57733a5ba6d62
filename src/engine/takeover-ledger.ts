// What oomwarden changed in the kernel's settings, kept where a later process can read it: a daemon
// killed by SIGKILL cannot restore oom_kill_disable itself, but `oomwarden restore` (or the next
// daemon) can, because the original value was written down before it was changed.
// A change is made only after remember() said the original is on disk: a takeover whose original
// could be lost (read-only or full state directory) is refused, not made.
// Each original is written down with the identity of its cgroup (boot and inode): a path names
// another cgroup once the first was removed and one made again there, or after a reboot, and the
// first one's original must never be written into it.

import type { Result } from "../core/result.js";
import type { CgroupIdentity } from "./host.js";

const OK: Result<void> = { ok: true, value: undefined };

/** An original as written down, and the cgroup it belongs to (null: an older oomwarden wrote none; believed by path). */
export interface Recorded<T> {
  original: T;
  identity: CgroupIdentity | null;
}

export interface LedgerContents {
  /** cgroup path -> original oom_kill_disable. */
  cgroups: Record<string, Recorded<boolean>>;
  /** Soft-limit mode: cgroup path -> original hard limit in bytes (null: none). */
  limits: Record<string, Recorded<number | null>>;
}

/** A cgroup as the ledger knows it: its path, and which cgroup is at that path now. */
export interface LedgerKey {
  path: string;
  identity: CgroupIdentity;
}

/** Keeps the contents beyond the process; ok only once they are there (see FileLedger). */
export type LedgerStore = (next: LedgerContents) => Result<void>;

export function emptyLedgerContents(): LedgerContents {
  return { cgroups: {}, limits: {} };
}

/**
 * Why an entry written down for `recorded` is not about the cgroup `current` (null: it is).
 * The one rule for "same cgroup", for the daemon's takeover and for every give-back.
 */
export function staleReason(recorded: CgroupIdentity | null, current: CgroupIdentity): string | null {
  if (recorded === null) return null;
  if (recorded.bootId !== current.bootId) return "it was written down before the machine last booted";
  if (recorded.inode !== current.inode) return "the cgroup it was written down for was removed, and the one there now was made since";
  return null;
}

export class TakeoverLedger {
  /**
   * @param store where each change goes before it is made in memory (default: nowhere, for tests and the demo)
   * @param onError hears about forget() failures, which nobody else can report
   */
  constructor(
    private contents: LedgerContents = emptyLedgerContents(),
    private readonly store: LedgerStore = () => OK,
    private readonly onError: (message: string) => void = () => {},
  ) {}

  /** The original oom_kill_disable of this cgroup, if an earlier oomwarden changed it and did not restore it. */
  recall(key: LedgerKey): boolean | null {
    return this.matching(this.contents.cgroups[key.path], key)?.original ?? null;
  }

  /** Written durably before the change is made; an error means it is not, and the change must not be made. */
  remember(key: LedgerKey, originalOomKillDisable: boolean): Result<void> {
    const known = this.matching(this.contents.cgroups[key.path], key);
    if (known !== undefined && known.identity !== null && known.original === originalOomKillDisable) return OK;
    return this.commit({ ...this.contents, cgroups: { ...this.contents.cgroups, [key.path]: { original: originalOomKillDisable, identity: key.identity } } });
  }

  /** After the original value is back, or once there is nothing left to give it back to. */
  forget(cgroupPath: string): void {
    if (!(cgroupPath in this.contents.cgroups)) return;
    const { [cgroupPath]: _gone, ...rest } = this.contents.cgroups;
    this.reportFailure(this.commit({ ...this.contents, cgroups: rest }));
  }

  /** Soft-limit mode: the hard limit found before it was raised (null: it had none); undefined if nothing is recorded. */
  recallLimit(key: LedgerKey): number | null | undefined {
    return this.matching(this.contents.limits[key.path], key)?.original;
  }

  /** Durable like remember(). */
  rememberLimit(key: LedgerKey, originalLimitBytes: number | null): Result<void> {
    const known = this.matching(this.contents.limits[key.path], key);
    if (known !== undefined && known.identity !== null && known.original === originalLimitBytes) return OK;
    return this.commit({ ...this.contents, limits: { ...this.contents.limits, [key.path]: { original: originalLimitBytes, identity: key.identity } } });
  }

  forgetLimit(cgroupPath: string): void {
    if (!(cgroupPath in this.contents.limits)) return;
    const { [cgroupPath]: _gone, ...rest } = this.contents.limits;
    this.reportFailure(this.commit({ ...this.contents, limits: rest }));
  }

  /**
   * Drops the entries at key.path that were written down for another cgroup (see staleReason) and
   * says why, in one line naming the path; null when there were none.
   */
  dropStale(key: LedgerKey): string | null {
    const reason = [this.contents.cgroups[key.path], this.contents.limits[key.path]]
      .map((entry) => (entry === undefined ? null : staleReason(entry.identity, key.identity)))
      .find((why) => why !== null);
    if (reason === undefined || reason === null) return null;
    this.forget(key.path);
    this.forgetLimit(key.path);
    return `the takeover ledger's entry for ${key.path} is dropped: ${reason}, so its original is not that cgroup's`;
  }

  /** Every path with an entry of either kind, for a give-back. */
  listedPaths(): string[] {
    return [...new Set([...Object.keys(this.contents.cgroups), ...Object.keys(this.contents.limits)])];
  }

  /** Everything, as written down (a copy). */
  recorded(): LedgerContents {
    return structuredClone(this.contents);
  }

  private matching<T>(entry: Recorded<T> | undefined, key: LedgerKey): Recorded<T> | undefined {
    return entry !== undefined && staleReason(entry.identity, key.identity) === null ? entry : undefined;
  }

  /**
   * The one way entries change: the store first, memory only once the store holds the new state.
   * So recall() never answers with something a later process could not read back, and the
   * shortcut in remember() (already recorded) is true on disk too.
   */
  private commit(next: LedgerContents): Result<void> {
    const stored = this.store(next);
    if (stored.ok) this.contents = next;
    return stored;
  }

  /** remember() failures are the caller's to report (it refuses the takeover and says why); forget() ones are reported here. */
  private reportFailure(result: Result<void>): void {
    if (!result.ok) this.onError(result.error.message);
  }
}

/** No memory across processes (tests, the demo). */
export class InMemoryLedger extends TakeoverLedger {}
