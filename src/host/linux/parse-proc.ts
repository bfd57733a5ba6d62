// Pure parsers for procfs text (proc(5)). Text in, typed record out; no I/O, no exceptions:
// malformed text is a PARSE_ERROR result, because a daemon that dies on one odd line is the
// failure mode we exist to handle.

import { fail, ok, type Result } from "../../core/result.js";
import { quoted } from "../../core/shown-text.js";
import { PF_EXITING, PF_KTHREAD, SIGKILL_PENDING_BIT } from "./control-files.js";
import { parseCount, parseInteger, parseUnsigned } from "./parse-number.js";

export const PARSE_ERROR = "PARSE_ERROR";

const KIB = 1024;
const NEWLINE = 10;

// ---------------------------------------------------------------- /proc/PID/stat

export interface ProcStat {
  pid: number;
  /** Raw comm (up to 15 bytes): may contain spaces, parentheses, even newlines. */
  comm: string;
  /** Single letter: R, S, D, Z, T, t, X, I, ... */
  state: string;
  ppid: number;
  /** Field 5: the process group (what kill(-pgid) signals). */
  pgid: number;
  /** Field 6: the session. */
  sid: number;
  /** Field 9, PF_* bits. */
  flags: number;
  /** PF_KTHREAD set: a kernel thread, no mm, never a candidate. */
  isKernelThread: boolean;
  /** PF_EXITING set: the task is in do_exit(). */
  isExiting: boolean;
  /** Field 20. */
  numThreads: number;
  /** Field 22: clock ticks after boot. With the pid, it names a process for its whole life. */
  startTimeTicks: number;
  /** Field 23. */
  vsizeBytes: number;
  /** Field 24, in pages. */
  rssPages: number;
  /**
   * SIGKILL pending, from field 31 (the task's own pending signals, status's SigPnd): a fatal
   * signal is put in every thread's own set the moment it is sent. false where the field is absent.
   */
  sigkillPending: boolean;
}

/** Fields after comm start at field 3 (state); field n is at index n - 3. */
const STAT_FIRST_FIELD_AFTER_COMM = 3;
const STAT_LAST_FIELD_USED = 24;
/** Pending signals (not required: read where the kernel prints it, as every kernel since 2.6 does). */
const STAT_SIGNAL_FIELD = 31;

export function parseProcStat(text: string): Result<ProcStat> {
  // comm is printed raw between "(" and ")", so it can hold ")" itself; everything after it is
  // numbers and one state letter. The pid never holds "(", so the first "(" opens comm and the
  // LAST ")" closes it.
  const open = text.indexOf("(");
  const close = text.lastIndexOf(")");
  if (open < 1 || close < open) return fail(PARSE_ERROR, `stat: no "(comm)" in ${quoted(text.slice(0, 80))}`);
  const pid = parseCount(text.slice(0, open).trim());
  if (pid === null) return fail(PARSE_ERROR, `stat: bad pid in ${quoted(text.slice(0, open))}`);
  const comm = text.slice(open + 1, close);
  const rest = text.slice(close + 1).trim().split(/ +/);
  if (rest.length < STAT_LAST_FIELD_USED - STAT_FIRST_FIELD_AFTER_COMM + 1) {
    return fail(PARSE_ERROR, `stat of pid ${pid}: ${rest.length} fields after comm, expected at least ${STAT_LAST_FIELD_USED - 2}`);
  }
  const field = (n: number): string => rest[n - STAT_FIRST_FIELD_AFTER_COMM] ?? "";
  const state = field(3);
  if (!/^[A-Za-z]$/.test(state)) return fail(PARSE_ERROR, `stat of pid ${pid}: bad state ${quoted(state)}`);
  // Ids, flags, counts and start time exact and >= 0; the size may be any 64-bit value.
  const ppid = parseCount(field(4));
  const pgid = parseCount(field(5));
  const sid = parseCount(field(6));
  const flags = parseCount(field(9));
  const numThreads = parseCount(field(20));
  const startTimeTicks = parseCount(field(22));
  const vsizeBytes = parseUnsigned(field(23));
  const rssPages = parseCount(field(24));
  // Field 31 as a decimal bitmap (cut to 31 bits by the kernel): SIGKILL's bit is in range.
  const signals = rest.length >= STAT_SIGNAL_FIELD - STAT_FIRST_FIELD_AFTER_COMM + 1 ? parseCount(field(STAT_SIGNAL_FIELD)) : 0;
  if (ppid === null || pgid === null || sid === null || flags === null || numThreads === null || startTimeTicks === null || vsizeBytes === null || rssPages === null) {
    return fail(PARSE_ERROR, `stat of pid ${pid}: a numeric field is not a number`);
  }
  return ok({
    pid,
    comm,
    state,
    ppid,
    pgid,
    sid,
    flags,
    // flags is an unsigned int; & works on its low 32 bits, which is all of it.
    isKernelThread: (flags & PF_KTHREAD) !== 0,
    isExiting: (flags & PF_EXITING) !== 0,
    numThreads,
    startTimeTicks,
    vsizeBytes,
    rssPages,
    sigkillPending: signals !== null && (signals & SIGKILL_PENDING_BIT) !== 0,
  });
}

