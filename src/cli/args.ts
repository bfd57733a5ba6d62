// Argument parsing for `oomwarden run`, kept apart from main so tests can import it.

import { parseArgs } from "node:util";
import type { DaemonRunOptions } from "../daemon/daemon.js";

/** `oomwarden run [--config FILE] [--cgroup PATH]... [--journal FILE] [--state-dir DIR] [--dry-run]`. */
export function parseRunArgs(args: string[]): DaemonRunOptions | { error: string } {
  try {
    const { values, positionals } = parseArgs({
      args,
      options: {
        config: { type: "string" },
        cgroup: { type: "string", multiple: true },
        journal: { type: "string" },
        "state-dir": { type: "string" },
        "dry-run": { type: "boolean" },
      },
      strict: true,
      allowPositionals: true,
    });
    if (positionals.length > 0) return { error: `unexpected argument "${positionals[0]}"` };
    return {
      config: values.config ?? null,
      cgroups: values.cgroup ?? [],
      journal: values.journal ?? null,
      stateDir: values["state-dir"] ?? null,
      dryRun: values["dry-run"] ?? false,
    };
  } catch (error) {
    return { error: (error as Error).message };
  }
}

/** `oomwarden restore [--state-dir DIR]`. */
export function parseRestoreArgs(args: string[]): { stateDir: string | null } | { error: string } {
  try {
    const { values, positionals } = parseArgs({ args, options: { "state-dir": { type: "string" } }, strict: true, allowPositionals: true });
    if (positionals.length > 0) return { error: `unexpected argument "${positionals[0]}"` };
    return { stateDir: values["state-dir"] ?? null };
  } catch (error) {
    return { error: (error as Error).message };
  }
}

export interface SimulateArgs {
  file: string;
  /** Policies to run, in the order given; empty: every policy the file lists. */
  policies: string[];
  json: boolean;
  /** Where to write the SVG timeline; null: none. */
  svg: string | null;
  /** Overrides the scenario's randomSeed; null: the file's. */
  seed: number | null;
}

/** `oomwarden simulate FILE [--policy NAME]... [--json] [--svg OUT] [--seed N]`. */
export function parseSimulateArgs(args: string[]): SimulateArgs | { error: string } {
  try {
    const { values, positionals } = parseArgs({
      args,
      options: {
        policy: { type: "string", multiple: true },
        json: { type: "boolean" },
        svg: { type: "string" },
        seed: { type: "string" },
      },
      strict: true,
      allowPositionals: true,
    });
    if (positionals.length === 0) return { error: "missing the scenario FILE" };
    if (positionals.length > 1) return { error: `unexpected argument "${positionals[1]}" (one scenario FILE per run)` };
    let seed: number | null = null;
    if (values.seed !== undefined) {
      if (!/^\d+$/.test(values.seed) || !Number.isSafeInteger(Number(values.seed))) return { error: `--seed expects an integer >= 0, got "${values.seed}"` };
      seed = Number(values.seed);
    }
    if (values.svg !== undefined && values.svg.length === 0) return { error: "--svg expects an output file" };
    const policies = values.policy ?? [];
    const empty = policies.find((p) => p.trim().length === 0);
    if (empty !== undefined) return { error: "--policy expects a policy name" };
    return { file: positionals[0]!, policies, json: values.json ?? false, svg: values.svg ?? null, seed };
  } catch (error) {
    return { error: (error as Error).message };
  }
}
