// `npm run bench -- peers`: the kernel alone, earlyoom, nohang, systemd-oomd and oomwarden side by
// side on the same workloads, in one boot of the test VM (1 GiB, 2 vCPUs, no swap). The guest
// side (bench/vm/peers/peers.py) runs every workload once per handler (--runs N for more) and
// records what happened in one clock; this side gives each death to whoever claims it
// (bench/peers-claims.ts), measures the run, takes medians over runs and prints the table.
//
// Per run: who died and by whose hand, innocents killed, the time from MemAvailable first below
// 10% and 5% of RAM to the first kill, the lowest MemAvailable, the heartbeat's longest gap and
// the re-reader's longest pass, and whether the kernel's OOM killer fired (vmstat oom_kill).
// Under TCG emulation: absolute times are emulated; compare the handlers with each other.

import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { findOnPath, vmUnavailableReason } from "../test/vm/artifacts.js";
import { runInGuest, shellQuote } from "../test/vm/harness.js";
import { sectionResult, sectionsScript } from "../test/vm/sections.js";
import { earlyoomClaims, kernelClaims, nohangClaims, oomdClaims, wardenJournal, type KillClaim, type Killer, type StampedLine, type WardenDecision } from "./peers-claims.js";
import { fmt, percentile, table, writeResults, type BenchOutcome } from "./report.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const GUEST_DIR = join(ROOT, "bench", "vm", "peers");
const FETCH_BRD = join(ROOT, "bench", "vm", "fetch-brd.sh");
const BRD_MODULE = join(ROOT, "build-vm", "brd.ko");
const OOMD_ROOT = join(ROOT, "build-vm", "peers", "systemd-oomd", "root");
/** The oomwarden build the guest runs: copied at the start, so a rebuild during the run changes nothing. */
const BUILD_SNAPSHOT = join(ROOT, "build-vm", "peers", "oomwarden-build");
const INSTALL_PEERS = "scripts/bench/install-peers.sh";
const GUEST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const SECTION = "peers";
// Other VM work shares this host: one guest, at the test bed's size.
const GUEST_MEM_MIB = 1024;
const GUEST_CPUS = 2;
const MIB_KIB = 1024;

export const HANDLERS = ["kernel", "earlyoom", "nohang", "systemd-oomd", "oomwarden"] as const;
export const WORKLOADS = ["steady-hog", "fast-hog", "two-hogs", "thrash", "many-small"] as const;
const PEERS = new Set(["earlyoom", "nohang", "systemd-oomd"]);

const WORKLOAD_WORDS: Record<string, string> = {
  "steady-hog": "a hog growing 40 MiB/s",
  "fast-hog": "a hog as fast as it can (64 MiB steps)",
  "two-hogs": "two hogs of 20 MiB/s, 500 MiB each",
  thrash: "a 500 MiB re-reader (brd page cache) and a leak of 20 MiB/s",
  "many-small": "40 workers growing 1 MiB/s to 30 MiB each, in one scope",
};

export interface Options {
  runs: number;
  handlers: string[];
  workloads: string[];
  oomdLogLevel: string;
  /** A guest record written by an earlier run (bench/results/peers-DATE-guest.json): analysed again, no VM. */
  reanalyse: string | null;
}

export function parseOptions(argv: readonly string[]): Options | string {
  const options: Options = { runs: 1, handlers: [...HANDLERS], workloads: [...WORKLOADS], oomdLogLevel: "info", reanalyse: null };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[i + 1];
    if (value === undefined) return `${flag} needs a value`;
    i++;
    if (flag === "--runs") {
      const runs = Number(value);
      if (!Number.isInteger(runs) || runs < 1) return "--runs needs a whole number of at least 1";
      options.runs = runs;
    } else if (flag === "--handlers" || flag === "--workloads") {
      const known: readonly string[] = flag === "--handlers" ? HANDLERS : WORKLOADS;
      const names = value.split(",").filter((n) => n !== "");
      const unknown = names.filter((n) => !known.includes(n));
      if (names.length === 0 || unknown.length > 0) return `${flag}: unknown ${unknown.join(", ") || "(empty)"} (known: ${known.join(", ")})`;
      if (flag === "--handlers") options.handlers = names;
      else options.workloads = names;
    } else if (flag === "--oomd-log-level") {
      options.oomdLogLevel = value;
    } else if (flag === "--reanalyse") {
      options.reanalyse = value;
    } else {
      return `unknown option ${flag} (known: --runs N, --handlers a,b, --workloads a,b, --oomd-log-level LEVEL, --reanalyse FILE)`;
    }
  }
  return options;
}

// What the guest recorded (bench/vm/peers/peers.py). Times are guest CLOCK_MONOTONIC ms.
export interface GuestProcess {
  role: "workload" | "innocent" | "handler" | "helper";
  name: string;
  pid: number;
  cgroup: string | null;
  startMs: number;
  exitMs: number | null;
  signal: number | null;
  code: number | null;
  endedByBenchMs: number | null;
  lines?: StampedLine[];
}
export interface GuestRun {
  workload: string;
  handler: string;
  run: number;
  error?: string;
  notes?: string[];
  availableBeforeKib?: number;
  handlerReadyMs?: number | null;
  t0Ms?: number;
  endMs?: number;
  finished?: boolean;
  phases?: { leakStartMs?: number };
  mem?: {
    firstBelowMs: Partial<Record<"10" | "5", number>>;
    lineKib: Record<"10" | "5", number>;
    minKib: number | null;
    minAtMs: number | null;
    samples: number;
    meanIntervalMs: number;
    maxIntervalMs: number;
    series: Array<[number, number]>;
    psi?: Partial<Record<"machine" | "userService", { peakFullAvg10: number; someStallMs: number; fullStallMs: number }>>;
    /** Sampling gaps over 50 ms: [from, to, MemAvailable KiB before, after]. */
    gaps?: Array<[number, number, number | null, number]>;
    /** The handler's CPU, every 20 ms (absent: an older record, or no handler). */
    handlerCpu?: HandlerCpuPoint[];
  };
  oomKill?: { before: number | null; after: number | null };
  kmsg?: Array<[number, number | null, string]>;
  handlerStat?: { atStart: { majflt: number; rssKib: number | null } | null; atEnd: { majflt: number; rssKib: number | null } | null };
  processes?: GuestProcess[];
  handlerProcess?: { pid: number; exitMs: number | null; signal: number | null; code: number | null; startMs: number } | null;
  handlerLines?: Array<[number, string, string]>;
  journal?: string | null;
  wallMs?: number;
}
interface GuestResults {
  uname: string;
  memTotalKib: number;
  swapTotalKib: number | null;
  minWatermarkKib: number;
  psi: boolean;
  epochMinusMonotonicMs: number;
  versions: Record<string, string>;
  brdError?: string;
  runs: GuestRun[];
  wallMs: number;
  /** Added on the host: the commit the oomwarden build was compiled from, and the files of src/ changed since. */
  build?: { commit: string | null; uncommittedSrcFiles: number | null };
}