// ---------------------------------------------------------------- /proc/PID/status

export interface ProcStatusMemory {
  /** VmRSS = RssAnon + RssFile + RssShmem. */
  rssBytes: number;
  /** null on kernels before 4.5, which lack the split. */
  rssAnonBytes: number | null;
  rssFileBytes: number | null;
  rssShmemBytes: number | null;
  swapBytes: number;
  pageTablesBytes: number;
}

export interface ProcStatus {
  /** Name as printed by status: comm with "\n" and "\\" escaped (stat's comm is raw). */
  name: string;
  state: string;
  tgid: number;
  pid: number;
  ppid: number;
  threads: number | null;
  /** "Kthread:" line (Linux 6.x); null where the kernel does not print it. */
  kthread: boolean | null;
  /** null when the task has no mm: kernel threads, zombies, a process past exit_mm. */
  memory: ProcStatusMemory | null;
  /** SIGKILL is pending for the thread (SigPnd) or its thread group (ShdPnd): it dies at its next return to user space. */
  sigkillPending: boolean;
  /** Real uid, the first of the "Uid:" line's four; null where the line is missing. */
  uid: number | null;
}

/**
 * The value of "Key:" in status text, or undefined. Keys are unique and each starts a line; Name
 * comes first, and status escapes a newline in it, so no value can fake a line. Looking up the few
 * keys needed is a third of the cost of splitting every one of its 50-odd lines (a listing parses
 * one status per process).
 */
function statusValue(text: string, key: string): string | undefined {
  const needle = `${key}:`;
  let start: number;
  if (text.startsWith(needle)) start = needle.length;
  else {
    const at = text.indexOf(needle);
    // A key starts a line; "Pid:" inside "PPid:" or "NSpid:" does not count.
    const lineStart = at < 0 || text.charCodeAt(at - 1) === NEWLINE ? at : text.indexOf(`\n${needle}`, at) + 1;
    if (lineStart <= 0) return undefined;
    start = lineStart + needle.length;
  }
  const end = text.indexOf("\n", start);
  return text.slice(start, end < 0 ? text.length : end);
}

