// The daemon's idle cost: RSS and CPU per minute of `oomwarden run` managing 50 empty cgroups,
// against a bare idle Node process measured over the same minute (the floor any Node daemon pays).

import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createScratchMemoryCgroup, type ScratchCgroup } from "../src/host/linux/scratch-cgroup.js";
import { sysconfClockTicks } from "../src/host/linux/native.js";
import { waitFor } from "../test/real-kernel/support.js";
import { fmt, table, type BenchOutcome } from "./report.js";

const MIB = 1024 * 1024;
const CGROUPS = 50;
const SETTLE_MS = 5_000;
const WINDOW_MS = Number(process.env.BENCH_FOOTPRINT_WINDOW_MS ?? 60_000);
const CLI = join(dirname(fileURLToPath(import.meta.url)), "..", "src", "cli", "main.js");

interface Footprint {
  rssBytes: number;
  rssAnonBytes: number;
  cpuMsPerMinute: number;
}

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // Fields 14 and 15 (utime, stime) are at 11 and 12 after the state field.
  return Number(fields[11]) + Number(fields[12]);
}

function memory(pid: number): { rssBytes: number; rssAnonBytes: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? 0) * 1024;
  return { rssBytes: kb("VmRSS"), rssAnonBytes: kb("RssAnon") };
}

export async function run(): Promise<BenchOutcome> {
  const cgroups: ScratchCgroup[] = [];
  const children: ChildProcess[] = [];
  const stateDir = mkdtempSync(join(tmpdir(), "oomwarden-bench-"));
  try {
    for (let i = 0; i < CGROUPS; i++) cgroups.push(createScratchMemoryCgroup("bench-idle", 64 * MIB));
    let stderr = "";
    const daemon = spawn(process.execPath, [CLI, "run", "--state-dir", stateDir, ...cgroups.flatMap((c) => ["--cgroup", c.path])], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    daemon.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const bare = spawn(process.execPath, ["-e", "setInterval(() => {}, 1 << 30)"], { stdio: "ignore" });
    children.push(daemon, bare);
    await waitFor("the daemon to manage 50 cgroups", () => (stderr.match(/^oomwarden: managing /gm) ?? []).length === CGROUPS, 30_000);
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    const ticksPerSecond = sysconfClockTicks();
    const measure = async (): Promise<Record<"daemon" | "bare", Footprint>> => {
      const pids = { daemon: daemon.pid ?? -1, bare: bare.pid ?? -1 };
      const before = { daemon: cpuTicks(pids.daemon), bare: cpuTicks(pids.bare) };
      await new Promise((r) => setTimeout(r, WINDOW_MS));
      const perMinute = (pid: number, start: number): number => ((cpuTicks(pid) - start) * 1000 * (60_000 / WINDOW_MS)) / ticksPerSecond;
      return {
        daemon: { ...memory(pids.daemon), cpuMsPerMinute: perMinute(pids.daemon, before.daemon) },
        bare: { ...memory(pids.bare), cpuMsPerMinute: perMinute(pids.bare, before.bare) },
      };
    };
    const result = await measure();
    const json = { benchmark: "daemon-footprint", cgroupsManaged: CGROUPS, windowMs: WINDOW_MS, clockTicksPerSecond: ticksPerSecond, ...result };
    const rows = (["daemon", "bare"] as const).map((k) => [
      k === "daemon" ? `oomwarden run (${CGROUPS} cgroups)` : "bare idle node (baseline)",
      fmt(result[k].rssBytes / MIB, 1),
      fmt(result[k].rssAnonBytes / MIB, 1),
      fmt(result[k].cpuMsPerMinute, 0),
    ]);
    return {
      name: "daemon-footprint",
      json,
      table: `Idle footprint over ${WINDOW_MS / 1000} s (CPU time resolution: ${1000 / ticksPerSecond} ms)\n${table(["process", "RSS MiB", "anon MiB", "CPU ms/min"], rows)}`,
    };
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill("SIGTERM");
    await new Promise((r) => setTimeout(r, 500));
    for (const c of cgroups) await c.remove();
    rmSync(stateDir, { recursive: true, force: true });
  }
}