export interface Death {
  name: string;
  pid: number;
  role: string;
  signal: number | null;
  code: number | null;
  /** Guest ms from the workload's start. */
  atMs: number;
  by: Killer | "exit" | "unknown";
  /** When the killer said it acted (its line or record), from the workload's start. */
  claimedAtMs: number | null;
}

/**
 * A late wake-up of the heartbeat. It was late either waiting for a CPU (its time on a run queue
 * since the wake-up before, from /proc/self/schedstat) or waiting for memory (major faults: its own
 * pages read back in), or neither (the guest itself stalled: emulation). MemAvailable as the watcher
 * last read it before the gap began.
 */
export interface LateWakeup {
  /** Guest ms from the workload's start to the late wake-up. */
  atMs: number;
  gapMs: number;
  runQueueWaitMs: number | null;
  majorFaults: number | null;
  availableMiB: number | null;
  /**
   * CPU the handler ran while the heartbeat waited: its main thread and its other threads (Node's
   * libuv pool and V8's helpers) apart, from their schedstat as the watcher read it every 20 ms,
   * over the readings that enclose the gap (so up to 40 ms more than the gap). Null: not read.
   */
  handlerCpuMs: { main: number; others: number } | null;
}

/** [guest ms, main thread's CPU ms so far, the other threads' CPU ms so far], as peers.py reads them. */
export type HandlerCpuPoint = [number, number, number];

/** The handler's CPU between the readings that enclose [fromMs, toMs] (null: no reading on either side). */
export function handlerCpuBetween(points: readonly HandlerCpuPoint[], fromMs: number, toMs: number): { main: number; others: number } | null {
  const before = points.filter(([at]) => at <= fromMs).at(-1);
  const after = points.find(([at]) => at >= toMs);
  if (before === undefined || after === undefined) return null;
  return { main: round(after[1] - before[1], 1) ?? 0, others: round(after[2] - before[2], 1) ?? 0 };
}

export interface RunMetrics {
  workload: string;
  handler: string;
  run: number;
  error?: string;
  deaths: Death[];
  innocentsKilled: string[];
  /** Guest ms from the growers' start (their first "ready"; the leak's in thrash) to the first death. */
  startToFirstKillMs: number | null;
  /** MemAvailable first below 10% / 5% of RAM (before the first kill) to the first kill; null: the line was not reached before it. */
  tenPctToKillMs: number | null;
  fivePctToKillMs: number | null;
  /** Not reached before the kill as sampled, but the kill fell in a sampling gap this long that began above the line. */
  tenPctUnseenWithinMs: number | null;
  fivePctUnseenWithinMs: number | null;
  lowestAvailableMiB: number | null;
  lowestAvailablePct: number | null;
  heartbeatLongestGapMs: number | null;
  /** Each late wake-up of the heartbeat: why it was late, as far as it can tell (LateWakeup). */
  heartbeatLate: LateWakeup[];
  heartbeatKilled: boolean;
  rereadLongestPassMs: number | null;
  rereadBaselinePassMs: number | null;
  kernelOomKills: number | null;
  handlerReadyMs: number | null;
  handlerRssMiB: number | null;
  handlerMajorFaults: number | null;
  samplerMaxIntervalMs: number | null;
  /** The highest PSI memory "full" avg10 (%) seen, of the machine and of user@1000.service (what systemd-oomd watches). */
  psiFullPeakPct: number | null;
  psiFullPeakUserServicePct: number | null;
  /** Time every task of the machine was stalled on memory during the run (PSI full total). */
  psiFullStallMs: number | null;
  finished: boolean;
  /** oomwarden's decisions; atMs from the workload's start, sinceTenPctMs from MemAvailable first below 10%. */
  oomwarden?: Array<WardenDecision & { sinceTenPctMs: number | null }>;
  /** Its notices that held a kill back ("not acted on ..."), from the workload's start. */
  oomwardenHeldBack?: Array<{ atMs: number; message: string }>;
  notes: string[];
}

const round = (value: number | null, digits = 1): number | null => (value === null ? null : Math.round(value * 10 ** digits) / 10 ** digits);

function claimsOf(run: GuestRun, epochMinusMonotonicMs: number): KillClaim[] {
  const kmsg: StampedLine[] = (run.kmsg ?? []).map(([at, , text]) => [at, text]);
  const own: StampedLine[] = (run.handlerLines ?? []).map(([at, , text]) => [at, text]);
  const claims = kernelClaims(kmsg);
  if (run.handler === "earlyoom") claims.push(...earlyoomClaims(own));
  if (run.handler === "nohang") claims.push(...nohangClaims(own));
  if (run.handler === "systemd-oomd") claims.push(...oomdClaims(own));
  if (run.handler === "oomwarden" && run.journal) claims.push(...wardenJournal(run.journal, epochMinusMonotonicMs).claims);
  return claims;
}

/**
 * The claim that names this death. A pid claim holds whenever it was read (nohang's output is
 * block-buffered and arrives in bursts; under pressure the kernel log is read late too). A death by
 * SIGKILL that the kernel names is the kernel's (its kill cannot be ignored); otherwise the
 * handler's claim with the signal it died of, else any claim on it.
 */
function claimFor(process: GuestProcess, claims: readonly KillClaim[]): KillClaim | null {
  const naming = claims.filter(
    (c) => c.pid === process.pid || (c.cgroup !== null && process.cgroup !== null && (process.cgroup === c.cgroup || process.cgroup.startsWith(`${c.cgroup}/`))),
  );
  const died = process.signal === 15 ? "SIGTERM" : process.signal === 9 ? "SIGKILL" : null;
  const kernel = naming.find((c) => c.by === "kernel");
  const others = naming.filter((c) => c.by !== "kernel");
  if (died === "SIGKILL" && kernel !== undefined) return kernel;
  return others.filter((c) => c.signal === died).at(-1) ?? others.at(-1) ?? kernel ?? null;
}

