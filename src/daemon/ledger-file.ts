// The takeover ledger's file (its text: ledger-format.ts) and its durable replacement. The file is replaced whole:
// written to a temporary file, synced, renamed over the old one, and the directory synced too,
// since the rename is a change of the directory that a power loss can otherwise undo.

import { closeSync, constants as fsConstants, fstatSync, fsyncSync, openSync, readdirSync, readFileSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import type { Result } from "../core/result.js";
import { emptyLedgerContents, type LedgerContents } from "../engine/takeover-ledger.js";
import { formatLedger, parseLedgerText } from "./ledger-format.js";
import { makeParents } from "./make-parents.js";
import { privateStateAdvice, unsafeStateReason } from "./private-state.js";
import { systemReason } from "./system-reason.js";

/** Never through a symbolic link, nor a FIFO put in its place (which would block the open). */
const READ_FLAGS = fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK;
/** A new file or nothing: not one planted under the temporary name, not through a link. */
const CREATE_FLAGS = fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW;

/**
 * A missing file is an empty ledger. Errors name the file: LEDGER_UNREADABLE when it could not be
 * read (nothing is known about its contents), LEDGER_UNSAFE when it is not this user's own plain
 * file, LEDGER_INVALID when it was read and is not a ledger.
 */
export function readLedgerFile(path: string): Result<LedgerContents> {
  let text: string;
  try {
    const fd = openSync(path, READ_FLAGS);
    try {
      const unsafe = unsafeStateReason(path, fstatSync(fd), "file");
      if (unsafe !== null) return failure("LEDGER_UNSAFE", `the takeover ledger ${unsafe}: ${privateStateAdvice("file")}`);
      text = readFileSync(fd, "utf8");
    } finally {
      closeSync(fd);
    }
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return { ok: true, value: emptyLedgerContents() };
    if (code === "ELOOP") return failure("LEDGER_UNSAFE", `the takeover ledger ${path} is a symbolic link: ${privateStateAdvice("file")}`);
    return failure("LEDGER_UNREADABLE", `cannot read the takeover ledger ${path}: ${systemReason(error)}`);
  }
  return parseLedgerText(text, path);
}

/** Ok only once the new contents are on disk, rename included; on failure no temporary file is left. */
export function writeLedgerFile(path: string, contents: LedgerContents): Result<void> {
  const temporary = temporaryPathOf(path);
  let created = false;
  let renamed = false;
  try {
    makeParents(dirname(path));
    const fd = openSync(temporary, CREATE_FLAGS, 0o600);
    created = true;
    try {
      writeSync(fd, formatLedger(contents));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, path);
    renamed = true;
    syncDirectory(dirname(path));
    return { ok: true, value: undefined };
  } catch (error) {
    if (created && !renamed) removeQuietly(temporary);
    return failure("LEDGER", `cannot write the takeover ledger ${path}: ${systemReason(error)}`);
  }
}

/** Each writer its own name, so a dead writer's leftover is never the file another one syncs. */
function temporaryPathOf(path: string): string {
  return `${path}.${process.pid}.tmp`;
}

/**
 * Removes the temporary files a writer killed mid-write left beside the ledger. Only for the
 * state directory's owner: nobody else writes there, so each one is a leftover. Returns their names.
 */
export function removeStaleTemporaries(path: string): string[] {
  const prefix = `${basename(path)}.`;
  const isTemporary = (name: string): boolean => name.startsWith(prefix) && /^\d+\.tmp$/.test(name.slice(prefix.length));
  let names: string[];
  try {
    names = readdirSync(dirname(path)).filter(isTemporary);
  } catch {
    return [];
  }
  for (const name of names) removeQuietly(join(dirname(path), name));
  return names;
}

/** Renames within one directory, durably (see the top of this file). */
export function renameDurably(from: string, to: string): void {
  renameSync(from, to);
  syncDirectory(dirname(to));
}

function syncDirectory(directory: string): void {
  const fd = openSync(directory, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // never created, or already gone
  }
}

function failure(code: string, message: string): Result<never> {
  return { ok: false, error: { code, message } };
}
