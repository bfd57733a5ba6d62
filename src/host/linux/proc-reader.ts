// Effectful procfs readers over a LinuxFs: read /proc/PID files, hand the text to the pure
// parsers in parse-proc.ts, and turn "the process went away" into an ESRCH result.

import { fail, ok, type HostError, type Result } from "../../core/result.js";
import type { ProcessSample } from "../../core/types.js";
import type { MachineMemory, StallEvidence } from "../../engine/host.js";
import { PROC } from "./control-files.js";
import { isVanishedCode, nodeLinuxFs, type LinuxFs } from "./linux-fs.js";
import {
  parseMeminfo,
  parseOomScoreAdj,
  parseProcCgroup,
  parseProcStat,
  parseProcStatus,
  parseWchan,
  type ProcCgroupEntry,
  type ProcStat,
  type ProcStatus,
} from "./parse-proc.js";

export const DEFAULT_PROC_ROOT = "/proc";

function vanished<T>(pid: number): Result<T> {
  return fail("ESRCH", `process ${pid} no longer exists`);
}

/** Reads and parses /proc/PID/<file>; a missing pid directory is ESRCH. */
export function readProcFile<T>(pid: number, file: string, parse: (text: string) => Result<T>, procRoot: string, fs: LinuxFs): Result<T> {
  const path = `${procRoot}/${pid}/${file}`;
  const text = fs.readText(path);
  if (!text.ok) {
    if (isVanishedCode(text.error.code)) return vanished(pid);
    return fail(text.error.code, `cannot read ${path}: ${text.error.message}`);
  }
  const parsed = parse(text.value);
  if (!parsed.ok) return fail(parsed.error.code, `${path}: ${parsed.error.message}`);
  return parsed;
}

/** Start time alone (one read of /proc/PID/stat): the kill path's identity check after pidfd_open. */
export function readProcessStartTime(pid: number, procRoot = DEFAULT_PROC_ROOT, fs: LinuxFs = nodeLinuxFs): Result<number> {
  const stat = readProcFile(pid, PROC.stat, parseProcStat, procRoot, fs);
  return stat.ok ? ok(stat.value.startTimeTicks) : stat;
}

/** The error code of a kernel thread left out without its other files being read. */
export const KERNEL_THREAD = "KERNEL_THREAD";

export interface SampleOptions {
  /**
   * Kernel threads (PF_KTHREAD in stat) come back as a KERNEL_THREAD error after the one stat
   * read: on a whole-machine listing they are a third to a half of the pids, and never candidates.
   */
  skipKernelThreads?: boolean;
}

/** What a sample is made of: stat read first and again last, status and oom_score_adj between. */
export interface ProcessReads {
  stat: ProcStat;
  status: ProcStatus;
  oomScoreAdj: number;
  /** The last stat read: a kill that landed while the other files were read shows here. */
  statLater: ProcStat;
}

/**
 * stat + status + oom_score_adj of one process, by path. The three files are separate opens, so
 * the pid could die and be reused between them; stat is read again at the end and its start time
 * must match, else the sample would mix two processes (and is reported as ESRCH: ours is gone).
 */
export function readProcessFiles(pid: number, procRoot = DEFAULT_PROC_ROOT, fs: LinuxFs = nodeLinuxFs, options: SampleOptions = {}): Result<ProcessReads> {
  const stat = readProcFile(pid, PROC.stat, parseProcStat, procRoot, fs);
  if (!stat.ok) return stat;
  if (options.skipKernelThreads === true && stat.value.isKernelThread) return fail(KERNEL_THREAD, `pid ${pid} is a kernel thread`);
  const status = readProcFile(pid, PROC.status, parseProcStatus, procRoot, fs);
  if (!status.ok) return status;
  const oomScoreAdj = readProcFile(pid, PROC.oomScoreAdj, parseOomScoreAdj, procRoot, fs);
  if (!oomScoreAdj.ok) return oomScoreAdj;
  const statLater = readProcFile(pid, PROC.stat, parseProcStat, procRoot, fs);
  if (!statLater.ok) return statLater;
  if (statLater.value.startTimeTicks !== stat.value.startTimeTicks) {
    return fail("ESRCH", `process ${pid} exited and its pid was reused while it was being read`);
  }
  return ok({ stat: stat.value, status: status.value, oomScoreAdj: oomScoreAdj.value, statLater: statLater.value });
}

/** The sample the reads of one process make (the one place a ProcessSample is built from procfs). */
export function sampleFromReads(pid: number, reads: ProcessReads): ProcessSample {
  const { stat, status, oomScoreAdj, statLater } = reads;
  // No mm (kernel thread, zombie, exiting): nothing to free, so zeros rather than unknowns.
  const memory = status.memory;
  return {
    pid,
    // stat's comm is raw; status's Name is escaped. Use the raw one, as the kernel's OOM report does.
    comm: stat.comm,
    startTimeTicks: stat.startTimeTicks,
    state: stat.state,
    rssBytes: memory?.rssBytes ?? 0,
    swapBytes: memory?.swapBytes ?? 0,
    pageTablesBytes: memory?.pageTablesBytes ?? 0,
    oomScoreAdj,
    isKernelThread: stat.isKernelThread,
    threads: statLater.numThreads,
    // The later stat read: a kill that landed while the files were read shows there.
    exiting: status.sigkillPending || isExiting(statLater),
  };
}

/** What a process's last full reads left (swap, page tables, oom_score_adj, uid): a screening listing reads none of them. */
export interface LastFullReads {
  status: ProcStatus;
  oomScoreAdj: number;
}

