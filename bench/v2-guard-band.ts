// cgroup v2: oomwarden's guard band against the kernel's own memcg killer, in the test VM (one
// boot, all trials in it; the guest side is bench/vm/v2-guard-band.py).
//
// Same workload on both sides: a 128 MiB cgroup with an innocent `sleep` and `tail /dev/zero`.
// - oomwarden: one `oomwarden run` manages its cgroup for every trial (memory.high a 10% band below
//   memory.max). Clock from the first rise of memory.events `high`, as the guest's poller saw it,
//   to the SIGKILL (the journal's decision, stamped just before the signal) and to memory back.
//   The journal's own msToKill and msToMemoryBack run from the daemon's notification; the gap
//   between the first `high` and that notification is reported apart, split at the moment usage
//   passed the band's incident threshold (memory.high plus what the kernel reclaims before it
//   throttles, src/core/guard-band-plan.ts), which the poller times too.
// - kernel: memory.high left at max, no daemon. Clock from the first rise of `max` to `oom_kill`
//   rising (the kernel's kill), the hog's death, and memory back.
// Memory back, for the ratio, is the same on both sides: memory.current below half the limit.
// Then the band's cost to a job that never runs out: dd re-reading a brd RAM disk (reclaimable
// page cache), with memory.high at max and under the running daemon's band.
//
// Under TCG emulation: absolute times are emulated and only the ratios carry over.

import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { planGuardBand } from "../src/core/guard-band-plan.js";
import { parseJournalText, type JournalEntry } from "../src/daemon/journal-reader.js";
import type { DecisionRecord, OutcomeRecord } from "../src/engine/journal-record.js";
import { findOnPath, vmUnavailableReason } from "../test/vm/artifacts.js";
import { runInGuest, shellQuote } from "../test/vm/harness.js";
import { sectionResult, sectionsScript } from "../test/vm/sections.js";
import { fmt, percentile, ratio, table, writeResults, type BenchOutcome } from "./report.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const GUEST_SCRIPT = join(ROOT, "bench", "vm", "v2-guard-band.py");
const FETCH_BRD = join(ROOT, "bench", "vm", "fetch-brd.sh");
const BRD_MODULE = join(ROOT, "build-vm", "brd.ko");
/** guest-init.sh's PATH: where the guest finds python3 among the host's files. */
const GUEST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const SECTION = "v2-guard-band";
const MIB = 1024 * 1024;
// Other VM work shares this host: one guest, at the test bed's size.
const GUEST_MEM_MIB = 1024;
const GUEST_CPUS = 2;
const LIMIT_MIB = 128;
/** The daemon's default band, written into its config all the same. */
const GUARD_BAND_PCT = 10;
const PAGE_SIZE_BYTES = 4096;
/** Page-cache working sets: one fits below the band's memory.high (115.2 MiB), one only below memory.max. */
const CACHE_WORKING_SETS_MIB = [100, 120];
/** Passes per cache run: the first is cold, the rest can hit the cache. */
const CACHE_PASSES = 8;

interface Options {
  trials: number;
  cacheReps: number;
}

export function parseOptions(argv: readonly string[]): Options | string {
  const options: Options = { trials: 20, cacheReps: 5 };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const key = flag === "--trials" ? "trials" : flag === "--cache-reps" ? "cacheReps" : null;
    const value = Number(argv[i + 1]);
    if (key === null) return `unknown option ${flag} (known: --trials N, --cache-reps N)`;
    if (!Number.isInteger(value) || value < 1) return `${flag} needs a whole number of at least 1`;
    options[key] = value;
    i++;
  }
  return options;
}

