// Argument parsing for `oomwarden run`, kept apart from main so tests can import it.

import { parseArgs } from "node:util";

export interface RunArgs {
  config: string | null;
  cgroups: string[];
  journal: string | null;
  stateDir: string | null;
  dryRun: boolean;
}

export function parseRunArgs(args: string[]): RunArgs | { error: string } {
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
