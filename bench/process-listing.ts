// What a whole-machine process listing costs: LinuxHost.listAllProcesses through the process
// table (fds kept open, one pread a file, details kept) against, in the same run, the reader by
// path it replaced (open/read/close of stat, status, oom_score_adj and stat again, per process) and
// a plain read of /proc/*/oom_score, in Node and in Python (bench/vm/oom-score-scan.py: the kind
// of scan a Python OOM helper makes). On this host as it is and with 300 extra `sleep` processes
// (started here, killed by pid); with --vm the same in the test VM under TCG, and there once more
// with most of its memory held by a Python process (what the machine guard lists under).
//
//   node dist/bench/process-listing.js          this host (also: npm run bench -- process-listing)
//   node dist/bench/process-listing.js --vm     one guest, 1 GiB, 2 vCPUs (npm run bench -- process-listing --vm)
//   --local [--held] [--out FILE]               measure where it runs (what the guest runs)
//
// Methods, each a full listing (readdir of /proc included), interleaved round by round:
// - table: the listing of a host that has listed before (the steady state);
// - routine: the machine guard's listing for growth on the same host: stat alone of a process
//   whose rss has not moved since its last full read (ProcessTable.glance);
// - table-first: a new host's first listing (every file opened, every detail read);
// - table-refresh: every detail read again (an unhurried listing past the recheck age);
// - old-reader: readProcessSamples by path, what listAllProcesses did before the table;
// - screened: what a machine guard decision lists, stat and oom_score of every known process
//   through the kept fds, then the five with the highest oom_score read in full;
// - oom-score-node / oom-score-python: one read of /proc/PID/oom_score per pid.

import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { LinuxHost } from "../src/host/linux/linux-host.js";
import { nodeLinuxFs } from "../src/host/linux/linux-fs.js";
import { readProcessSamples } from "../src/host/linux/proc-reader.js";
import { noCgroupPreference } from "../src/host/linux/process-details.js";
import { DETAILS_RECHECK_MS, ProcessTable } from "../src/host/linux/process-table.js";
import { findOnPath, vmUnavailableReason } from "../test/vm/artifacts.js";
import { runInGuest, shellQuote } from "../test/vm/harness.js";
import { sectionResult, sectionsScript } from "../test/vm/sections.js";
import { fmt, percentile, ratio, table, writeResults, type BenchOutcome } from "./report.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const SCAN_SCRIPT = join(ROOT, "bench", "vm", "oom-score-scan.py");
const SELF = join(ROOT, "dist", "bench", "process-listing.js");
const EXTRA_SLEEPS = 300;
/** The held scenario leaves this much of MemAvailable to everything else (the guest only). */
const HELD_LEAVES_MIB = 100;
const GUEST_MEM_MIB = 1024;
const GUEST_CPUS = 2;
/** guest-init.sh's PATH, where the guest finds python3 among the host's files. */
const GUEST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const SECTION = "process-listing";

const METHODS = ["table", "routine", "table-first", "table-refresh", "old-reader", "screened", "oom-score-node", "oom-score-python"] as const;
/** How many a screened listing reads in full: the journal's candidates by default. */
const SCREENED_FULL_READS = 5;
type Method = (typeof METHODS)[number];

interface Spread {
  n: number;
  median: number | null;
  p90: number | null;
  max: number | null;
}

interface Scenario {
  name: string;
  pids: number;
  userProcesses: number;
  /** Fds the steady-state host's table keeps. */
  keptFds: number;
  /** Wall ms a listing, by method. */
  methods: Record<Method, Spread>;
  /** CPU ms a listing (user + system), by method: what the listing itself costs, whatever else runs. */
  cpu: Record<Method, Spread>;
}

interface Measured {
  where: string;
  rounds: number;
  scenarios: Scenario[];
}

function spread(values: number[]): Spread {
  const sorted = [...values].sort((a, b) => a - b);
  const round3 = (v: number | null): number | null => (v === null ? null : Math.round(v * 1000) / 1000);
  return { n: sorted.length, median: round3(percentile(sorted, 50)), p90: round3(percentile(sorted, 90)), max: round3(sorted.at(-1) ?? null) };
}

