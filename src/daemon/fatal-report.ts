// What the daemon says about an error nobody caught: one line for the person reading stderr, and
// the whole stack where it can be read later (the journal), or on stderr too when asked for.

import type { JournalRecord } from "../engine/journal-record.js";

/** Set (to anything) to have the stack of a fatal error printed on stderr as well. */
export const STACK_ON_STDERR_ENV = "OOMWARDEN_DEBUG";

export interface FatalReport {
  /** For stderr: the first one always, the stack's frames only when asked for. */
  lines: string[];
  record: JournalRecord;
}

export function fatalReport(error: Error, journalIsAFile: boolean, env: NodeJS.ProcessEnv = process.env): FatalReport {
  const summary = error.message.split("\n")[0] ?? "";
  const frames = (error.stack ?? "")
    .split("\n")
    .filter((line) => /^\s+at /.test(line))
    .map((line) => line.trim());
  const withStack = env[STACK_ON_STDERR_ENV] !== undefined;
  const where = withStack ? "" : journalIsAFile ? " (its stack is in the journal)" : ` (set ${STACK_ON_STDERR_ENV}=1 to see its stack)`;
  return {
    lines: [`fatal: ${summary}${where}`, ...(withStack ? frames : [])],
    record: { type: "error", message: `fatal: ${summary}`, notes: frames },
  };
}
