// An uncaught error is one line on stderr; its stack goes to the journal, and to stderr only when asked for.

import assert from "node:assert/strict";
import test from "node:test";
import { fatalReport, STACK_ON_STDERR_ENV } from "../../src/daemon/fatal-report.js";

function thrown(): Error {
  try {
    JSON.parse("{ not json");
  } catch (error) {
    return error as Error;
  }
  throw new Error("unreachable");
}

test("a fatal error is one line on stderr, with its stack in the journal record", () => {
  const error = thrown();
  const report = fatalReport(error, true, {});
  assert.equal(report.lines.length, 1);
  assert.match(report.lines[0] ?? "", /^fatal: .*JSON.* \(its stack is in the journal\)$/);
  assert.equal(report.record.type, "error");
  const notes = (report.record as { notes: string[] }).notes;
  assert.ok(notes.length > 0 && notes.every((frame) => frame.startsWith("at ")), JSON.stringify(notes));
});

test("without a journal file it says how to see the stack; with the variable set, the frames follow on stderr", () => {
  const error = thrown();
  assert.match(fatalReport(error, false, {}).lines[0] ?? "", new RegExp(`\\(set ${STACK_ON_STDERR_ENV}=1 to see its stack\\)$`));
  const debug = fatalReport(error, true, { [STACK_ON_STDERR_ENV]: "1" });
  assert.ok(debug.lines.length > 1);
  assert.doesNotMatch(debug.lines[0] ?? "", /journal/);
  assert.ok(debug.lines.slice(1).every((frame) => frame.startsWith("at ")));
});

test("a message of several lines is cut to its first for stderr", () => {
  const report = fatalReport(new Error("first line\nsecond line\nthird"), true, {});
  assert.equal(report.lines[0], "fatal: first line (its stack is in the journal)");
  assert.equal((report.record as { message: string }).message, "fatal: first line");
});
