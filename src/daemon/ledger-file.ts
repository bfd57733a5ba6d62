// The takeover ledger's file format and its durable replacement. The file is replaced whole:
// written to a temporary file, synced, renamed over the old one, and the directory synced too,
// since the rename is a change of the directory that a power loss can otherwise undo.

import { closeSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import type { Result } from "../core/result.js";
import { makeParents } from "./make-parents.js";

export interface LedgerContents {
  /** cgroup path -> original oom_kill_disable. */
  cgroups: Record<string, boolean>;
  /** Soft-limit mode: cgroup path -> original hard limit in bytes (null: none). */
  limits: Record<string, number | null>;
}

/**
 * Files of earlier versions also hold `ownerPid`, the last writer: ignored, since a pid says
 * nothing about who owns the cgroups now (the state directory's lock does).
 */
interface LedgerFileV1 {
  version: 1;
  cgroups: Record<string, boolean>;
  /** Absent in files of older versions. */
  limits?: Record<string, number | null>;
}

/** A missing file is an empty ledger; an unreadable or malformed one is an error naming the file. */
export function readLedgerFile(path: string): Result<LedgerContents> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { ok: true, value: { cgroups: {}, limits: {} } };
    return failure("LEDGER_UNREADABLE", `cannot read the takeover ledger ${path}: ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return failure("LEDGER_UNREADABLE", `the takeover ledger ${path} is not valid JSON (${(error as Error).message})`);
  }
  if (typeof parsed !== "object" || parsed === null || (parsed as { version?: unknown }).version !== 1) {
    return failure("LEDGER_UNREADABLE", `${path} is not a takeover ledger of version 1`);
  }
  const file = parsed as Partial<LedgerFileV1>;
  // Hand-edited entries: only true/false originals and whole byte counts (or null) are taken.
  const cgroups = Object.fromEntries(
    Object.entries(file.cgroups ?? {}).filter((entry): entry is [string, boolean] => typeof entry[1] === "boolean"),
  );
  const limits = Object.fromEntries(
    Object.entries(file.limits ?? {}).filter(
      (entry): entry is [string, number | null] => entry[1] === null || (typeof entry[1] === "number" && Number.isSafeInteger(entry[1]) && entry[1] >= 0),
    ),
  );
  return { ok: true, value: { cgroups, limits } };
}

/** Ok only once the new contents are on disk, rename included; on failure no temporary file is left. */
export function writeLedgerFile(path: string, contents: LedgerContents): Result<void> {
  const data: LedgerFileV1 = { version: 1, cgroups: contents.cgroups, limits: contents.limits };
  const temporary = `${path}.${process.pid}.tmp`;
  let renamed = false;
  try {
    makeParents(dirname(path));
    const fd = openSync(temporary, "w", 0o600);
    try {
      writeSync(fd, `${JSON.stringify(data, null, 2)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, path);
    renamed = true;
    syncDirectory(dirname(path));
    return { ok: true, value: undefined };
  } catch (error) {
    if (!renamed) removeQuietly(temporary);
    return failure("LEDGER", `cannot write the takeover ledger ${path}: ${(error as Error).message}`);
  }
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
