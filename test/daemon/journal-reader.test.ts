// Reading the journal back: complete records count, torn and unparsable lines are skipped and reported.

import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import fc from "fast-check";
import { parseJournalText, readJournal } from "../../src/daemon/journal-reader.js";

function line(fields: Record<string, unknown>): string {
  return `${JSON.stringify({ time: "2026-01-01T00:00:00.000Z", ...fields })}\n`;
}

test("a last line without a line end is skipped as a torn tail, with its line number and size", () => {
  const fragment = `{"time":"2026-01-01T00:00:00.000Z","type":"decis`;
  const parsed = parseJournalText(line({ type: "daemon", message: "one" }) + line({ type: "manage", message: "two" }) + fragment);
  assert.deepEqual(parsed.records.map((r) => r.type), ["daemon", "manage"]);
  assert.deepEqual(parsed.skipped, [{ lineNumber: 3, sizeBytes: Buffer.byteLength(fragment), why: "torn tail" }]);
});

test("a complete line that is not one record is skipped: a fragment, two records glued, JSON that is no record", () => {
  const fragment = `{"time":"2026-01-01T00:00:00.000Z","type":"decision","decisionId":4,"candi`;
  const glued = fragment + line({ type: "daemon", message: "started" }).trimEnd();
  const text = [
    line({ type: "daemon", message: "a" }),
    `${fragment}\n`,
    `${glued}\n`,
    "42\n",
    "[1,2]\n",
    `{"type":"notice"}\n`, // no time stamp: not something the daemon wrote
    `{"time":"x","type":7}\n`,
    "\n", // the line end a later daemon adds after a torn tail may leave an empty line: nothing lost
    line({ type: "notice", message: "b" }),
  ].join("");
  const parsed = parseJournalText(text);
  assert.deepEqual(parsed.records.map((r) => r.type), ["daemon", "notice"]);
  assert.deepEqual(
    parsed.skipped.map((s) => [s.lineNumber, s.why]),
    [2, 3, 4, 5, 6, 7].map((n) => [n, "not a record"]),
  );
  assert.equal(parsed.skipped[1]?.sizeBytes, Buffer.byteLength(glued));
});

test("a clean journal and an empty one skip nothing", () => {
  assert.deepEqual(parseJournalText(""), { records: [], skipped: [] });
  const parsed = parseJournalText(line({ type: "daemon", message: "x", notes: ["é ü"] }));
  assert.equal(parsed.records.length, 1);
  assert.deepEqual(parsed.records[0], { time: "2026-01-01T00:00:00.000Z", type: "daemon", message: "x", notes: ["é ü"] });
  assert.deepEqual(parsed.skipped, []);
});

test("fuzz: a journal cut anywhere yields exactly the records whose line end survived, and at most the cut line skipped", () => {
  const record = fc.record({ type: fc.constantFrom("daemon", "notice", "decision"), message: fc.string({ maxLength: 40 }), n: fc.integer() });
  fc.assert(
    fc.property(fc.array(record, { minLength: 1, maxLength: 8 }), fc.nat(), (records, cutSeed) => {
      const lines = records.map((r) => line(r));
      const text = lines.join("");
      const cutAt = cutSeed % (text.length + 1);
      const cut = text.slice(0, cutAt);
      const parsed = parseJournalText(cut);
      let end = 0;
      const survivors = lines.filter((l) => (end += l.length) <= cutAt).length;
      assert.deepEqual(
        parsed.records.map((r) => (r as unknown as { n: number }).n),
        records.slice(0, survivors).map((r) => r.n),
      );
      const torn = cut !== "" && !cut.endsWith("\n");
      assert.deepEqual(parsed.skipped.map((s) => s.why), torn ? ["torn tail"] : []);
    }),
    { seed: 42, numRuns: 300 },
  );
});

test("readJournal reads a file and names the path when it cannot", () => {
  const dir = mkdtempSync(join(tmpdir(), "oomwarden-journal-reader-"));
  try {
    const path = join(dir, "journal.jsonl");
    writeFileSync(path, `${line({ type: "daemon", message: "one" })}{"cut`);
    const read = readJournal(path);
    assert.ok(read.ok);
    assert.equal(read.records.length, 1);
    assert.deepEqual(read.skipped.map((s) => s.why), ["torn tail"]);
    const missing = readJournal(join(dir, "nope.jsonl"));
    assert.equal(missing.ok, false);
    if (!missing.ok) {
      assert.match(missing.message, /^cannot read journal .*nope\.jsonl: /);
      assert.ok(!missing.message.includes("\n"));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
