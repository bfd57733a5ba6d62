// Effectful cgroupfs readers (v1 and v2) over a LinuxFs: read the control files, hand the text
// to the pure parsers, and turn "the cgroup went away" into an ENOENT result.

import { fail, ok, type Result } from "../../core/result.js";
import { NO_MEMORY_EVENTS } from "../../core/machine-scope.js";
import type { CgroupSample } from "../../core/types.js";
import type { CgroupRef } from "../../engine/host.js";
import { V1, V2 } from "./control-files.js";
import { isVanishedCode, nodeLinuxFs, type LinuxFs } from "./linux-fs.js";
import { parseBytes, parseFlag, parseLimit, parseMemoryEvents, parseOomControl, parsePidList } from "./parse-cgroup.js";

/**
 * Reads one control file of ref and parses it. A failed read is explained: the whole cgroup
 * vanished (ENOENT, an ordinary outcome), or only this file is missing (NOT_MEMCG: wrong kind
 * of cgroup or kernel), or something else (the errno, e.g. EACCES).
 */
function readControl<T>(ref: CgroupRef, file: string, parse: (text: string) => Result<T>, fs: LinuxFs): Result<T> {
  const path = `${ref.path}/${file}`;
  const text = fs.readText(path);
  if (!text.ok) {
    if (isVanishedCode(text.error.code)) {
      const directory = fs.kind(ref.path);
      if (!directory.ok) return fail("ENOENT", `cgroup ${ref.path} no longer exists`);
      return fail("NOT_MEMCG", `cgroup ${ref.path} has no ${file}`);
    }
    return fail(text.error.code, `cannot read ${path}: ${text.error.message}`);
  }
  const parsed = parse(text.value);
  if (!parsed.ok) return fail(parsed.error.code, `${path}: ${parsed.error.message}`);
  return parsed;
}

/** Like readControl, but a missing file (older kernel, v2 root) yields fallback; a vanished cgroup is still ENOENT. */
function readOptionalControl<T>(ref: CgroupRef, file: string, parse: (text: string) => Result<T>, fallback: T, fs: LinuxFs): Result<T> {
  const result = readControl(ref, file, parse, fs);
  if (!result.ok && result.error.code === "NOT_MEMCG") return ok(fallback);
  return result;
}


function readV1Sample(ref: CgroupRef, fs: LinuxFs): Result<CgroupSample> {
  // oom_control first: it is the file whose change woke us, so it is the freshest evidence.
  const oomControl = readControl(ref, V1.oomControl, parseOomControl, fs);
  if (!oomControl.ok) return oomControl;
  const usageBytes = readControl(ref, V1.usageInBytes, parseBytes, fs);
  if (!usageBytes.ok) return usageBytes;
  const limitBytes = readControl(ref, V1.limitInBytes, parseLimit, fs);
  if (!limitBytes.ok) return limitBytes;
  return ok({
    path: ref.path,
    version: 1,
    usageBytes: usageBytes.value,
    limitBytes: limitBytes.value,
    underOom: oomControl.value.underOom,
    oomKillDisabled: oomControl.value.oomKillDisabled,
    // v1 has no low/high/max/oom counters; oom_control's oom_kill is the one it does have.
    events: { ...NO_MEMORY_EVENTS, oomKill: oomControl.value.oomKillCount },
    highBytes: null,
    oomGroup: false,
  });
}

function readV2Sample(ref: CgroupRef, fs: LinuxFs): Result<CgroupSample> {
  const events = readControl(ref, V2.events, parseMemoryEvents, fs);
  if (!events.ok) return events;
  const usageBytes = readControl(ref, V2.current, parseBytes, fs);
  if (!usageBytes.ok) return usageBytes;
  const limitBytes = readControl(ref, V2.max, parseLimit, fs);
  if (!limitBytes.ok) return limitBytes;
  const highBytes = readControl(ref, V2.high, parseLimit, fs);
  if (!highBytes.ok) return highBytes;
  // memory.oom.group appeared in 4.19; without it there is no group kill.
  const oomGroup = readOptionalControl(ref, V2.oomGroup, parseFlag, false, fs);
  if (!oomGroup.ok) return oomGroup;
  return ok({
    path: ref.path,
    version: 2,
    usageBytes: usageBytes.value,
    limitBytes: limitBytes.value,
    highBytes: highBytes.value,
    // v2 exposes no "under OOM right now" state and cannot disable the kernel killer.
    underOom: false,
    oomKillDisabled: false,
    events: events.value,
    oomGroup: oomGroup.value,
  });
}

export function readCgroupSample(ref: CgroupRef, fs: LinuxFs = nodeLinuxFs): Result<CgroupSample> {
  return ref.version === 1 ? readV1Sample(ref, fs) : readV2Sample(ref, fs);
}

/**
 * Pids of every process in ref and its descendant cgroups, deduplicated and sorted ascending.
 * The walk is not atomic: a process migrating during it may be missed or seen twice (hence the
 * dedup). A descendant removed during the walk is skipped; ref itself gone is ENOENT.
 */
export function listCgroupPids(ref: CgroupRef, fs: LinuxFs = nodeLinuxFs): Result<number[]> {
  const pids = new Set<number>();
  const pending: string[] = [ref.path];
  while (pending.length > 0) {
    const directory = pending.pop() as string;
    const isRef = directory === ref.path;
    const procsPath = `${directory}/${V1.procs}`; // "cgroup.procs" in both versions
    const text = fs.readText(procsPath);
    if (!text.ok) {
      if (isVanishedCode(text.error.code)) {
        if (isRef) return fail("ENOENT", `cgroup ${ref.path} no longer exists`);
        continue;
      }
      // v2 threaded cgroups refuse cgroup.procs; their processes are listed by the threaded domain above.
      if (text.error.code === "EOPNOTSUPP" && !isRef) continue;
      return fail(text.error.code, `cannot read ${procsPath}: ${text.error.message}`);
    }
    const parsed = parsePidList(text.value);
    if (!parsed.ok) return fail(parsed.error.code, `${procsPath}: ${parsed.error.message}`);
    for (const pid of parsed.value) pids.add(pid);

    const children = fs.listSubdirectories(directory);
    if (!children.ok) {
      if (isVanishedCode(children.error.code)) {
        if (isRef) return fail("ENOENT", `cgroup ${ref.path} no longer exists`);
        continue;
      }
      return fail(children.error.code, `cannot list ${directory}: ${children.error.message}`);
    }
    for (const child of children.value) pending.push(`${directory}/${child}`);
  }
  return ok([...pids].sort((a, b) => a - b));
}
