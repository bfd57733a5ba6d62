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
  /** v2 guard band: cgroup path -> original memory.high in bytes (null: "max"). */
  highs: Record<string, Recorded<number | null>>;
}

/** The settings the ledger keeps originals of, each under its own key of LedgerContents. */
type Setting = keyof LedgerContents;
const SETTINGS: readonly Setting[] = ["cgroups", "limits", "highs"];
type Original<S extends Setting> = LedgerContents[S][string]["original"];

/** A cgroup as the ledger knows it: its path, and which cgroup is at that path now. */
export interface LedgerKey {
  path: string;
  identity: CgroupIdentity;
}

/** Keeps the contents beyond the process; ok only once they are there (see FileLedger). */
export type LedgerStore = (next: LedgerContents) => Result<void>;

export function emptyLedgerContents(): LedgerContents {
  return { cgroups: {}, limits: {}, highs: {} };
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
    return this.recallSetting("cgroups", key) ?? null;
  }

  /** Written durably before the change is made; an error means it is not, and the change must not be made. */
  remember(key: LedgerKey, originalOomKillDisable: boolean): Result<void> {
    return this.rememberSetting("cgroups", key, originalOomKillDisable);
  }

  /** After the original value is back, or once there is nothing left to give it back to. */
  forget(cgroupPath: string): void {
    this.forgetSetting("cgroups", cgroupPath);
  }

  /** Soft-limit mode: the hard limit found before it was raised (null: it had none); undefined if nothing is recorded. */
  recallLimit(key: LedgerKey): number | null | undefined {
    return this.recallSetting("limits", key);
  }

  /** Durable like remember(). */
  rememberLimit(key: LedgerKey, originalLimitBytes: number | null): Result<void> {
    return this.rememberSetting("limits", key, originalLimitBytes);
  }

  forgetLimit(cgroupPath: string): void {
    this.forgetSetting("limits", cgroupPath);
  }

  /** v2 guard band: memory.high as found before the band was set (null: "max"); undefined if nothing is recorded. */
  recallHigh(key: LedgerKey): number | null | undefined {
    return this.recallSetting("highs", key);
  }

  /** Durable like remember(). */
  rememberHigh(key: LedgerKey, originalHighBytes: number | null): Result<void> {
    return this.rememberSetting("highs", key, originalHighBytes);
  }

  forgetHigh(cgroupPath: string): void {
    this.forgetSetting("highs", cgroupPath);
  }

  /** Every original of this path goes (the cgroup is gone, or was never ours). */
  forgetAll(cgroupPath: string): void {
    for (const setting of SETTINGS) this.forgetSetting(setting, cgroupPath);
  }

  private recallSetting<S extends Setting>(setting: S, key: LedgerKey): Original<S> | undefined {
    const entry = this.contents[setting][key.path] as Recorded<Original<S>> | undefined;
    return this.matching(entry, key)?.original;
  }

  private rememberSetting<S extends Setting>(setting: S, key: LedgerKey, original: Original<S>): Result<void> {
    const known = this.matching(this.contents[setting][key.path] as Recorded<Original<S>> | undefined, key);
    if (known !== undefined && known.identity !== null && known.original === original) return OK;
    return this.commit({ ...this.contents, [setting]: { ...this.contents[setting], [key.path]: { original, identity: key.identity } } });
  }

  private forgetSetting(setting: Setting, cgroupPath: string): void {
    if (!(cgroupPath in this.contents[setting])) return;
    const { [cgroupPath]: _gone, ...rest } = this.contents[setting];
    this.reportFailure(this.commit({ ...this.contents, [setting]: rest }));
  }

  /**
   * Drops the entries at key.path that were written down for another cgroup (see staleReason) and
   * says why, in one line naming the path; null when there were none.
   */
  dropStale(key: LedgerKey): string | null {
    const reason = SETTINGS.map((setting) => this.contents[setting][key.path])
      .map((entry) => (entry === undefined ? null : staleReason(entry.identity, key.identity)))
      .find((why) => why !== null);
    if (reason === undefined || reason === null) return null;
    this.forgetAll(key.path);
    return `the takeover ledger's entry for ${key.path} is dropped: ${reason}, so its original is not that cgroup's`;
  }

  /** Every path with an entry of any kind, for a give-back. */
  listedPaths(): string[] {
    return [...new Set(SETTINGS.flatMap((setting) => Object.keys(this.contents[setting])))];
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
