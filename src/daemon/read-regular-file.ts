// Reading a small file given on the command line, safely: only a regular file (a FIFO would hang
// the daemon, /dev/zero never ends), only up to a size limit, and never more than the limit even
// when the file grows while it is read.

import { closeSync, constants, fstatSync, openSync, readSync, statSync, type Stats } from "node:fs";
import { systemReason } from "./system-reason.js";

export type ReadFileResult = { ok: true; bytes: Buffer } | { ok: false; reason: string };

/** How a caller words a file over the limit ("or more": only a read found it, the size said less). */
export type TooLargeWording = (sizeBytes: number, maxBytes: number, orMore: boolean) => string;

const TOO_LARGE: TooLargeWording = (sizeBytes, maxBytes, orMore) => `too large: ${sizeBytes} bytes${orMore ? " or more" : ""}, at most ${maxBytes} bytes allowed`;

export function readRegularFile(path: string, maxBytes: number, tooLarge: TooLargeWording = TOO_LARGE): ReadFileResult {
  let before: Stats;
  try {
    // stat follows symlinks: a link to a regular file is that file.
    before = statSync(path);
  } catch (error) {
    return { ok: false, reason: systemReason(error) };
  }
  const refused = refusal(before, maxBytes, tooLarge);
  if (refused !== null) return { ok: false, reason: refused };
  let fd: number;
  try {
    // O_NONBLOCK: if a FIFO was put in the file's place since the stat, open() returns at once
    // instead of waiting for a writer; O_NOCTTY: a terminal swapped in does not become ours.
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (error) {
    return { ok: false, reason: systemReason(error) };
  }
  try {
    // What was opened is checked again: the path may name something else than what stat saw.
    const opened = refusal(fstatSync(fd), maxBytes, tooLarge);
    if (opened !== null) return { ok: false, reason: opened };
    // One byte more than allowed tells a file that grew past the limit from one that fits.
    const buffer = Buffer.alloc(maxBytes + 1);
    let filled = 0;
    while (filled < buffer.length) {
      const got = readSync(fd, buffer, filled, buffer.length - filled, null);
      if (got === 0) break;
      filled += got;
    }
    if (filled > maxBytes) return { ok: false, reason: tooLarge(filled, maxBytes, true) };
    return { ok: true, bytes: buffer.subarray(0, filled) };
  } catch (error) {
    return { ok: false, reason: systemReason(error) };
  } finally {
    closeSync(fd);
  }
}

function refusal(stats: Stats, maxBytes: number, tooLarge: TooLargeWording): string | null {
  if (!stats.isFile()) return `not a regular file (${kindOf(stats)})`;
  if (stats.size > maxBytes) return tooLarge(stats.size, maxBytes, false);
  return null;
}

function kindOf(stats: Stats): string {
  if (stats.isDirectory()) return "a directory";
  if (stats.isFIFO()) return "a FIFO";
  if (stats.isCharacterDevice()) return "a character device";
  if (stats.isBlockDevice()) return "a block device";
  if (stats.isSocket()) return "a socket";
  return "not a plain file";
}
