// One oomwarden process per state directory. Two daemons sharing one would each rewrite the
// takeover ledger from their own memory and drop the other's entries; `oomwarden restore` must not
// give back the settings of cgroups a live daemon still manages. Both hold the same lock: flock on
// a lock file in the directory, for the process's whole life. The kernel drops it when the holder
// dies, SIGKILL included, so a killed daemon leaves no stale lock; the pid and start time written
// into the file only make the refusal readable, the lock alone decides.

import { closeSync, constants as fsConstants, ftruncateSync, openSync, readFileSync, writeSync } from "node:fs";
import { tryLockExclusive } from "../host/linux/exclusive-lock.js";
import { readProcessStartTime } from "../host/linux/proc-reader.js";
import { makeParents } from "./make-parents.js";
import { lockPathIn } from "./paths.js";

export type StateDirCommand = "run" | "restore";

export type StateDirClaim =
  /** This process owns the directory until release() (or its death). */
  | { kind: "owned"; lockPath: string; release(): void }
  /** Another process holds it; `holder` says who, e.g. "oomwarden run (pid 123)". */
  | { kind: "held"; lockPath: string; holder: string }
  /** There is no lock file and none can be created: no process can hold the directory. */
  | { kind: "unlockable"; lockPath: string; reason: string }
  | { kind: "failed"; lockPath: string; message: string };

interface LockFileContents {
  pid: number;
  startTimeTicks: number | null;
  command: StateDirCommand;
}

export function claimStateDir(stateDir: string, command: StateDirCommand): StateDirClaim {
  const lockPath = lockPathIn(stateDir);
  const opened = openLockFile(stateDir, lockPath, command === "run");
  if (opened.kind !== "open") return opened;
  const { fd, writable } = opened;
  const lock = tryLockExclusive(fd);
  if (lock.kind === "failed") {
    closeSync(fd);
    return { kind: "failed", lockPath, message: `cannot lock ${lockPath}: ${lock.error.message}` };
  }
  if (lock.kind === "held") {
    const holder = describeHolder(lock.holderPid, readContents(lockPath));
    closeSync(fd);
    return { kind: "held", lockPath, holder };
  }
  if (writable) writeContents(fd, command);
  let released = false;
  return {
    kind: "owned",
    lockPath,
    release(): void {
      if (released) return;
      released = true;
      closeSync(fd);
    },
  };
}

type Opened = { kind: "open"; fd: number; writable: boolean } | Extract<StateDirClaim, { kind: "unlockable" | "failed" }>;

/**
 * Read-write (creating it) where possible. On a directory that can no longer be written (a file
 * system remounted read-only after an error) an existing lock file still locks when opened read-only.
 * Only the daemon creates a missing state directory: restore has nothing to do in one.
 * Mode 0600: whoever can open the file can hold the lock, and so keep the daemon from starting.
 * O_NOFOLLOW: a symbolic link planted in the directory must not make us create or lock another file.
 */
function openLockFile(stateDir: string, lockPath: string, createDirectory: boolean): Opened {
  let reason: string;
  try {
    if (createDirectory) makeParents(stateDir);
    return { kind: "open", fd: openSync(lockPath, fsConstants.O_RDWR | fsConstants.O_CREAT | fsConstants.O_NOFOLLOW, 0o600), writable: true };
  } catch (error) {
    reason = (error as Error).message;
  }
  try {
    return { kind: "open", fd: openSync(lockPath, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW), writable: false };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { kind: "unlockable", lockPath, reason };
    return { kind: "failed", lockPath, message: `cannot open ${lockPath}: ${(error as Error).message}` };
  }
}

/** Only for messages: a failed write (a full disk) costs the refusal its detail, nothing else. */
function writeContents(fd: number, command: StateDirCommand): void {
  const start = readProcessStartTime(process.pid);
  const contents: LockFileContents = { pid: process.pid, startTimeTicks: start.ok ? start.value : null, command };
  try {
    ftruncateSync(fd, 0);
    writeSync(fd, `${JSON.stringify(contents)}\n`, 0);
  } catch {
    // best effort, see above
  }
}

function readContents(lockPath: string): LockFileContents | null {
  try {
    const parsed = JSON.parse(readFileSync(lockPath, "utf8")) as Partial<LockFileContents>;
    if (typeof parsed.pid !== "number" || (parsed.command !== "run" && parsed.command !== "restore")) return null;
    return { pid: parsed.pid, startTimeTicks: typeof parsed.startTimeTicks === "number" ? parsed.startTimeTicks : null, command: parsed.command };
  } catch {
    return null;
  }
}

/**
 * The kernel's holder (from /proc/locks) first. The file's pid is believed only while a process
 * with that pid and that start time is alive: a reused pid is some other process.
 */
function describeHolder(holderPid: number | null, contents: LockFileContents | null): string {
  const fileIsCurrent = contents !== null && contents.startTimeTicks !== null && sameStart(contents.pid, contents.startTimeTicks);
  if (holderPid !== null) {
    return fileIsCurrent && contents.pid === holderPid ? `oomwarden ${contents.command} (pid ${holderPid})` : `pid ${holderPid}`;
  }
  return fileIsCurrent ? `oomwarden ${contents.command} (pid ${contents.pid})` : "another process";
}

function sameStart(pid: number, startTimeTicks: number): boolean {
  const now = readProcessStartTime(pid);
  return now.ok && now.value === startTimeTicks;
}
