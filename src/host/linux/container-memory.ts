// Inside a container, the machine the guard protects is the container: its processes run out of
// memory at the container's cgroup limit, long before /proc/meminfo (which shows the host) says
// anything. So at start the host looks for the cgroup that stands in for the machine, and each
// sample then takes total, available and swap from that cgroup instead of /proc/meminfo.
//
// Which cgroup: the nearest one, from the cgroup that holds both this daemon and PID 1 of its pid
// namespace up to the top of what is mounted here, whose memory limit is below MemTotal (v2
// memory.max, v1 memory.limit_in_bytes). Starting from PID 1's side matters: on a host, a daemon
// whose own service has a MemoryMax= must not take that service for the machine (PID 1 lies
// outside it); in a container, PID 1 is the container's init, inside the container's cgroup.
//
// Available memory in the stand-in, in the shape of the kernel's MemAvailable (si_mem_available):
//   available = max(0, limit - usage) + active_file + inactive_file + slab_reclaimable
// capped at the limit. The kernel counts free memory plus the file LRU and reclaimable slab, less
// a low-watermark reserve; a cgroup has no watermark of its own (its reclaim works right up to the
// limit), so the same terms without the reserve. Counting only inactive_file (Kubernetes' "working
// set") would show a container whose page cache the kernel would gladly drop as out of memory, and
// the guard would kill in it for nothing. As with the machine's MemAvailable, page cache that is
// really in use (mapped code) counts as available: thrashing shows in PSI first.
//
// Swap (v2): the container may use swap up to memory.swap.max, and no more than the machine has:
//   swapTotal = min(memory.swap.max, SwapTotal), swapFree = min(swapTotal - memory.swap.current, SwapFree).
// v1 keeps the machine's swap (memory.memsw.* counts memory and swap together).
// Watermarks, MemFree and vmstat stay the machine's: the kernel's watermarks are per zone, not per cgroup.

import { join } from "node:path";
import { fail, ok, type Result } from "../../core/result.js";
import type { CgroupMounts } from "./cgroup-mounts.js";
import { pathBelowMountRoot } from "./cgroup-paths.js";
import { PROC, V1, V2 } from "./control-files.js";
import type { LinuxFs } from "./linux-fs.js";
import { parseBytes, parseControllerList, parseFlatKeyed, parseLimit } from "./parse-cgroup.js";
import { parseProcCgroup, type ProcCgroupEntry } from "./parse-proc.js";

/** A cgroup whose limit and usage stand in for /proc/meminfo. */
export interface MemoryStandIn {
  /** Its cgroupfs directory. */
  path: string;
  version: 1 | 2;
}

export interface StandInChoice {
  standIn: MemoryStandIn | null;
  /** For the start-up log: which cgroup stands in, or why none does where one might be expected. */
  note: string | null;
}

/** What the stand-in holds at one sample. */
export interface StandInMemory {
  limitBytes: number;
  usageBytes: number;
  /** active_file + inactive_file (v1: their total_ counters, which include the descendants). */
  fileBytes: number;
  /** v2 slab_reclaimable; v1 reports no slab: 0. */
  slabReclaimableBytes: number;
  /** v2 memory.swap.max (null: "max", or no swap accounting); v1: null. */
  swapMaxBytes: number | null;
  /** v2 memory.swap.current; null where absent. */
  swapCurrentBytes: number | null;
}

export interface MemoryFigures {
  totalBytes: number;
  availableBytes: number;
  swapTotalBytes: number;
  swapFreeBytes: number;
}

const MIB = 1024 * 1024;

