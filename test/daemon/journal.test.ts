// The file journal never leaves a fragment where the next record lands: a torn tail found on open
// is closed with a line end, a partial write is cut back (or the next record starts on a new line),
// and a failing disk is reported once per episode, never thrown.

import assert from "node:assert/strict";
import { chmodSync, chownSync, closeSync, linkSync, openSync, readFileSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import fc from "fast-check";
import type { JournalRecord } from "../../src/engine/journal-record.js";
import { FileJournal, NODE_FILE_OPS, type JournalFileOps } from "../../src/daemon/journal.js";
import { parseJournalText, readJournal } from "../../src/daemon/journal-reader.js";

function withTempDir(body: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), "oomwarden-journal-"));
  try {
    body(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function openOrFail(path: string, report: (message: string) => void, ops?: JournalFileOps): FileJournal {
  const opened = FileJournal.open(path, report, ops);
  if (!opened.ok) assert.fail(opened.message);
  return opened.journal;
}

function messages(path: string): string[] {
  const read = readJournal(path);
  if (!read.ok) assert.fail(read.message);
  return read.records.map((r) => (r as { message?: string }).message ?? r.type);
}

const ENOSPC = "ENOSPC: no space left on device, write";

/** How the next write goes wrong; the real file gets exactly the bytes a real failure would leave. */
type WriteFault = "none" | "short" | "partial-then-throw" | "throw";

function faultyOps(): JournalFileOps & { fault: WriteFault; truncateFails: boolean; truncations: number } {
  const ops = {
    fault: "none" as WriteFault,
    truncateFails: false,
    truncations: 0,
    write(fd: number, bytes: Uint8Array): number {
      const half = Math.floor(bytes.length / 2);
      switch (ops.fault) {
        case "none":
          return NODE_FILE_OPS.write(fd, bytes);
        case "short":
          return writeSync(fd, bytes.subarray(0, half));
        case "partial-then-throw":
          writeSync(fd, bytes.subarray(0, half));
          throw new Error(ENOSPC);
        case "throw":
          throw new Error(ENOSPC);
      }
    },
    sizeBytes: NODE_FILE_OPS.sizeBytes,
    truncate(fd: number, sizeBytes: number): void {
      if (ops.truncateFails) throw new Error("EPERM: operation not permitted, ftruncate");
      ops.truncations += 1;
      NODE_FILE_OPS.truncate(fd, sizeBytes);
    },
    flush: NODE_FILE_OPS.flush,
  };
  return ops;
}

test("a new journal on a file whose last line was cut starts on a fresh line, keeps the old bytes and says so", () => {
  withTempDir((dir) => {
    const path = join(dir, "journal.jsonl");
    const complete = `${JSON.stringify({ time: "2026-01-01T00:00:00.000Z", type: "daemon", message: "old" })}\n`;
    const fragment = `{"time":"2026-01-01T00:00:01.000Z","type":"decision","decisionId":1,"inci`;
    writeFileSync(path, complete + fragment);
    const reports: string[] = [];
    const journal = openOrFail(path, (m) => reports.push(m));
    journal.append({ type: "daemon", message: "started" });
    journal.close();

    const text = readFileSync(path, "utf8");
    assert.ok(text.startsWith(`${complete + fragment}\n`), "older data is neither rewritten nor truncated");
    const parsed = parseJournalText(text);
    assert.deepEqual(parsed.skipped, [{ lineNumber: 2, sizeBytes: fragment.length, why: "not a record" }]);
    assert.deepEqual(parsed.records.map((r) => r.type), ["daemon", "notice", "daemon"]);
    const notice = parsed.records[1] as { message: string };
    assert.match(notice.message, new RegExp(`\\(${fragment.length} bytes after the last line end`));
    assert.equal(reports.length, 1);
    assert.match(reports[0] ?? "", new RegExp(`^journal ${path}: the journal ended inside a line \\(${fragment.length} bytes`));
  });
});

test("a journal that ends cleanly, or is empty, gets no notice and no empty line", () => {
  withTempDir((dir) => {
    const path = join(dir, "journal.jsonl");
    for (let run = 0; run < 2; run++) {
      const journal = openOrFail(path, (m) => assert.fail(`unexpected report: ${m}`));
      journal.append({ type: "daemon", message: `run ${run}` });
      journal.close();
    }
    const text = readFileSync(path, "utf8");
    assert.ok(!text.includes("\n\n"));
    assert.deepEqual(messages(path), ["run 0", "run 1"]);
  });
});

test("a short write (disk full) is cut back: the next record lands on a clean line", () => {
  withTempDir((dir) => {
    const path = join(dir, "journal.jsonl");
    const ops = faultyOps();
    const reports: string[] = [];
    const journal = openOrFail(path, (m) => reports.push(m), ops);
    journal.append({ type: "daemon", message: "one" });
    const sizeBefore = readFileSync(path).length;
    ops.fault = "short";
    journal.append({ type: "daemon", message: "lost" });
    assert.equal(readFileSync(path).length, sizeBefore, "the half-written record is gone");
    ops.fault = "none";
    journal.append({ type: "daemon", message: "two" });
    journal.close();
    const parsed = parseJournalText(readFileSync(path, "utf8"));
    assert.deepEqual(parsed.skipped, []);
    assert.deepEqual(messages(path).slice(0, 2), ["one", "two"]);
    assert.equal(ops.truncations, 1);
    assert.match(reports[0] ?? "", /write failed: only \d+ of \d+ bytes written/);
  });
});

test("a write that throws wrote nothing: bytes that appeared anyway are not cut (they may be another writer's), and the next record starts on its own line", () => {
  withTempDir((dir) => {
    const path = join(dir, "journal.jsonl");
    const ops = faultyOps();
    const journal = openOrFail(path, () => {}, ops);
    journal.append({ type: "daemon", message: "one" });
    ops.fault = "partial-then-throw";
    journal.append({ type: "daemon", message: "lost" });
    ops.fault = "none";
    journal.append({ type: "daemon", message: "two" });
    journal.close();
    assert.equal(ops.truncations, 0);
    assert.deepEqual(parseJournalText(readFileSync(path, "utf8")).skipped.map((l) => l.why), ["not a record"], "the fragment is a line of its own that readers skip");
    assert.deepEqual(messages(path).slice(0, 2), ["one", "two"]);
  });
});

test("a failed write while someone else appended a whole record: that record is never cut away", () => {
  withTempDir((dir) => {
    const path = join(dir, "journal.jsonl");
    const ops = faultyOps();
    const journal = openOrFail(path, () => {}, ops);
    journal.append({ type: "daemon", message: "one" });
    const other = `${JSON.stringify({ time: new Date().toISOString(), type: "decision", message: "another writer: killed pid 1234" })}\n`;
    const otherFd = openSync(path, "a");
    ops.write = (fd, bytes) => {
      writeSync(otherFd, other); // lands between our size check and our write
      return writeSync(fd, bytes.subarray(0, Math.floor(bytes.length / 2))); // then the disk is full
    };
    journal.append({ type: "daemon", message: "lost" });
    ops.write = NODE_FILE_OPS.write;
    journal.append({ type: "daemon", message: "two" });
    journal.close();
    closeSync(otherFd);
    assert.equal(ops.truncations, 0, "the file grew by more than our part: not ours to cut");
    assert.deepEqual(messages(path).slice(0, 3), ["one", "another writer: killed pid 1234", "two"]);
  });
});

test("one daemon per journal: a second open of a journal in use is refused naming the holder, and free again once closed", () => {
  withTempDir((dir) => {
    const path = join(dir, "journal.jsonl");
    const first = openOrFail(path, () => {});
    const second = FileJournal.open(path, () => {});
    assert.deepEqual(second, {
      ok: false,
      kind: "refused",
      message: `the journal ${path} is written by another process (pid ${process.pid}): one daemon per journal; give this one another --journal`,
    });
    first.append({ type: "daemon", message: "one" });
    first.close();
    const third = openOrFail(path, () => {});
    third.append({ type: "daemon", message: "two" });
    third.close();
    assert.deepEqual(messages(path), ["one", "two"]);
  });
});

test("when the fragment cannot be cut off, the next record starts on a line of its own", () => {
  withTempDir((dir) => {
    const path = join(dir, "journal.jsonl");
    const ops = faultyOps();
    const journal = openOrFail(path, () => {}, ops);
    journal.append({ type: "daemon", message: "one" });
    ops.fault = "short";
    ops.truncateFails = true;
    journal.append({ type: "daemon", message: "lost" });
    ops.fault = "throw"; // still full: the line end owed must survive a write that wrote nothing
    journal.append({ type: "daemon", message: "lost too" });
    ops.fault = "none";
    journal.append({ type: "daemon", message: "two" });
    journal.close();
    const parsed = parseJournalText(readFileSync(path, "utf8"));
    assert.deepEqual(parsed.skipped.map((s) => [s.lineNumber, s.why]), [[2, "not a record"]]);
    assert.deepEqual(messages(path).slice(0, 2), ["one", "two"]);
  });
});

test("a failing disk never throws out of append, is reported once per episode, and the recovery journals the count", () => {
  withTempDir((dir) => {
    const path = join(dir, "journal.jsonl");
    const ops = faultyOps();
    const reports: string[] = [];
    const journal = openOrFail(path, (m) => reports.push(m), ops);
    for (const episode of [1, 2]) {
      ops.fault = "throw";
      for (let i = 0; i < 5 * episode; i++) journal.append({ type: "notice", message: `dropped ${i}` });
      ops.fault = "none";
      journal.append({ type: "daemon", message: `back ${episode}` });
    }
    journal.close();
    assert.equal(reports.length, 4, reports.join("\n"));
    assert.match(reports[0] ?? "", new RegExp(`^journal ${path}: write failed: ${ENOSPC}; records are dropped`));
    assert.match(reports[1] ?? "", /writing again; 5 record\(s\) could not be written or flushed since \S+ \(first failure: ENOSPC/);
    assert.match(reports[3] ?? "", /writing again; 10 record\(s\)/);
    const journaled = messages(path);
    assert.deepEqual(journaled.map((m) => m.replace(/^(\d+) record.*/, "$1 lost")), ["back 1", "5 lost", "back 2", "10 lost"]);
  });
});

test("a record JSON cannot encode is reported, not thrown", () => {
  withTempDir((dir) => {
    const path = join(dir, "journal.jsonl");
    const reports: string[] = [];
    const journal = openOrFail(path, (m) => reports.push(m));
    journal.append({ type: "notice", message: "x", size: 1n } as unknown as JournalRecord);
    journal.append({ type: "daemon", message: "next" });
    journal.close();
    assert.equal(reports.length, 1);
    assert.match(reports[0] ?? "", /a notice record could not be encoded/);
    assert.deepEqual(messages(path), ["next"]);
  });
});

test("fuzz: whatever prefix of a journal a crash left, the next daemon's records all read back and only the cut line is skipped", () => {
  withTempDir((dir) => {
    let run = 0;
    fc.assert(
      fc.property(fc.array(fc.string({ maxLength: 30 }), { minLength: 1, maxLength: 6 }), fc.nat(), (earlier, cutSeed) => {
        const path = join(dir, `journal-${run++}.jsonl`);
        const text = earlier.map((message) => `${JSON.stringify({ time: "t", type: "daemon", message })}\n`).join("");
        const cut = Buffer.from(text).subarray(0, cutSeed % (Buffer.byteLength(text) + 1));
        writeFileSync(path, cut);
        const journal = openOrFail(path, () => {});
        journal.append({ type: "daemon", message: "new one" });
        journal.append({ type: "daemon", message: "new two" });
        journal.close();
        const parsed = parseJournalText(readFileSync(path, "utf8"));
        const read = parsed.records.map((r) => (r as { message: string }).message);
        assert.deepEqual(read.slice(-2), ["new one", "new two"]);
        assert.ok(parsed.skipped.length <= 1);
        assert.ok(parsed.skipped.every((s) => s.why === "not a record"), "the file ends on a line end");
        const completeBefore = countLines(cut);
        assert.deepEqual(read.slice(0, completeBefore), earlier.slice(0, completeBefore), "older records are kept");
        const torn = cut.length > 0 && cut[cut.length - 1] !== 0x0a;
        // A fragment cut just before its line end is a whole record and reads back once closed.
        const fragmentRecords = torn && parsed.skipped.length === 0 ? 1 : 0;
        const notices = torn ? 1 : 0;
        assert.equal(read.length, completeBefore + fragmentRecords + notices + 2);
      }),
      { seed: 42, numRuns: 60 },
    );
  });
});

function countLines(bytes: Buffer): number {
  return bytes.filter((b) => b === 0x0a).length;
}

test("a journal that is a symbolic link, another user's file, or writable by others is refused and never written", () => {
  withTempDir((dir) => {
    const victim = join(dir, "precious");
    writeFileSync(victim, "OTHER ROOT FILE\n");
    const path = join(dir, "journal.jsonl");
    symlinkSync(victim, path);
    const linked = FileJournal.open(path, () => {});
    assert.deepEqual(linked, { ok: false, kind: "refused", message: `the journal ${path} is a symbolic link: the state files must be plain files of uid ${process.getuid?.()}, writable by it alone` });
    assert.equal(readFileSync(victim, "utf8"), "OTHER ROOT FILE\n");

    rmSync(path);
    linkSync(victim, path); // a second name for someone else's file
    const hardLinked = FileJournal.open(path, () => {});
    assert.ok(!hardLinked.ok && hardLinked.kind === "refused" && hardLinked.message.startsWith(`the journal ${path} has 2 hard links`), JSON.stringify(hardLinked));
    assert.equal(readFileSync(victim, "utf8"), "OTHER ROOT FILE\n");

    rmSync(path);
    writeFileSync(path, "");
    chmodSync(path, 0o622);
    const writable = FileJournal.open(path, () => {});
    assert.ok(!writable.ok && writable.kind === "refused" && writable.message.startsWith(`the journal ${path} can be written by every user (mode 0622)`), JSON.stringify(writable));
    if (process.getuid?.() === 0) {
      chmodSync(path, 0o600);
      chownSync(path, 65534, 65534);
      const foreign = FileJournal.open(path, () => {});
      assert.ok(!foreign.ok && foreign.kind === "refused" && foreign.message.startsWith(`the journal ${path} belongs to uid 65534`), JSON.stringify(foreign));
    }
    assert.equal(readFileSync(path, "utf8"), "", "nothing appended to a refused journal");
  });
});

test("a journal that cannot be created is unavailable, not refused, and the message names the path once", () => {
  const opened = FileJournal.open("/proc/oomwarden/journal.jsonl", () => {});
  assert.deepEqual(opened, { ok: false, kind: "unavailable", message: "cannot open journal /proc/oomwarden/journal.jsonl: ENOENT: no such file or directory" });
});