/** A run's metrics before anything is measured: nothing seen, nothing known. */
export function emptyRunMetrics(workload: string, handler: string, run: number): RunMetrics {
  return {
    workload,
    handler,
    run,
    deaths: [],
    innocentsKilled: [],
    startToFirstKillMs: null,
    tenPctToKillMs: null,
    fivePctToKillMs: null,
    tenPctUnseenWithinMs: null,
    fivePctUnseenWithinMs: null,
    lowestAvailableMiB: null,
    lowestAvailablePct: null,
    heartbeatLongestGapMs: null,
    heartbeatLate: [],
    heartbeatKilled: false,
    rereadLongestPassMs: null,
    rereadBaselinePassMs: null,
    kernelOomKills: null,
    handlerReadyMs: null,
    handlerRssMiB: null,
    handlerMajorFaults: null,
    samplerMaxIntervalMs: null,
    psiFullPeakPct: null,
    psiFullPeakUserServicePct: null,
    psiFullStallMs: null,
    finished: false,
    notes: [],
  };
}

export function analyseRun(run: GuestRun, results: Pick<GuestResults, "memTotalKib" | "epochMinusMonotonicMs">): RunMetrics {
  const base: RunMetrics = { ...emptyRunMetrics(run.workload, run.handler, run.run), handlerReadyMs: run.handlerReadyMs ?? null, finished: run.finished ?? false, notes: run.notes ?? [] };
  if (run.error !== undefined || run.mem === undefined || run.t0Ms === undefined || run.endMs === undefined) return { ...base, error: run.error ?? "no measurements" };
  const t0 = run.t0Ms;
  const end = run.endMs;
  const claims = claimsOf(run, results.epochMinusMonotonicMs);
  const processes = (run.processes ?? []).filter((p) => p.role === "workload" || p.role === "innocent");
  // A death the bench caused at teardown is none of the handler's doing.
  const died = processes.filter((p) => p.exitMs !== null && p.exitMs <= end && (p.endedByBenchMs === null || p.exitMs < p.endedByBenchMs) && (p.signal !== null || p.code !== null));
  const deaths: Death[] = died
    .map((p) => {
      const claim = claimFor(p, claims);
      const by: Death["by"] = claim !== null ? claim.by : p.signal === null ? "exit" : "unknown";
      return { name: p.name, pid: p.pid, role: p.role, signal: p.signal, code: p.code, atMs: (p.exitMs ?? 0) - t0, by, claimedAtMs: claim === null ? null : claim.atMs - t0 };
    })
    .sort((a, b) => a.atMs - b.atMs);
  const kills = deaths.filter((d) => d.signal !== null);
  const first = kills[0] ?? null;
  const firstAbs = first === null ? null : first.atMs + t0;
  const lineToKill = (key: "10" | "5"): number | null => {
    const crossed = run.mem?.firstBelowMs[key];
    if (crossed === undefined || firstAbs === null || crossed > firstAbs) return null;
    return round(firstAbs - crossed, 0);
  };
  // The line not seen before the kill, with the kill inside a sampling gap that started above it:
  // memory may have crossed it unseen (the watcher stalled, as everything does near an OOM).
  const unseenWithin = (key: "10" | "5"): number | null => {
    if (firstAbs === null || lineToKill(key) !== null) return null;
    const line = run.mem?.lineKib[key] ?? 0;
    const gap = (run.mem?.gaps ?? []).find(([from, to, before]) => from < firstAbs && firstAbs <= to + 2 * 10 && (before ?? 0) >= line);
    return gap === undefined ? null : round(gap[1] - gap[0], 0);
  };
  // The growers' start: the first "ready" of a workload process (after Python's own start, which
  // under emulation takes seconds), the leak's in thrash.
  const readyAt = processes
    .filter((p) => p.role === "workload")
    .flatMap((p) => (p.lines ?? []).filter(([, text]) => text.startsWith("ready")).map(([at]) => at));
  const growersStart = readyAt.length > 0 ? Math.min(...readyAt) : (run.phases?.leakStartMs ?? t0);
  const heartbeat = processes.find((p) => p.name === "heartbeat");
  const series = run.mem.series;
  const lateWakeups = (heartbeat?.lines ?? []).flatMap(([, text]): LateWakeup[] => {
    // "gap MS END_S [RUN_QUEUE_MS MAJOR_FAULTS]": the two causes only from the heartbeat that reports them.
    const m = /^gap (\S+) (\S+)(?: (\S+) (\S+))?$/.exec(text);
    if (m === null) return [];
    const gapMs = Number(m[1]);
    const endMs = Number(m[2]) * 1000;
    if (endMs < t0 || endMs > end) return [];
    const before = series.filter(([at]) => at <= endMs - gapMs).at(-1);
    return [
      {
        atMs: round(endMs - t0, 0) ?? 0,
        gapMs,
        runQueueWaitMs: m[3] === undefined ? null : Number(m[3]),
        majorFaults: m[4] === undefined ? null : Number(m[4]),
        availableMiB: before === undefined ? null : round(before[1] / MIB_KIB),
        handlerCpuMs: handlerCpuBetween(run.mem?.handlerCpu ?? [], endMs - gapMs, endMs),
      },
    ];
  });
  const gaps = lateWakeups.map((w) => w.gapMs);
  const reread = processes.find((p) => p.name === "reread");
  const passes = (reread?.lines ?? []).flatMap(([, text]) => {
    const m = /^pass (\d+) (\S+) (\S+)$/.exec(text);
    return m === null ? [] : [{ n: Number(m[1]), ms: Number(m[2]), endMs: Number(m[3]) * 1000 }];
  });
  const afterLeak = passes.filter((p) => run.phases?.leakStartMs !== undefined && p.endMs > run.phases.leakStartMs && p.endMs <= end);
  // A pass still running when the re-reader was killed, or at the end, is a stall too: as long as it lasted so far.
  const lastEnd = passes.at(-1)?.endMs ?? null;
  const unfinished = reread !== undefined && lastEnd !== null ? Math.min(reread.exitMs ?? end, end) - lastEnd : null;
  const stat = run.handlerStat;
  const totalKib = results.memTotalKib;
  const oomKills = run.oomKill?.after != null && run.oomKill.before != null ? run.oomKill.after - run.oomKill.before : null;
  const innocentsKilled = deaths.filter((d) => d.role === "innocent" && d.signal !== null).map((d) => d.name);
  return {
    ...base,
    deaths,
    innocentsKilled,
    startToFirstKillMs: firstAbs === null ? null : round(firstAbs - growersStart, 0),
    tenPctToKillMs: lineToKill("10"),
    fivePctToKillMs: lineToKill("5"),
    tenPctUnseenWithinMs: unseenWithin("10"),
    fivePctUnseenWithinMs: unseenWithin("5"),
    lowestAvailableMiB: run.mem.minKib === null ? null : round(run.mem.minKib / MIB_KIB),
    lowestAvailablePct: run.mem.minKib === null ? null : round((100 * run.mem.minKib) / totalKib, 2),
    heartbeatLongestGapMs: gaps.length === 0 ? null : Math.max(...gaps),
    heartbeatLate: lateWakeups,
    heartbeatKilled: innocentsKilled.includes("heartbeat"),
    rereadLongestPassMs: reread === undefined ? null : round(Math.max(...afterLeak.map((p) => p.ms), unfinished ?? 0), 0),
    rereadBaselinePassMs: passes[1]?.ms ?? null,
    kernelOomKills: oomKills,
    handlerRssMiB: stat?.atStart?.rssKib == null ? null : round(stat.atStart.rssKib / MIB_KIB),
    handlerMajorFaults: stat?.atStart == null || stat.atEnd == null ? null : stat.atEnd.majflt - stat.atStart.majflt,
    samplerMaxIntervalMs: run.mem.maxIntervalMs,
    psiFullPeakPct: run.mem.psi?.machine?.peakFullAvg10 ?? null,
    psiFullPeakUserServicePct: run.mem.psi?.userService?.peakFullAvg10 ?? null,
    psiFullStallMs: run.mem.psi?.machine?.fullStallMs ?? null,
    ...(run.handler === "oomwarden" && run.journal
      ? {
          oomwardenHeldBack: wardenJournal(run.journal, results.epochMinusMonotonicMs)
            .notices.filter((n) => n.message.includes("not acted on"))
            .map((n) => ({ atMs: round(n.atMs - t0, 0) ?? 0, message: n.message })),
          oomwarden: wardenJournal(run.journal, results.epochMinusMonotonicMs).decisions.map((d) => {
            const ten = run.mem?.firstBelowMs["10"];
            return { ...d, atMs: round(d.atMs - t0, 0) ?? 0, sinceTenPctMs: ten === undefined ? null : round(d.atMs - ten, 0) };
          }),
        }
      : {}),
  };
}

