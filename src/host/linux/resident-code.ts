// Keeps the daemon's own code in memory while the machine runs out. Under pressure the kernel
// evicts clean file pages first, and the node binary's ~85 MiB of code and read-only data are clean
// file pages: a daemon deciding a kill would read its own code back from disk, one major fault at a
// time, at the moment the disk is busiest. So the file-backed code and read-only data of the node
// binary, its shared libraries and the addon are mlock2'ed at start.
//
// Not mlockall: with V8's anonymous pages locked, its madvise(MADV_DONTNEED) fails and Node 20
// aborts (see native.ts). Only file mappings are locked here, which V8 never madvises. Anonymous
// memory (the heap, JIT code) cannot be evicted without swap anyway.
//
// Three modes. "on-fault" (MLOCK_ONFAULT) locks the pages already in use and every other page at
// its first use, so RSS stays at the working set, but code first run in an emergency still faults
// once: the decision path must be run once at start (a warm-up). "code" reads the executable
// ranges in at start and locks them whole (about 30 MiB: the machine code, V8's builtins among it),
// the read-only data on fault. "full" reads every page in at start (RSS grows by the whole ~85 MiB)
// and nothing faults later.

import { fail, ok, type Result } from "../../core/result.js";
import type { LinuxFs } from "./linux-fs.js";
import * as native from "./native.js";
import { parseProcMaps, type MapsEntry } from "./parse-proc-maps.js";

export type ResidentCodeMode = "on-fault" | "code" | "full";

export interface CodeRange {
  startAddress: number;
  lengthBytes: number;
  perms: string;
  path: string;
}

export interface RefusedRanges {
  /** errno code of the refusal (ENOMEM, EPERM, EAGAIN, ...). */
  code: string;
  ranges: number;
  bytes: number;
}

export interface ResidentCodeReport {
  mode: ResidentCodeMode;
  /** What was asked: every code and read-only data range of the executable objects. */
  askedBytes: number;
  askedRanges: number;
  /** Files those ranges belong to (the node binary, the libraries, the addon). */
  files: number;
  lockedBytes: number;
  lockedRanges: number;
  refused: RefusedRanges[];
  /** One line for the start-up log and journal. */
  note: string;
}

export type LockRange = (address: number, lengthBytes: number, onFault: boolean) => Result<void>;

export interface LockResidentCodeOptions {
  /** "/proc" (fixture tests pass their own tree). */
  procRoot: string;
  fs: LinuxFs;
  mode: ResidentCodeMode;
  /** mlock2 on one range; the addon's by default. */
  lock?: LockRange;
}

const MIB = 1024 * 1024;
const CODE = "r-xp";
const READ_ONLY_DATA = "r--p";

/**
 * The ranges worth locking: the private read-only mappings (code r-xp, read-only data r--p) of every
 * file that has an executable mapping. That is the executable and its shared objects; a data file
 * mapped read-only (locale-archive, a database) has no executable mapping and is left out, and so is
 * anything anonymous, writable or shared.
 */
export function residentCodeRanges(entries: readonly MapsEntry[]): CodeRange[] {
  const isFile = (entry: MapsEntry): boolean => entry.inode !== 0 && entry.path.startsWith("/");
  const executables = new Set(entries.filter((entry) => isFile(entry) && entry.perms === CODE).map((entry) => entry.path));
  return entries
    .filter((entry) => isFile(entry) && executables.has(entry.path) && (entry.perms === CODE || entry.perms === READ_ONLY_DATA))
    .map((entry) => ({ startAddress: entry.startAddress, lengthBytes: entry.endAddress - entry.startAddress, perms: entry.perms, path: entry.path }));
}

/** Locks the daemon's code ranges one by one (a refused range does not stop the others) and says what came of it. */
export function lockResidentCode(options: LockResidentCodeOptions): ResidentCodeReport {
  const { procRoot, fs, mode } = options;
  // The addon is loaded before the maps are read, so that its own code is among the ranges.
  if (options.lock === undefined) native.nativeStatus();
  const lock: LockRange = options.lock ?? ((address, lengthBytes, onFault) => native.mlockRange(address, lengthBytes, { onFault }));
  const ranges = readCodeRanges(procRoot, fs);
  if (!ranges.ok) return report(mode, [], [], new Map(), `code not locked in memory: ${ranges.error.message}`);

  const locked: CodeRange[] = [];
  const refusedByCode = new Map<string, RefusedRanges>();
  let firstRefusal: string | null = null;
  for (const range of ranges.value) {
    const done = lock(range.startAddress, range.lengthBytes, lockOnFault(mode, range));
    if (done.ok) {
      locked.push(range);
      continue;
    }
    firstRefusal ??= done.error.message;
    const refused = refusedByCode.get(done.error.code) ?? { code: done.error.code, ranges: 0, bytes: 0 };
    refused.ranges += 1;
    refused.bytes += range.lengthBytes;
    refusedByCode.set(done.error.code, refused);
  }
  const limit = readMemlockLimitBytes(procRoot, fs);
  return report(mode, ranges.value, locked, refusedByCode, describe(mode, ranges.value, locked, [...refusedByCode.values()], limit, firstRefusal));
}

