// `oomwarden run`: wires config, host, journal and engine; restores the kernel's settings on every way out.

import { Engine } from "../engine/engine.js";
import type { JournalSink } from "../engine/journal-record.js";
import { createLinuxHost } from "../host/linux/linux-host.js";
import type { RunArgs } from "../cli/args.js";
import { DEFAULT_CONFIG, loadConfigFile, type DaemonConfig } from "./config.js";
import { FileJournal } from "./journal.js";
import { defaultJournalPath } from "./paths.js";
import { describeMachine } from "./machine-report.js";

const MEMORY_WATCH_INTERVAL_MS = 10_000;

function log(message: string): void {
  process.stderr.write(`oomwarden: ${message}\n`);
}

export function mergeConfig(base: DaemonConfig, args: RunArgs): DaemonConfig {
  return {
    cgroups: [...base.cgroups, ...args.cgroups.filter((c) => !base.cgroups.includes(c))],
    journal: args.journal ?? base.journal,
    engine: { ...base.engine, dryRun: base.engine.dryRun || args.dryRun },
  };
}

export async function runDaemon(args: RunArgs): Promise<number> {
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

  const host = createLinuxHost();
  const capabilities = host.capabilities();
  for (const line of capabilities.notes) log(line);
  for (const line of host.protectSelf()) log(line);

  const journalPath = config.journal ?? defaultJournalPath();
  const opened = FileJournal.open(journalPath, log);
  let journal: JournalSink;
  let fileJournal: FileJournal | null = null;
  if (opened.ok) {
    fileJournal = opened.journal;
    journal = fileJournal;
    log(`journal: ${journalPath}`);
  } else {
    // Without a journal we still protect the machine; decisions then go to stderr only.
    log(`${opened.message}; decisions are printed here only`);
    journal = { append: (record) => log(JSON.stringify(record)) };
  }
  journal.append({ type: "daemon", message: `started, pid ${process.pid}${config.engine.dryRun ? ", dry run" : ""}`, notes: capabilities.notes });

  const engine = new Engine(host, journal, config.engine, log);
  for (const path of config.cgroups) {
    const managed = engine.manage(path);
    if (managed.ok) {
      log(`managing ${managed.value.cgroup}${managed.value.notes.length ? ` (${managed.value.notes.join("; ")})` : ""}`);
    } else {
      log(`cannot manage ${path}: ${managed.error.message}`);
    }
  }
  if (engine.managedPaths().length === 0) {
    for (const line of describeMachine(host)) log(line);
  }

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (code: number, why: string): void => {
      if (stopping) return;
      stopping = true;
      clearInterval(memoryWatch);
      const report = engine.stop();
      for (const path of report.restored) log(`restored kernel OOM settings of ${path}`);
      for (const failure of report.failed) log(`could not restore ${failure.cgroup}: ${failure.message}`);
      journal.append({ type: "daemon", message: `stopped: ${why}` });
      fileJournal?.close();
      process.off("SIGTERM", onTerm);
      process.off("SIGINT", onInt);
      process.off("uncaughtException", onFatal);
      resolve(code);
    };
    const onTerm = (): void => stop(0, "SIGTERM");
    const onInt = (): void => stop(0, "SIGINT");
    const onFatal = (error: Error): void => {
      log(`fatal: ${error.stack ?? error.message}`);
      stop(1, `fatal error: ${error.message}`);
    };
    process.on("SIGTERM", onTerm);
    process.on("SIGINT", onInt);
    process.on("uncaughtException", onFatal);

    // Keep observing even with nothing managed: warn when the machine itself runs low.
    let wasLow = false;
    const memoryWatch = setInterval(() => {
      const memory = host.readMachineMemory();
      if (!memory.ok) return;
      const availablePct = (100 * memory.value.availableBytes) / memory.value.totalBytes;
      const low = availablePct < 10;
      if (low !== wasLow) log(`machine memory ${low ? "low" : "back to normal"}: ${availablePct.toFixed(1)}% available`);
      wasLow = low;
    }, MEMORY_WATCH_INTERVAL_MS);
  });
}
