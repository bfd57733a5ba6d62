// The journal on a real full filesystem: a small tmpfs fills up while records are appended, then
// room comes back. Every line must be one whole record. Needs root (mount); skipped otherwise.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { FileJournal } from "../../src/daemon/journal.js";
import { parseJournalText } from "../../src/daemon/journal-reader.js";

const TMPFS_BYTES = 64 * 1024;
const FILLER_BYTES = 32 * 1024;
const RECORDS_WHILE_FILLING = 80;

/**
 * Growing records (200 bytes to 3.4 KB): once one does not fit, none after it does, so the journal
 * must hold exactly the records before the first that failed. (With a smaller record after a larger
 * one, the smaller could rightly still fit in the last page.)
 */
function padding(index: number): string {
  return "x".repeat(200 + index * 40);
}

function mountTmpfs(dir: string): string | null {
  if (process.getuid?.() !== 0) return "needs root to mount a tmpfs";
  const mounted = spawnSync("mount", ["-t", "tmpfs", "-o", `size=${TMPFS_BYTES}`, "tmpfs", dir], { encoding: "utf8" });
  if (mounted.status !== 0) return `cannot mount a tmpfs: ${(mounted.stderr || mounted.error?.message || "").trim()}`;
  return null;
}

test("on a tmpfs that fills up, no record is cut or glued: each line is one record, the loss is reported once and counted", (t) => {
  const dir = mkdtempSync(join(tmpdir(), "oomwarden-journal-tmpfs-"));
  const unavailable = mountTmpfs(dir);
  if (unavailable !== null) {
    rmdirSync(dir);
    t.skip(unavailable);
    return;
  }
  let journal: FileJournal | null = null;
  try {
    const filler = join(dir, "filler");
    writeFileSync(filler, Buffer.alloc(FILLER_BYTES));
    const path = join(dir, "journal.jsonl");
    const reports: string[] = [];
    const opened = FileJournal.open(path, (m) => reports.push(m));
    if (!opened.ok) assert.fail(opened.message);
    journal = opened.journal;
    for (let i = 0; i < RECORDS_WHILE_FILLING; i++) journal.append({ type: "notice", message: `record ${i} ${padding(i)}` });
    assert.equal(reports.length, 1, `one report while the disk is full, got: ${reports.join(" | ").slice(0, 500)}`);
    assert.match(reports[0] ?? "", /write failed: .*(ENOSPC|bytes written)/);

    rmSync(filler); // room again
    journal.append({ type: "notice", message: "after the disk filled" });
    journal.close();
    journal = null;

    const text = readFileSync(path, "utf8");
    assert.ok(text.endsWith("\n"));
    const parsed = parseJournalText(text);
    assert.deepEqual(parsed.skipped, [], "no torn or glued line");
    for (const line of text.trimEnd().split("\n")) assert.equal(line.split(`{"time":`).length, 2, `one record per line: ${line.slice(0, 120)}`);

    const messages = parsed.records.map((r) => (r as { message: string }).message);
    const written = messages.filter((m) => m.startsWith("record ")).map((m) => Number(m.split(" ")[1]));
    assert.ok(written.length > 0 && written.length < RECORDS_WHILE_FILLING, `the disk filled after ${written.length} records`);
    assert.deepEqual(written, [...written.keys()], "the records before the disk filled, in order, none missing");
    assert.equal(messages.at(-2), "after the disk filled");
    const lost = /^(\d+) record\(s\) could not be written/.exec(messages.at(-1) ?? "");
    assert.equal(Number(lost?.[1]), RECORDS_WHILE_FILLING - written.length, "the notice counts what was lost");
  } finally {
    journal?.close();
    spawnSync("umount", [dir]);
    rmdirSync(dir);
  }
});