const listPids = (): number[] =>
  readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .map(Number);

function pythonScan(rounds: number): { ms: number[]; cpuMs: number[] } {
  const run = spawnSync("python3", [SCAN_SCRIPT, String(rounds)], { encoding: "utf8", timeout: 600_000 });
  if (run.status !== 0) throw new Error(`python3 ${SCAN_SCRIPT}: ${run.error?.message ?? run.stderr}`);
  return JSON.parse(run.stdout) as { ms: number[]; cpuMs: number[] };
}

const cpuMsSince = (start: NodeJS.CpuUsage): number => {
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
};

function measureScenario(name: string, rounds: number): Scenario {
  const host = new LinuxHost();
  const steady = host.listAllProcesses();
  if (!steady.ok) throw new Error(steady.error.message);
  // Its clock jumps past the recheck age at every listing, so each one reads every detail again.
  const refreshClock = { ms: Date.now() };
  const refreshTable = new ProcessTable({ procRoot: "/proc", fs: nodeLinuxFs, now: () => refreshClock.ms, clockTicksPerSecond: 100, maxKeptFds: 4096, hierarchy: "v2", cgroupPreference: noCgroupPreference });
  const timed: Record<Exclude<Method, "oom-score-python">, () => void> = {
    table: () => host.listAllProcesses(),
    // A routine listing drained in one go: its cost, not the pauses the machine guard puts between its slices.
    routine: () => {
      const listing = value(host.beginRoutineListing());
      while (listing.next(Infinity) === null);
    },
    "table-first": () => {
      const fresh = new LinuxHost();
      const startCpu = process.cpuUsage();
      const startMs = performance.now();
      fresh.listAllProcesses();
      first.ms.push(performance.now() - startMs);
      first.cpuMs.push(cpuMsSince(startCpu));
      fresh.processTable.close();
    },
    "table-refresh": () => {
      refreshClock.ms += DETAILS_RECHECK_MS;
      const pids = listPids();
      refreshTable.keepOnly(pids);
      refreshTable.list(pids, { skipKernelThreads: true, refreshStaleDetails: true, within: null });
    },
    "old-reader": () => readProcessSamples(listPids(), "/proc", nodeLinuxFs, { skipKernelThreads: true }),
    screened: () => {
      const { bounds } = value(host.screenAllProcesses());
      const highest = [...bounds].sort((a, b) => b[1].highPages - a[1].highPages).slice(0, SCREENED_FULL_READS);
      value(host.readInFull(highest.map(([pid]) => pid)));
    },
    "oom-score-node": () => {
      for (const pid of listPids()) {
        try {
          readFileSync(`/proc/${pid}/oom_score`, "utf8");
        } catch {
          // gone meanwhile
        }
      }
    },
  };
  // table-first times itself: a new host's construction (mounts, ...) is no part of its listing.
  const first = { ms: [] as number[], cpuMs: [] as number[] };
  const empty = (): Record<Method, number[]> => Object.fromEntries(METHODS.map((m) => [m, [] as number[]])) as Record<Method, number[]>;
  const times = empty();
  const cpuTimes = empty();
  const warmup = Math.max(3, Math.floor(rounds / 10));
  for (let round = -warmup; round < rounds; round++) {
    for (const [method, fn] of Object.entries(timed) as Array<[Exclude<Method, "oom-score-python">, () => void]>) {
      const startCpu = process.cpuUsage();
      const startMs = performance.now();
      fn();
      const wallMs = performance.now() - startMs;
      if (round >= 0 && method !== "table-first") {
        times[method].push(wallMs);
        cpuTimes[method].push(cpuMsSince(startCpu));
      }
    }
  }
  times["table-first"] = first.ms.slice(warmup);
  cpuTimes["table-first"] = first.cpuMs.slice(warmup);
  const python = pythonScan(rounds);
  times["oom-score-python"] = python.ms;
  cpuTimes["oom-score-python"] = python.cpuMs;
  const pids = listPids();
  const scenario: Scenario = {
    name,
    pids: pids.length,
    userProcesses: value(host.listAllProcesses()).length,
    keptFds: host.processTable.keptFds,
    methods: Object.fromEntries(METHODS.map((m) => [m, spread(times[m])])) as Record<Method, Spread>,
    cpu: Object.fromEntries(METHODS.map((m) => [m, spread(cpuTimes[m])])) as Record<Method, Spread>,
  };
  host.processTable.close();
  refreshTable.close();
  return scenario;
}