/**
 * A process glanced at (one read of stat, its rss there unchanged since its last full reads): its
 * state and flags now, stat's own pending SIGKILL; its memory, oom_score_adj and uid as those
 * reads left them. Its rss too: stat's is the kernel's approximate sum of per-CPU counters (on
 * this kernel up to ~180 KiB off status's exact VmRSS), so the exact one read last stands.
 */
export function glancedSample(pid: number, stat: ProcStat, last: LastFullReads): ProcessSample {
  const sample = sampleFromReads(pid, { stat, status: last.status, oomScoreAdj: last.oomScoreAdj, statLater: stat });
  return { ...sample, exiting: stat.sigkillPending || isExiting(stat) };
}

/**
 * A screened process (one read of stat): as glanced at, with its rss now (stat's, approximate);
 * swap, page tables, oom_score_adj and uid as its last full reads left them.
 */
export function screenedSample(pid: number, stat: ProcStat, last: LastFullReads, pageSizeBytes: number): ProcessSample {
  return { ...glancedSample(pid, stat, last), rssBytes: stat.rssPages * pageSizeBytes };
}

/** In do_exit(). A zombie leader keeps PF_EXITING while its threads run on: only a pending SIGKILL says it is dying. */
function isExiting(stat: ProcStat): boolean {
  return stat.isExiting && stat.state !== "Z";
}

export function readProcessSample(pid: number, procRoot = DEFAULT_PROC_ROOT, fs: LinuxFs = nodeLinuxFs, options: SampleOptions = {}): Result<ProcessSample> {
  const reads = readProcessFiles(pid, procRoot, fs, options);
  return reads.ok ? ok(sampleFromReads(pid, reads.value)) : reads;
}

export interface ProcessSamples {
  samples: ProcessSample[];
  /** Pids that exist but could not be read (EACCES under hidepid, a parse error): reported, not hidden. */
  unreadable: Array<{ pid: number; error: HostError }>;
}

/** Samples for many pids, in the order given; pids that vanished while reading are skipped silently. */
export function readProcessSamples(pids: readonly number[], procRoot = DEFAULT_PROC_ROOT, fs: LinuxFs = nodeLinuxFs, options: SampleOptions = {}): ProcessSamples {
  const samples: ProcessSample[] = [];
  const unreadable: ProcessSamples["unreadable"] = [];
  for (const pid of pids) {
    const sample = readProcessSample(pid, procRoot, fs, options);
    if (sample.ok) samples.push(sample.value);
    else if (sample.error.code !== "ESRCH" && sample.error.code !== KERNEL_THREAD) unreadable.push({ pid, error: sample.error });
  }
  return { samples, unreadable };
}

/**
 * What a victim that does not die is doing: its state (D = uninterruptible), where it sleeps
 * (wchan, e.g. mem_cgroup_oom_synchronize) and each thread's state, because one thread stuck
 * in D on a lock keeps the whole process from exiting.
 */
export function readStallEvidence(pid: number, procRoot = DEFAULT_PROC_ROOT, fs: LinuxFs = nodeLinuxFs): Result<StallEvidence> {
  const stat = readProcFile(pid, PROC.stat, parseProcStat, procRoot, fs);
  if (!stat.ok) return stat;

  // wchan is evidence, not a requirement: some kernels or security settings hide it.
  const wchanText = fs.readText(`${procRoot}/${pid}/${PROC.wchan}`);
  if (!wchanText.ok && isVanishedCode(wchanText.error.code)) return vanished(pid);
  const wchan = wchanText.ok ? parseWchan(wchanText.value) : "";

  const taskDirectory = `${procRoot}/${pid}/${PROC.task}`;
  const tids = fs.listEntries(taskDirectory);
  if (!tids.ok) {
    if (isVanishedCode(tids.error.code)) return vanished(pid);
    return fail(tids.error.code, `cannot list ${taskDirectory}: ${tids.error.message}`);
  }
  const threads: Array<{ tid: number; state: string }> = [];
  for (const name of tids.value) {
    const tid = Number(name);
    if (!Number.isSafeInteger(tid)) continue;
    const text = fs.readText(`${taskDirectory}/${name}/${PROC.stat}`);
    if (!text.ok) continue; // a thread that exited meanwhile
    const threadStat: Result<ProcStat> = parseProcStat(text.value);
    if (threadStat.ok) threads.push({ tid, state: threadStat.value.state });
  }
  threads.sort((a, b) => a.tid - b.tid);
  return ok({ state: stat.value.state, wchan, threads: threads.map((thread) => `${thread.tid}:${thread.state}`) });
}

export function readMachineMemory(procRoot = DEFAULT_PROC_ROOT, fs: LinuxFs = nodeLinuxFs): Result<MachineMemory> {
  const path = `${procRoot}/${PROC.meminfo}`;
  const text = fs.readText(path);
  if (!text.ok) return fail(text.error.code, `cannot read ${path}: ${text.error.message}`);
  const meminfo = parseMeminfo(text.value);
  if (!meminfo.ok) return fail(meminfo.error.code, `${path}: ${meminfo.error.message}`);
  const { totalBytes, availableBytes, swapTotalBytes, swapFreeBytes } = meminfo.value;
  return ok({ totalBytes, availableBytes, swapTotalBytes, swapFreeBytes });
}

/** /proc/PID/cgroup: which cgroups a process is in (the daemon checks it is not inside a cgroup it manages). */
export function readProcCgroups(pid: number, procRoot = DEFAULT_PROC_ROOT, fs: LinuxFs = nodeLinuxFs): Result<ProcCgroupEntry[]> {
  return readProcFile(pid, PROC.cgroup, parseProcCgroup, procRoot, fs);
}