/** ", during oomwarden's decision N": a decision that ran (from its sample to its record) while the heartbeat slept. */
function nearDecision(m: RunMetrics, w: LateWakeup): string {
  const gapStartMs = w.atMs - w.gapMs;
  const during = (m.oomwarden ?? []).filter((d) => d.atMs >= gapStartMs && d.atMs - (d.msToKill ?? 0) <= w.atMs);
  return during.length === 0 ? "" : `, during oomwarden's decision ${during.map((d) => d.decisionId).join(", ")}`;
}

const median = (values: ReadonlyArray<number | null>): number | null => {
  const present = values.filter((v): v is number => v !== null && Number.isFinite(v)).sort((a, b) => a - b);
  return present.length === 0 ? null : percentile(present, 50);
};

/** "hog (earlyoom SIGTERM)", "idle, small x12 (kernel)": who died, by whose hand, the workers counted. */
export function deathsText(deaths: readonly Death[]): string {
  const kills = deaths.filter((d) => d.signal !== null || d.by !== "exit");
  if (kills.length === 0) return "none";
  const groups = new Map<string, number>();
  for (const d of kills) {
    const name = d.name.replace(/-\d\d$/, "");
    const sig = d.signal === 15 ? " SIGTERM" : d.signal === 9 || d.signal === null ? "" : ` signal ${d.signal}`;
    const key = `${name} (${d.by}${sig})`;
    groups.set(key, (groups.get(key) ?? 0) + 1);
  }
  return [...groups].map(([key, n]) => (n > 1 ? key.replace(" (", ` x${n} (`) : key)).join(", ");
}

export interface Cell {
  workload: string;
  handler: string;
  runs: number;
  errors: string[];
  died: string[];
  innocentsKilled: number;
  kernelOomFired: number;
  startToFirstKillMs: number | null;
  /** Median over the runs with a kill, a kill before the line counting as 0 (runs where it may have been crossed unseen left out). */
  tenPctToKillMs: number | null;
  tenPctReached: number;
  fivePctToKillMs: number | null;
  fivePctReached: number;
  /** Runs where the line may have been crossed unseen, in a sampling gap before the kill. */
  tenPctUnseen: number;
  fivePctUnseen: number;
  lowestAvailableMiB: number | null;
  heartbeatLongestGapMs: number | null;
  heartbeatKilled: number;
  rereadLongestPassMs: number | null;
  rereadBaselinePassMs: number | null;
  handlerReadyMs: number | null;
  handlerRssMiB: number | null;
  handlerMajorFaults: number | null;
  psiFullPeakPct: number | null;
  psiFullPeakUserServicePct: number | null;
  /** What each compared median is taken over, one value per run that counted: targets() pairs the runs of two handlers. */
  perRun: Record<ComparedKey, number[]>;
}

/** The measures the targets compare oomwarden on against the best peer (lower is better). */
export type ComparedKey = "tenPctToKillMs" | "startToFirstKillMs" | "heartbeatLongestGapMs" | "rereadLongestPassMs";

/** The heartbeat reports only wake-ups later than this (HEARTBEAT_REPORT_OVER_MS of bench/vm/peers/peers.py): a run without one had no gap as long. */
const HEARTBEAT_REPORTED_MS = 50;