// What the guest measured (bench/vm/v2-guard-band.py), times in ms from the hog's spawn.
interface FirstSeen {
  ms: number;
  epochMs: number;
}
interface GuestTrial {
  hogPid: number;
  hogExitSignal: number | null;
  /** threshold: usage past the band's incident threshold (oomwarden's cgroup only). */
  first: Partial<Record<"high" | "max" | "oom" | "oom_kill" | "threshold", FirstSeen>>;
  deathMs: number | null;
  backMs: number | null;
  peakBytes: number;
  counterRise: Record<"high" | "max" | "oom" | "oom_kill", number>;
  meanSampleMs: number;
  timedOut: boolean;
  innocentAlive: boolean;
  outcomeJournaled?: boolean;
  after?: { daemonAlive: boolean; memoryHighBytes: number | null; currentBytes: number; usageUnderBand: boolean };
}
interface CachePass {
  exit: number | null;
  mibPerSec: number | null;
  fileBytes: number;
}
interface CacheRun {
  rep: number;
  mode: "none" | "band";
  workingSetMiB: number;
  memoryHighBytes: number | null;
  passes: CachePass[];
  pgsteal: number;
  refaults: number;
  highEvents: number;
  oomKills: number;
  daemonDecisions: number;
}
interface GuestResults {
  uname: string;
  niceness: number;
  limitBytes: number;
  backBelowBytes: number;
  daemon: { readyMs: number | null; memoryHighBytes: number | null; aliveAtEnd: boolean; exitOnSigterm: number; memoryHighAfterStop: string };
  error?: string;
  trials?: { kernel: GuestTrial[]; oomwarden: GuestTrial[] };
  latencyMs?: number;
  cache?: { skipped: string } | { runs: CacheRun[]; ms: number };
  journal: string;
  daemonStderr: string;
  totalMs: number;
}

interface Spread {
  n: number;
  p50: number | null;
  p90: number | null;
  p99: number | null;
  max: number | null;
}

/** Two decimals: the guest's clocks are read to 0.01 ms, the journal's stamps to 1 ms. */
const round = (value: number | null): number | null => (value === null ? null : Math.round(value * 100) / 100);

/** Nearest rank, as the other benches: with 20 trials p99 is the largest value. */
function spread(values: ReadonlyArray<number | null>): Spread {
  const sorted = values.filter((v): v is number => v !== null && Number.isFinite(v)).sort((a, b) => a - b);
  return { n: sorted.length, p50: round(percentile(sorted, 50)), p90: round(percentile(sorted, 90)), p99: round(percentile(sorted, 99)), max: round(sorted.at(-1) ?? null) };
}

const since = (later: number | null | undefined, earlier: number | null | undefined): number | null =>
  later === null || later === undefined || earlier === null || earlier === undefined ? null : round(later - earlier);

/** One oomwarden trial joined with its decision (the one whose victim is this trial's hog). */
interface WardenTrial {
  hogPid: number;
  decisionId: number | null;
  victimWasHog: boolean;
  result: string | null;
  /** First `high` to usage past the incident threshold (memory.high plus what the kernel reclaims without throttling). */
  highToThresholdMs: number | null;
  /** First `high` to the notification the daemon timed its decision from. */
  highToNotifyMs: number | null;
  /** Usage past the threshold (the poller's sight) to that notification. */
  thresholdToNotifyMs: number | null;
  msToKill: number | null;
  phasesMs: DecisionRecord["phasesMs"] | null;
  /** First `high` to the decision record, written just before the SIGKILL. */
  highToKillMs: number | null;
  msToMemoryBack: number | null;
  highToMemoryBackMs: number | null;
  /** First `high` to memory.current below half the limit, by the guest's poller. */
  highToBelowHalfMs: number | null;
  /** How long the hog was throttled: first `high` to its death. */
  throttledMs: number | null;
  freedBytes: number | null;
  failures: string[];
}

interface KernelTrial {
  hogPid: number;
  maxToKillMs: number | null;
  maxToDeathMs: number | null;
  maxToBelowHalfMs: number | null;
  failures: string[];
}