/** The pure formula (see the top of the file): the stand-in's figures in place of the machine's. */
export function standInFigures(machine: MemoryFigures, cgroup: StandInMemory): MemoryFigures {
  const { limitBytes, usageBytes, fileBytes, slabReclaimableBytes } = cgroup;
  const availableBytes = Math.min(limitBytes, Math.max(0, limitBytes - usageBytes) + fileBytes + slabReclaimableBytes);
  const swapTotalBytes = cgroup.swapMaxBytes === null ? machine.swapTotalBytes : Math.min(cgroup.swapMaxBytes, machine.swapTotalBytes);
  const swapFreeBytes = Math.max(0, Math.min(swapTotalBytes - (cgroup.swapCurrentBytes ?? 0), machine.swapFreeBytes));
  return { totalBytes: limitBytes, availableBytes, swapTotalBytes, swapFreeBytes };
}

/** The figures a sample reports: the stand-in's while its limit is below MemTotal, else the machine's. */
export function figuresWithStandIn(machine: MemoryFigures, standIn: MemoryStandIn | null, fs: LinuxFs): Result<MemoryFigures> {
  if (standIn === null) return ok(machine);
  const memory = readStandInMemory(standIn, fs);
  if (!memory.ok) return memory;
  // A limit raised or removed since start (docker update): the machine's own figures again.
  if (memory.value === null || memory.value.limitBytes >= machine.totalBytes) return ok(machine);
  return ok(standInFigures(machine, memory.value));
}

function readParsed<T>(path: string, parse: (text: string) => Result<T>, fs: LinuxFs): Result<T> {
  const text = fs.readText(path);
  if (!text.ok) return fail(text.error.code, `cannot read ${path}: ${text.error.message}`);
  const parsed = parse(text.value);
  return parsed.ok ? parsed : fail(parsed.error.code, `${path}: ${parsed.error.message}`);
}

function readLimit(standIn: MemoryStandIn, fs: LinuxFs): Result<number | null> {
  return readParsed(join(standIn.path, standIn.version === 2 ? V2.max : V1.limitInBytes), parseLimit, fs);
}

/** One sample of the stand-in; null while it has no limit. Swap files a kernel without swap accounting lacks read as null. */
export function readStandInMemory(standIn: MemoryStandIn, fs: LinuxFs): Result<StandInMemory | null> {
  const limit = readLimit(standIn, fs);
  if (!limit.ok) return limit;
  if (limit.value === null) return ok(null);
  const v2 = standIn.version === 2;
  const usage = readParsed(join(standIn.path, v2 ? V2.current : V1.usageInBytes), parseBytes, fs);
  if (!usage.ok) return usage;
  const stat = readParsed(join(standIn.path, v2 ? V2.stat : V1.stat), parseFlatKeyed, fs);
  if (!stat.ok) return stat;
  const key = (name: string): number => stat.value.get(v2 ? name : `total_${name}`) ?? 0;
  const optional = (file: string, parse: (text: string) => Result<number | null>): number | null => {
    const read = readParsed(join(standIn.path, file), parse, fs);
    return read.ok ? read.value : null;
  };
  return ok({
    limitBytes: limit.value,
    usageBytes: usage.value,
    fileBytes: key("active_file") + key("inactive_file"),
    slabReclaimableBytes: v2 ? key("slab_reclaimable") : 0,
    swapMaxBytes: v2 ? optional(V2.swapMax, parseLimit) : null,
    swapCurrentBytes: v2 ? optional(V2.swapCurrent, parseBytes) : null,
  });
}

/** The v2 entry ("0::/path"), or the v1 memory controller's. */
function memoryEntry(entries: readonly ProcCgroupEntry[], version: 1 | 2): ProcCgroupEntry | undefined {
  return version === 2 ? entries.find((entry) => entry.hierarchyId === 0) : entries.find((entry) => entry.controllers.includes("memory"));
}

/** The deepest cgroup path both lie in ("/a/b" and "/a/c" -> "/a"). */
export function commonCgroupAncestor(a: string, b: string): string {
  const as = a.split("/").filter((part) => part !== "");
  const bs = b.split("/").filter((part) => part !== "");
  const common: string[] = [];
  for (let i = 0; i < Math.min(as.length, bs.length) && as[i] === bs[i]; i++) common.push(as[i] as string);
  return `/${common.join("/")}`;
}

