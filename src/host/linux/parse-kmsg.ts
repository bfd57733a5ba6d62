// The kernel log's OOM-kill lines, as /dev/kmsg gives them ("prio,seq,usec,flags;message"), the
// message formats of mm/oom_kill.c:
//   oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/t1,task_memcg=/t1/a,task=tail,pid=189,uid=0
//   Memory cgroup out of memory: Killed process 189 (tail) total-vm:67736kB, anon-rss:64872kB, file-rss:864kB, shmem-rss:0kB, UID:0 pgtables:172kB oom_score_adj:0
// A memory.oom.group kill prints one "Killed process" line per member after the one oom-kill line.
// A global OOM prints "Out of memory: Killed process ..." after an oom-kill line with global_oom
// (and no oom_memcg).

import type { KernelOomKill } from "../../engine/host.js";

/** What a run of log lines has told so far: the memory cgroup of the OOM being reported. */
export interface KmsgState {
  oomMemcg: string | null;
  /** The victim the oom-kill line named, with its own cgroup. */
  taskPid: number | null;
  taskMemcg: string | null;
}

export function emptyKmsgState(): KmsgState {
  return { oomMemcg: null, taskPid: null, taskMemcg: null };
}

/** The message of one /dev/kmsg record (null: not a record line, e.g. a "KEY=value" continuation). */
export function kmsgMessage(line: string): string | null {
  const match = /^\d+,\d+,\d+,[^;]*;(.*)$/.exec(line);
  return match === null ? null : (match[1] ?? "");
}

const OOM_KILL_LINE = /^oom-kill:(.*)$/;
const KILLED_LINE = /^(Memory cgroup out of memory|Out of memory): Killed process (\d+) \((.*)\) total-vm:\d+kB, anon-rss:(\d+)kB, file-rss:(\d+)kB, shmem-rss:(\d+)kB/;

/** Feeds one message; returns the kill it reports, if it is a memcg "Killed process" line. */
export function readKmsgMessage(state: KmsgState, message: string): KernelOomKill | null {
  const header = OOM_KILL_LINE.exec(message);
  if (header !== null) {
    const fields = new Map((header[1] ?? "").split(",").map((pair) => pair.split("=", 2) as [string, string | undefined]));
    state.oomMemcg = fields.get("oom_memcg") ?? null;
    state.taskMemcg = fields.get("task_memcg") ?? null;
    const pid = Number(fields.get("pid"));
    state.taskPid = Number.isSafeInteger(pid) ? pid : null;
    return null;
  }
  const killed = KILLED_LINE.exec(message);
  if (killed === null) return null;
  const global = killed[1] === "Out of memory";
  if (!global && state.oomMemcg === null) return null;
  const pid = Number(killed[2]);
  const kib = (index: number): number => Number(killed[index]) * 1024;
  // The oom-kill line names its victim's own cgroup; the other members of a group kill are in the OOM's cgroup or below it.
  const own = pid === state.taskPid ? state.taskMemcg : null;
  return {
    pid,
    comm: killed[3] ?? "",
    taskCgroup: own ?? state.oomMemcg ?? "/",
    rssBytes: kib(4) + kib(5) + kib(6),
    global,
  };
}

/** Whether a cgroup named by the kernel (relative to the cgroup2 mount) is `relative` or below it. */
export function inSubtree(kernelCgroup: string, relative: string): boolean {
  if (relative === "/" || relative === "") return true;
  return kernelCgroup === relative || kernelCgroup.startsWith(`${relative}/`);
}