export function cellOf(workload: string, handler: string, runs: readonly RunMetrics[]): Cell {
  const ok = runs.filter((r) => r.error === undefined);
  const valuesOf = (key: keyof RunMetrics): number[] => ok.map((r) => r[key] as number | null).filter((v): v is number => v !== null && Number.isFinite(v));
  const m = (key: keyof RunMetrics): number | null => median(valuesOf(key));
  // Censored, not missing: a kill before the line was reached is a kill at the line or sooner, so it
  // counts as 0 (leaving it out would make the handler that kills earliest look the slowest). Left
  // out: runs without a kill, and runs where the line may have been crossed unseen.
  const toKillValues = (key: "tenPctToKillMs" | "fivePctToKillMs", unseen: "tenPctUnseenWithinMs" | "fivePctUnseenWithinMs"): number[] =>
    ok.filter((r) => r.startToFirstKillMs !== null && (r[key] !== null || r[unseen] === null)).map((r) => r[key] ?? 0);
  const tenPctValues = toKillValues("tenPctToKillMs", "tenPctUnseenWithinMs");
  // Censored too: a run without a reported gap had none longer than the heartbeat reports.
  const heartbeatValues = ok.map((r) => r.heartbeatLongestGapMs ?? 0);
  return {
    workload,
    handler,
    runs: runs.length,
    errors: runs.flatMap((r) => (r.error === undefined ? [] : [r.error])),
    died: ok.map((r) => deathsText(r.deaths)),
    innocentsKilled: ok.reduce((sum, r) => sum + r.innocentsKilled.length, 0),
    kernelOomFired: ok.filter((r) => (r.kernelOomKills ?? 0) > 0).length,
    startToFirstKillMs: m("startToFirstKillMs"),
    tenPctToKillMs: median(tenPctValues),
    tenPctReached: ok.filter((r) => r.tenPctToKillMs !== null).length,
    fivePctToKillMs: median(toKillValues("fivePctToKillMs", "fivePctUnseenWithinMs")),
    fivePctReached: ok.filter((r) => r.fivePctToKillMs !== null).length,
    tenPctUnseen: ok.filter((r) => r.tenPctUnseenWithinMs !== null).length,
    fivePctUnseen: ok.filter((r) => r.fivePctUnseenWithinMs !== null).length,
    lowestAvailableMiB: m("lowestAvailableMiB"),
    heartbeatLongestGapMs: median(heartbeatValues),
    heartbeatKilled: ok.filter((r) => r.heartbeatKilled).length,
    rereadLongestPassMs: m("rereadLongestPassMs"),
    rereadBaselinePassMs: m("rereadBaselinePassMs"),
    handlerReadyMs: m("handlerReadyMs"),
    handlerRssMiB: m("handlerRssMiB"),
    handlerMajorFaults: m("handlerMajorFaults"),
    psiFullPeakPct: m("psiFullPeakPct"),
    psiFullPeakUserServicePct: m("psiFullPeakUserServicePct"),
    perRun: {
      tenPctToKillMs: tenPctValues,
      startToFirstKillMs: valuesOf("startToFirstKillMs"),
      heartbeatLongestGapMs: heartbeatValues,
      rereadLongestPassMs: valuesOf("rereadLongestPassMs"),
    },
  };
}

/**
 * Of every pairing of one of oomwarden's runs with one of the peer's, how many oomwarden's run
 * wins or ties (lower or equal): with three to five runs a cell, two medians a few tens of ms
 * apart can sit inside either handler's spread, and this says how far apart the runs really are
 * (a half: no better and no worse).
 */
export function pairingsAheadOrEven(mine: readonly number[], theirs: readonly number[]): { aheadOrEven: number; pairings: number } {
  let aheadOrEven = 0;
  for (const a of mine) for (const b of theirs) if (a <= b) aheadOrEven++;
  return { aheadOrEven, pairings: mine.length * theirs.length };
}

const seconds = (ms: number | null): string => (ms === null ? "-" : (ms / 1000).toFixed(2));

function heartbeatText(ms: number | null): string {
  return ms === null || ms < HEARTBEAT_REPORTED_MS ? "<0.05" : seconds(ms);
}

/** A median (kills before the line counted as 0, cellOf), and in how many runs the line was reached before the kill. */
function lineCell(ms: number | null, reached: number, unseen: number, runs: number): string {
  const unseenNote = unseen > 0 ? ` (${unseen} unseen)` : "";
  if (reached === 0) return unseen > 0 ? `unseen${runs > 1 ? ` ${unseen}/${runs}` : ""}` : "not reached";
  return `${reached < runs ? `${seconds(ms)} (${reached}/${runs})` : seconds(ms)}${unseenNote}`;
}

export function cellRow(c: Cell): string[] {
  if (c.errors.length === c.runs) return [c.workload, c.handler, `could not run: ${c.errors[0] ?? ""}`];
  const n = c.runs - c.errors.length;
  const unique = [...new Set(c.died)];
  const heartbeat = c.heartbeatKilled > 0 ? `killed (${c.heartbeatKilled}/${n})` : heartbeatText(c.heartbeatLongestGapMs);
  return [
    c.workload,
    c.handler,
    unique.length === 1 ? (unique[0] ?? "") : unique.join(" | "),
    String(c.innocentsKilled),
    `${c.kernelOomFired}/${n}`,
    lineCell(c.tenPctToKillMs, c.tenPctReached, c.tenPctUnseen, n),
    lineCell(c.fivePctToKillMs, c.fivePctReached, c.fivePctUnseen, n),
    seconds(c.startToFirstKillMs),
    c.lowestAvailableMiB === null ? "-" : fmt(c.lowestAvailableMiB, 0),
    heartbeat,
    c.rereadLongestPassMs === null ? "" : `${seconds(c.rereadLongestPassMs)} (${seconds(c.rereadBaselinePassMs)})`,
    c.psiFullPeakPct === null ? "-" : `${fmt(c.psiFullPeakPct, 0)} (${fmt(c.psiFullPeakUserServicePct, 0)})`,
  ];
}

export const TABLE_HEADER = ["workload", "handler", "died (by whom)", "innocents", "kernel OOM", "10% -> kill s", "5% -> kill s", "start -> kill s", "lowest avail MiB", "heartbeat gap s", "re-reader pass s (warm)", "PSI full % (user@)"];

