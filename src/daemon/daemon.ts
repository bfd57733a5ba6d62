// `oomwarden run`: wires config, host, journal and engine; restores the kernel's settings on every way out.

import { withWarnCommand } from "./warn-command.js";
import { parseCgroupSpec } from "./cgroup-spec.js";
import { writeSync } from "node:fs";
import { Engine } from "../engine/engine.js";
import type { JournalSink } from "../engine/journal-record.js";
import { createLinuxHost } from "../host/linux/linux-host.js";
import { rulesReadCommandLines } from "../core/victim-rules.js";
import { DEFAULT_CONFIG, loadConfigFile, type DaemonConfig } from "./config.js";
import type { FileJournal } from "./journal.js";
import { openDaemonState } from "./daemon-state.js";
import { defaultStateDir, journalPathIn } from "./paths.js";
import { describeMachine } from "./machine-report.js";
import { fatalReport } from "./fatal-report.js";
import { giveBackLeftovers } from "./leftovers.js";
import { keepCompiledCode } from "./compiled-code.js";

const MEMORY_WATCH_INTERVAL_MS = 10_000;
/** Each of these would end the process without a word; all of them restore the kernel's settings first. */
const STOP_SIGNALS: NodeJS.Signals[] = ["SIGTERM", "SIGINT", "SIGHUP"];
/** How long a stop waits for a decision in flight (its victim already killed) to reach the journal. */
const STOP_GRACE_MS = 2_000;

/**
 * One line to stderr, written at once and never thrown: a reader that went away (EPIPE) or a full
 * pipe (EAGAIN) loses the line, nothing more. Through the stream, an EPIPE came back as an
 * uncaught error, whose own report failed the same way: a daemon spinning for ever, deaf to SIGTERM.
 */
function log(message: string): void {
  try {
    writeSync(2, `oomwarden: ${message}\n`);
  } catch {
    // Nowhere to say it; the journal still has every record.
  }
}

/** What `oomwarden run` is asked to do: the command line's part, laid over the config file's. */
export interface DaemonRunOptions {
  /** The YAML config file; null: the built-in defaults. */
  config: string | null;
  /** Cgroups to manage besides the config file's. */
  cgroups: string[];
  journal: string | null;
  stateDir: string | null;
  dryRun: boolean;
}

export function mergeConfig(base: DaemonConfig, args: DaemonRunOptions): DaemonConfig {
  return {
    cgroups: [...base.cgroups, ...args.cgroups.filter((c) => !base.cgroups.includes(c))],
    journal: args.journal ?? base.journal,
    stateDir: args.stateDir ?? base.stateDir,
    warnCommand: base.warnCommand,
    engine: { ...base.engine, dryRun: base.engine.dryRun || args.dryRun },
  };
}

