// The takeover ledger as a small JSON file in the state directory, so the original
// oom_kill_disable values and limits survive a daemon killed by SIGKILL or a power loss.
// The state directory's owner lock (state-dir-lock.ts) makes its owner the only writer.

import type { Result } from "../core/result.js";
import { emptyLedgerContents, TakeoverLedger, type LedgerContents } from "../engine/takeover-ledger.js";
import { readLedgerFile, removeStaleTemporaries, renameDurably, writeLedgerFile } from "./ledger-file.js";

export interface FileLedgerOptions {
  /** forget() failures, and what open() found and did about it. */
  onError?: (message: string) => void;
  /** Why this process may no longer write the file (its state directory is not the one it locked), or null. */
  stillOwned?: () => string | null;
}

export class FileLedger extends TakeoverLedger {
  private constructor(
    readonly path: string,
    contents: LedgerContents,
    /** Why nothing may be written (an unreadable file that could not be moved aside), or null. */
    refusal: string | null,
    options: FileLedgerOptions,
  ) {
    const stillOwned = options.stillOwned ?? (() => null);
    super(
      contents,
      (next) => {
        const refused = refusal ?? stillOwned();
        return refused !== null ? { ok: false, error: { code: "LEDGER", message: refused } } : writeLedgerFile(path, next);
      },
      options.onError,
    );
  }

  /**
   * For the daemon. A missing file is an empty ledger. One that was read and is not a ledger is
   * moved aside (to `.unreadable-<time>`, where its entries can still be read by hand) and a new one
   * started; if even that fails, every write is refused, since rewriting it would destroy originals
   * it may hold. One that could not be read at all (EIO, EMFILE), or is not this user's own file,
   * is an error: its contents are unknown, and starting without them would treat the cgroups it
   * lists as set by their owners and never give their originals back.
   */
  static open(path: string, options: FileLedgerOptions = {}): Result<FileLedger> {
    const onError = options.onError ?? (() => {});
    const leftovers = removeStaleTemporaries(path);
    if (leftovers.length > 0) onError(`removed ${leftovers.join(", ")}: left beside the takeover ledger by a writer that died mid-write`);
    const read = readLedgerFile(path);
    if (read.ok) return { ok: true, value: new FileLedger(path, read.value, null, options) };
    if (read.error.code !== "LEDGER_INVALID") return read;
    return { ok: true, value: new FileLedger(path, emptyLedgerContents(), setAside(path, read.error.message, onError), options) };
  }

  /** For `oomwarden restore`: anything but a readable ledger (or none at all) is an error, never an empty ledger. */
  static readExisting(path: string, options: FileLedgerOptions = {}): Result<FileLedger> {
    const read = readLedgerFile(path);
    return read.ok ? { ok: true, value: new FileLedger(path, read.value, null, options) } : read;
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
