// A LinuxFs over a fixture /proc (test/fixtures/proc-tree.ts) that keeps procfs' rule for open
// files: an fd of /proc/PID/<file> names the process it was opened for, so once that process is
// removed from the tree, or replaced by another with the same pid (another start time in its
// stat), every read through the fd is ESRCH, while a read of the same process gives the file's
// current text. A plain fd of a tmpfs file would go on reading the old inode instead. Every
// access is logged by path, so tests can count what a listing read.

import { fail, ok, type Result } from "../../src/core/result.js";
import { nodeLinuxFs, type LinuxFs } from "../../src/host/linux/linux-fs.js";

export type Access = "readText" | "readTextPrefix" | "readLink" | "open" | "read" | "close" | "list";

export interface ProcLikeFs extends LinuxFs {
  /** Every access so far, the path relative to the tree's root ("/41/status"). */
  readonly log: Array<{ access: Access; path: string }>;
  /** Paths read (whole-file reads, reads through fds, prefixes, links) since the log was cleared. */
  reads(): string[];
  clearLog(): void;
  /** Fds open now. */
  openFds(): number;
  /** Opens fail with this code (EMFILE, ...) until set back to null. */
  failOpensWith: string | null;
}

/** Start time (field 22) of the process in the tree at pid's directory, null if there is none. */
function startTimeIn(root: string, pidDir: string): string | null {
  const stat = nodeLinuxFs.readText(`${root}/${pidDir}/stat`);
  if (!stat.ok) return null;
  return stat.value.slice(stat.value.lastIndexOf(")") + 2).split(" ")[22 - 3] ?? null;
}

export function procLikeFs(root: string): ProcLikeFs {
  const log: ProcLikeFs["log"] = [];
  const fds = new Map<number, { path: string; pidDir: string | null; startTime: string | null }>();
  let nextFd = 100_000;
  const relative = (path: string): string => (path.startsWith(root) ? path.slice(root.length) : path);
  const pidDirOf = (path: string): string | null => /^\/(\d+)\//.exec(relative(path))?.[1] ?? null;

  const fs: ProcLikeFs = {
    log,
    failOpensWith: null,
    reads() {
      return log.filter((entry) => entry.access !== "open" && entry.access !== "close" && entry.access !== "list").map((entry) => entry.path);
    },
    clearLog() {
      log.length = 0;
    },
    openFds() {
      return fds.size;
    },
    readText(path) {
      log.push({ access: "readText", path: relative(path) });
      return nodeLinuxFs.readText(path);
    },
    readTextPrefix(path, maxBytes) {
      log.push({ access: "readTextPrefix", path: relative(path) });
      return nodeLinuxFs.readTextPrefix(path, maxBytes);
    },
    readLink(path) {
      log.push({ access: "readLink", path: relative(path) });
      return nodeLinuxFs.readLink(path);
    },
    listSubdirectories: (path) => nodeLinuxFs.listSubdirectories(path),
    listEntries(path) {
      log.push({ access: "list", path: relative(path) });
      return nodeLinuxFs.listEntries(path);
    },
    realpath: (path) => nodeLinuxFs.realpath(path),
    kind: (path) => nodeLinuxFs.kind(path),
    openFile(path): Result<number> {
      log.push({ access: "open", path: relative(path) });
      if (fs.failOpensWith !== null) return fail(fs.failOpensWith, `cannot open ${path}: ${fs.failOpensWith}`);
      const kind = nodeLinuxFs.kind(path);
      if (!kind.ok) return kind;
      const pidDir = pidDirOf(path);
      const fd = nextFd++;
      fds.set(fd, { path, pidDir, startTime: pidDir === null ? null : startTimeIn(root, pidDir) });
      return ok(fd);
    },
    readOpenFile(fd) {
      const open = fds.get(fd);
      if (open === undefined) return fail("EBADF", `fd ${fd} is not open`);
      log.push({ access: "read", path: relative(open.path) });
      if (open.pidDir !== null && startTimeIn(root, open.pidDir) !== open.startTime) return fail("ESRCH", `read fd ${fd}: no such process`);
      return nodeLinuxFs.readText(open.path);
    },
    closeFile(fd) {
      const open = fds.get(fd);
      if (open !== undefined) log.push({ access: "close", path: relative(open.path) });
      fds.delete(fd);
    },
  };
  return fs;
}
