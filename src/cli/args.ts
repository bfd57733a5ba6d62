// Argument parsing for `oomwarden run`, kept apart from main so tests can import it.

import { parseArgs } from "node:util";

export interface RunArgs {
  config: string | null;
  cgroups: string[];
  journal: string | null;
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
      dryRun: values["dry-run"] ?? false,
    };
  } catch (error) {
    return { error: (error as Error).message };
  }
}
