// Pure parser for /proc/PID/maps (proc(5)): one mapping per line,
// "start-end perms offset dev inode   pathname". Text in, typed records out; a line the kernel
// cannot print is a PARSE_ERROR naming it.

import { fail, ok, type Result } from "../../core/result.js";
import { quoted } from "../../core/shown-text.js";
import { PARSE_ERROR } from "./parse-proc.js";

export interface MapsEntry {
  startAddress: number;
  endAddress: number;
  /** "r-xp", "r--p", "rw-p", "rw-s", ... */
  perms: string;
  /** The file's inode; 0 for anonymous memory, [heap], [stack], [vdso]. */
  inode: number;
  /** The file, "[heap]" and the like, or "" for anonymous memory. A deleted file ends in " (deleted)". */
  path: string;
}

/** User-space addresses are at most 57 bits (5-level page tables), exact as doubles below 2^53 on every machine we run on. */
const MAX_HEX_ADDRESS_DIGITS = 13;

// "7f3c1c000000-7f3c1c021000 rw-p 00000000 00:00 0" then optional spaces and the path.
const LINE = /^([0-9a-f]+)-([0-9a-f]+) ([r-][w-][x-][ps]) [0-9a-f]+ [0-9a-f]+:[0-9a-f]+ (\d+)(?: +(.*))?$/;

export function parseProcMaps(text: string): Result<MapsEntry[]> {
  const entries: MapsEntry[] = [];
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const match = LINE.exec(line);
    if (match === null) return fail(PARSE_ERROR, `maps: cannot read line ${quoted(line)}`);
    const [, startHex = "", endHex = "", perms = "", inodeText = "", path = ""] = match;
    if (startHex.length > MAX_HEX_ADDRESS_DIGITS || endHex.length > MAX_HEX_ADDRESS_DIGITS) {
      // The vsyscall page (ffffffffff600000) lies above 2^53: never ours to lock, so left out.
      continue;
    }
    const startAddress = Number.parseInt(startHex, 16);
    const endAddress = Number.parseInt(endHex, 16);
    const inode = Number(inodeText);
    if (!(endAddress > startAddress) || !Number.isSafeInteger(inode)) return fail(PARSE_ERROR, `maps: impossible mapping ${quoted(line)}`);
    entries.push({ startAddress, endAddress, perms, inode, path });
  }
  return ok(entries);
}
