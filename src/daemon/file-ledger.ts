// The takeover ledger as a small JSON file in the state directory, so the original
// oom_kill_disable values and limits survive a daemon killed by SIGKILL or a power loss.
// The state directory's owner lock (state-dir-lock.ts) makes its owner the only writer.

import type { Result } from "../core/result.js";
import type { TakeoverLedger } from "../engine/takeover-ledger.js";
import { readLedgerFile, removeStaleTemporaries, renameDurably, writeLedgerFile, type LedgerContents } from "./ledger-file.js";

const OK: Result<void> = { ok: true, value: undefined };

export class FileLedger implements TakeoverLedger {
  private constructor(
    readonly path: string,
    private contents: LedgerContents,
    /** Why nothing may be written (an unreadable file that could not be moved aside), or null. */
    private readonly refusal: string | null,
    private readonly onError: (message: string) => void,
  ) {}

  /**
   * For the daemon. A missing file is an empty ledger. One that was read and is not a ledger is
   * moved aside (to `.unreadable-<time>`, where its entries can still be read by hand) and a new one
   * started; if even that fails, every write is refused, since rewriting it would destroy originals
   * it may hold. One that could not be read at all (EIO, EMFILE), or is not this user's own file,
   * is an error: its contents are unknown, and starting without them would treat the cgroups it
   * lists as set by their owners and never give their originals back.
   */
  static open(path: string, onError: (message: string) => void = () => {}): Result<FileLedger> {
    const leftovers = removeStaleTemporaries(path);
    if (leftovers.length > 0) onError(`removed ${leftovers.join(", ")}: left beside the takeover ledger by a writer that died mid-write`);
    const read = readLedgerFile(path);
    if (read.ok) return { ok: true, value: new FileLedger(path, read.value, null, onError) };
    if (read.error.code !== "LEDGER_INVALID") return read;
    return { ok: true, value: new FileLedger(path, { cgroups: {}, limits: {} }, setAside(path, read.error.message, onError), onError) };
  }

  /** For `oomwarden restore`: anything but a readable ledger (or none at all) is an error, never an empty ledger. */
  static readExisting(path: string, onError: (message: string) => void = () => {}): Result<FileLedger> {
    const read = readLedgerFile(path);
    return read.ok ? { ok: true, value: new FileLedger(path, read.value, null, onError) } : read;
  }

  recall(cgroupPath: string): boolean | null {
    return this.contents.cgroups[cgroupPath] ?? null;
  }

  remember(cgroupPath: string, originalOomKillDisable: boolean): Result<void> {
    if (this.contents.cgroups[cgroupPath] === originalOomKillDisable) return OK;
    return this.commit({ ...this.contents, cgroups: { ...this.contents.cgroups, [cgroupPath]: originalOomKillDisable } });
  }

  forget(cgroupPath: string): void {
    if (!(cgroupPath in this.contents.cgroups)) return;
    const { [cgroupPath]: _gone, ...rest } = this.contents.cgroups;
    this.reportFailure(this.commit({ ...this.contents, cgroups: rest }));
  }

  all(): Record<string, boolean> {
    return { ...this.contents.cgroups };
  }

  recallLimit(cgroupPath: string): number | null | undefined {
    return cgroupPath in this.contents.limits ? this.contents.limits[cgroupPath] : undefined;
  }

  rememberLimit(cgroupPath: string, originalLimitBytes: number | null): Result<void> {
    if (this.contents.limits[cgroupPath] === originalLimitBytes) return OK;
    return this.commit({ ...this.contents, limits: { ...this.contents.limits, [cgroupPath]: originalLimitBytes } });
  }

  forgetLimit(cgroupPath: string): void {
    if (!(cgroupPath in this.contents.limits)) return;
    const { [cgroupPath]: _gone, ...rest } = this.contents.limits;
    this.reportFailure(this.commit({ ...this.contents, limits: rest }));
  }

  allLimits(): Record<string, number | null> {
    return { ...this.contents.limits };
  }

  /**
   * The one way entries change: the file first, memory only once the file holds the new state.
   * So recall() never answers with something a later process could not read back, and the
   * shortcut in remember() (already recorded) is true on disk too.
   */
  private commit(next: LedgerContents): Result<void> {
    const written =
      this.refusal !== null ? { ok: false as const, error: { code: "LEDGER", message: this.refusal } } : writeLedgerFile(this.path, next);
    if (written.ok) this.contents = next;
    return written;
  }

  /** remember() failures are the caller's to report (it refuses the takeover and says why); forget() ones are reported here. */
  private reportFailure(result: Result<void>): void {
    if (!result.ok) this.onError(result.error.message);
  }
}

/** Moves an unreadable ledger out of the way; returns null if done, else why writes are refused. */
function setAside(path: string, problem: string, onError: (message: string) => void): string | null {
  // A name of its own each time: an earlier unreadable copy must not be overwritten either.
  const aside = `${path}.unreadable-${new Date().toISOString().replace(/[:.]/g, "-")}`;
  try {
    renameDurably(path, aside);
    onError(`${problem}; moved to ${aside} (the originals it may list can be read there by hand), starting a new ledger`);
    return null;
  } catch (error) {
    const refusal = `${problem}; it cannot be moved aside (${(error as Error).message}), so nothing is recorded and no cgroup is taken over until it is repaired or removed`;
    onError(refusal);
    return refusal;
  }
}
