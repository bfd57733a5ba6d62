// The warn level's command: started from the journal's warn notice with the level and message in
// its environment, one at a time, killed at its deadline, its failures journaled; the config key
// a list of strings with errors naming the line.

import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { parseConfig } from "../../src/daemon/config.js";
import { MemoryJournal } from "../../src/daemon/journal.js";
import { withWarnCommand } from "../../src/daemon/warn-command.js";
import type { JournalRecord } from "../../src/engine/journal-record.js";

const WARN: JournalRecord = { type: "notice", cgroup: "/", level: "warn", message: "warn: available 140.0 MiB of 960.0 MiB (14.6% < 15%), no swap: warn level" };

function errors(journal: MemoryJournal): string[] {
  return journal.records.filter((r) => r.type === "error").map((r) => (r.type === "error" ? r.message : ""));
}

describe("warnCommand", () => {
  it("runs on the warn notice with OOMWARDEN_LEVEL and OOMWARDEN_MESSAGE, and on nothing else", async () => {
    const dir = mkdtempSync(join(tmpdir(), "oomwarden-warn-"));
    try {
      const out = join(dir, "out");
      const inner = new MemoryJournal();
      const sink = withWarnCommand(inner, { argv: ["/bin/sh", "-c", 'printf "%s|%s\\n" "$OOMWARDEN_LEVEL" "$OOMWARDEN_MESSAGE" >> "$0"', out], log: () => {} });
      sink.append({ type: "notice", cgroup: "/", message: "low-memory: ...; not acted on: ..." });
      sink.append({ type: "daemon", message: "started" });
      await sink.whenIdle();
      assert.throws(() => readFileSync(out), /ENOENT/, "nothing ran for records other than the warn notice");
      sink.append(WARN);
      await sink.whenIdle();
      assert.equal(readFileSync(out, "utf8"), `warn|${WARN.message}\n`);
      assert.deepEqual(inner.records.map((r) => r.type), ["notice", "daemon", "notice"], "every record passed on, in order");
      assert.deepEqual(errors(inner), []);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("one at a time: a warning while the last command runs starts none and says so; a hung one is killed at its deadline", async () => {
    const inner = new MemoryJournal();
    const sink = withWarnCommand(inner, { argv: ["/bin/sleep", "30"], deadlineMs: 300, log: () => {} });
    const startedAt = Date.now();
    sink.append(WARN);
    sink.append(WARN);
    await sink.whenIdle();
    const tookMs = Date.now() - startedAt;
    assert.ok(tookMs >= 250 && tookMs < 5000, `ended by its deadline, ${tookMs} ms`);
    assert.deepEqual(errors(inner), ["warnCommand: still running from the last warning: not started again", "warnCommand: /bin/sleep was still running after 300 ms: killed"]);
  });

  it("a command that fails or cannot be started is journaled, never retried", async () => {
    const inner = new MemoryJournal();
    const failing = withWarnCommand(inner, { argv: ["/bin/sh", "-c", "exit 3"], log: () => {} });
    failing.append(WARN);
    await failing.whenIdle();
    const missing = withWarnCommand(inner, { argv: ["/nonexistent/notify"], log: () => {} });
    missing.append(WARN);
    await missing.whenIdle();
    const found = errors(inner);
    assert.equal(found[0], "warnCommand: /bin/sh exited with status 3");
    assert.match(found[1] ?? "", /^warnCommand: \/nonexistent\/notify could not be started: .*ENOENT/);
    assert.equal(found.length, 2);
  });
});

describe("warnCommand in the config", () => {
  it("is a list: the program, then its arguments", () => {
    const result = parseConfig('warnCommand: [notify-send, "-u", critical, "Memory low"]\n', "c.yaml");
    assert.ok(result.ok, !result.ok ? result.message : "");
    assert.deepEqual(result.config.warnCommand, ["notify-send", "-u", "critical", "Memory low"]);
    const none = parseConfig("", "c.yaml");
    assert.ok(none.ok);
    assert.equal(none.config.warnCommand, null);
  });

  it("anything else is an error naming the key and the line", () => {
    const cases: [string, RegExp][] = [
      ["dryRun: true\nwarnCommand: notify-send Memory\n", /^c\.yaml:2: key "warnCommand": expected a list: the program, then its arguments .*got "notify-send Memory"$/],
      ["warnCommand: []\n", /^c\.yaml:1: key "warnCommand": expected a list/],
      ["warnCommand: [notify-send, 15]\n", /^c\.yaml:1: key "warnCommand": every item must be a non-empty string, got 15$/],
      ["warnCommand: [notify-send, \"\"]\n", /^c\.yaml:1: key "warnCommand": every item must be a non-empty string/],
      ["warnComand: [x]\n", /^c\.yaml:1: unknown key "warnComand" \(did you mean "warnCommand"\?\)$/],
    ];
    for (const [text, expected] of cases) {
      const result = parseConfig(text, "c.yaml");
      assert.ok(!result.ok, text);
      assert.match(result.message, expected, text);
    }
  });
});