export function parseProcStatus(text: string): Result<ProcStatus> {
  const value = (key: string): string | undefined => statusValue(text, key);
  const rawName = value("Name");
  if (rawName === undefined) return fail(PARSE_ERROR, "status: no Name line");
  // "Name:\t%s": strip exactly the tab, keep a comm's own leading or trailing spaces.
  const name = rawName.startsWith("\t") ? rawName.slice(1) : rawName;

  // Every number status prints is an id or a count: never negative.
  const int = (key: string): number | null => {
    const text = value(key);
    return text === undefined ? null : parseCount(text.trim());
  };
  // "VmRSS:\t    1760 kB"
  const kib = (key: string): number | null | "bad" => {
    const text = value(key);
    if (text === undefined) return null;
    const match = /^\s*(\d+) kB\s*$/.exec(text);
    const kibs = match?.[1] === undefined ? null : parseUnsigned(match[1]);
    return kibs === null ? "bad" : kibs * KIB;
  };

  const stateText = value("State")?.trim() ?? "";
  const state = stateText.charAt(0);
  if (!/^[A-Za-z]$/.test(state)) return fail(PARSE_ERROR, `status of ${name}: bad State ${quoted(stateText)}`);
  const tgid = int("Tgid");
  const pid = int("Pid");
  const ppid = int("PPid");
  if (tgid === null || pid === null || ppid === null) return fail(PARSE_ERROR, `status of ${name}: Tgid, Pid or PPid missing or not a number`);
  const kthreadValue = int("Kthread");

  let memory: ProcStatusMemory | null = null;
  const rss = kib("VmRSS");
  if (rss !== null) {
    const fields = { rss, anon: kib("RssAnon"), file: kib("RssFile"), shmem: kib("RssShmem"), swap: kib("VmSwap"), pte: kib("VmPTE") };
    for (const [key, field] of Object.entries(fields)) {
      if (field === "bad") return fail(PARSE_ERROR, `status of pid ${pid}: ${key} is not "<n> kB"`);
    }
    const num = (field: number | null | "bad"): number | null => (typeof field === "number" ? field : null);
    memory = {
      rssBytes: num(fields.rss) ?? 0,
      rssAnonBytes: num(fields.anon),
      rssFileBytes: num(fields.file),
      rssShmemBytes: num(fields.shmem),
      swapBytes: num(fields.swap) ?? 0,
      pageTablesBytes: num(fields.pte) ?? 0,
    };
  }

  const sigkill = [value("SigPnd"), value("ShdPnd")].map(sigkillInMask);
  // "Uid:\t0\t0\t0\t0": real, effective, saved, filesystem.
  const uidText = value("Uid");
  const uid = uidText === undefined ? undefined : parseCount(uidText.trim().split(/\s+/)[0] ?? "");
  if (uid === null) return fail(PARSE_ERROR, `status of pid ${pid}: Uid ${quoted(uidText ?? "")} does not start with a number`);
  if (sigkill.includes("bad")) return fail(PARSE_ERROR, `status of pid ${pid}: SigPnd or ShdPnd is not a hexadecimal mask`);

  return ok({
    name,
    state,
    tgid,
    pid,
    ppid,
    threads: int("Threads"),
    kthread: kthreadValue === null ? null : kthreadValue !== 0,
    memory,
    sigkillPending: sigkill.includes(true),
    uid: uid ?? null,
  });
}

/** Whether a "SigPnd:\t0000000000000100" mask holds SIGKILL; a missing line holds nothing. */
function sigkillInMask(value: string | undefined): boolean | "bad" {
  if (value === undefined) return false;
  const hex = value.trim();
  if (!/^[0-9a-fA-F]{1,32}$/.test(hex)) return "bad";
  // SIGKILL is in the lowest byte pair: the last 8 hex digits suffice (and stay in 32 bits).
  return (Number.parseInt(hex.slice(-8), 16) & SIGKILL_PENDING_BIT) !== 0;
}

// ---------------------------------------------------------------- /proc/PID/oom_score

/** The kernel's badness on its 0..2000 scale (src/core/oom-score.ts). */
export function parseOomScore(text: string): Result<number> {
  const score = parseCount(text.trim());
  if (score === null) return fail(PARSE_ERROR, `oom_score: not a count: ${quoted(text.slice(0, 40))}`);
  return ok(score);
}

// ---------------------------------------------------------------- /proc/thread-self/schedstat

/** A thread's time on a CPU and time runnable but waiting for one, since it started. */
export interface ThreadScheduleNs {
  onCpuNs: number;
  runQueueNs: number;
}

/**
 * "ON_CPU_NS RUN_QUEUE_NS TIMESLICES". A kernel without scheduler statistics (CONFIG_SCHED_INFO
 * off) writes 0 for both times, which no thread that is reading its own file can have: null then.
 */
export function parseSchedstat(text: string): Result<ThreadScheduleNs | null> {
  const fields = text.trim().split(/\s+/);
  const onCpuNs = parseCount(fields[0] ?? "");
  const runQueueNs = parseCount(fields[1] ?? "");
  if (fields.length !== 3 || onCpuNs === null || runQueueNs === null) return fail(PARSE_ERROR, `schedstat: not three counts: ${quoted(text.slice(0, 60))}`);
  return ok(onCpuNs === 0 && runQueueNs === 0 ? null : { onCpuNs, runQueueNs });
}