function readCgroupOf(procRoot: string, who: string, fs: LinuxFs): Result<ProcCgroupEntry[]> {
  return readParsed(`${procRoot}/${who}/${PROC.cgroup}`, parseProcCgroup, fs);
}

/**
 * Finds the stand-in (see the top of the file). v2 is looked at where it carries the memory
 * controller, else the v1 memory hierarchy. A cgroup path outside what is mounted here (the mount
 * shows another part of the hierarchy) cannot be followed: no stand-in, said in the note.
 */
export function findMemoryStandIn(procRoot: string, fs: LinuxFs, mounts: CgroupMounts, memTotalBytes: number): StandInChoice {
  const own = readCgroupOf(procRoot, "self", fs);
  if (!own.ok) return { standIn: null, note: `container memory limit not looked for: ${own.error.message}` };
  const candidates: Array<{ version: 1 | 2; mountPoint: string; mountRoot: string }> = [];
  for (const mount of mounts.all) {
    if (mount.version === 2 && mount.mountPoint === mounts.v2) candidates.push({ version: 2, mountPoint: mount.mountPoint, mountRoot: mount.root });
    if (mount.version === 1 && mount.mountPoint === mounts.v1Memory) candidates.push({ version: 1, mountPoint: mount.mountPoint, mountRoot: mount.root });
  }
  // v2 first where its memory controller is on; a hybrid host's memory lives in v1.
  candidates.sort((a, b) => b.version - a.version);
  const init = readCgroupOf(procRoot, "1", fs);
  for (const { version, mountPoint, mountRoot } of candidates) {
    if (version === 2) {
      const controllers = fs.readText(join(mountPoint, V2.controllers));
      if (!controllers.ok || !parseControllerList(controllers.value).includes("memory")) continue;
    }
    const ownEntry = memoryEntry(own.value, version);
    if (ownEntry === undefined) continue;
    const initEntry = init.ok ? memoryEntry(init.value, version) : undefined;
    // Without PID 1's cgroup (hidepid), the daemon's own is all there is to go by.
    const start = initEntry === undefined ? ownEntry.path : commonCgroupAncestor(ownEntry.path, initEntry.path);
    const relative = pathBelowMountRoot(start, mountRoot);
    // A cgroup above a cgroup namespace's root shows as "/.."; it has no directory here either.
    if (relative === null || relative.split("/").includes("..")) {
      return { standIn: null, note: `container memory limit not looked for: cgroup ${start} lies outside the part of the hierarchy mounted at ${mountPoint} (its root ${mountRoot})` };
    }
    const found = nearestLimited(mountPoint, relative, version, memTotalBytes, fs);
    if (found === null) return { standIn: null, note: null };
    const standIn = { path: found.path, version };
    const viaInit = initEntry === undefined ? " (PID 1's cgroup could not be read: looked from this process's own)" : "";
    return {
      standIn,
      note: `memory limit of cgroup ${found.path} (${(found.limitBytes / MIB).toFixed(0)} MiB, below MemTotal ${(memTotalBytes / MIB).toFixed(0)} MiB) stands in for the machine: total, available and swap come from it${viaInit}`,
    };
  }
  return { standIn: null, note: null };
}

/** From mountPoint + relative up to mountPoint: the first cgroup whose limit is below memTotalBytes. */
function nearestLimited(mountPoint: string, relative: string, version: 1 | 2, memTotalBytes: number, fs: LinuxFs): { path: string; limitBytes: number } | null {
  const parts = relative.split("/").filter((part) => part !== "");
  for (let depth = parts.length; depth >= 0; depth--) {
    const path = depth === 0 ? mountPoint : join(mountPoint, ...parts.slice(0, depth));
    // The real root has no memory.max (v2) or an unlimited limit (v1): it never stands in.
    const limit = readLimit({ path, version }, fs);
    if (limit.ok && limit.value !== null && limit.value < memTotalBytes) return { path, limitBytes: limit.value };
  }
  return null;
}
