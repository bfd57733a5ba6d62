// The daemon's own code under memory pressure, in the test VM (one boot; the guest side is
// bench/vm/resident-code.sh): each resident-code mode ("off", "on-fault", "code", "full", and
// "warm": on-fault after a warm-up of the host's and the core's side of a decision, a stand-in for
// the engine's own) against the same hogs, the modes interleaved so that a drift of the host's load
// spreads over all of them. Per run:
// the daemon's start time, its major faults from just before the hog to 3 s after its death, its
// RSS and locked memory, and who killed the hog.
//
//   npx tsc -p . && node dist/bench/resident-code.js [--rounds N] [--modes off,on-fault,...]
//
// Under TCG emulation: absolute times are emulated and only the comparisons carry over.

import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseJournalText } from "../src/daemon/journal-reader.js";
import type { DecisionRecord } from "../src/engine/journal-record.js";
import { vmUnavailableReason } from "../test/vm/artifacts.js";
import { runInGuest } from "../test/vm/harness.js";
import { fmt, percentile, table, writeResults } from "./report.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const MODES = ["off", "on-fault", "warm", "code", "full"] as const;
const HOGS = ["rate40", "fast"] as const;
type Mode = (typeof MODES)[number];
type Hog = (typeof HOGS)[number];

interface Run {
  mode: Mode;
  hog: Hog;
  name: string;
  startMs: number | null;
  majorFaultsBefore: number | null;
  majorFaultsAfter: number | null;
  /** Major faults from 2 s after "guarding" (before the hog) to 3 s after the hog's death. */
  majorFaultsDuringHog: number | null;
  /** The same for each later hog the same daemon met (--episodes). */
  laterEpisodes: Array<{ majorFaults: number | null; hogStatus: string; residentGrowthKiB: Record<string, number> }>;
  /** Decisions with a victim in the whole journal. */
  decisionsWithVictim: number;
  rssKiBBefore: number | null;
  rssKiBAfter: number | null;
  lockedKiB: number | null;
  hogStatus: string;
  hogMs: number | null;
  killedBy: "oomwarden" | "kernel" | "neither";
  innocent: string;
  decision: { msToKill: number | null; phasesMs: DecisionRecord["phasesMs"] | null; reason: string | null; victim: string | null } | null;
  residentNote: string | null;
  /** Resident KiB each mapping ("perms path") gained from before the hog to after it: pages the episode brought in and kept. */
  residentGrowthKiB: Record<string, number>;
  /** "ms majflt MemAvailableKiB" every half second while the hog ran. */
  samples: string;
}

const USAGE = `usage: resident-code [--rounds N] [--modes ${MODES.join(",")}] [--episodes N] [--hogs ${HOGS.join(",")}] [--label NAME]`;

interface Options {
  rounds: number;
  modes: Mode[];
  episodes: number;
  hogs: Hog[];
  /** The results go to bench/results/resident-code-LABEL.json (resident-code.json without one). */
  label: string | null;
}

function parseArgs(argv: readonly string[]): Options | string {
  const options: Options = { rounds: 3, modes: [...MODES], episodes: 1, hogs: [...HOGS], label: null };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, text = ""] = [argv[i], argv[i + 1]];
    if (flag === "--rounds" && Number.isInteger(Number(text)) && Number(text) >= 1) options.rounds = Number(text);
    else if (flag === "--modes" && text.split(",").every((mode) => (MODES as readonly string[]).includes(mode))) options.modes = text.split(",") as Mode[];
    else if (flag === "--hogs" && text.split(",").every((hog) => (HOGS as readonly string[]).includes(hog))) options.hogs = text.split(",") as Hog[];
    else if (flag === "--episodes" && Number.isInteger(Number(text)) && Number(text) >= 1) options.episodes = Number(text);
    else if (flag === "--label" && /^[a-z0-9-]+$/.test(text)) options.label = text;
    else return USAGE;
  }
  return options;
}

/** dist, the addon and what node needs to run them, copied aside: a build on the host mid-run must not change what the guest runs. */
function snapshot(): string {
  const snap = mkdtempSync(join(tmpdir(), "oomwarden-resident-code-"));
  for (const part of ["dist", "node_modules", "package.json", "binding.gyp", join("build", "Release", "oomwarden_native.node")]) {
    mkdirSync(dirname(join(snap, part)), { recursive: true });
    cpSync(join(ROOT, part), join(snap, part), { recursive: true });
  }
  return snap;
}

/**
 * Runs the daemon as `oomwarden run` does, its code kept resident as RESIDENT_CODE says. "warm"
 * first runs what a machine-guard decision runs on the host's side and in the core (listing,
 * sample, ranking, pidfd open and signal 0, exit watch, process_mrelease refused, stall evidence,
 * the record's JSON), then locks on fault: the pages it touched are locked with the rest.
 */