function wardenTrial(trial: GuestTrial, decisions: Array<JournalEntry & DecisionRecord>, outcomes: OutcomeRecord[]): WardenTrial {
  const forHog = decisions.filter((d) => d.victim?.pid === trial.hogPid);
  const decision = forHog[0] ?? null;
  const outcome = decision === null ? undefined : outcomes.find((o) => o.decisionId === decision.decisionId && o.pid === decision.victim?.pid);
  const firstHigh = trial.first.high;
  const killEpochMs = decision === null ? null : Date.parse(decision.time);
  const highToKillMs = since(killEpochMs, firstHigh?.epochMs);
  // The decision is stamped just before the signal, msToKill after the notification: the difference is when the daemon was notified.
  const highToNotifyMs = decision?.msToKill == null ? null : since(highToKillMs, decision.msToKill);
  const msToMemoryBack = outcome?.outcome.msToMemoryBack ?? null;
  const failures: string[] = [];
  if (!trial.innocentAlive) failures.push("innocent killed");
  if (trial.counterRise.oom_kill > 0) failures.push("kernel OOM kill");
  if (decision === null) failures.push("no decision for the hog");
  if (forHog.length > 1) failures.push("more than one decision for the hog");
  if (trial.hogExitSignal !== 9) failures.push(`hog ended by ${trial.hogExitSignal === null ? "exit" : `signal ${trial.hogExitSignal}`}`);
  if (outcome === undefined) failures.push("no outcome journaled");
  if (trial.after !== undefined && (!trial.after.daemonAlive || !trial.after.usageUnderBand)) failures.push("daemon not recovered");
  if (trial.timedOut) failures.push("timed out");
  return {
    hogPid: trial.hogPid,
    decisionId: decision?.decisionId ?? null,
    victimWasHog: decision !== null,
    result: outcome?.outcome.result ?? null,
    highToThresholdMs: since(trial.first.threshold?.ms, firstHigh?.ms),
    highToNotifyMs,
    thresholdToNotifyMs: since(highToNotifyMs, since(trial.first.threshold?.ms, firstHigh?.ms)),
    msToKill: decision?.msToKill ?? null,
    phasesMs: decision?.phasesMs ?? null,
    highToKillMs,
    msToMemoryBack,
    highToMemoryBackMs: msToMemoryBack === null || highToNotifyMs === null ? null : round(highToNotifyMs + msToMemoryBack),
    highToBelowHalfMs: since(trial.backMs, firstHigh?.ms),
    throttledMs: since(trial.deathMs, firstHigh?.ms),
    freedBytes: outcome?.outcome.freedBytes ?? null,
    failures,
  };
}

function kernelTrial(trial: GuestTrial): KernelTrial {
  const firstMax = trial.first.max?.ms;
  const failures: string[] = [];
  if (!trial.innocentAlive) failures.push("innocent killed");
  if (trial.counterRise.oom_kill !== 1) failures.push(`oom_kill rose by ${trial.counterRise.oom_kill}`);
  if (trial.hogExitSignal !== 9) failures.push(`hog ended by ${trial.hogExitSignal === null ? "exit" : `signal ${trial.hogExitSignal}`}`);
  if (trial.timedOut) failures.push("timed out");
  return {
    hogPid: trial.hogPid,
    maxToKillMs: since(trial.first.oom_kill?.ms, firstMax),
    maxToDeathMs: since(trial.deathMs, firstMax),
    maxToBelowHalfMs: since(trial.backMs, firstMax),
    failures,
  };
}

const median = (values: readonly number[]): number | null => percentile([...values].sort((a, b) => a - b), 50);

interface CacheCell {
  mode: "none" | "band";
  workingSetMiB: number;
  runs: number;
  coldMiBps: Array<number | null>;
  coldMedianMiBps: number | null;
  /** Each run's median over its passes after the first. */
  warmRunMediansMiBps: Array<number | null>;
  /** Median of every warm pass of every run: one slow pass (the host busy) moves it least. */
  warmMedianMiBps: number | null;
  /**
   * Median over the runs of each run's fastest warm pass. The host is shared: a pass that met
   * another job's burst ran at about half speed, so the fastest pass is the job's own speed.
   */
  warmBestMiBps: number | null;
  warmPasses: number;
  refaultsPerRun: number[];
  highEventsPerRun: number[];
  daemonDecisions: number;
  oomKills: number;
  failedPasses: number;
  memoryHighBytes: number | null;
}

