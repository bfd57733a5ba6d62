// OOM latency: from the kernel's notification to SIGKILL and to the victim's memory being back,
// oomwarden against the kernel's own memcg OOM killer (oom_kill_disable=0) on the same workload:
// a scratch v1 cgroup holding an innocent `sleep` and a `tail /dev/zero` hog that fills the limit.
//
// Both sides start the clock at the same event: the eventfd registered on memory.oom_control
// becoming readable in this process (the kernel notifies before it kills, see memcg1_oom_prepare).
// - kernel: this process busy-polls memory.oom_control (oom_kill rising = SIGKILL sent) and the
//   hog's /proc stat (state Z or gone = exit_mm done, its memory uncharged).
// - oomwarden: the engine runs in this process and journals to a real file as the daemon does (the
//   decision is written before the signal, flushed after it); the records give msToKill and
//   msToMemoryBack (victim exited or process_mrelease done, cgroup out of OOM), from the same notification.

import { mkdtempSync, openSync, readFileSync, readSync, closeSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { FileJournal } from "../src/daemon/journal.js";
import { Engine } from "../src/engine/engine.js";
import { joinDecisions, type DecidedRecord, type JournalRecord } from "../src/engine/journal-record.js";
import { createLinuxHost } from "../src/host/linux/linux-host.js";
import * as native from "../src/host/linux/native.js";
import { createScratchMemoryCgroup, type ScratchCgroup } from "../src/host/linux/scratch-cgroup.js";
import { isAlive, startInside, UNBOUNDED_HOG, waitFor } from "../test/real-kernel/support.js";
import { fmt, ratio, summarize, table, type BenchOutcome, type Summary } from "./report.js";

const MIB = 1024 * 1024;
const SIZES_BYTES = (process.env.BENCH_SIZES_MIB ?? "64,1024").split(",").map((mib) => Number(mib) * MIB);
/** Trials per side: p99 by nearest rank needs about 100 samples to stop being simply the maximum. */
const TRIALS_BY_SIZE_MIB: Record<number, number> = { 64: 100, 1024: 30 };
const trialsFor = (sizeBytes: number): number => Number(process.env.BENCH_TRIALS ?? TRIALS_BY_SIZE_MIB[sizeBytes / MIB] ?? 20);
/** What the host said of its scheduling priority (raised during incidents, as the daemon's: LinuxHost.protectSelf). */
let priorityNote: string | null = null;
const TRIAL_TIMEOUT_MS = 30_000;

interface Trial {
  msToKill: number | null;
  msToMemoryBack: number | null;
  freedBytes: number | null;
  hogWasVictim: boolean;
  innocentSurvived: boolean;
  /** oomwarden only: where its time to SIGKILL went. */
  phasesMs?: DecidedRecord["outcome"]["phasesMs"];
}

function readNumberAt(fd: number, buffer: Buffer): string {
  const n = readSync(fd, buffer, 0, buffer.length, 0);
  return buffer.toString("latin1", 0, n);
}

function victimGone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
    const state = stat[stat.lastIndexOf(")") + 2];
    return state === "Z" || state === "X";
  } catch {
    return true;
  }
}

export async function kernelTrial(sizeBytes: number): Promise<Trial> {
  const cgroup = createScratchMemoryCgroup("bench-kernel", sizeBytes);
  const fds: number[] = [];
  try {
    const innocent = await startInside(cgroup, ["sleep", "600"]);
    const efd = native.eventfdCreate();
    if (!efd.ok) throw new Error(efd.error.message);
    const controlFd = openSync(join(cgroup.path, "memory.oom_control"), "r");
    const usageFd = openSync(join(cgroup.path, "memory.usage_in_bytes"), "r");
    fds.push(controlFd, usageFd);
    writeFileSync(join(cgroup.path, "cgroup.event_control"), `${efd.value} ${controlFd}`);
    const buffer = Buffer.alloc(256);
    let hogPid = -1;
    const observed = new Promise<Trial>((resolve) => {
      const watch = native.watchFd(efd.value, () => {
        const t0 = performance.now();
        native.eventfdDrain(efd.value);
        if (watch.ok) watch.value.stop();
        const usageAtNotify = Number(readNumberAt(usageFd, buffer));
        let killAt: number | null = null;
        let backAt: number | null = null;
        // Busy-poll on purpose: libuv cannot run while we measure, so the hog stays a zombie we can see.
        while (performance.now() - t0 < TRIAL_TIMEOUT_MS) {
          if (killAt === null && /oom_kill [1-9]/.test(readNumberAt(controlFd, buffer))) killAt = performance.now();
          if (killAt !== null && victimGone(hogPid)) {
            backAt = performance.now();
            break;
          }
        }
        const usageAfter = Number(readNumberAt(usageFd, buffer));
        resolve({
          msToKill: killAt === null ? null : killAt - t0,
          msToMemoryBack: backAt === null ? null : backAt - t0,
          freedBytes: usageAtNotify - usageAfter,
          hogWasVictim: backAt !== null,
          innocentSurvived: false,
        });
      });
      if (!watch.ok) throw new Error(watch.error.message);
    });
    const hog = cgroup.spawnInside(UNBOUNDED_HOG);
    hogPid = hog.pid ?? -1;
    const trial = await withTimeout(observed, "kernel OOM notification");
    native.closeFd(efd.value);
    await new Promise((r) => setTimeout(r, 20));
    trial.innocentSurvived = isAlive(innocent.pid);
    return trial;
  } finally {
    for (const fd of fds) closeSync(fd);
    await cgroup.remove();
  }
}

