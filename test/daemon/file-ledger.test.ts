import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test from "node:test";
import { FileLedger } from "../../src/daemon/file-ledger.js";

function withDir(body: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), "oomwarden-ledger-"));
  try {
    body(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test("the ledger keeps original values across processes and forgets restored ones", () => {
  withDir((dir) => {
    const path = join(dir, "state", "takeover.json");
    const ledger = new FileLedger(path, (m) => assert.fail(m));
    assert.equal(ledger.recall("/cg/a"), null);
    ledger.remember("/cg/a", false);
    ledger.remember("/cg/b", true);
    const reread = new FileLedger(path, (m) => assert.fail(m));
    assert.equal(reread.recall("/cg/a"), false);
    assert.equal(reread.recall("/cg/b"), true);
    assert.equal(reread.ownerPid, process.pid);
    reread.forget("/cg/a");
    assert.deepEqual(new FileLedger(path).all(), { "/cg/b": true });
    assert.equal(JSON.parse(readFileSync(path, "utf8")).version, 1);
  });
});

test("a corrupt ledger is reported and replaced, never a crash", () => {
  withDir((dir) => {
    const path = join(dir, "takeover.json");
    writeFileSync(path, "{ not json");
    const errors: string[] = [];
    const ledger = new FileLedger(path, (m) => errors.push(m));
    assert.equal(errors.length, 1);
    assert.match(errors[0] ?? "", /takeover\.json is not valid JSON/);
    ledger.remember("/cg/a", false);
    assert.deepEqual(new FileLedger(path).all(), { "/cg/a": false });
  });
});

test("a ledger that cannot be written says so and keeps working in memory", () => {
  const errors: string[] = [];
  const ledger = new FileLedger("/proc/oomwarden-ledger/takeover.json", (m) => errors.push(m));
  ledger.remember("/cg/a", false);
  assert.equal(ledger.recall("/cg/a"), false);
  assert.match(errors[0] ?? "", /cannot write the takeover ledger \/proc\/oomwarden-ledger\/takeover\.json/);
});

test("soft-limit originals survive the process, an unlimited original included, and malformed ones are dropped", () => {
  withDir((dir) => {
    const path = join(dir, "takeover.json");
    const ledger = new FileLedger(path, (m) => assert.fail(m));
    assert.equal(ledger.recallLimit("/cg/a"), undefined, "nothing recorded is not the same as no limit");
    ledger.rememberLimit("/cg/a", 67108864);
    ledger.rememberLimit("/cg/b", null);
    const reread = new FileLedger(path, (m) => assert.fail(m));
    assert.equal(reread.recallLimit("/cg/a"), 67108864);
    assert.equal(reread.recallLimit("/cg/b"), null);
    reread.forgetLimit("/cg/a");
    assert.deepEqual(new FileLedger(path).allLimits(), { "/cg/b": null });
    // A hand-edited file: only whole byte counts or null are taken.
    writeFileSync(path, JSON.stringify({ version: 1, ownerPid: 1, cgroups: {}, limits: { "/x": "64M", "/y": -1, "/z": 4096.5, "/ok": 4096 } }));
    assert.deepEqual(new FileLedger(path).allLimits(), { "/ok": 4096 });
  });
});
