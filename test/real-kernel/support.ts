// Helpers for the real-kernel tests: memory allocators started inside scratch cgroups, waiting, liveness.

import type { ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { ScratchCgroup } from "../../src/host/linux/scratch-cgroup.js";

export const MIB = 1024 * 1024;

/** Grows without bound (reads an endless line): the classic memory hog. */
export const UNBOUNDED_HOG = ["tail", "/dev/zero"];

/** Touches `mib` MiB of anonymous memory in 1 MiB steps, then sleeps: a bounded allocator. */
export function boundedAllocator(mib: number): string[] {
  // python3 is always here: node-gyp needs it to build the addon.
  return ["python3", "-c", `import time\nb=[b'x'*(1<<20) for _ in range(${mib})]\ntime.sleep(600)`];
}

export async function waitFor(what: string, condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export function isAlive(pid: number): boolean {
  try {
    // Signal 0 tests existence; a zombie still counts, so look at the state too.
    process.kill(pid, 0);
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

export function rssBytes(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
    return kb === undefined ? 0 : Number(kb) * 1024;
  } catch {
    return 0;
  }
}

export function members(cgroup: ScratchCgroup): number[] {
  return cgroup
    .readFile("cgroup.procs")
    .split("\n")
    .filter((l) => l !== "")
    .map(Number);
}

export async function startInside(cgroup: ScratchCgroup, command: string[]): Promise<ChildProcess & { pid: number }> {
  const child = cgroup.spawnInside(command);
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start ${command.join(" ")}`);
  await waitFor(`pid ${pid} to join ${cgroup.path}`, () => members(cgroup).includes(pid));
  return child as ChildProcess & { pid: number };
}

export function oomControl(path: string): { oomKillDisable: number; underOom: number; oomKill: number } {
  const text = readFileSync(join(path, "memory.oom_control"), "utf8");
  const field = (name: string): number => Number(new RegExp(`^${name} (\\d+)$`, "m").exec(text)?.[1] ?? NaN);
  return { oomKillDisable: field("oom_kill_disable"), underOom: field("under_oom"), oomKill: field("oom_kill") };
}

export function killQuietly(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // already gone
  }
}