export async function oomwardenTrial(sizeBytes: number): Promise<Trial> {
  const cgroup: ScratchCgroup = createScratchMemoryCgroup("bench-oomwarden", sizeBytes);
  const records: JournalRecord[] = [];
  const dir = mkdtempSync(join(tmpdir(), "oomwarden-bench-"));
  const opened = FileJournal.open(join(dir, "journal.jsonl"), () => {});
  if (!opened.ok) throw new Error(opened.message);
  const file = opened.journal;
  const host = createLinuxHost();
  // As the daemon does at start: the incidents then run at its raised priority.
  const notes = host.protectSelf({ residentCode: "off" });
  priorityNote ??= notes.find((n) => n.includes("scheduling priority")) ?? null;
  const engine = new Engine(host, {
    append: (r) => (records.push(r), file.append(r)),
    appendUnflushed: (r) => (records.push(r), file.appendUnflushed(r)),
    flush: () => file.flush(),
  });
  try {
    const innocent = await startInside(cgroup, ["sleep", "600"]);
    const managed = engine.manage(cgroup.path);
    if (!managed.ok) throw new Error(managed.error.message);
    const hog = cgroup.spawnInside(UNBOUNDED_HOG);
    await waitFor("a decision's outcome", () => records.some((r) => r.type === "outcome"), TRIAL_TIMEOUT_MS);
    await engine.whenIdle();
    const all = joinDecisions(records);
    const decision = all[0];
    const decisions = all.length;
    return {
      msToKill: decision?.outcome.msToKill ?? null,
      msToMemoryBack: decision?.outcome.msToMemoryBack ?? null,
      freedBytes: decision?.outcome.freedBytes ?? null,
      hogWasVictim: decision?.victim?.pid === hog.pid && decisions === 1,
      innocentSurvived: isAlive(innocent.pid),
      phasesMs: decision?.outcome.phasesMs,
    };
  } finally {
    engine.stop();
    file.close();
    rmSync(dir, { recursive: true, force: true });
    await cgroup.remove();
  }
}

async function withTimeout<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), TRIAL_TIMEOUT_MS);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

interface SideResult {
  trials: Trial[];
  msToKill: Summary;
  msToMemoryBack: Summary;
  wrongVictims: number;
  innocentsKilled: number;
}

function side(trials: Trial[]): SideResult {
  return {
    trials,
    msToKill: summarize(trials.map((t) => t.msToKill)),
    msToMemoryBack: summarize(trials.map((t) => t.msToMemoryBack)),
    wrongVictims: trials.filter((t) => !t.hogWasVictim).length,
    innocentsKilled: trials.filter((t) => !t.innocentSurvived).length,
  };
}

export async function run(): Promise<BenchOutcome> {
  const bySize: Record<string, { kernel: SideResult; oomwarden: SideResult; ratios: Record<string, number | null> }> = {};
  const rows: string[][] = [];
  for (const sizeBytes of SIZES_BYTES) {
    const kernelTrials: Trial[] = [];
    const oomwardenTrials: Trial[] = [];
    // Interleaved, so drift of the machine over time affects both sides alike.
    for (let i = 0; i < trialsFor(sizeBytes); i++) {
      kernelTrials.push(await kernelTrial(sizeBytes));
      oomwardenTrials.push(await oomwardenTrial(sizeBytes));
    }
    const kernel = side(kernelTrials);
    const oomwarden = side(oomwardenTrials);
    const ratios = {
      memoryBackMedian: ratio(oomwarden.msToMemoryBack.median, kernel.msToMemoryBack.median),
      memoryBackP99: ratio(oomwarden.msToMemoryBack.p99, kernel.msToMemoryBack.p99),
    };
    const label = `${sizeBytes / MIB} MiB`;
    bySize[label] = { kernel, oomwarden, ratios };
    for (const [name, s] of [["kernel", kernel], ["oomwarden", oomwarden]] as const) {
      rows.push([
        label,
        name,
        String(s.trials.length),
        fmt(s.msToKill.median),
        fmt(s.msToKill.p99),
        fmt(s.msToMemoryBack.median),
        fmt(s.msToMemoryBack.p99),
        name === "oomwarden" ? fmt(ratios.memoryBackMedian) : "",
        name === "oomwarden" ? fmt(ratios.memoryBackP99) : "",
        String(s.wrongVictims),
        String(s.innocentsKilled),
      ]);
    }
  }
  const json = {
    benchmark: "oom-latency",
    trialsPerSide: Object.fromEntries(SIZES_BYTES.map((b) => [`${b / MIB} MiB`, trialsFor(b)])),
    priority: priorityNote,
    targets: { oomwardenKillP99Ms: 2, memoryBackRatioAtMost: 1 },
    results: bySize,
  };
  const text = table(
    ["victim", "handler", "n", "kill med", "kill p99", "back med", "back p99", "back ratio med", "back ratio p99", "wrong victim", "innocent killed"],
    rows,
  );
  return { name: "oom-latency", json, table: `OOM latency (ms from the kernel's notification; ratio = oomwarden / kernel)\n${text}` };
}