/** oomwarden against the targets, per workload: what was met and what was missed, with the numbers. */
export function targets(cells: readonly Cell[], workloads: readonly string[]): string[] {
  const lines: string[] = [];
  for (const workload of workloads) {
    const of = (h: string): Cell | undefined => cells.find((c) => c.workload === workload && c.handler === h && c.errors.length < c.runs);
    const warden = of("oomwarden");
    if (warden === undefined) continue;
    const peers = [...PEERS].map(of).filter((c): c is Cell => c !== undefined);
    const kernel = of("kernel");
    const parts: string[] = [`innocents ${warden.innocentsKilled} (${warden.innocentsKilled === 0 ? "met" : "missed"})`];
    const best = (key: ComparedKey): Cell | null => {
      const present = peers.filter((c) => c[key] !== null);
      return present.length === 0 ? null : present.reduce((a, b) => ((a[key] ?? Infinity) <= (b[key] ?? Infinity) ? a : b));
    };
    const compare = (label: string, key: ComparedKey): void => {
      const peer = best(key);
      const mine = warden[key];
      if (peer === null) return;
      const text = key === "heartbeatLongestGapMs" ? heartbeatText : seconds;
      const met = mine !== null && mine <= (peer[key] ?? Infinity);
      const { aheadOrEven, pairings } = pairingsAheadOrEven(warden.perRun[key], peer.perRun[key]);
      const spread = pairings > 1 ? `; ahead or even in ${aheadOrEven} of ${pairings} run pairings` : "";
      parts.push(`${label} ${text(mine)} s vs ${text(peer[key])} s (${peer.handler}) (${met ? "met" : "missed"}${spread})`);
    };
    compare("10%->kill", "tenPctToKillMs");
    compare("start->kill", "startToFirstKillMs");
    if (kernel !== undefined && kernel.lowestAvailableMiB !== null && warden.lowestAvailableMiB !== null) {
      parts.push(`lowest avail ${fmt(warden.lowestAvailableMiB, 0)} MiB vs the kernel's ${fmt(kernel.lowestAvailableMiB, 0)} (${warden.lowestAvailableMiB > kernel.lowestAvailableMiB ? "met" : "missed"})`);
    }
    compare("heartbeat gap", "heartbeatLongestGapMs");
    if (workload === "thrash") compare("re-reader pass", "rereadLongestPassMs");
    lines.push(`${workload}: ${parts.join("; ")}`);
  }
  return lines;
}

function brdModule(): string | null {
  try {
    execFileSync(FETCH_BRD, { stdio: ["ignore", "ignore", "pipe"] });
  } catch {
    return null;
  }
  return existsSync(BRD_MODULE) ? BRD_MODULE : null;
}

/** Why this bench cannot run here, or null. */
export function unavailableReason(handlers: readonly string[]): string | null {
  const vm = vmUnavailableReason();
  if (vm !== null) return `the VM is unavailable: ${vm}`;
  if (findOnPath("python3", GUEST_PATH) === null) return `no python3 in ${GUEST_PATH}, where the guest looks for it`;
  if (!existsSync(join(ROOT, "dist", "src", "cli", "main.js"))) return "dist/src/cli/main.js is missing (npx tsc -p .)";
  const missing = [
    handlers.includes("earlyoom") && !existsSync("/usr/bin/earlyoom") ? "earlyoom" : null,
    handlers.includes("nohang") && !existsSync("/usr/sbin/nohang") ? "nohang" : null,
    handlers.includes("systemd-oomd") && !existsSync(join(OOMD_ROOT, "lib", "systemd", "systemd-oomd")) ? "systemd-oomd (unpacked in build-vm/peers)" : null,
  ].filter((m): m is string => m !== null);
  if (missing.length > 0) return `missing ${missing.join(", ")}: run ${INSTALL_PEERS} (as root; installs earlyoom and nohang without starting them, unpacks systemd-oomd)`;
  return null;
}

const progress = (text: string): void => void process.stderr.write(`${text}\n`);

/**
 * Copies what `oomwarden run` loads (dist/, the native addon, binding.gyp that marks the package
 * root, package.json, the yaml package) to BUILD_SNAPSHOT. The guest reads the host's files live
 * over 9p, and others rebuild dist/ while a 20-minute run goes on: without the copy, later runs
 * would measure another build. Returns the commit it was built from and how many files of src/
 * differed from it.
 */
/** A decision's phases, and how much of snapshot to signal its main thread worked, waited for a CPU or was blocked. */
function phaseWords(p: NonNullable<WardenDecision["phasesMs"]>): string {
  const sinceSnapshotMs = p.snapshot + p.rank + p.kill;
  const schedule =
    p.onCpuMs === undefined || p.runQueueMs === undefined
      ? ""
      : `; on a CPU ${fmt(p.onCpuMs, 0)}, run queue ${fmt(p.runQueueMs, 0)}, blocked ${fmt(Math.max(0, sinceSnapshotMs - p.onCpuMs - p.runQueueMs), 0)}` +
        (p.userCpuMs === undefined || p.systemCpuMs === undefined ? "" : `; all threads user ${fmt(p.userCpuMs, 0)}, system ${fmt(p.systemCpuMs, 0)}`);
  return (
    `detect ${fmt(p.detect, 0)} snapshot ${fmt(p.snapshot, 0)} rank ${fmt(p.rank, 0)} kill ${fmt(p.kill, 0)} (${p.processes} processes` +
    `${p.cpuGivenBackMs ? `, CPU given back ${fmt(p.cpuGivenBackMs, 1)}` : ""}${p.majorFaults ? `, ${p.majorFaults} major faults` : ""}${schedule})`
  );
}

