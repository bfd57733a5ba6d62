// The state directory and its files (owner record, takeover ledger, journal) belong to the user
// that runs oomwarden, and to nobody else. A root daemon whose state directory another user can
// write would follow that user's symbolic links and hard links into any file, and `oomwarden
// restore` would write oom_kill_disable and limits to whatever cgroups a planted ledger names.
// So each is checked once opened (fstat of the open descriptor: what is checked is what is used).

import type { Stats } from "node:fs";

/** Group and others may not write. */
const WRITABLE_BY_OTHERS = 0o022;

export type StateObject = "directory" | "file";

/** Why `stats` (of the directory or file at `path`) must not be used, or null if it is this user's alone. */
export function unsafeStateReason(path: string, stats: Stats, expected: StateObject, uid: number = currentUid()): string | null {
  if (expected === "directory" && !stats.isDirectory()) return `${path} is not a directory`;
  if (expected === "file" && !stats.isFile()) return `${path} is not a regular file`;
  if (stats.uid !== uid) return `${path} belongs to uid ${stats.uid}, not to uid ${uid} that runs oomwarden`;
  if ((stats.mode & WRITABLE_BY_OTHERS) !== 0) {
    return `${path} can be written by ${stats.mode & 0o002 ? "every user" : "its group"} (mode ${(stats.mode & 0o7777).toString(8).padStart(4, "0")})`;
  }
  // A second name elsewhere would make our writes land in a file someone else chose.
  if (expected === "file" && stats.nlink > 1) return `${path} has ${stats.nlink} hard links`;
  return null;
}

/** The advice after any of those reasons, for the one line that refuses. */
export function privateStateAdvice(expected: StateObject, uid: number = currentUid()): string {
  return expected === "directory"
    ? `the state directory must belong to uid ${uid} and be writable by it alone`
    : `the state files must be plain files of uid ${uid}, writable by it alone`;
}

function currentUid(): number {
  return process.getuid?.() ?? 0;
}
