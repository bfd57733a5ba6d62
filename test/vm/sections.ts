// Several checks in one boot: each section is its own script, run in turn in its own folder under
// the run's output, with its own time limit, its output and exit status kept apart. A section that
// fails or hangs does not stop the ones after it, and a test asserts on its section alone.

import { msBetween } from "./console-lines.js";
import type { GuestRun } from "./harness.js";

export interface GuestSection {
  /** Lower-case letters, digits and dashes: it names the section's folder. */
  name: string;
  script: string;
  /** Enforced in the guest (coreutils timeout), so one hung section leaves time for the rest. */
  timeoutSec: number;
}

export interface SectionResult {
  /** The section's exit status (124 if its time ran out); null if it never finished. */
  status: number | null;
  /** Its stdout and stderr. */
  output: string;
  /** What it wrote in its folder, by path relative to that folder. */
  files: Map<string, string>;
  /** Host ms from its start to its end, from the console; null if it never ended. */
  durationMs: number | null;
}

const startMarker = (name: string): string => `oomwarden-vm: section ${name} start`;
const endMarker = (name: string): string => `oomwarden-vm: section ${name} exited`;

const SECTION_NAME = /^[a-z0-9][a-z0-9-]*$/;

/** One guest script (and its inputs) running the sections in order. */
export function sectionsScript(sections: readonly GuestSection[]): { script: string; inputs: Record<string, string> } {
  const inputs: Record<string, string> = {};
  const lines: string[] = [];
  for (const { name, script, timeoutSec } of sections) {
    if (!SECTION_NAME.test(name)) throw new Error(`section name ${JSON.stringify(name)}: use lower-case letters, digits and dashes`);
    if (inputs[`sections/${name}.sh`] !== undefined) throw new Error(`section ${name} appears twice`);
    if (!Number.isInteger(timeoutSec) || timeoutSec <= 0) throw new Error(`section ${name}: timeoutSec must be a positive whole number`);
    inputs[`sections/${name}.sh`] = script;
    lines.push(
      `mkdir -p ${name}`,
      `echo "${startMarker(name)}"`,
      // -k: a section that ignores SIGTERM is killed 5 s later.
      `(cd ${name} && exec timeout -k 5 ${timeoutSec} /bin/sh "$VM_IN/sections/${name}.sh") > ${name}.output 2>&1`,
      `echo $? > ${name}.status`,
      `echo "${endMarker(name)} $(cat ${name}.status)"`,
    );
  }
  return { script: lines.join("\n") + "\n", inputs };
}

export function sectionResult(run: GuestRun, name: string): SectionResult {
  const statusText = run.files.get(`${name}.status`)?.trim();
  const prefix = `${name}/`;
  const files = new Map<string, string>();
  for (const [path, text] of run.files) if (path.startsWith(prefix)) files.set(path.slice(prefix.length), text);
  return {
    status: statusText !== undefined && /^\d+$/.test(statusText) ? Number(statusText) : null,
    output: run.files.get(`${name}.output`) ?? "",
    files,
    durationMs: msBetween(run.lines, startMarker(name), endMarker(name)),
  };
}