// ---------------------------------------------------------------- /proc/PID/oom_score_adj

export const OOM_SCORE_ADJ_MIN = -1000;
export const OOM_SCORE_ADJ_MAX = 1000;

export function parseOomScoreAdj(text: string): Result<number> {
  const value = parseInteger(text.trim());
  if (value === null || value < OOM_SCORE_ADJ_MIN || value > OOM_SCORE_ADJ_MAX) {
    return fail(PARSE_ERROR, `oom_score_adj: ${quoted(text.trim())} is not an integer in [-1000, 1000]`);
  }
  return ok(value);
}

// ---------------------------------------------------------------- /proc/meminfo

export interface Meminfo {
  totalBytes: number;
  freeBytes: number;
  /** MemAvailable; on kernels before 3.14 estimated as MemFree + Buffers + Cached. */
  availableBytes: number;
  swapTotalBytes: number;
  swapFreeBytes: number;
  /** Every line: bytes for "kB" lines, the bare count otherwise (HugePages_Total, ...). */
  byKey: Map<string, number>;
}

export function parseMeminfo(text: string): Result<Meminfo> {
  const byKey = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    // "Active(anon):       1528 kB" / "HugePages_Total:       0"
    const match = /^([^:]+):\s+(\d+)(?: (kB))?\s*$/.exec(line);
    const count = match?.[2] === undefined ? null : parseUnsigned(match[2]);
    if (match === null || match[1] === undefined || count === null) {
      return fail(PARSE_ERROR, `meminfo: cannot read line ${quoted(line)}`);
    }
    byKey.set(match[1], match[3] === "kB" ? count * KIB : count);
  }
  const total = byKey.get("MemTotal");
  const free = byKey.get("MemFree");
  if (total === undefined || free === undefined) return fail(PARSE_ERROR, "meminfo: MemTotal or MemFree missing");
  const available = byKey.get("MemAvailable") ?? free + (byKey.get("Buffers") ?? 0) + (byKey.get("Cached") ?? 0);
  return ok({
    totalBytes: total,
    freeBytes: free,
    availableBytes: available,
    // A kernel built without swap prints 0 here rather than omitting the lines; absent means none.
    swapTotalBytes: byKey.get("SwapTotal") ?? 0,
    swapFreeBytes: byKey.get("SwapFree") ?? 0,
    byKey,
  });
}

// ---------------------------------------------------------------- /proc/PID/mountinfo

export interface MountinfoEntry {
  mountId: number;
  parentId: number;
  /** "major:minor" of st_dev. */
  device: string;
  /** Root of the mount inside its filesystem ("/" usually; "/docker/abc" for a container's cgroup view). */
  root: string;
  /** Where it is mounted, unescaped. */
  mountPoint: string;
  mountOptions: string[];
  /** "shared:1", "master:2", ... */
  optionalFields: string[];
  fsType: string;
  source: string;
  /** Filesystem-specific options; for cgroup v1 they name the controllers ("memory", "cpu", "name=systemd"). */
  superOptions: string[];
}

/** The kernel writes space, tab, newline and backslash in paths as \040, \011, \012, \134. */
export function unescapeMountinfo(text: string): string {
  return text.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

/** Mountinfo lines have at least 6 fields before the optional ones, then "-", then 3 more. */
const MOUNTINFO_FIXED_FIELDS = 6;

export function parseMountinfo(text: string): Result<MountinfoEntry[]> {
  const entries: MountinfoEntry[] = [];
  const lines = text.split("\n");
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index] ?? "";
    if (line.trim() === "") continue;
    const fields = line.split(" ");
    const separator = fields.indexOf("-", MOUNTINFO_FIXED_FIELDS);
    const mountId = parseCount(fields[0] ?? "");
    const parentId = parseCount(fields[1] ?? "");
    if (separator < 0 || fields.length < separator + 4 || mountId === null || parentId === null) {
      return fail(PARSE_ERROR, `mountinfo line ${index + 1}: cannot read ${quoted(line)}`);
    }
    const at = (i: number): string => fields[i] ?? "";
    entries.push({
      mountId,
      parentId,
      device: at(2),
      root: unescapeMountinfo(at(3)),
      mountPoint: unescapeMountinfo(at(4)),
      mountOptions: at(5).split(",").map(unescapeMountinfo),
      optionalFields: fields.slice(MOUNTINFO_FIXED_FIELDS, separator),
      fsType: at(separator + 1),
      source: unescapeMountinfo(at(separator + 2)),
      superOptions: at(separator + 3).split(",").map(unescapeMountinfo),
    });
  }
  return ok(entries);
}

