// What every VM test file does with its sections: read the guest scripts from test/vm/checks,
// say how long each section took, and hand a test its section's result with everything a failing
// assertion needs to explain itself (its output, chosen files, the console's tail), and its files.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { projectRoot } from "../fixtures/captured.js";
import { runInGuest, type GuestRun } from "./harness.js";
import { sectionResult, sectionsScript, type GuestSection, type SectionResult } from "./sections.js";

const CHECKS = join(projectRoot(), "test", "vm", "checks");

/** A guest script or input from test/vm/checks. */
export function check(name: string): string {
  return readFileSync(join(CHECKS, name), "utf8");
}

/** The whole time one boot of the daemon sections may take (each section has its own limit inside it). */
export const SECTIONS_RUN_TIMEOUT_MS = 1_500_000;

/**
 * One boot (1 GiB, 2 CPUs) running the sections in order, with these files of test/vm/checks as
 * inputs; the run's times are printed as a test comment.
 */
export async function runSections(sections: readonly GuestSection[], inputNames: readonly string[]): Promise<GuestRun> {
  const { script, inputs } = sectionsScript(sections);
  const run = await runInGuest({
    script,
    inputs: { ...inputs, ...Object.fromEntries(inputNames.map((name) => [name, check(name)])) },
    memMiB: 1024,
    cpus: 2,
    timeoutMs: SECTIONS_RUN_TIMEOUT_MS,
  });
  console.log(`# vm: boot to script ${run.bootMs ?? "?"} ms, whole run ${run.totalMs} ms; sections: ${sectionTimes(run, sections)}`);
  return run;
}

/** The guest neither timed out nor failed, and every section ran to its end (its status recorded). */
export function assertEverySectionEnded(run: GuestRun | undefined, sections: readonly GuestSection[]): void {
  assert.ok(run);
  assert.equal(run.timedOut, false, run.console);
  assert.equal(run.exitCode, 0, run.console);
  for (const { name } of sections) assert.notEqual(sectionResult(run, name).status, null, `section ${name} never ended:\n${run.console}`);
}

/** "name 1234 ms, ..." for the run's summary line. */
export function sectionTimes(run: GuestRun, sections: readonly GuestSection[]): string {
  return sections.map(({ name }) => `${name} ${sectionResult(run, name).durationMs ?? "?"} ms`).join(", ");
}

export type Section = SectionResult & { describe: string };

export interface DescribeOptions {
  /** Files of the section shown in a failure message (the timeline, logs, journals). */
  showFile?: (path: string) => boolean;
  /** Lines of each shown file cut to this length: the decision records are long. */
  shownLineChars?: number;
  /** Lines of the console's tail shown. */
  consoleLines: number;
}

/** The section's result, asserted to have exited 0; any failing assertion's message carries `describe`. */
export function section(run: GuestRun | undefined, name: string, options: DescribeOptions): Section {
  assert.ok(run, "the VM run did not happen");
  const result = sectionResult(run, name);
  const limit = options.shownLineChars ?? Infinity;
  const shown = options.showFile === undefined ? [] : [...result.files].filter(([path]) => options.showFile?.(path) === true);
  const files = shown.map(([path, text]) => `\n--- ${path}:\n${text.split("\n").map((line) => line.slice(0, limit)).join("\n")}`).join("");
  const describe = `section ${name} (status ${result.status}):\n${result.output}${files}\n--- console tail:\n${run.console.split("\n").slice(-options.consoleLines).join("\n")}`;
  assert.equal(result.status, 0, describe);
  return { ...result, describe };
}

/** A file the section wrote, trimmed; its absence fails with the section's description. */
export function file(result: Section, name: string): string {
  const text = result.files.get(name);
  assert.notEqual(text, undefined, `${name} missing from ${result.describe}`);
  return (text ?? "").trim();
}

/** "key value" lines (memory.events, vmstat) as a map. */
export function flatKeyed(text: string): Map<string, number> {
  return new Map(
    text
      .split("\n")
      .filter((line) => line !== "")
      .map((line) => {
        const [key, value] = line.split(" ");
        return [key ?? "", Number(value)];
      }),
  );
}

/** The files a machine or cgroup section's failure shows: its timeline, daemon logs and journals, lines cut at 2000 characters. */
export const DAEMON_SECTION: DescribeOptions = {
  showFile: (path) => path === "timeline" || path.endsWith(".log") || path.endsWith(".jsonl"),
  shownLineChars: 2000,
  consoleLines: 20,
};
