// The slow-changing facts of a process that the listing's own files (stat, status) do not hold:
// its command line, executable and cgroup, read by path once per process and kept by the process
// table (process-table.ts), and the hook that turns its cgroup into an oomd-style preference.

import { fail, ok, type Result } from "../../core/result.js";
import type { CgroupPreference } from "../../core/types.js";
import { PROC } from "./control-files.js";
import { isVanishedCode, type LinuxFs } from "./linux-fs.js";
import { CMDLINE_MAX_CHARS, cgroupOf, parseCmdline, type CgroupHierarchy } from "./parse-proc.js";
import { readProcCgroups } from "./proc-reader.js";

/**
 * What the xattrs on a cgroup (or its nearest ancestor that has one) ask of an OOM killer. The
 * argument is the cgroup as /proc/PID/cgroup names it ("/"-rooted, the hierarchy the table reads);
 * null: no preference. Called when a process's cgroup is read, at most once per cgroup per listing.
 */
export type CgroupPreferenceLookup = (cgroup: string) => CgroupPreference | null;

export const noCgroupPreference: CgroupPreferenceLookup = () => null;

/** The facts read by path; uid, pgid and sid come with every listing's stat and status instead. */
export interface PathDetails {
  /** "" where not read (no rule matches on it: readPathDetails' readCmdline). */
  cmdline: string;
  exe: string | null;
  cgroup: string;
}

/** UTF-8 takes up to 4 bytes a character: this many bytes hold CMDLINE_MAX_CHARS of any text. */
const CMDLINE_READ_BYTES = 4 * CMDLINE_MAX_CHARS;

/**
 * cmdline (if readCmdline), exe and cgroup of pid, by path. The caller proves afterwards, through
 * an fd of the process opened before, that the pid still names the same process (these opens could
 * otherwise land on a process that took the pid meanwhile). exe is null where it cannot be read: a
 * kernel thread or a zombie has none, another user's process needs ptrace rights. The command line
 * is the one file here whose read takes the process's mmap lock (rulesReadCommandLines).
 */
export function readPathDetails(pid: number, procRoot: string, fs: LinuxFs, hierarchy: CgroupHierarchy, readCmdline: boolean): Result<PathDetails> {
  let cmdline = "";
  if (readCmdline) {
    const cmdlinePath = `${procRoot}/${pid}/${PROC.cmdline}`;
    const read = fs.readTextPrefix(cmdlinePath, CMDLINE_READ_BYTES);
    if (!read.ok) {
      return isVanishedCode(read.error.code) ? fail("ESRCH", `process ${pid} no longer exists`) : fail(read.error.code, `cannot read ${cmdlinePath}: ${read.error.message}`);
    }
    cmdline = parseCmdline(read.value);
  }
  const exe = fs.readLink(`${procRoot}/${pid}/${PROC.exe}`);
  const entries = readProcCgroups(pid, procRoot, fs);
  if (!entries.ok) return entries;
  // The other hierarchy's line rather than none (a v1-only kernel still prints "0::/", a v2-only one no memory line).
  const cgroup = cgroupOf(entries.value, hierarchy) ?? cgroupOf(entries.value, hierarchy === "v2" ? "v1-memory" : "v2");
  if (cgroup === null) return fail("ENOENT", `${procRoot}/${pid}/${PROC.cgroup} names no cgroup`);
  return ok({ cmdline, exe: exe.ok ? exe.value : null, cgroup });
}

/** Whether cgroup is within (itself or below it); both "/"-rooted as /proc/PID/cgroup prints them. */
export function isCgroupWithin(cgroup: string, within: string): boolean {
  return within === "/" || cgroup === within || cgroup.startsWith(`${within}/`);
}
