// One oomwarden process per state directory. Two daemons sharing one would each rewrite the
// takeover ledger from their own memory and drop the other's entries; `oomwarden restore` must not
// give back the settings of cgroups a live daemon still manages. Both hold the same lock: flock on
// the state directory itself, for the process's whole life. The kernel drops it when the holder
// dies, SIGKILL included, so a killed daemon leaves no stale lock. It is the directory and not a
// file in it because a file can be removed while its holder runs (a clean-up of the directory):
// the next process would create a new file, lock that, and share the ledger with the first.
// The pid and start time written to owner.lock only make a refusal readable; the lock alone decides.

import { closeSync, constants as fsConstants, fstatSync, ftruncateSync, openSync, readFileSync, statSync, writeSync } from "node:fs";
import { tryLockExclusive } from "../host/linux/exclusive-lock.js";
import { readProcessStartTime } from "../host/linux/proc-reader.js";
import { makeParents } from "./make-parents.js";
import { ownerPathIn } from "./paths.js";
import { privateStateAdvice, unsafeStateReason } from "./private-state.js";
import { systemReason } from "./system-reason.js";

export type StateDirCommand = "run" | "restore";

export type StateDirClaim =
  /**
   * This process owns the directory until release() (or its death). stillOwned() says why the
   * directory at the path is no longer the one locked (removed and created again), or null.
   */
  | { kind: "owned"; release(): void; stillOwned(): string | null }
  /** Another process holds it; `holder` says who, e.g. "oomwarden run (pid 123)"; `command` what it runs, when known. */
  | { kind: "held"; holder: string; command: StateDirCommand | null }
  /** The directory does not exist (for `run`: and cannot be created), so no process can hold it. */
  | { kind: "absent"; reason: string }
  /** One line naming the directory or file. */
  | { kind: "failed"; message: string };

interface OwnerRecord {
  pid: number;
  startTimeTicks: number | null;
  command: StateDirCommand;
}

/** Only `run` creates a missing directory: restore has nothing to do in one. */
export function claimStateDir(stateDir: string, command: StateDirCommand): StateDirClaim {
  const opened = openDirectory(stateDir, command === "run");
  if (opened.kind !== "open") return opened;
  const { fd } = opened;
  const refused = (message: string): StateDirClaim => {
    closeSync(fd);
    return { kind: "failed", message };
  };
  const locked = fstatSync(fd);
  const unsafe = unsafeStateReason(stateDir, locked, "directory");
  if (unsafe !== null) return refused(`${unsafe}: ${privateStateAdvice("directory")}`);
  const lock = tryLockExclusive(fd);
  if (lock.kind === "failed") return refused(`cannot lock the state directory ${stateDir}: ${lock.error.message}`);
  if (lock.kind === "held") {
    const holder = describeHolder(lock.holderPid, readOwnerRecord(ownerPathIn(stateDir)));
    closeSync(fd);
    return { kind: "held", ...holder };
  }
  const recorded = writeOwnerRecord(ownerPathIn(stateDir), command);
  if (recorded !== null) return refused(recorded);
  let released = false;
  return {
    kind: "owned",
    release(): void {
      if (released) return;
      released = true;
      closeSync(fd);
    },
    stillOwned(): string | null {
      try {
        const now = statSync(stateDir);
        if (now.dev === locked.dev && now.ino === locked.ino) return null;
      } catch {
        // gone: said below
      }
      return `the state directory ${stateDir} is no longer the one this process locked (it was removed, or replaced)`;
    },
  };
}

type Opened = { kind: "open"; fd: number } | Extract<StateDirClaim, { kind: "absent" | "failed" }>;

/** O_RDONLY: a directory on a file system remounted read-only after an error still locks. */
function openDirectory(stateDir: string, create: boolean): Opened {
  let cannotCreate: string | null = null;
  if (create) {
    try {
      makeParents(stateDir);
    } catch (error) {
      cannotCreate = systemReason(error);
    }
  }
  try {
    return { kind: "open", fd: openSync(stateDir, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY) };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return { kind: "absent", reason: cannotCreate ?? systemReason(error) };
    return { kind: "failed", message: `cannot open the state directory ${stateDir}: ${systemReason(error)}` };
  }
}

/**
 * Only for messages: a failed write (a full or read-only disk) costs a later refusal its detail,
 * nothing else. But the file must be a plain file of ours, like every file of the directory.
 */
function writeOwnerRecord(path: string, command: StateDirCommand): string | null {
  let fd: number;
  try {
    fd = openSync(path, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_NOFOLLOW, 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ELOOP") return `${path} is a symbolic link: ${privateStateAdvice("file")}`;
    return null;
  }
  try {
    const unsafe = unsafeStateReason(path, fstatSync(fd), "file");
    if (unsafe !== null) return `${unsafe}: ${privateStateAdvice("file")}`;
    const start = readProcessStartTime(process.pid);
    const record: OwnerRecord = { pid: process.pid, startTimeTicks: start.ok ? start.value : null, command };
    ftruncateSync(fd, 0);
    writeSync(fd, `${JSON.stringify(record)}\n`, 0);
  } catch {
    // best effort, see above
  } finally {
    closeSync(fd);
  }
  return null;
}

function readOwnerRecord(path: string): OwnerRecord | null {
  let text: string;
  try {
    const fd = openSync(path, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK);
    try {
      text = readFileSync(fd, "utf8");
    } finally {
      closeSync(fd);
    }
  } catch {
    return null;
  }
  try {
    const parsed = JSON.parse(text) as Partial<OwnerRecord>;
    if (typeof parsed.pid !== "number" || (parsed.command !== "run" && parsed.command !== "restore")) return null;
    return { pid: parsed.pid, startTimeTicks: typeof parsed.startTimeTicks === "number" ? parsed.startTimeTicks : null, command: parsed.command };
  } catch {
    return null;
  }
}

/**
 * The kernel's holder (from /proc/locks) first. The record's pid is believed only while a process
 * with that pid and that start time is alive: a reused pid is some other process.
 */
function describeHolder(holderPid: number | null, record: OwnerRecord | null): { holder: string; command: StateDirCommand | null } {
  const recordIsCurrent = record !== null && record.startTimeTicks !== null && sameStart(record.pid, record.startTimeTicks);
  const believed = recordIsCurrent && (holderPid === null || record.pid === holderPid) ? record : null;
  if (believed !== null) return { holder: `oomwarden ${believed.command} (pid ${believed.pid})`, command: believed.command };
  return { holder: holderPid !== null ? `pid ${holderPid}` : "another process", command: null };
}

function sameStart(pid: number, startTimeTicks: number): boolean {
  const now = readProcessStartTime(pid);
  return now.ok && now.value === startTimeTicks;
}