function launcher(snap: string): string {
  const dist = (path: string): string => JSON.stringify(join(snap, "dist", path));
  return `import { LinuxHost } from ${dist("src/host/linux/linux-host.js")};
import { runDaemon } from ${dist("src/daemon/daemon.js")};
import { parseRunArgs } from ${dist("src/cli/args.js")};
import { decide } from ${dist("src/core/decide.js")};
const warm = process.env.RESIDENT_CODE === "warm";
const residentCode = warm ? "on-fault" : process.env.RESIDENT_CODE;
if (warm) {
  const host = new LinuxHost();
  for (let round = 0; round < 3; round++) {
    const sample = host.readMachinePressure();
    host.readMachineMemory();
    const listed = host.listAllProcesses({ refreshStaleDetails: round === 0 });
    if (!sample.ok || !listed.ok) throw new Error("warm-up: cannot read the machine");
    const cgroup = { path: "/", version: 2, usageBytes: sample.value.totalBytes - sample.value.availableBytes, limitBytes: null, highBytes: null, underOom: false, oomKillDisabled: false, events: { low: 0, high: 0, max: 0, oom: 0, oomKill: 0, oomGroupKill: 0 }, oomGroup: false };
    const decision = decide({ takenAtMs: host.now(), cgroup, processes: listed.value, selfPid: -1, pageSizeBytes: host.pageSizeBytes() }, { maxCandidates: 5, totalMemoryPages: sample.value.totalBytes / host.pageSizeBytes() });
    JSON.stringify({ time: new Date().toISOString(), decision });
  }
  const self = host.readProcess(process.pid);
  const victim = self.ok ? host.openVictim(process.pid, self.value.startTimeTicks) : self;
  if (victim.ok) {
    host.maySignal(victim.value);
    const watch = host.watchExit(victim.value, () => {});
    if (watch.ok) watch.value();
    await host.reap(victim.value);
    host.releaseVictim(victim.value);
  }
  host.readStallEvidence(process.pid);
}
const protectSelf = LinuxHost.prototype.protectSelf;
LinuxHost.prototype.protectSelf = function () { return protectSelf.call(this, { residentCode }); };
const [command, ...rest] = process.argv.slice(2);
if (command !== "run") throw new Error("launch.mjs: only run");
process.exitCode = await runDaemon(parseRunArgs(rest));
`;
}

function numbers(text: string | undefined): Array<number | null> {
  return (text ?? "").trim().split(/\s+/).map((word) => (word === "" || Number.isNaN(Number(word)) ? null : Number(word)));
}

/** "perms path KiB" lines (rss_by_mapping in the guest script) into a map. */
function residentByMapping(text: string | undefined): Map<string, number> {
  const rss = new Map<string, number>();
  for (const line of (text ?? "").split("\n")) {
    const match = /^(\S+) (.*) (\d+)$/.exec(line);
    if (match !== null) rss.set(`${match[1]} ${match[2]}`.trim(), Number(match[3]));
  }
  return rss;
}

function residentGrowth(before: string | undefined, after: string | undefined): Record<string, number> {
  const was = residentByMapping(before);
  const growth: Record<string, number> = {};
  for (const [key, kib] of residentByMapping(after)) {
    const grown = kib - (was.get(key) ?? 0);
    if (grown > 0) growth[key] = grown;
  }
  return growth;
}

function readRun(files: Map<string, string>, mode: Mode, hog: Hog, name: string, episodes: number): Run {
  const file = (what: string): string | undefined => files.get(`${name}/${what}`);
  const [faultsBefore = null, rssBefore = null] = numbers(file("before"));
  const [faultsAfter = null, rssAfter = null, locked = null] = numbers(file("after"));
  const journal = parseJournalText(file("journal.jsonl") ?? "").records as unknown as Array<Record<string, unknown>>;
  const decision = journal.find((record) => record.type === "decision" && (record as unknown as DecisionRecord).victim !== null) as DecisionRecord | undefined;
  const started = journal.find((record) => record.type === "daemon") as { notes?: string[] } | undefined;
  const kernelOom = (file("kernel-oom") ?? "").includes("Out of memory: Killed process");
  const laterEpisodes: Run["laterEpisodes"] = [];
  for (let episode = 2; episode <= episodes; episode++) {
    const [before = null] = numbers(file(`before-${episode}`));
    const [after = null] = numbers(file(`after-${episode}`));
    laterEpisodes.push({
      majorFaults: before === null || after === null ? null : after - before,
      hogStatus: (file(`hog-status-${episode}`) ?? "?").trim(),
      residentGrowthKiB: residentGrowth(file(`smaps-before-${episode}`), file(`smaps-after-${episode}`)),
    });
  }
  const hogStatus = (file("hog-status") ?? "?").trim();
  return {
    mode,
    hog,
    name,
    startMs: numbers(file("start-ms"))[0] ?? null,
    majorFaultsBefore: faultsBefore,
    majorFaultsAfter: faultsAfter,
    majorFaultsDuringHog: faultsBefore === null || faultsAfter === null ? null : faultsAfter - faultsBefore,
    laterEpisodes,
    decisionsWithVictim: journal.filter((record) => record.type === "decision" && (record as unknown as DecisionRecord).victim !== null).length,
    rssKiBBefore: rssBefore,
    rssKiBAfter: rssAfter,
    lockedKiB: locked,
    hogStatus,
    hogMs: numbers(file("hog-ms"))[0] ?? null,
    killedBy: kernelOom ? "kernel" : decision !== undefined ? "oomwarden" : "neither",
    innocent: (file("innocent") ?? "?").trim(),
    decision:
      decision === undefined
        ? null
        : { msToKill: decision.msToKill, phasesMs: decision.phasesMs ?? null, reason: decision.incident.reason ?? null, victim: decision.victim?.comm ?? null },
    residentNote: started?.notes?.find((note) => note.startsWith("code ")) ?? null,
    residentGrowthKiB: residentGrowth(file("smaps-before"), file("smaps-after")),
    samples: file("samples") ?? "",
  };
}