function cacheCells(runs: readonly CacheRun[]): CacheCell[] {
  const cells: CacheCell[] = [];
  for (const workingSetMiB of [...new Set(runs.map((r) => r.workingSetMiB))]) {
    for (const mode of ["none", "band"] as const) {
      const mine = runs.filter((r) => r.mode === mode && r.workingSetMiB === workingSetMiB);
      const warmOf = (r: CacheRun): number[] => r.passes.slice(1).flatMap((p) => (p.mibPerSec === null ? [] : [p.mibPerSec]));
      const cold = mine.map((r) => r.passes[0]?.mibPerSec ?? null);
      const warmAll = mine.flatMap(warmOf);
      cells.push({
        mode,
        workingSetMiB,
        runs: mine.length,
        coldMiBps: cold,
        coldMedianMiBps: median(cold.filter((v): v is number => v !== null)),
        warmRunMediansMiBps: mine.map((r) => median(warmOf(r))),
        warmMedianMiBps: median(warmAll),
        warmBestMiBps: median(mine.flatMap((r) => (warmOf(r).length === 0 ? [] : [Math.max(...warmOf(r))]))),
        warmPasses: warmAll.length,
        refaultsPerRun: mine.map((r) => r.refaults),
        highEventsPerRun: mine.map((r) => r.highEvents),
        daemonDecisions: mine.reduce((sum, r) => sum + r.daemonDecisions, 0),
        oomKills: mine.reduce((sum, r) => sum + r.oomKills, 0),
        failedPasses: mine.reduce((sum, r) => sum + r.passes.filter((p) => p.exit !== 0).length, 0),
        memoryHighBytes: mine[0]?.memoryHighBytes ?? null,
      });
    }
  }
  return cells;
}

/** build-vm/brd.ko, fetched once if missing; otherwise why the page-cache part cannot run. */
function brdModule(): { path: string } | { skipped: string } {
  try {
    execFileSync(FETCH_BRD, { stdio: ["ignore", "ignore", "pipe"] });
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim();
    return { skipped: `no brd.ko for the guest kernel (${stderr || (error as Error).message})` };
  }
  return existsSync(BRD_MODULE) ? { path: BRD_MODULE } : { skipped: `${FETCH_BRD} left no ${BRD_MODULE}` };
}

/** Why this bench cannot run here, or null. */
function unavailableReason(): string | null {
  const vm = vmUnavailableReason();
  if (vm !== null) return `the VM is unavailable: ${vm}`;
  if (findOnPath("python3", GUEST_PATH) === null) return `no python3 in ${GUEST_PATH}, where the guest looks for it`;
  if (!existsSync(join(ROOT, "dist", "src", "cli", "main.js"))) return "dist/src/cli/main.js is missing (npx tsc -p .)";
  return null;
}

const rowOf = (label: string, s: Spread): string[] => [label, String(s.n), fmt(s.p50, 1), fmt(s.p90, 1), fmt(s.max, 1)];