// ---------------------------------------------------------------- /proc/PID/cgroup

export interface ProcCgroupEntry {
  /** 0 for the v2 hierarchy. */
  hierarchyId: number;
  /** v1 controllers of the hierarchy ("memory", "cpu", "cpuacct", "name=systemd"); empty for v2. */
  controllers: string[];
  /** Path relative to the hierarchy's root as seen from this process's cgroup namespace. */
  path: string;
}

export function parseProcCgroup(text: string): Result<ProcCgroupEntry[]> {
  const entries: ProcCgroupEntry[] = [];
  for (const line of text.split("\n")) {
    if (line === "") continue;
    // "4:memory:/a/b" — the path itself may contain ':', so split at the first two only.
    const first = line.indexOf(":");
    const second = line.indexOf(":", first + 1);
    const hierarchyId = parseCount(line.slice(0, first));
    if (first < 0 || second < 0 || hierarchyId === null) return fail(PARSE_ERROR, `cgroup: cannot read line ${quoted(line)}`);
    const controllers = line.slice(first + 1, second);
    entries.push({ hierarchyId, controllers: controllers === "" ? [] : controllers.split(","), path: line.slice(second + 1) });
  }
  return ok(entries);
}

/** Which line of /proc/PID/cgroup names a process's cgroup: the v2 hierarchy's, or the v1 memory controller's. */
export type CgroupHierarchy = "v2" | "v1-memory";

/** The path of the chosen hierarchy's line, "/"-rooted as the file prints it; null where there is none. */
export function cgroupOf(entries: readonly ProcCgroupEntry[], hierarchy: CgroupHierarchy): string | null {
  const entry = hierarchy === "v2" ? entries.find((e) => e.hierarchyId === 0) : entries.find((e) => e.controllers.includes("memory"));
  return entry?.path ?? null;
}

// ---------------------------------------------------------------- /proc/self/limits

/**
 * The soft limit on open files (RLIMIT_NOFILE) from "Max open files  1024  4096  files"; null
 * where it is "unlimited" or the line is missing or garbled.
 */
export function parseOpenFilesSoftLimit(text: string): number | null {
  const match = /^Max open files\s+(\S+)\s/m.exec(text);
  return match?.[1] === undefined ? null : parseCount(match[1]);
}

// ---------------------------------------------------------------- /proc/uptime

/** Milliseconds since boot from "350735.47 234388.90" (the first number); null if garbled. */
export function parseUptimeMs(text: string): number | null {
  const match = /^(\d+)\.(\d\d)\s/.exec(text);
  return match?.[1] === undefined || match[2] === undefined ? null : Number(match[1]) * 1000 + Number(match[2]) * 10;
}

// ---------------------------------------------------------------- /proc/PID/wchan

/** The kernel prints "0" when the task is running or the address has no symbol; that is "no wait channel". */
export function parseWchan(text: string): string {
  const value = text.trim();
  return value === "0" ? "" : value;
}

// ---------------------------------------------------------------- /proc/PID/cmdline

/** What ProcessDetails.cmdline keeps of a command line at most. */
export const CMDLINE_MAX_CHARS = 4096;

/**
 * The arguments (NUL-terminated, as execve laid them out) joined by single spaces, cut at
 * CMDLINE_MAX_CHARS. A process that rewrote its arguments (setproctitle) may have left no NULs:
 * its text is kept as it is. A kernel thread or a zombie has none: "".
 */
export function parseCmdline(text: string): string {
  const trimmed = text.endsWith("\0") ? text.slice(0, -1) : text;
  return trimmed.replaceAll("\0", " ").slice(0, CMDLINE_MAX_CHARS);
}