/** Whether a range is locked page by page as it is used (MLOCK_ONFAULT) rather than read in now. */
function lockOnFault(mode: ResidentCodeMode, range: CodeRange): boolean {
  return mode === "on-fault" || (mode === "code" && range.perms !== CODE);
}

function readCodeRanges(procRoot: string, fs: LinuxFs): Result<CodeRange[]> {
  const path = `${procRoot}/self/maps`;
  const text = fs.readText(path);
  if (!text.ok) return fail(text.error.code, `cannot read ${path}: ${text.error.message}`);
  const entries = parseProcMaps(text.value);
  if (!entries.ok) return fail(entries.error.code, `${path}: ${entries.error.message}`);
  return ok(residentCodeRanges(entries.value));
}

/** RLIMIT_MEMLOCK's soft limit from /proc/self/limits ("Max locked memory  8388608  8388608  bytes"); null: unlimited or unknown. */
export function parseMemlockLimit(limitsText: string): number | null {
  const match = /^Max locked memory\s+(\S+)/m.exec(limitsText);
  if (match === null || match[1] === "unlimited") return null;
  const bytes = Number(match[1]);
  return Number.isSafeInteger(bytes) ? bytes : null;
}

function readMemlockLimitBytes(procRoot: string, fs: LinuxFs): number | null {
  const text = fs.readText(`${procRoot}/self/limits`);
  return text.ok ? parseMemlockLimit(text.value) : null;
}

function sumBytes(ranges: readonly CodeRange[]): number {
  return ranges.reduce((total, range) => total + range.lengthBytes, 0);
}

function mib(bytes: number): string {
  return `${(bytes / MIB).toFixed(1)} MiB`;
}

function report(mode: ResidentCodeMode, asked: readonly CodeRange[], locked: readonly CodeRange[], refused: Map<string, RefusedRanges>, note: string): ResidentCodeReport {
  return {
    mode,
    askedBytes: sumBytes(asked),
    askedRanges: asked.length,
    files: new Set(asked.map((range) => range.path)).size,
    lockedBytes: sumBytes(locked),
    lockedRanges: locked.length,
    refused: [...refused.values()],
    note,
  };
}

/** Why a refusal happened, in words an operator can act on. */
function refusalReason(refused: RefusedRanges, limitBytes: number | null): string {
  const remedy = "(systemd: LimitMEMLOCK=infinity, or AmbientCapabilities=CAP_IPC_LOCK)";
  if (refused.code === "ENOMEM") {
    const limit = limitBytes === null ? "RLIMIT_MEMLOCK" : `RLIMIT_MEMLOCK (${mib(limitBytes)})`;
    return `ENOMEM: more than ${limit} would be locked and the daemon lacks CAP_IPC_LOCK ${remedy}`;
  }
  if (refused.code === "EPERM") return `EPERM: RLIMIT_MEMLOCK is 0 and the daemon lacks CAP_IPC_LOCK ${remedy}`;
  if (refused.code === "EAGAIN") return "EAGAIN: some pages could not be locked (the machine is short of memory now)";
  return refused.code;
}

function describe(mode: ResidentCodeMode, asked: readonly CodeRange[], locked: readonly CodeRange[], refused: readonly RefusedRanges[], limitBytes: number | null, firstRefusal: string | null): string {
  const how =
    mode === "on-fault" ? "MLOCK_ONFAULT: each page from its first use on" : mode === "code" ? "the code read in now, read-only data from its first use on" : "every page read in now";
  const files = new Set(asked.map((range) => range.path)).size;
  if (asked.length === 0) return "code not locked in memory: no file-backed code mapping found in /proc/self/maps";
  if (refused.length === 0) return `code kept in memory: ${mib(sumBytes(locked))} of code and read-only data of ${files} files (the node binary and its libraries) locked (${how})`;
  const reasons = refused.map((r) => `${r.ranges} ranges (${mib(r.bytes)}) refused with ${refusalReason(r, limitBytes)}`).join("; ");
  const lead = locked.length === 0 ? "code not locked in memory" : `code kept in memory only in part: ${mib(sumBytes(locked))} of ${mib(sumBytes(asked))} locked (${how})`;
  return `${lead}; ${reasons}; under memory pressure the daemon may read its own code back from disk while it decides (first refusal: ${firstRefusal ?? "?"})`;
}
