// Pure parser for /proc/locks (proc(5)): which pid holds a lock on which file. oomwarden uses it
// only to name the holder of a lock it could not take; the lock itself is the kernel's answer.
//
//   1: FLOCK  ADVISORY  WRITE 6350 00:20:4391 0 EOF
//   1: -> FLOCK  ADVISORY  WRITE 6351 00:20:4391 0 EOF      (a waiter, not a holder)
//
// The device is the major and minor number of the file's filesystem in hex, then the inode.

import { parseInteger } from "./parse-number.js";

export interface ProcLock {
  /** FLOCK, POSIX, OFDLCK, LEASE, ... */
  kind: string;
  /** The pid that took it; -1 for open-file-description locks, which belong to no process. */
  pid: number;
  deviceMajor: number;
  deviceMinor: number;
  inode: bigint;
}

// Majors are 12 bits and minors 20: a longer device number is not one a kernel prints.
const LINE = /^\d+:\s+(->\s+)?(\S+)\s+\S+\s+\S+\s+(-?\d+)\s+([0-9a-f]{1,8}):([0-9a-f]{1,8}):(\d+)\s/i;

/** The locks held (waiters left out); lines it does not understand are skipped. */
export function parseProcLocks(text: string): ProcLock[] {
  const locks: ProcLock[] = [];
  for (const line of text.split("\n")) {
    const m = LINE.exec(line);
    const pid = m === null ? null : parseInteger(m[3] as string);
    if (m === null || m[1] !== undefined || pid === null) continue;
    locks.push({
      kind: m[2] as string,
      pid,
      deviceMajor: parseInt(m[4] as string, 16),
      deviceMinor: parseInt(m[5] as string, 16),
      inode: BigInt(m[6] as string),
    });
  }
  return locks;
}

/** glibc's major()/minor() of a dev_t as stat returns it. */
export function splitDevice(dev: bigint): { major: number; minor: number } {
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & 0xfffff000n);
  const minor = (dev & 0xffn) | ((dev >> 12n) & 0xffffff00n);
  return { major: Number(major), minor: Number(minor) };
}