function snapshotBuild(): { path: string; commit: string | null; uncommittedSrcFiles: number | null } {
  rmSync(BUILD_SNAPSHOT, { recursive: true, force: true });
  mkdirSync(join(BUILD_SNAPSHOT, "build", "Release"), { recursive: true });
  cpSync(join(ROOT, "dist"), join(BUILD_SNAPSHOT, "dist"), { recursive: true });
  cpSync(join(ROOT, "build", "Release", "oomwarden_native.node"), join(BUILD_SNAPSHOT, "build", "Release", "oomwarden_native.node"));
  cpSync(join(ROOT, "node_modules", "yaml"), join(BUILD_SNAPSHOT, "node_modules", "yaml"), { recursive: true });
  for (const file of ["binding.gyp", "package.json"]) cpSync(join(ROOT, file), join(BUILD_SNAPSHOT, file));
  const git = (args: string[]): string | null => {
    try {
      return execFileSync("git", args, { cwd: ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    } catch {
      return null;
    }
  };
  const status = git(["status", "--porcelain", "--", "src"]);
  return { path: BUILD_SNAPSHOT, commit: git(["rev-parse", "--short", "HEAD"]), uncommittedSrcFiles: status === null ? null : status.split("\n").filter((l) => l !== "").length };
}

export async function run(options: Options): Promise<BenchOutcome | { error: string }> {
  if (options.reanalyse !== null) return reanalyse(options, options.reanalyse);
  const unavailable = unavailableReason(options.handlers);
  if (unavailable !== null) return { error: unavailable };
  const brd = options.workloads.includes("thrash") ? brdModule() : "";
  if (brd === null) return { error: `no brd.ko for the guest kernel: ${FETCH_BRD} failed (the thrash workload needs it)` };
  const build = snapshotBuild();
  const count = options.runs * options.workloads.length * options.handlers.length;
  // A run takes 20-90 s; the handler's start (Node's under TCG up to a minute and more on a busy host) comes on top.
  const sectionTimeoutSec = 600 + count * 240;
  const args = [
    `--runs ${options.runs}`,
    `--workloads ${options.workloads.join(",")}`,
    `--handlers ${options.handlers.join(",")}`,
    `--root ${shellQuote(build.path)}`,
    `--node "$NODE"`,
    `--brd ${shellQuote(brd)}`,
    `--oomd-root ${shellQuote(OOMD_ROOT)}`,
    `--oomd-log-level ${shellQuote(options.oomdLogLevel)}`,
    `--workload ${shellQuote(join(GUEST_DIR, "workload.py"))}`,
    `--standin ${shellQuote(join(GUEST_DIR, "managed_oom.py"))}`,
  ].join(" ");
  const { script, inputs } = sectionsScript([{ name: SECTION, script: `exec python3 ${shellQuote(join(GUEST_DIR, "peers.py"))} ${args}\n`, timeoutSec: sectionTimeoutSec }]);
  progress(`peers: booting the guest for ${count} runs (${options.workloads.join(", ")} x ${options.handlers.join(", ")}${options.runs > 1 ? ` x ${options.runs}` : ""})`);
  const startedMs = Date.now();
  let pending = "";
  const guest = await runInGuest({
    script,
    inputs,
    memMiB: GUEST_MEM_MIB,
    cpus: GUEST_CPUS,
    timeoutMs: (sectionTimeoutSec + 180) * 1000,
    onConsole: (text) => {
      const parts = (pending + text).split("\n");
      pending = parts.pop() ?? "";
      for (const line of parts) {
        const at = line.indexOf("peers: ");
        if (at >= 0) progress(`[${((Date.now() - startedMs) / 1000).toFixed(0)} s] ${line.slice(at).replace(/\r/g, "")}`);
      }
    },
  });
  const wallMs = Date.now() - startedMs;
  const section = sectionResult(guest, SECTION);
  const text = section.files.get("results.json");
  if (text === undefined) {
    const tail = section.output.split("\n").slice(-25).join("\n");
    return { error: `the guest wrote no results (section status ${section.status}, guest exit ${guest.exitCode}, timed out ${guest.timedOut})\n${tail}\n${guest.qemuStderr}` };
  }
  const results = JSON.parse(text) as GuestResults;
  const saved = { ...results, build: { commit: build.commit, uncommittedSrcFiles: build.uncommittedSrcFiles } };
  writeResults(`peers-${new Date().toISOString().slice(0, 10)}-guest`, { ...saved, options, wallMs: { total: wallMs, guest: results.wallMs, bootMs: guest.bootMs } });
  return report(saved, options, { total: wallMs, bootMs: guest.bootMs });
}

type SavedGuestRecord = GuestResults & { options?: Options; wallMs?: { total: number; bootMs: number | null } };

/** The name a reanalysis is written under: beside its input, never over it or over the day's results. */
export function reanalysedName(input: string): string {
  return `${basename(input, ".json").replace(/-guest$/, "")}-reanalysed`;
}

/**
 * Reads a guest record again. A results file (what the table is made from) keeps only the measures,
 * not the samples and lines they come from, so it cannot be analysed again: it is refused by name
 * rather than read as a record with no runs in it.
 */
export function guestRecordProblem(saved: unknown): string | null {
  if (typeof saved !== "object" || saved === null) return "it is not a JSON object";
  const record = saved as { benchmark?: unknown; runs?: unknown };
  if (record.benchmark === "peers") return "it is a results file, which keeps the measures but not the samples they came from; pass the guest record written beside it (peers-DATE-guest.json)";
  if (!Array.isArray(record.runs)) return "it has no runs";
  const unrecorded = record.runs.findIndex((r) => typeof r !== "object" || r === null || !Array.isArray((r as { processes?: unknown }).processes));
  return unrecorded < 0 ? null : `its run ${unrecorded} has no processes (not a guest record)`;
}

function reanalyse(options: Options, input: string): BenchOutcome | { error: string } {
  let saved: unknown;
  try {
    saved = JSON.parse(readFileSync(input, "utf8"));
  } catch (e) {
    return { error: `--reanalyse ${input}: ${(e as Error).message}` };
  }
  const problem = guestRecordProblem(saved);
  if (problem !== null) return { error: `--reanalyse ${input}: ${problem}` };
  const record = saved as SavedGuestRecord;
  const again = { ...options, ...(record.options ?? {}), reanalyse: input };
  const outcome = report(record, again, { total: record.wallMs?.total ?? 0, bootMs: record.wallMs?.bootMs ?? null });
  return { ...outcome, name: reanalysedName(input) };
}

/** Everything but the boot: from what the guest recorded to the JSON and the table (also for --reanalyse). */
export function report(results: GuestResults, options: Options, wall: { total: number; bootMs: number | null }): BenchOutcome {
  const guest = { bootMs: wall.bootMs };
  const wallMs = wall.total;
  const metrics = results.runs.map((r) => analyseRun(r, results));
  const cells: Cell[] = [];
  for (const workload of options.workloads) {
    for (const handler of options.handlers) cells.push(cellOf(workload, handler, metrics.filter((m) => m.workload === workload && m.handler === handler)));
  }
  const date = new Date().toISOString().slice(0, 10);
  const oomdNote =
    "systemd-oomd cannot start on its own in the guest: it exits with \"Failed to connect to /run/systemd/io.system.ManagedOOM: No such file or directory\" " +
    "because that varlink socket is PID 1's (systemd's), and the guest's PID 1 is the test bed's busybox init (it must stay PID 1 to report and power off). " +
    "So bench/vm/peers/managed_oom.py answers on that socket what systemd would for the units Debian's package configures " +
    "(-.slice ManagedOOMSwap=kill; user@.service ManagedOOMMemoryPressure=kill, limit 50%; DefaultMemoryPressureDurationSec=20s), " +
    "with every workload process in a scope under user@1000.service/app.slice as a desktop session would place it; no D-Bus (systemd-oomd waits for the bus and works without it), run as root rather than its own user.";
  const json = {
    benchmark: "peers",
    date,
    emulated: "qemu TCG: absolute times are emulated (10-30x slower than native); compare the handlers with each other",
    guest: { kernel: results.uname, memMiB: GUEST_MEM_MIB, cpus: GUEST_CPUS, memTotalKib: results.memTotalKib, swapTotalKib: results.swapTotalKib, minWatermarkKib: results.minWatermarkKib, psi: results.psi, bootMs: guest.bootMs },
    versions: results.versions,
    oomwardenBuild: results.build ?? null,
    options,
    workloads: Object.fromEntries(options.workloads.map((w) => [w, WORKLOAD_WORDS[w]])),
    innocents: "idle (holds 100 MiB), heartbeat (wakes every 10 ms; gaps over 50 ms reported); in thrash the re-reader too",
    systemdOomd: oomdNote,
    cells,
    runs: metrics,
    targets: targets(cells, options.workloads),
    raw: results.runs.map((r) => ({ workload: r.workload, handler: r.handler, run: r.run, kmsg: r.kmsg, handlerLines: (r.handlerLines ?? []).slice(-300), journal: r.journal, memSeries: r.mem?.series, processes: r.processes?.map(({ lines: _lines, ...p }) => p) })),
    wallMs: { total: wallMs, guest: results.wallMs, bootMs: guest.bootMs },
  };
  const rows = cells.map(cellRow);
  const wardenLines = metrics
    .filter((m) => m.oomwarden !== undefined)
    .flatMap((m) =>
      (m.oomwarden ?? []).map(
        (d) =>
          `  ${m.workload} run ${m.run + 1}: decision ${d.decisionId} ${d.sinceTenPctMs === null ? `at ${seconds(d.atMs)} s` : `${seconds(d.sinceTenPctMs)} s after 10%`} ${d.kind} ${d.action} ${d.victim === null ? "nobody" : `${d.victim.comm} (${fmt(d.victim.rssMiB, 0)} MiB)`}` +
          ` msToKill ${fmt(d.msToKill, 0)} phases ${d.phasesMs == null ? "-" : phaseWords(d.phasesMs)}` +
          ` avail ${fmt(d.availableMiB, 0)} MiB -> ${d.result ?? "no outcome"}${d.victimExited === false ? " (victim not exited)" : ""}`,
      ),
    );
  const lateLines = metrics.flatMap((m) =>
    m.heartbeatLate.map(
      (w) =>
        `  ${m.workload} ${m.handler} run ${m.run + 1}: at ${seconds(w.atMs)} s, ${fmt(w.gapMs, 0)} ms: on a run queue ${w.runQueueWaitMs === null ? "?" : `${fmt(w.runQueueWaitMs, 0)} ms`}, ` +
        `major faults ${w.majorFaults ?? "?"}, MemAvailable ${fmt(w.availableMiB, 0)} MiB` +
        `${w.handlerCpuMs === null ? "" : `, ${m.handler} on a CPU ${fmt(w.handlerCpuMs.main, 0)} ms (main thread) + ${fmt(w.handlerCpuMs.others, 0)} ms (other threads)`}${nearDecision(m, w)}`,
    ),
  );
  const heldBack = metrics.flatMap((m) => (m.oomwardenHeldBack ?? []).map((n) => `  ${m.workload} run ${m.run + 1}: at ${seconds(n.atMs)} s: ${n.message}`));
  const handlerLines = options.handlers
    .filter((h) => h !== "kernel")
    .map((h) => {
      const hc = cells.filter((c) => c.handler === h);
      return `  ${h}: ready after ${seconds(median(hc.map((c) => c.handlerReadyMs)))} s, RSS ${fmt(median(hc.map((c) => c.handlerRssMiB)), 1)} MiB, major faults during a run ${fmt(median(hc.map((c) => c.handlerMajorFaults)), 0)} (medians)`;
    });
  const tableText = [
    `Peers side by side, ${options.runs} run(s) per cell${options.runs > 1 ? " (medians)" : ""}; 1 GiB guest, no swap, ${results.uname}; oomwarden built at ${results.build?.commit ?? "?"}${results.build?.uncommittedSrcFiles ? ` + ${results.build.uncommittedSrcFiles} changed src files` : ""}; times in s under qemu TCG emulation (absolute times are emulated: compare the handlers with each other)`,
    table(TABLE_HEADER, rows),
    "10%/5% -> kill: from MemAvailable first below 10% / 5% of RAM to the first death (not reached: the kill came first; unseen: the kill fell in a gap of the sampler that began above the line); start -> kill: from the growers' start (the leak's in thrash);",
    "heartbeat gap: its longest late wake-up (<0.05: none over 50 ms); re-reader: its longest pass after the leak started (its warm pass before); PSI: the highest memory full avg10 of the machine (of user@1000.service, systemd-oomd's 50% limit).",
    "",
    "oomwarden against the targets:",
    ...targets(cells, options.workloads).map((l) => `  ${l}`),
    "",
    "Handlers:",
    ...handlerLines,
    ...(wardenLines.length > 0 ? ["", "oomwarden's decisions (journal):", ...wardenLines] : []),
    ...(lateLines.length > 0 ? ["", "The heartbeat's late wake-ups (what it waited for since the wake-up before):", ...lateLines] : []),
    ...(heldBack.length > 0 ? ["oomwarden's kills held back (journal notices):", ...heldBack] : []),
    "",
    oomdNote,
    `wall time ${(wallMs / 1000).toFixed(0)} s (boot ${((guest.bootMs ?? 0) / 1000).toFixed(0)} s)`,
  ].join("\n");
  return { name: `peers-${date}`, json, table: tableText };
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  if (typeof options === "string") {
    process.stderr.write(`peers: ${options}\n`);
    return 2;
  }
  const outcome = await run(options);
  if ("error" in outcome) {
    process.stderr.write(`peers: ${outcome.error}\n`);
    return 1;
  }
  const path = writeResults(outcome.name, outcome.json);
  process.stdout.write(`${outcome.table}\n(written to ${path})\n`);
  return 0;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().then((code) => (process.exitCode = code));
}
