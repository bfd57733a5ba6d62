// The journal: one JSON line per record, appended and flushed to disk before append() returns,
// so a kill is explainable even if the daemon dies right after it.
//
// A record is whole or absent, never a fragment the next one lands on: each line goes out in one
// write on an O_APPEND descriptor; a write that fails half way (a full disk writes up to the last
// free page and stops) is cut back to where the file ended before it; and a file that already
// ends inside a line (an earlier crash) gets a line end before the first new record.
// One daemon per journal: the file is flocked for the daemon's life (`--journal` is outside the
// state directory's lock, so two daemons could otherwise be given the same file).
// Readers (journal-reader.ts) skip any line that is not one complete record.

import { closeSync, constants as fsConstants, fdatasyncSync, fstatSync, ftruncateSync, openSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import type { JournalRecord, JournalSink } from "../engine/journal-record.js";
import { tryLockExclusive } from "../host/linux/exclusive-lock.js";
import { inspectJournalTail, type JournalTail } from "./journal-tail.js";
import { makeParents } from "./make-parents.js";
import { privateStateAdvice, unsafeStateReason } from "./private-state.js";
import { systemReason } from "./system-reason.js";

/** Appending, created if missing, never through a symbolic link (another user's link would make us append to any file). */
const APPEND_FLAGS = fsConstants.O_WRONLY | fsConstants.O_APPEND | fsConstants.O_CREAT | fsConstants.O_NOFOLLOW;

/**
 * Why a journal was not opened. "unavailable": it cannot be (a read-only or missing place); the
 * daemon runs on and prints its records. "refused": it must not be used (not this user's own
 * file, or another daemon writes it); the daemon does not start.
 */
export type JournalOpenFailure = { ok: false; kind: "unavailable" | "refused"; message: string };

/** The file operations append() needs; tests substitute failing ones. */
export interface JournalFileOps {
  /** Returns the bytes written, which a full disk makes fewer than asked. */
  write(fd: number, bytes: Uint8Array): number;
  sizeBytes(fd: number): number;
  truncate(fd: number, sizeBytes: number): void;
  flush(fd: number): void;
}

export const NODE_FILE_OPS: JournalFileOps = {
  write: (fd, bytes) => writeSync(fd, bytes),
  sizeBytes: (fd) => fstatSync(fd).size,
  truncate: (fd, sizeBytes) => ftruncateSync(fd, sizeBytes),
  flush: (fd) => fdatasyncSync(fd),
};

export class FileJournal implements JournalSink {
  private fd: number | null;
  /** The file may end inside a line (a torn tail, or a partial write that could not be cut off): the next record starts with a line end. */
  private startsInsideLine = false;
  /** Since the last record that was written: a failing disk is reported once, not once per record. */
  private failing: { records: number; sinceIso: string; firstFailure: string } | null = null;

  private constructor(
    readonly path: string,
    fd: number,
    private readonly report: (message: string) => void,
    private readonly ops: JournalFileOps,
  ) {
    this.fd = fd;
  }

  /**
   * Opens (creating directories as needed) for appending; the error names the path.
   * `report` hears about the file itself: a torn tail found here, and writes that fail and recover.
   */
  static open(path: string, report: (message: string) => void, ops: JournalFileOps = NODE_FILE_OPS): { ok: true; journal: FileJournal } | JournalOpenFailure {
    let fd: number;
    try {
      makeParents(dirname(path));
      fd = openSync(path, APPEND_FLAGS, 0o640);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ELOOP") return { ok: false, kind: "refused", message: `the journal ${path} is a symbolic link: ${privateStateAdvice("file")}` };
      return { ok: false, kind: "unavailable", message: `cannot open journal ${path}: ${systemReason(error)}` };
    }
    let tail: JournalTail;
    try {
      const unsafe = unsafeStateReason(path, fstatSync(fd), "file");
      if (unsafe !== null) {
        closeSync(fd);
        return { ok: false, kind: "refused", message: `the journal ${unsafe}: ${privateStateAdvice("file")}` };
      }
      const lock = tryLockExclusive(fd);
      if (lock.kind !== "locked") {
        closeSync(fd);
        return lock.kind === "held"
          ? { ok: false, kind: "refused", message: `the journal ${path} is written by another process (${lock.holderPid === null ? "its lock's holder is not known" : `pid ${lock.holderPid}`}): one daemon per journal; give this one another --journal` }
          : { ok: false, kind: "unavailable", message: `cannot lock journal ${path}: ${lock.error.message}` };
      }
      tail = inspectJournalTail(path, ops.sizeBytes(fd));
    } catch (error) {
      closeSync(fd);
      return { ok: false, kind: "unavailable", message: `cannot open journal ${path}: ${systemReason(error)}` };
    }
    const journal = new FileJournal(path, fd, report, ops);
    journal.startAfter(tail);
    return { ok: true, journal };
  }

  append(record: JournalRecord): void {
    this.write(record, true);
  }

  appendUnflushed(record: JournalRecord): void {
    this.write(record, false);
  }

  flush(): void {
    if (this.fd === null) return;
    try {
      this.ops.flush(this.fd);
    } catch (error) {
      this.noteOutcome(`written but not flushed to disk: ${(error as Error).message}`);
    }
  }

  private write(record: JournalRecord, flush: boolean): void {
    if (this.fd === null) return;
    let line: string;
    try {
      line = `${JSON.stringify({ time: new Date().toISOString(), ...record })}\n`;
    } catch (error) {
      this.report(`journal ${this.path}: a ${record.type} record could not be encoded: ${(error as Error).message}`);
      return;
    }
    this.noteOutcome(this.writeLine(this.fd, line, flush));
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }

  private startAfter(tail: JournalTail): void {
    if (tail.kind === "clean") return;
    this.startsInsideLine = true;
    // Unreadable: an empty line costs nothing if the file did end cleanly, so say nothing.
    if (tail.kind === "unknown") return;
    const size = `${tail.scanLimitReached ? "at least " : ""}${tail.fragmentBytes} bytes`;
    const message = `the journal ended inside a line (${size} after the last line end: a record cut short by a crash or a full disk); it is left as it is, readers skip it, and new records start on the next line`;
    this.report(`journal ${this.path}: ${message}`);
    this.append({ type: "notice", message });
  }

  /** One line, one write. Returns why it failed, or null; on failure the file ends on a line boundary again, or the next line starts with one. */
  private writeLine(fd: number, line: string, flush: boolean): string | null {
    const bytes = Buffer.from(this.startsInsideLine ? `\n${line}` : line);
    const sizeBefore = this.sizeOrNull(fd);
    let failure: string | null = null;
    // A write that throws wrote nothing: write(2) either transfers bytes or fails.
    let writtenBytes = 0;
    try {
      writtenBytes = this.ops.write(fd, bytes);
      if (writtenBytes < bytes.length) failure = `only ${writtenBytes} of ${bytes.length} bytes written (disk full?)`;
    } catch (error) {
      failure = (error as Error).message;
    }
    if (failure !== null) {
      this.cutPartialWrite(fd, sizeBefore, writtenBytes);
      return failure;
    }
    this.startsInsideLine = false;
    if (!flush) return null;
    try {
      this.ops.flush(fd);
    } catch (error) {
      return `written but not flushed to disk: ${(error as Error).message}`;
    }
    return null;
  }

  /**
   * After a failed write, take back the part of it that reached the file, so the next record does
   * not land on a fragment. Only when the file grew by exactly that part: anything else at its end
   * may be another writer's record (the lock keeps other daemons out, not every process), and
   * cutting it would destroy it. Then nothing is cut, and the next record starts on a line of its own.
   */
  private cutPartialWrite(fd: number, sizeBefore: number | null, writtenBytes: number): void {
    const sizeAfter = this.sizeOrNull(fd);
    if (sizeBefore !== null && sizeAfter === sizeBefore + writtenBytes) {
      if (writtenBytes === 0) return; // nothing reached the file
      try {
        this.ops.truncate(fd, sizeBefore);
        return;
      } catch {
        // fall through: the fragment stays
      }
    }
    this.startsInsideLine = true;
  }

  private sizeOrNull(fd: number): number | null {
    try {
      return this.ops.sizeBytes(fd);
    } catch {
      return null;
    }
  }

  /** A full disk must not stop OOM handling, nor flood the log: the first failure and the recovery are reported. */
  private noteOutcome(failure: string | null): void {
    if (failure !== null) {
      if (this.failing === null) {
        this.failing = { records: 0, sinceIso: new Date().toISOString(), firstFailure: failure };
        this.report(`journal ${this.path}: write failed: ${failure}; records are dropped (and counted) until a write succeeds`);
      }
      this.failing.records += 1;
      return;
    }
    if (this.failing === null) return;
    const { records, sinceIso, firstFailure } = this.failing;
    this.failing = null;
    const message = `${records} record(s) could not be written or flushed since ${sinceIso} (first failure: ${firstFailure})`;
    this.report(`journal ${this.path}: writing again; ${message}`);
    this.append({ type: "notice", message });
  }
}

/** Keeps records in memory (tests, demo). */
export class MemoryJournal implements JournalSink {
  readonly records: JournalRecord[] = [];
  append(record: JournalRecord): void {
    this.records.push(structuredClone(record));
  }
}