function median(values: Array<number | null>): number | null {
  const sorted = values.filter((v): v is number => v !== null).sort((a, b) => a - b);
  return percentile(sorted, 50);
}

function scaled(value: number | null, divisor: number): number | null {
  return value === null ? null : value / divisor;
}

function range(values: Array<number | null>): string {
  const present = values.filter((v): v is number => v !== null);
  return present.length === 0 ? "-" : `${Math.min(...present)}-${Math.max(...present)}`;
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  if (typeof args === "string") {
    console.error(args);
    return 2;
  }
  const skip = vmUnavailableReason();
  if (skip !== null) {
    console.error(`resident-code: the VM is not available: ${skip}`);
    return 1;
  }
  const snap = snapshot();
  try {
    const runs: Array<{ mode: Mode; hog: Hog; name: string }> = [];
    for (const hog of args.hogs) for (let round = 1; round <= args.rounds; round++) for (const mode of args.modes) runs.push({ mode, hog, name: `${hog}-${mode}-${round}` });
    const guest = await runInGuest({
      script: `exec /bin/sh "$VM_IN/resident-code.sh"\n`,
      inputs: {
        "resident-code.sh": readFileSync(join(ROOT, "bench", "vm", "resident-code.sh"), "utf8"),
        "alloc.py": readFileSync(join(ROOT, "test", "vm", "checks", "v2-alloc.py"), "utf8"),
        "launch.mjs": launcher(snap),
        "snapshot-root": `${snap}\n`,
        runs: runs.map((run) => `${run.mode} ${run.hog} ${run.name} ${args.episodes}`).join("\n") + "\n",
      },
      hostPaths: [snap],
      memMiB: 1024,
      cpus: 2,
      timeoutMs: 4_500_000,
    });
    if (guest.exitCode !== 0) console.error(`guest exit ${guest.exitCode}${guest.timedOut ? " (timed out)" : ""}; console tail:\n${guest.console.split("\n").slice(-30).join("\n")}`);
    const results = runs.map((run) => readRun(guest.files, run.mode, run.hog, run.name, args.episodes));
    const rows: string[][] = [];
    for (const hog of args.hogs) {
      for (const mode of args.modes) {
        const mine = results.filter((run) => run.hog === hog && run.mode === mode);
        rows.push([
          hog,
          mode,
          `${mine.filter((run) => run.killedBy === "oomwarden").length}/${mine.length}`,
          range(mine.map((run) => run.majorFaultsDuringHog)),
          fmt(median(mine.map((run) => run.majorFaultsDuringHog)), 0),
          fmt(scaled(median(mine.map((run) => run.rssKiBBefore)), 1024), 1),
          fmt(scaled(median(mine.map((run) => run.lockedKiB)), 1024), 1),
          fmt(scaled(median(mine.map((run) => run.startMs)), 1000), 1),
          fmt(median(mine.map((run) => run.decision?.msToKill ?? null)), 0),
          mine.map((run) => run.laterEpisodes.map((episode) => episode.majorFaults ?? "-").join("/")).join(" ") || "-",
        ]);
      }
    }
    const shown = table(["hog", "mode", "oomwarden killed", "major faults", "median", "RSS MiB", "locked MiB", "start s", "msToKill", "later episodes' faults"], rows);
    const path = writeResults(args.label === null ? "resident-code" : `resident-code-${args.label}`, {
      options: args,
      kernel: guest.files.get("kernel")?.trim() ?? null,
      xattrProbe: guest.files.get("xattr-probe") ?? null,
      bootMs: guest.bootMs,
      totalMs: guest.totalMs,
      runs: results,
    });
    console.log(shown);
    console.log(`results: ${path}`);
    return guest.exitCode === 0 ? 0 : 1;
  } finally {
    rmSync(snap, { recursive: true, force: true });
  }
}

process.exitCode = await main();
