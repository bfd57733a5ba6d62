// One holder at a time for a file or a directory: flock(LOCK_EX | LOCK_NB) on an fd that stays
// open for as long as the claim lasts. The kernel drops the lock when the fd's last copy closes,
// also when the holder is killed by SIGKILL, so a dead holder never leaves a stale lock and no
// pid file has to be trusted. A refusal names the holder's pid as /proc/locks reports it.

import { fstatSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import type { HostError } from "../../core/result.js";
import { nodeLinuxFs, type LinuxFs } from "./linux-fs.js";
import * as native from "./native.js";
import { parseProcLocks, splitDevice } from "./parse-proc-locks.js";
import { DEFAULT_PROC_ROOT } from "./proc-reader.js";

export type LockOutcome =
  | { kind: "locked" }
  /** Someone else holds it; holderPid null when /proc/locks does not say who. */
  | { kind: "held"; holderPid: number | null }
  | { kind: "failed"; error: HostError };

/** Locks the open file `fd` without waiting. The fd stays the caller's: closing it releases the lock. */
export function tryLockExclusive(fd: number, procRoot = DEFAULT_PROC_ROOT, fs: LinuxFs = nodeLinuxFs): LockOutcome {
  const locked = native.flockExclusive(fd);
  if (locked.ok) return { kind: "locked" };
  if (locked.error.code !== "EWOULDBLOCK") return { kind: "failed", error: locked.error };
  return { kind: "held", holderPid: lockHolderPid(fd, procRoot, fs) };
}

/** Between attempts of lockExclusiveWithin. */
const RETRY_INTERVAL_MS = 5;

/**
 * Like tryLockExclusive, but a lock another process holds is tried again for up to `waitMs`,
 * blocking: a holder that keeps it for milliseconds (`oomwarden restore`, or a starting daemon,
 * writing a cgroup's settings back) is waited out rather than taken for an owner. A lock this
 * process holds itself is not waited for: it cannot be let go meanwhile.
 */
export function lockExclusiveWithin(fd: number, waitMs: number, procRoot = DEFAULT_PROC_ROOT, fs: LinuxFs = nodeLinuxFs): LockOutcome {
  const deadline = performance.now() + waitMs;
  for (;;) {
    const outcome = tryLockExclusive(fd, procRoot, fs);
    if (outcome.kind !== "held" || outcome.holderPid === process.pid || performance.now() >= deadline) return outcome;
    sleepBlocking(RETRY_INTERVAL_MS);
  }
}

function sleepBlocking(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** The pid holding a flock on the file open as `fd`, from /proc/locks (matched by device and inode). */
export function lockHolderPid(fd: number, procRoot = DEFAULT_PROC_ROOT, fs: LinuxFs = nodeLinuxFs): number | null {
  let dev: bigint;
  let ino: bigint;
  try {
    const stats = fstatSync(fd, { bigint: true });
    dev = stats.dev;
    ino = stats.ino;
  } catch {
    return null;
  }
  const text = fs.readText(join(procRoot, "locks"));
  if (!text.ok) return null;
  const { major, minor } = splitDevice(dev);
  const holder = parseProcLocks(text.value).find(
    (lock) => lock.kind === "FLOCK" && lock.pid > 0 && lock.inode === ino && lock.deviceMajor === major && lock.deviceMinor === minor,
  );
  return holder?.pid ?? null;
}