export async function run(options: Options): Promise<BenchOutcome | { error: string }> {
  const unavailable = unavailableReason();
  if (unavailable !== null) return { error: unavailable };
  const plan = planGuardBand({ limitBytes: LIMIT_MIB * MIB, placement: "below", bandPct: GUARD_BAND_PCT, originalHighBytes: null, pageSizeBytes: PAGE_SIZE_BYTES });
  if (!plan.ok) return { error: plan.error.message };
  const brd = brdModule();
  const sectionTimeoutSec = 300 + options.trials * 40 + options.cacheReps * 120;
  const args = [
    `--trials ${options.trials}`,
    `--limit-mib ${LIMIT_MIB}`,
    `--band-pct ${GUARD_BAND_PCT}`,
    `--incident-above ${plan.value.incidentAboveBytes}`,
    `--cache-reps ${options.cacheReps}`,
    `--cache-passes ${CACHE_PASSES}`,
    `--cache-mib ${CACHE_WORKING_SETS_MIB.join(",")}`,
    `--brd ${shellQuote("path" in brd ? brd.path : "")}`,
    `--root "$OOMWARDEN_ROOT"`,
    `--node "$NODE"`,
  ].join(" ");
  const { script, inputs } = sectionsScript([{ name: SECTION, script: `exec python3 ${shellQuote(GUEST_SCRIPT)} ${args}\n`, timeoutSec: sectionTimeoutSec }]);
  const startedMs = Date.now();
  const guest = await runInGuest({ script, inputs, memMiB: GUEST_MEM_MIB, cpus: GUEST_CPUS, timeoutMs: (sectionTimeoutSec + 180) * 1000 });
  const wallMs = Date.now() - startedMs;
  const section = sectionResult(guest, SECTION);
  const text = section.files.get("results.json");
  if (text === undefined) {
    const tail = section.output.split("\n").slice(-15).join("\n");
    return { error: `the guest wrote no results (section status ${section.status}, guest exit ${guest.exitCode}, timed out ${guest.timedOut})\n${tail}\n${guest.qemuStderr}` };
  }
  const results = JSON.parse(text) as GuestResults;
  if (results.trials === undefined) return { error: `guest: ${results.error ?? "no trials"}\n${results.daemonStderr}` };
  if (results.daemon.memoryHighBytes !== plan.value.highBytes) {
    return { error: `the daemon set memory.high ${results.daemon.memoryHighBytes}, not the ${plan.value.highBytes} bytes its plan gives: the trials measured another band` };
  }

  const records = parseJournalText(results.journal).records;
  const decisions = records.filter((r): r is JournalEntry & DecisionRecord => r.type === "decision");
  const outcomes = records.filter((r): r is JournalEntry & OutcomeRecord => r.type === "outcome");
  const warden = results.trials.oomwarden.map((t) => wardenTrial(t, decisions, outcomes));
  const kernel = results.trials.kernel.map(kernelTrial);
  const hogPids = new Set(results.trials.oomwarden.map((t) => t.hogPid));
  const otherDecisions = decisions.filter((d) => d.victim === null || !hogPids.has(d.victim.pid));
  const kernelKillRecords = records.filter((r) => r.type === "kernel-kill").length;

  const w = {
    highToThresholdMs: spread(warden.map((t) => t.highToThresholdMs)),
    highToNotifyMs: spread(warden.map((t) => t.highToNotifyMs)),
    thresholdToNotifyMs: spread(warden.map((t) => t.thresholdToNotifyMs)),
    msToKill: spread(warden.map((t) => t.msToKill)),
    highToKillMs: spread(warden.map((t) => t.highToKillMs)),
    msToMemoryBack: spread(warden.map((t) => t.msToMemoryBack)),
    highToMemoryBackMs: spread(warden.map((t) => t.highToMemoryBackMs)),
    highToBelowHalfMs: spread(warden.map((t) => t.highToBelowHalfMs)),
    throttledMs: spread(warden.map((t) => t.throttledMs)),
    freedMiB: spread(warden.map((t) => (t.freedBytes === null ? null : t.freedBytes / MIB))),
  };
  const k = {
    maxToKillMs: spread(kernel.map((t) => t.maxToKillMs)),
    maxToDeathMs: spread(kernel.map((t) => t.maxToDeathMs)),
    maxToBelowHalfMs: spread(kernel.map((t) => t.maxToBelowHalfMs)),
  };
  const ratios = (a: Spread, b: Spread): { p50: number | null; p90: number | null; max: number | null } => ({
    p50: round(ratio(a.p50, b.p50)),
    p90: round(ratio(a.p90, b.p90)),
    max: round(ratio(a.max, b.max)),
  });
  const ratioKill = ratios(w.highToKillMs, k.maxToKillMs);
  const ratioBack = ratios(w.highToBelowHalfMs, k.maxToBelowHalfMs);
  const failures = {
    oomwarden: warden.filter((t) => t.failures.length > 0).map((t) => ({ hogPid: t.hogPid, failures: t.failures })),
    kernel: kernel.filter((t) => t.failures.length > 0).map((t) => ({ hogPid: t.hogPid, failures: t.failures })),
    innocentsKilled: {
      oomwarden: results.trials.oomwarden.filter((t) => !t.innocentAlive).length,
      kernel: results.trials.kernel.filter((t) => !t.innocentAlive).length,
    },
    oomKillsUnderOomwarden: results.trials.oomwarden.reduce((sum, t) => sum + t.counterRise.oom_kill, 0),
    /** Not a failure by itself (the kernel may still reclaim there), but the band was crossed. */
    trialsReachingMaxUnderOomwarden: results.trials.oomwarden.filter((t) => t.counterRise.max > 0).length,
    decisionsNotOnAHog: otherDecisions.length,
    kernelKillRecords,
  };
  const cache = results.cache === undefined ? { skipped: "not run" } : "skipped" in results.cache ? results.cache : { cells: cacheCells(results.cache.runs), ms: results.cache.ms, runs: results.cache.runs };
  const cacheRatios =
    "cells" in cache
      ? Object.fromEntries(
          [...new Set(cache.cells.map((c) => c.workingSetMiB))].map((size) => {
            const cell = (mode: string): CacheCell | undefined => cache.cells.find((c) => c.mode === mode && c.workingSetMiB === size);
            const of = (key: "warmMedianMiBps" | "warmBestMiBps"): number | null => round(ratio(cell("band")?.[key] ?? null, cell("none")?.[key] ?? null));
            return [`${size} MiB`, { median: of("warmMedianMiBps"), best: of("warmBestMiBps") }];
          }),
        )
      : {};

  const json = {
    benchmark: "v2-guard-band",
    emulated: "qemu TCG: absolute times are emulated (10-30x slower than native); compare the ratios",
    guest: { kernel: results.uname, memMiB: GUEST_MEM_MIB, cpus: GUEST_CPUS, bootMs: guest.bootMs },
    trialsPerSide: options.trials,
    workload: {
      limitBytes: results.limitBytes,
      memoryHighBytes: results.daemon.memoryHighBytes,
      incidentAboveBytes: plan.value.incidentAboveBytes,
      hog: "tail /dev/zero",
      innocent: "sleep",
      memoryBackBelowBytes: results.backBelowBytes,
      pollerNiceness: results.niceness,
      pollerMeanSampleMs: spread([...results.trials.oomwarden, ...results.trials.kernel].map((t) => t.meanSampleMs)).p50,
    },
    daemon: results.daemon,
    oomwarden: { summary: w, trials: warden },
    kernel: { summary: k, trials: kernel },
    ratios: { timeToKill: ratioKill, timeToMemoryBack: ratioBack },
    failures,
    cache: { ...cache, warmRatioBandToNone: cacheRatios },
    wallMs: { total: wallMs, guestLatencyPart: results.latencyMs ?? null, guestCachePart: "ms" in cache ? cache.ms : null },
  };

  const latencyRows = [
    rowOf("oomwarden: first high -> usage past the incident threshold", w.highToThresholdMs),
    rowOf("oomwarden: first high -> daemon notified", w.highToNotifyMs),
    rowOf("oomwarden: past the threshold -> daemon notified", w.thresholdToNotifyMs),
    rowOf("oomwarden: notified -> SIGKILL (msToKill)", w.msToKill),
    rowOf("oomwarden: first high -> SIGKILL", w.highToKillMs),
    rowOf("oomwarden: notified -> memory back (msToMemoryBack)", w.msToMemoryBack),
    rowOf("oomwarden: first high -> memory back (journal)", w.highToMemoryBackMs),
    rowOf("oomwarden: first high -> usage < half", w.highToBelowHalfMs),
    rowOf("oomwarden: hog throttled (first high -> death)", w.throttledMs),
    rowOf("kernel: first max -> oom_kill", k.maxToKillMs),
    rowOf("kernel: first max -> hog dead", k.maxToDeathMs),
    rowOf("kernel: first max -> usage < half", k.maxToBelowHalfMs),
    ["ratio oomwarden/kernel: time to kill", "", fmt(ratioKill.p50), fmt(ratioKill.p90), fmt(ratioKill.max)],
    ["ratio oomwarden/kernel: time to usage < half", "", fmt(ratioBack.p50), fmt(ratioBack.p90), fmt(ratioBack.max)],
  ];
  const failureLine =
    `failures: oomwarden ${failures.oomwarden.length}/${warden.length} trials, kernel ${failures.kernel.length}/${kernel.length}; ` +
    `innocents killed ${failures.innocentsKilled.oomwarden} (oomwarden) / ${failures.innocentsKilled.kernel} (kernel); ` +
    `kernel OOM kills under oomwarden ${failures.oomKillsUnderOomwarden}; trials reaching memory.max under oomwarden ${failures.trialsReachingMaxUnderOomwarden}; ` +
    `decisions not on a hog ${failures.decisionsNotOnAHog}; poller sample every ${fmt(json.workload.pollerMeanSampleMs)} ms (mean)`;
  let cacheText: string;
  if ("cells" in cache) {
    const range = (values: Array<number | null>): string => {
      const present = values.filter((v): v is number => v !== null);
      return present.length === 0 ? "-" : `${fmt(Math.min(...present), 0)}-${fmt(Math.max(...present), 0)}`;
    };
    const rows = cache.cells.map((c) => [
      `${c.workingSetMiB} MiB`,
      c.mode === "none" ? "max" : `${fmt((c.memoryHighBytes ?? 0) / MIB, 1)} MiB (band)`,
      String(c.runs),
      fmt(c.coldMedianMiBps, 0),
      `${fmt(c.warmMedianMiBps, 0)} (${c.warmPasses})`,
      range(c.warmRunMediansMiBps),
      fmt(c.warmBestMiBps, 0),
      c.mode === "band" ? `${fmt(cacheRatios[`${c.workingSetMiB} MiB`]?.median ?? null)} / ${fmt(cacheRatios[`${c.workingSetMiB} MiB`]?.best ?? null)}` : "",
      `${Math.min(...c.refaultsPerRun)}-${Math.max(...c.refaultsPerRun)}`,
      `${Math.min(...c.highEventsPerRun)}-${Math.max(...c.highEventsPerRun)}`,
      String(c.daemonDecisions),
      String(c.failedPasses),
    ]);
    cacheText = table(
      ["working set", "memory.high", "runs", "cold MiB/s", "warm MiB/s median (passes)", "run medians", "warm best", "band/none median / best", "refaults/run", "high events/run", "decisions", "failed passes"],
      rows,
    );
  } else cacheText = `page-cache part skipped: ${cache.skipped}`;
  const tableText = [
    `cgroup v2 guard band (${GUARD_BAND_PCT}%) vs the kernel's killer, ${options.trials} trials each, ${LIMIT_MIB} MiB cgroup, in ms (qemu TCG: absolute times are emulated, compare ratios)`,
    table(["measure", "n", "p50", "p90", "max"], latencyRows),
    failureLine,
    "",
    `Page cache under the band (dd re-reading a brd disk, ${CACHE_PASSES} passes a run, the first cold)`,
    cacheText,
    `wall time ${(wallMs / 1000).toFixed(0)} s (boot ${((guest.bootMs ?? 0) / 1000).toFixed(0)} s, daemon start and trials ${((results.latencyMs ?? 0) / 1000).toFixed(0)} s (the start ${((results.daemon.readyMs ?? 0) / 1000).toFixed(0)} s), cache ${(("ms" in cache ? cache.ms : 0) / 1000).toFixed(0)} s)`,
  ].join("\n");
  return { name: "v2-guard-band", json, table: tableText };
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  if (typeof options === "string") {
    process.stderr.write(`v2-guard-band: ${options}\n`);
    return 2;
  }
  const outcome = await run(options);
  if ("error" in outcome) {
    process.stderr.write(`v2-guard-band: ${outcome.error}\n`);
    return 1;
  }
  const path = writeResults(outcome.name, outcome.json);
  process.stdout.write(`${JSON.stringify(outcome.json)}\n\n${outcome.table}\n(written to ${path})\n`);
  return 0;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().then((code) => (process.exitCode = code));
}
