// Before a daemon appends to an existing journal: does the file end inside a line? A daemon that
// crashed mid-write, or a disk that filled up, leaves the last record cut off; appending straight
// after it would glue the next record onto the fragment and lose both.

import { closeSync, constants as fsConstants, openSync, readSync } from "node:fs";

/** How far back the fragment is measured: enough for any record; a file with no line end at all is not read whole. */
const MAX_SCAN_BYTES = 1024 * 1024;
const CHUNK_BYTES = 64 * 1024;
const LINE_END = 0x0a;

export type JournalTail =
  | { kind: "clean" }
  /** fragmentBytes: bytes after the last line end (at least that many when scanLimitReached). */
  | { kind: "torn"; fragmentBytes: number; scanLimitReached: boolean }
  /** The file could not be read back (write-only for this user): assume the worst. */
  | { kind: "unknown"; reason: string };

export function inspectJournalTail(path: string, sizeBytes: number): JournalTail {
  if (sizeBytes === 0) return { kind: "clean" };
  let fd: number;
  try {
    // As the journal itself: never through a symbolic link put in its place since.
    fd = openSync(path, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK);
  } catch (error) {
    return { kind: "unknown", reason: (error as Error).message };
  }
  try {
    return scanBackwards(fd, sizeBytes);
  } catch (error) {
    return { kind: "unknown", reason: (error as Error).message };
  } finally {
    closeSync(fd);
  }
}

function scanBackwards(fd: number, sizeBytes: number): JournalTail {
  const buffer = Buffer.alloc(CHUNK_BYTES);
  let end = sizeBytes;
  const stop = Math.max(0, sizeBytes - MAX_SCAN_BYTES);
  while (end > stop) {
    const start = Math.max(stop, end - CHUNK_BYTES);
    const read = readSync(fd, buffer, 0, end - start, start);
    const lastLineEnd = buffer.subarray(0, read).lastIndexOf(LINE_END);
    if (lastLineEnd !== -1) {
      const fragmentBytes = sizeBytes - (start + lastLineEnd + 1);
      return fragmentBytes === 0 ? { kind: "clean" } : { kind: "torn", fragmentBytes, scanLimitReached: false };
    }
    end = start;
  }
  return { kind: "torn", fragmentBytes: sizeBytes - end, scanLimitReached: end > 0 };
}
