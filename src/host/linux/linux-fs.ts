// The only place the procfs/cgroupfs readers touch node:fs. Every reader takes a LinuxFs so that
// tests can point readers at fixture trees (and count or falsify reads) without mutable globals.
// Besides whole-file reads it opens files to keep: the process table (process-table.ts) reads
// /proc/PID files again and again through fds it keeps open, with pread, which costs a fraction
// of an open/read/close, and an fd of /proc/PID/... names its process for good.

import { closeSync, openSync, readFileSync, readSync, readdirSync, readlinkSync, realpathSync, statSync } from "node:fs";
import { fail, ok, type Result } from "../../core/result.js";

export type PathKind = "directory" | "file" | "other";

export interface LinuxFs {
  /** Whole file as text. Errors carry the errno code (ENOENT, ESRCH, ENODEV, EACCES, ...). */
  readText(path: string): Result<string>;
  /** Names of the subdirectories of path (not recursive, unsorted). */
  listSubdirectories(path: string): Result<string[]>;
  /** Names of all entries of path. */
  listEntries(path: string): Result<string[]>;
  /** Canonical absolute path: symlinks and `..` resolved. */
  realpath(path: string): Result<string>;
  /** What path is, following symlinks. */
  kind(path: string): Result<PathKind>;
  /** Where the symbolic link at path points (/proc/PID/exe). */
  readLink(path: string): Result<string>;
  /** The first maxBytes of path at most, in one read (/proc/PID/cmdline can be megabytes long). */
  readTextPrefix(path: string, maxBytes: number): Result<string>;
  /** Opens path read-only and keeps it open until closeFile. EMFILE/ENFILE come back as errors like any other. */
  openFile(path: string): Result<number>;
  /**
   * The whole text of an open file, read from offset 0 (pread): procfs generates a file afresh at
   * each read from its start, so a kept fd gives the current content without a new open. An fd of
   * /proc/PID/... answers ESRCH once its process is gone, even if the pid was given to another since.
   */
  readOpenFile(fd: number): Result<string>;
  closeFile(fd: number): void;
}

/** Turns a thrown node:fs error into a Result whose message names the path. */
function fromFsError<T>(error: unknown, what: string, path: string): Result<T> {
  const code = (error as NodeJS.ErrnoException | undefined)?.code ?? "EIO";
  const detail = error instanceof Error ? error.message : String(error);
  return fail(code, `cannot ${what} ${path}: ${detail}`);
}

/**
 * The one buffer every readOpenFile fills (the listing is synchronous, so one is enough): 64 KiB
 * holds any /proc/PID/stat, status or oom_score_adj; a file that fills it is read again into a
 * larger one.
 */
let readBuffer = Buffer.allocUnsafe(64 * 1024);

/** Reads fd from offset 0 to its end: one pread unless the file fills the buffer. */
function preadWhole(fd: number): string {
  for (;;) {
    const length = readSync(fd, readBuffer, 0, readBuffer.length, 0);
    // procfs' single-record files (stat, status, oom_score_adj) come whole in one read when they fit.
    if (length < readBuffer.length) return readBuffer.toString("utf8", 0, length);
    readBuffer = Buffer.allocUnsafe(readBuffer.length * 2);
  }
}

/** Plain synchronous node:fs. procfs and cgroupfs files report size 0; readFileSync reads them to EOF anyway. */
export const nodeLinuxFs: LinuxFs = {
  readText(path) {
    try {
      return ok(readFileSync(path, "utf8"));
    } catch (error) {
      return fromFsError(error, "read", path);
    }
  },
  listSubdirectories(path) {
    try {
      // cgroupfs (kernfs) and tmpfs fill d_type, so no stat per entry is needed.
      return ok(
        readdirSync(path, { withFileTypes: true })
          .filter((entry) => entry.isDirectory())
          .map((entry) => entry.name),
      );
    } catch (error) {
      return fromFsError(error, "list", path);
    }
  },
  listEntries(path) {
    try {
      return ok(readdirSync(path));
    } catch (error) {
      return fromFsError(error, "list", path);
    }
  },
  realpath(path) {
    try {
      return ok(realpathSync(path));
    } catch (error) {
      return fromFsError(error, "resolve", path);
    }
  },
  kind(path) {
    try {
      const stats = statSync(path);
      return ok(stats.isDirectory() ? "directory" : stats.isFile() ? "file" : "other");
    } catch (error) {
      return fromFsError(error, "stat", path);
    }
  },
  readLink(path) {
    try {
      return ok(readlinkSync(path, "utf8"));
    } catch (error) {
      return fromFsError(error, "read the link", path);
    }
  },
  readTextPrefix(path, maxBytes) {
    let fd: number;
    try {
      fd = openSync(path, "r");
    } catch (error) {
      return fromFsError(error, "open", path);
    }
    try {
      const buffer = Buffer.allocUnsafe(maxBytes);
      // One read: /proc/PID/cmdline copies all it is asked for that there is (get_mm_cmdline loops
      // over the pages itself), as a regular file does.
      const length = readSync(fd, buffer, 0, maxBytes, 0);
      return ok(buffer.toString("utf8", 0, length));
    } catch (error) {
      return fromFsError(error, "read", path);
    } finally {
      closeSync(fd);
    }
  },
  openFile(path) {
    try {
      return ok(openSync(path, "r"));
    } catch (error) {
      return fromFsError(error, "open", path);
    }
  },
  readOpenFile(fd) {
    try {
      return ok(preadWhole(fd));
    } catch (error) {
      return fromFsError(error, "read", `fd ${fd}`);
    }
  },
  closeFile(fd) {
    try {
      closeSync(fd);
    } catch {
      // Closing can only fail on a bad fd, which is then closed already.
    }
  },
};

/** Codes meaning "the object behind this path is gone": ENODEV is what a read on a removed cgroup's file returns. */
export function isVanishedCode(code: string): boolean {
  return code === "ENOENT" || code === "ESRCH" || code === "ENODEV";
}