export async function runDaemon(args: DaemonRunOptions): Promise<number> {
  let base = DEFAULT_CONFIG;
  if (args.config !== null) {
    const loaded = loadConfigFile(args.config);
    if (!loaded.ok) {
      log(loaded.message);
      return 2;
    }
    base = loaded.config;
  }
  const config = mergeConfig(base, args);

  const stateDir = config.stateDir ?? defaultStateDir();
  const journalPath = config.journal ?? journalPathIn(stateDir);
  const opened = openDaemonState(stateDir, journalPath, log);
  if (!opened.ok) {
    log(opened.refusal);
    return 2;
  }
  const { owner, ledger } = opened.state;
  if (owner.kind === "absent") {
    log(`the state directory ${stateDir} cannot be created (${owner.reason}): no original can be recorded, so no cgroup setting will be changed (no v1 takeover, no soft-limit mode)`);
  }
  // A command line is read only for a rule that matches on one: the read takes the process's mmap lock.
  const readCommandLines = rulesReadCommandLines(config.engine.victimRules);
  const host = createLinuxHost({ readCommandLines });
  const capabilities = host.capabilities();
  for (const line of capabilities.notes) log(line);
  const commandLines = readCommandLines ? "command lines read (a victim rule matches on them)" : "command lines not read (no victim rule matches on one)";
  const selfNotes = [...host.protectSelf(), keepCompiledCode(), commandLines];
  for (const line of selfNotes) log(line);

  let journal: JournalSink;
  let fileJournal: FileJournal | null = null;
  if (opened.state.journal.ok) {
    fileJournal = opened.state.journal.file;
    journal = fileJournal;
    log(`journal: ${journalPath}`);
  } else {
    // Without a journal we still protect the machine; decisions then go to stderr only.
    log(`${opened.state.journal.message}; decisions are printed here only`);
    journal = { append: (record) => log(JSON.stringify(record)) };
  }
  if (config.warnCommand !== null) {
    journal = withWarnCommand(journal, { argv: config.warnCommand, log });
    log(`warn level: runs ${config.warnCommand.join(" ")}`);
  }
  journal.append({ type: "daemon", message: `started, pid ${process.pid}${config.engine.dryRun ? ", dry run" : ""}`, notes: [...capabilities.notes, ...selfNotes] });

  const engine = new Engine(host, journal, config.engine, { log, ledger });
  let resolveExit: (code: number) => void = () => {};
  const exited = new Promise<number>((resolve) => (resolveExit = resolve));
  let memoryWatch: NodeJS.Timeout | null = null;
  let stopping = false;
  // Installed before any cgroup is touched: from the first oom_kill_disable write on, every way out restores.
  const stop = async (code: number, why: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    if (memoryWatch !== null) clearInterval(memoryWatch);
    const report = engine.stop();
    for (const path of report.restored) log(`restored kernel OOM settings of ${path}`);
    for (const failure of report.failed) log(`could not restore ${failure.cgroup}: ${failure.message}`);
    // Those it just failed to restore stay listed for `oomwarden restore`: trying again at once would fail again.
    giveBackLeftovers(host, ledger, journal, log, report.failed.map((failure) => failure.cgroup));
    // A kill already sent must still reach the journal: give decisions in flight a moment to finish.
    await Promise.race([engine.whenIdle(), new Promise((r) => setTimeout(r, STOP_GRACE_MS).unref())]);
    journal.append({ type: "daemon", message: `stopped: ${why}` });
    fileJournal?.close();
    // Last: until the settings are back, neither a new daemon nor `oomwarden restore` may start.
    if (owner.kind === "owned") owner.release();
    for (const signal of STOP_SIGNALS) process.off(signal, onSignal);
    process.off("uncaughtException", onFatal);
    resolveExit(code);
  };
  const onSignal = (signal: NodeJS.Signals): void => void stop(0, signal);
  const onFatal = (error: Error): void => {
    const report = fatalReport(error, fileJournal !== null);
    journal.append(report.record);
    for (const line of report.lines) log(line);
    void stop(1, `fatal error: ${error.message.split("\n")[0] ?? ""}`);
  };
  for (const signal of STOP_SIGNALS) process.on(signal, onSignal);
  // Node 20 raises an unhandled promise rejection as an uncaught exception, so this catches both.
  process.on("uncaughtException", onFatal);

  try {
    if (config.engine.machineGuard.enabled && !stopping) {
      const guarded = engine.guardMachine();
      log(guarded.ok ? `guarding the whole machine (${guarded.value.notes.join("; ")})` : `cannot guard the machine: ${guarded.error.message}`);
      // Without root the signal reaches only this user's processes; the others are journaled as excluded.
      if (guarded.ok && !capabilities.root) log(`machine guard: not root, so it can kill only processes of uid ${process.getuid?.() ?? "?"}`);
    }
    for (const named of config.cgroups) {
      if (stopping) break;
      const spec = parseCgroupSpec(named);
      if ("error" in spec) {
        log(`cannot manage ${spec.error}`);
        continue;
      }
      const path = spec.path;
      const managed = engine.manage(path, spec.logicalLimitBytes);
      if (managed.ok) {
        log(`managing ${managed.value.cgroup}${managed.value.notes.length ? ` (${managed.value.notes.join("; ")})` : ""}`);
      } else {
        // Host errors name the path themselves: once is enough.
        log(managed.error.message.includes(path) ? `cannot manage: ${managed.error.message}` : `cannot manage ${path}: ${managed.error.message}`);
      }
    }
    if (!stopping) giveBackLeftovers(host, ledger, journal, log, engine.managedPaths());
  } catch (error) {
    onFatal(error instanceof Error ? error : new Error(String(error)));
  }
  if (!stopping && engine.managedPaths().length === 0) {
    for (const line of describeMachine(host)) log(line);
  }

  if (!stopping && !config.engine.machineGuard.enabled) {
    // Without the machine guard, still say when the machine itself runs low.
    let wasLow = false;
    memoryWatch = setInterval(() => {
      const memory = host.readMachineMemory();
      if (!memory.ok) return;
      const availablePct = (100 * memory.value.availableBytes) / memory.value.totalBytes;
      const low = availablePct < 10;
      if (low !== wasLow) log(`machine memory ${low ? "low" : "back to normal"}: ${availablePct.toFixed(1)}% available`);
      wasLow = low;
    }, MEMORY_WATCH_INTERVAL_MS);
  }
  return exited;
}