function value<T>(result: { ok: true; value: T } | { ok: false; error: { message: string } }): T {
  if (!result.ok) throw new Error(result.error.message);
  return result.value;
}

async function startSleeps(count: number): Promise<ChildProcess[]> {
  const children: ChildProcess[] = [];
  for (let i = 0; i < count; i++) children.push(spawn("sleep", ["3600"], { stdio: "ignore" }));
  // Until its exec a child is a copy of node: wait until each one is sleep.
  const deadline = Date.now() + 120_000;
  for (const child of children) {
    while (!readFileSync(`/proc/${child.pid}/cmdline`, "utf8").startsWith("sleep")) {
      if (Date.now() > deadline) throw new Error(`pid ${child.pid} never ran sleep`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }
  return children;
}

async function stopAll(children: ChildProcess[]): Promise<void> {
  await Promise.all(
    children.map((child) => {
      if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
      const exited = new Promise((resolve) => child.once("exit", resolve));
      process.kill(child.pid, "SIGKILL");
      return exited;
    }),
  );
}

/** A Python process holding all of MemAvailable but HELD_LEAVES_MIB, every page touched. */
async function holdMemory(): Promise<{ child: ChildProcess; heldMiB: number }> {
  const availableKiB = Number(/^MemAvailable:\s+(\d+) kB/m.exec(readFileSync("/proc/meminfo", "utf8"))?.[1] ?? 0);
  const heldMiB = Math.max(0, Math.floor(availableKiB / 1024) - HELD_LEAVES_MIB);
  const script = "import sys,time\nb=bytearray(int(sys.argv[1])<<20)\nfor i in range(0,len(b),4096): b[i]=1\nprint('ready',flush=True)\ntime.sleep(3600)";
  const child = spawn("python3", ["-c", script, String(heldMiB)], { stdio: ["ignore", "pipe", "inherit"] });
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on("data", (chunk: Buffer) => chunk.toString().includes("ready") && resolve());
    child.once("exit", (code, signal) => reject(new Error(`the memory holder exited (${code ?? signal}) before it was ready`)));
  });
  return { child, heldMiB };
}

/** Measures here: as it is, with EXTRA_SLEEPS more processes, and (held) with memory held besides. */
export async function measureHere(rounds: number, held: boolean, where: string): Promise<Measured> {
  const scenarios: Scenario[] = [measureScenario("as is", rounds)];
  const sleeps = await startSleeps(EXTRA_SLEEPS);
  try {
    scenarios.push(measureScenario(`+${EXTRA_SLEEPS} sleeps`, rounds));
    if (held) {
      const holder = await holdMemory();
      try {
        scenarios.push(measureScenario(`+${EXTRA_SLEEPS} sleeps, ${holder.heldMiB} MiB held (${HELD_LEAVES_MIB} MiB left available)`, rounds));
      } finally {
        await stopAll([holder.child]);
      }
    }
  } finally {
    await stopAll(sleeps);
  }
  return { where, rounds, scenarios };
}

function render(measured: Measured): string {
  const rows: string[][] = [];
  for (const scenario of measured.scenarios) {
    const python = scenario.methods["oom-score-python"].median;
    const old = scenario.methods["old-reader"].median;
    const oldCpu = scenario.cpu["old-reader"].median;
    for (const method of METHODS) {
      const s = scenario.methods[method];
      const cpu = scenario.cpu[method];
      rows.push([
        method === "table" ? scenario.name : method === "table-first" ? `(${scenario.pids} pids, ${scenario.userProcesses} processes,` : method === "table-refresh" ? `${scenario.keptFds} fds kept)` : "",
        method,
        String(s.n),
        fmt(s.median, 3),
        fmt(s.p90, 3),
        fmt(s.max, 3),
        fmt(ratio(s.median, old), 2),
        fmt(ratio(s.median, python), 2),
        fmt(cpu.median, 3),
        fmt(ratio(cpu.median, oldCpu), 2),
      ]);
    }
  }
  const header = ["scenario", "method", "n", "median", "p90", "max", "/ old-reader", "/ python", "CPU median", "CPU / old-reader"];
  return `${measured.where}, ms a listing (wall, then CPU):\n${table(header, rows)}`;
}

