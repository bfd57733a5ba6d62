// The journal: one JSON line per record, appended and flushed to disk before append() returns,
// so a kill is explainable even if the daemon dies right after it.

import { closeSync, fdatasyncSync, openSync, writeSync } from "node:fs";
import { makeParents } from "./make-parents.js";
import { dirname } from "node:path";
import type { JournalRecord, JournalSink } from "../engine/journal-record.js";

export class FileJournal implements JournalSink {
  private fd: number | null;

  private constructor(
    readonly path: string,
    fd: number,
    private readonly onWriteError: (message: string) => void,
  ) {
    this.fd = fd;
  }

  /** Opens (creating directories as needed) for appending; the error names the path. */
  static open(path: string, onWriteError: (message: string) => void): { ok: true; journal: FileJournal } | { ok: false; message: string } {
    try {
      makeParents(dirname(path));
      const fd = openSync(path, "a", 0o640);
      return { ok: true, journal: new FileJournal(path, fd, onWriteError) };
    } catch (error) {
      return { ok: false, message: `cannot open journal ${path}: ${(error as Error).message}` };
    }
  }

  append(record: JournalRecord): void {
    if (this.fd === null) return;
    const line = `${JSON.stringify({ time: new Date().toISOString(), ...record })}\n`;
    try {
      writeSync(this.fd, line);
      fdatasyncSync(this.fd);
    } catch (error) {
      // A full disk must not stop OOM handling: say so and keep going.
      this.onWriteError(`journal ${this.path}: write failed: ${(error as Error).message}`);
    }
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

/** Keeps records in memory (tests, demo). */
export class MemoryJournal implements JournalSink {
  readonly records: JournalRecord[] = [];
  append(record: JournalRecord): void {
    this.records.push(structuredClone(record));
  }
}
