// Scratch memory cgroups (v1) for the demo, the real-kernel tests and the benchmarks:
// unique names, small limits, processes started inside them, removal with retries.

import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const V1_MEMORY_ROOT = "/sys/fs/cgroup/memory";
export const V1_FREEZER_ROOT = "/sys/fs/cgroup/freezer";

export interface ScratchCgroup {
  path: string;
  /** Starts `command` inside the cgroup: the shell joins the cgroup, then execs, so the pid stays the same. */
  spawnInside(command: string[]): ChildProcess;
  readFile(name: string): string;
  /** Kills what is left inside (only our own processes live here) and removes the directory. */
  remove(): Promise<void>;
}

/** Why the real-kernel paths cannot run here, or null if they can. */
export function v1MemoryUnavailableReason(): string | null {
  if (process.getuid?.() !== 0) return "needs root (creates memory cgroups)";
  if (!existsSync(join(V1_MEMORY_ROOT, "memory.limit_in_bytes"))) return `no cgroup v1 memory controller at ${V1_MEMORY_ROOT}`;
  return null;
}

let counter = 0;

export function uniqueCgroupName(purpose: string): string {
  counter++;
  return `oomwarden-${purpose}-${process.pid}-${Date.now().toString(36)}-${counter}`;
}

export function createScratchMemoryCgroup(purpose: string, limitBytes: number, root = V1_MEMORY_ROOT): ScratchCgroup {
  const path = join(root, uniqueCgroupName(purpose));
  mkdirSync(path);
  try {
    // Swap is disabled for the test cgroup where memsw exists, so the limit is the limit.
    writeFileSync(join(path, "memory.limit_in_bytes"), String(limitBytes));
    if (existsSync(join(path, "memory.memsw.limit_in_bytes"))) {
      writeFileSync(join(path, "memory.memsw.limit_in_bytes"), String(limitBytes));
    }
  } catch (error) {
    rmdirSync(path);
    throw error;
  }
  return scratchHandle(path);
}

/** A v1 freezer cgroup for a victim that must not run (a victim that cannot exit, as one stuck behind a lock). */
export function createScratchFreezerCgroup(purpose: string): ScratchCgroup & { freeze(): void; thaw(): void; join(pid: number): void } {
  const path = join(V1_FREEZER_ROOT, uniqueCgroupName(purpose));
  mkdirSync(path);
  const handle = scratchHandle(path);
  return {
    ...handle,
    freeze: () => writeFileSync(join(path, "freezer.state"), "FROZEN"),
    thaw: () => writeFileSync(join(path, "freezer.state"), "THAWED"),
    join: (pid: number) => writeFileSync(join(path, "cgroup.procs"), String(pid)),
  };
}

function scratchHandle(path: string): ScratchCgroup {
  return {
    path,
    spawnInside(command: string[]): ChildProcess {
      return spawn("/bin/sh", ["-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', path, ...command], {
        stdio: "ignore",
      });
    },
    readFile(name: string): string {
      return readFileSync(join(path, name), "utf8");
    },
    remove: () => removeCgroup(path),
  };
}

/** Removes a cgroup we created: thaws it if it is a freezer, kills its remaining tasks by pid, then rmdir with retries. */
export async function removeCgroup(path: string): Promise<void> {
  if (!existsSync(path)) return;
  const freezerState = join(path, "freezer.state");
  if (existsSync(freezerState)) writeFileSync(freezerState, "THAWED");
  for (let attempt = 0; attempt < 100; attempt++) {
    const pids = readPids(path);
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    try {
      rmdirSync(path);
      return;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ENOENT") return;
      if (code !== "EBUSY") throw error;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`could not remove cgroup ${path}: still busy after 2 s`);
}

function readPids(path: string): number[] {
  try {
    return readFileSync(join(path, "cgroup.procs"), "utf8")
      .split("\n")
      .filter((l) => l.trim() !== "")
      .map(Number);
  } catch {
    return [];
  }
}