/** This host (npm run bench -- process-listing). */
export async function run(): Promise<BenchOutcome> {
  const measured = await measureHere(Number(process.env.BENCH_TRIALS ?? 200), false, "this host");
  return { name: "process-listing", json: measured, table: render(measured) };
}

async function runInVm(rounds: number): Promise<BenchOutcome | { error: string }> {
  const vm = vmUnavailableReason();
  if (vm !== null) return { error: `the VM is unavailable: ${vm}` };
  if (findOnPath("python3", GUEST_PATH) === null) return { error: `no python3 in ${GUEST_PATH}, where the guest looks for it` };
  if (!existsSync(SELF)) return { error: `${SELF} is missing (npx tsc -p .)` };
  const sectionTimeoutSec = 600 + rounds * 60;
  const { script, inputs } = sectionsScript([
    { name: SECTION, script: `exec "$NODE" ${shellQuote(SELF)} --local --held --rounds ${rounds} --out results.json\n`, timeoutSec: sectionTimeoutSec },
  ]);
  const guest = await runInGuest({ script, inputs, memMiB: GUEST_MEM_MIB, cpus: GUEST_CPUS, timeoutMs: (sectionTimeoutSec + 180) * 1000 });
  const section = sectionResult(guest, SECTION);
  const text = section.files.get("results.json");
  if (text === undefined) {
    return { error: `the guest wrote no results (section status ${section.status}, timed out ${guest.timedOut})\n${section.output.split("\n").slice(-15).join("\n")}\n${guest.qemuStderr}` };
  }
  const measured = JSON.parse(text) as Measured;
  return { name: "process-listing-vm", json: measured, table: render(measured) };
}

function option(argv: readonly string[], flag: string): string | null {
  const at = argv.indexOf(flag);
  return at < 0 ? null : (argv[at + 1] ?? null);
}

/** `npm run bench -- process-listing [--vm] [--rounds N]`. */
export async function runWithOptions(argv: readonly string[]): Promise<BenchOutcome | { error: string }> {
  const rounds = Number(option(argv, "--rounds") ?? (argv.includes("--vm") ? 30 : (process.env.BENCH_TRIALS ?? 200)));
  if (!Number.isInteger(rounds) || rounds < 1) return { error: "--rounds needs a whole number of at least 1" };
  if (argv.includes("--vm")) return runInVm(rounds);
  const measured = await measureHere(rounds, false, "this host");
  return { name: "process-listing", json: measured, table: render(measured) };
}

async function main(argv: readonly string[]): Promise<number> {
  const rounds = Number(option(argv, "--rounds") ?? (argv.includes("--vm") || argv.includes("--local") ? 30 : 200));
  if (!Number.isInteger(rounds) || rounds < 1) {
    process.stderr.write("--rounds needs a whole number of at least 1\n");
    return 2;
  }
  if (argv.includes("--local")) {
    const measured = await measureHere(rounds, argv.includes("--held"), argv.includes("--held") ? `the VM (${GUEST_MEM_MIB} MiB, TCG)` : "here");
    const out = option(argv, "--out");
    if (out !== null) writeFileSync(out, `${JSON.stringify(measured)}\n`);
    process.stdout.write(`${render(measured)}\n`);
    return 0;
  }
  const outcome = await runWithOptions(argv);
  if ("error" in outcome) {
    process.stderr.write(`${outcome.error}\n`);
    return 1;
  }
  const path = writeResults(outcome.name, outcome.json);
  process.stdout.write(`${JSON.stringify(outcome.json)}\n\n${outcome.table}\n(written to ${path})\n`);
  return 0;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).then((code) => (process.exitCode = code));
}
