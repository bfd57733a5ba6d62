#!/usr/bin/env node
// Command-line entry: parses arguments, dispatches, and is the only place that sets the exit code.

import { runDaemon } from "../daemon/daemon.js";
import { runDemo } from "../daemon/demo.js";
import { CONFIG_KEYS_HELP } from "../daemon/config.js";
import { runRestore } from "../daemon/restore.js";
import { BUILTIN_POLICIES } from "../sim/scenario-file.js";
import { parseRestoreArgs, parseRunArgs, parseSimulateArgs } from "./args.js";

const USAGE = `oomwarden: a user-space OOM handler for Linux machines and memory cgroups

Usage:
  oomwarden run [--config FILE] [--cgroup PATH]... [--journal FILE] [--state-dir DIR] [--dry-run]
      Guard the whole machine (low memory, watermark starvation, PSI; machineGuard: false
      turns it off) and manage the given memory cgroups (v1 or v2): take over their OOM handling,
      choose and kill exactly one victim per OOM, confirm the memory came back.
      Without options: report the machine's memory and the cgroups it could manage.
  oomwarden demo
      Create a scratch 64 MiB cgroup with a memory hog and an innocent process,
      resolve its OOM, print the decision and the timings, clean up (root, cgroup v1).
  oomwarden restore [--state-dir DIR]
      Give back the original oom_kill_disable (and, in soft-limit mode, memory limit) of every
      cgroup a daemon took over and could not restore itself (it was killed); for systemd
      ExecStopPost= or by hand.
  oomwarden simulate FILE [--policy NAME]... [--json] [--svg OUT] [--seed N]
      Run a scenario (scenarios/*.yaml, format in docs/scenario-format.md) in the simulated
      kernel under each policy it lists, or those named; print one row per policy (--json: an
      array of objects), write a timeline with --svg, override the random seed with --seed.
      Built-in policies:
${BUILTIN_POLICIES.map((p) => `        ${p.name.padEnd(30)}${p.summary}`).join("\n")}
  oomwarden help

Config file keys (YAML):
${CONFIG_KEYS_HELP.map(([k, h]) => `  ${k.padEnd(32)}${h}`).join("\n")}
`;

async function main(argv: string[]): Promise<number> {
  const [command = "run", ...rest] = argv;
  switch (command) {
    case "run": {
      const parsed = parseRunArgs(rest);
      if ("error" in parsed) {
        process.stderr.write(`oomwarden run: ${parsed.error}\n\n${USAGE}`);
        return 2;
      }
      return runDaemon(parsed);
    }
    case "restore": {
      const parsed = parseRestoreArgs(rest);
      if ("error" in parsed) {
        process.stderr.write(`oomwarden restore: ${parsed.error}\n\n${USAGE}`);
        return 2;
      }
      return runRestore(parsed, { out: (line) => process.stdout.write(`${line}\n`), err: (line) => process.stderr.write(`${line}\n`) });
    }
    case "simulate": {
      const parsed = parseSimulateArgs(rest);
      if ("error" in parsed) {
        process.stderr.write(`oomwarden simulate: ${parsed.error}\n\n${USAGE}`);
        return 2;
      }
      // Loaded on demand: the daemon never carries the simulator.
      const { runSimulate } = await import("./simulate-command.js");
      return runSimulate(parsed);
    }
    case "demo":
      if (rest.length > 0) {
        process.stderr.write(`oomwarden demo takes no arguments, got: ${rest.join(" ")}\n`);
        return 2;
      }
      return runDemo();
    case "help":
    case "--help":
    case "-h":
      process.stdout.write(USAGE);
      return 0;
    default:
      process.stderr.write(`oomwarden: unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`oomwarden: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  },
);
