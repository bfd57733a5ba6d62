import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test from "node:test";
import { fileURLToPath } from "node:url";
import { FileLedger } from "../../src/daemon/file-ledger.js";
import { writeLedgerFile } from "../../src/daemon/ledger-file.js";
import type { LedgerKey, TakeoverLedger } from "../../src/engine/takeover-ledger.js";

const NOBODY = 65534;
const FILE_LEDGER_JS = fileURLToPath(new URL("../../src/daemon/file-ledger.js", import.meta.url));

/** The cgroup every entry here belongs to: one boot, one directory. */
const IDENTITY = { bootId: "boot-1", inode: "100" };
function key(path: string): LedgerKey {
  return { path, identity: IDENTITY };
}

/** What the ledger holds, without the identities. */
function originals(ledger: TakeoverLedger): Record<string, boolean> {
  return Object.fromEntries(Object.entries(ledger.recorded().cgroups).map(([path, entry]) => [path, entry.original]));
}
function limitOriginals(ledger: TakeoverLedger): Record<string, number | null> {
  return Object.fromEntries(Object.entries(ledger.recorded().limits).map(([path, entry]) => [path, entry.original]));
}

/** The daemon's open, which must succeed here. */
function openLedger(path: string, onError: (message: string) => void = () => {}): FileLedger {
  const opened = FileLedger.open(path, { onError });
  if (!opened.ok) assert.fail(opened.error.message);
  return opened.value;
}

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
    const ledger = openLedger(path, (m) => assert.fail(m));
    assert.equal(ledger.recall(key("/cg/a")), null);
    assert.ok(ledger.remember(key("/cg/a"), false).ok);
    assert.ok(ledger.remember(key("/cg/b"), true).ok);
    const reread = openLedger(path, (m) => assert.fail(m));
    assert.equal(reread.recall(key("/cg/a")), false);
    assert.equal(reread.recall(key("/cg/b")), true);
    reread.forget("/cg/a");
    assert.deepEqual(originals(openLedger(path)), { "/cg/b": true });
    assert.deepEqual(JSON.parse(readFileSync(path, "utf8")), { version: 2, cgroups: { "/cg/b": { oomKillDisable: true, ...IDENTITY } }, limits: {} });
  });
});

test("a corrupt ledger is moved aside with its contents, never lost, and a new one started", () => {
  withDir((dir) => {
    const path = join(dir, "takeover.json");
    writeFileSync(path, '{ "version": 1, "cgroups": { "/cg/old": fal');
    const errors: string[] = [];
    const ledger = openLedger(path, (m) => errors.push(m));
    assert.equal(errors.length, 1);
    assert.match(errors[0] ?? "", /takeover\.json is not valid JSON .*; moved to .*takeover\.json\.unreadable-\S+ .*starting a new ledger/);
    const aside = readdirSync(dir).filter((name) => name.startsWith("takeover.json.unreadable-"));
    assert.equal(aside.length, 1);
    assert.equal(readFileSync(join(dir, aside[0] as string), "utf8"), '{ "version": 1, "cgroups": { "/cg/old": fal', "kept as it was");
    assert.ok(ledger.remember(key("/cg/a"), false).ok);
    assert.deepEqual(originals(openLedger(path)), { "/cg/a": false });
  });
});

test("an unreadable ledger that cannot be moved aside is never overwritten: every write is refused", () => {
  // /proc/self/stat reads fine, is not JSON, and cannot be renamed.
  const errors: string[] = [];
  const ledger = openLedger("/proc/self/stat", (m) => errors.push(m));
  assert.match(errors[0] ?? "", /is not valid JSON .*cannot be moved aside .*no cgroup is taken over until it is repaired or removed/);
  const remembered = ledger.remember(key("/cg/a"), false);
  assert.ok(!remembered.ok && /cannot be moved aside/.test(remembered.error.message));
  assert.equal(ledger.recall(key("/cg/a")), null);
});

test("a ledger that cannot be written refuses: remember() fails, nothing is claimed in memory, no temporary file is left", () => {
  withDir((dir) => {
    const path = join(dir, "takeover.json");
    const errors: string[] = [];
    const ledger = openLedger(path, (m) => errors.push(m));
    assert.ok(ledger.remember(key("/cg/kept"), true).ok);
    // From now on the rename over the ledger fails (a directory is in the way), after the
    // temporary file was written and synced.
    rmSync(path);
    mkdirSync(path);
    writeFileSync(join(path, "blocker"), "");

    const remembered = ledger.remember(key("/cg/a"), false);
    assert.ok(!remembered.ok, "not recorded");
    assert.match(remembered.error.message, /cannot write the takeover ledger .*takeover\.json/);
    assert.deepEqual(errors, [], "a refused remember() is the caller's to report, once");
    assert.equal(ledger.recall(key("/cg/a")), null, "memory does not claim what the file does not hold");
    assert.ok(!ledger.rememberLimit(key("/cg/a"), 4096).ok);
    assert.equal(ledger.recallLimit(key("/cg/a")), undefined);
    ledger.forget("/cg/kept");
    assert.equal(ledger.recall(key("/cg/kept")), true, "a forget that did not reach the file is not made in memory either");
    assert.match(errors.join("\n"), /cannot write the takeover ledger/, "a failed forget() is reported: nobody else can");
    assert.deepEqual(
      readdirSync(dir).filter((name) => name.endsWith(".tmp")),
      [],
      "the temporary file is removed",
    );
  });
});

test("a ledger in a directory that cannot hold it says so", () => {
  const errors: string[] = [];
  const ledger = openLedger("/proc/oomwarden-ledger/takeover.json", (m) => errors.push(m));
  const remembered = ledger.remember(key("/cg/a"), false);
  assert.ok(!remembered.ok);
  assert.equal(ledger.recall(key("/cg/a")), null);
  assert.match(remembered.error.message, /cannot write the takeover ledger \/proc\/oomwarden-ledger\/takeover\.json/);
});

test("soft-limit originals survive the process, an unlimited original included, and malformed ones are dropped", () => {
  withDir((dir) => {
    const path = join(dir, "takeover.json");
    const ledger = openLedger(path, (m) => assert.fail(m));
    assert.equal(ledger.recallLimit(key("/cg/a")), undefined, "nothing recorded is not the same as no limit");
    ledger.rememberLimit(key("/cg/a"), 67108864);
    ledger.rememberLimit(key("/cg/b"), null);
    const reread = openLedger(path, (m) => assert.fail(m));
    assert.equal(reread.recallLimit(key("/cg/a")), 67108864);
    assert.equal(reread.recallLimit(key("/cg/b")), null);
    reread.forgetLimit("/cg/a");
    assert.deepEqual(limitOriginals(openLedger(path)), { "/cg/b": null });
    // A hand-edited file: only whole byte counts or null are taken.
    writeFileSync(path, JSON.stringify({ version: 1, ownerPid: 1, cgroups: {}, limits: { "/x": "64M", "/y": -1, "/z": 4096.5, "/ok": 4096 } }));
    assert.deepEqual(limitOriginals(openLedger(path)), { "/ok": 4096 });
  });
});

test("restore's reading: no file is an empty ledger; an unreadable, corrupt or foreign one is an error", () => {
  withDir((dir) => {
    const path = join(dir, "takeover.json");
    const none = FileLedger.readExisting(path);
    assert.ok(none.ok && none.value.listedPaths().length === 0);
    for (const [content, pattern] of [
      ["{ broken", /is not valid JSON/],
      ["[1, 2]", /is not a takeover ledger of version 1/],
      ['{"version": 7, "cgroups": {}}', /is not a takeover ledger of version 1, 2 or 3/],
    ] as const) {
      writeFileSync(path, content);
      const read = FileLedger.readExisting(path);
      assert.ok(!read.ok && pattern.test(read.error.message), `${content}: ${JSON.stringify(read)}`);
    }
    rmSync(path);
    mkdirSync(path);
    const notAFile = FileLedger.readExisting(path);
    assert.ok(!notAFile.ok && /^the takeover ledger \S+ is not a regular file/.test(notAFile.error.message), JSON.stringify(notAFile));
  });
});

test("the rename that replaces the ledger is made durable: the directory is synced after it", (t) => {
  const probe = spawnSync("strace", ["-f", "-o", "/dev/null", "true"]);
  if (probe.error !== undefined || probe.status !== 0) {
    t.skip(`strace cannot run here: ${probe.error?.message ?? probe.stderr.toString().trim()}`);
    return;
  }
  withDir((dir) => {
    const trace = join(dir, "trace");
    const script = `import { FileLedger } from ${JSON.stringify(FILE_LEDGER_JS)};
      const ledger = FileLedger.open(${JSON.stringify(join(dir, "takeover.json"))});
      if (!ledger.ok || !ledger.value.remember(${JSON.stringify(key("/cg/a"))}, false).ok) process.exit(3);`;
    const run = spawnSync("strace", ["-f", "-y", "-e", "trace=rename,renameat,renameat2,fsync,fdatasync", "-o", trace, process.execPath, "--input-type=module", "-e", script]);
    assert.equal(run.status, 0, run.stderr.toString());
    const lines = readFileSync(trace, "utf8").split("\n");
    const renamed = lines.findIndex((l) => /rename\w*\(.*takeover\.json\.\d+\.tmp.*takeover\.json"/.test(l));
    assert.ok(renamed >= 0, "the ledger is replaced by a rename");
    const tempSynced = lines.findIndex((l) => new RegExp(`fsync\\(\\d+<${dir}/takeover\\.json\\.\\d+\\.tmp>\\)`).test(l));
    assert.ok(tempSynced >= 0 && tempSynced < renamed, "the new contents are synced before the rename");
    const dirSynced = lines.findIndex((l, i) => i > renamed && new RegExp(`fsync\\(\\d+<${dir}>\\) += 0`).test(l));
    assert.ok(dirSynced > renamed, `the directory is synced after the rename:\n${lines.join("\n")}`);
  });
});

test("a symbolic link planted under the temporary name is not followed: the write fails and the link's target is untouched", () => {
  withDir((dir) => {
    const victim = join(dir, "precious");
    writeFileSync(victim, "ROOT-OWNED CONTENT\n");
    const path = join(dir, "takeover.json");
    symlinkSync(victim, `${path}.${process.pid}.tmp`);
    const written = writeLedgerFile(path, { cgroups: { "/x": { original: false, identity: IDENTITY } }, limits: {}, highs: {} });
    assert.ok(!written.ok && /^cannot write the takeover ledger \S+takeover\.json: EEXIST: file already exists$/.test(written.error.message), JSON.stringify(written));
    assert.equal(readFileSync(victim, "utf8"), "ROOT-OWNED CONTENT\n");
    assert.equal(lstatSync(`${path}.${process.pid}.tmp`).isSymbolicLink(), true, "what we did not create is not ours to remove either");
    assert.equal(existsSync(path), false);
  });
});

test("the daemon's open removes the temporary files of writers that died mid-write, and says so", () => {
  withDir((dir) => {
    const path = join(dir, "takeover.json");
    writeFileSync(`${path}.12345.tmp`, "{ half");
    writeFileSync(`${path}.${process.pid}.tmp`, "");
    writeFileSync(join(dir, "takeover.json.notes"), "not ours");
    const said: string[] = [];
    const ledger = openLedger(path, (m) => said.push(m));
    assert.deepEqual(readdirSync(dir).sort(), ["takeover.json.notes"]);
    assert.equal(said.length, 1);
    assert.match(said[0] ?? "", /^removed takeover\.json\.\d+\.tmp, takeover\.json\.\d+\.tmp: left beside the takeover ledger by a writer that died mid-write$/);
    assert.ok(ledger.remember(key("/cg/a"), false).ok, "and its own temporary name is free again");
  });
});

test("a ledger that is a symbolic link, another user's file, or writable by others is refused, never read", () => {
  withDir((dir) => {
    const path = join(dir, "takeover.json");
    const planted = join(dir, "planted.json");
    writeFileSync(planted, JSON.stringify({ version: 1, cgroups: { "/sys/fs/cgroup/memory/any": false } }), { mode: 0o600 });
    symlinkSync(planted, path);
    const linked = FileLedger.readExisting(path);
    assert.ok(!linked.ok && linked.error.code === "LEDGER_UNSAFE", JSON.stringify(linked));
    assert.match(linked.ok ? "" : linked.error.message, new RegExp(`^the takeover ledger ${path} is a symbolic link: the state files must be plain files of uid \\d+, writable by it alone$`));
    rmSync(path);
    writeFileSync(path, JSON.stringify({ version: 1, cgroups: {} }), { mode: 0o666 });
    chmodSync(path, 0o666);
    const open = FileLedger.readExisting(path);
    assert.ok(!open.ok && /^the takeover ledger \S+ can be written by every user \(mode 0666\)/.test(open.error.message), JSON.stringify(open));
    if (process.getuid?.() === 0) {
      chmodSync(path, 0o600);
      chownSync(path, 65534, 65534);
      const foreign = FileLedger.readExisting(path);
      assert.ok(!foreign.ok && /belongs to uid 65534, not to uid 0/.test(foreign.error.message), JSON.stringify(foreign));
    }
  });
});

test("a ledger that cannot be read at all (EIO, EACCES) is an error for the daemon, never moved aside nor replaced", { skip: process.getuid?.() !== 0 ? "needs root (runs the open as another user)" : false }, () => {
  withDir((dir) => {
    // As user nobody, in nobody's own directory, a ledger of nobody's that nobody may read (mode 0200):
    // an unreadable file in a directory where moving it aside would succeed.
    chownSync(dir, NOBODY, NOBODY);
    const path = join(dir, "takeover.json");
    const contents = JSON.stringify({ version: 1, cgroups: { "/sys/fs/cgroup/memory/job": false } });
    writeFileSync(path, contents, { mode: 0o200 });
    chownSync(path, NOBODY, NOBODY);
    const script = `import { FileLedger } from ${JSON.stringify(FILE_LEDGER_JS)};
      const opened = FileLedger.open(${JSON.stringify(path)}, { onError: (m) => console.log("said: " + m) });
      console.log(JSON.stringify(opened.ok ? "opened" : opened.error));`;
    const run = spawnSync(process.execPath, ["--input-type=module", "-e", script], { uid: NOBODY, gid: NOBODY, encoding: "utf8" });
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(JSON.parse(run.stdout), { code: "LEDGER_UNREADABLE", message: `cannot read the takeover ledger ${path}: EACCES: permission denied` });
    assert.deepEqual(readdirSync(dir), ["takeover.json"], "nothing moved aside");
    assert.equal(readFileSync(path, "utf8"), contents, "nor rewritten");
  });
  // A real EIO: /proc/self/mem is this user's plain file, and reading it at offset 0 fails so.
  const eio = FileLedger.open("/proc/self/mem");
  assert.ok(!eio.ok && /^cannot read the takeover ledger \/proc\/self\/mem: EIO: i\/o error/.test(eio.error.message), JSON.stringify(eio));
});

test("an original belongs to the cgroup it was written down for: another one at the same path, or on another boot, gets none", () => {
  withDir((dir) => {
    const path = join(dir, "takeover.json");
    const ledger = openLedger(path);
    assert.ok(ledger.remember(key("/cg/a"), false).ok);
    assert.ok(ledger.rememberLimit(key("/cg/a"), 4096).ok);
    const reread = openLedger(path);
    const recreated: LedgerKey = { path: "/cg/a", identity: { ...IDENTITY, inode: "101" } };
    const rebooted: LedgerKey = { path: "/cg/a", identity: { ...IDENTITY, bootId: "boot-2" } };
    assert.equal(reread.recall(key("/cg/a")), false, "the same cgroup, read back by another process");
    for (const other of [recreated, rebooted]) {
      assert.equal(reread.recall(other), null);
      assert.equal(reread.recallLimit(other), undefined);
    }
    assert.equal(reread.dropStale(key("/cg/a")), null, "nothing to drop for the cgroup itself");
    assert.equal(
      reread.dropStale(rebooted),
      "the takeover ledger's entry for /cg/a is dropped: it was written down before the machine last booted, so its original is not that cgroup's",
    );
    assert.deepEqual(openLedger(path).listedPaths(), [], "dropped on disk too");
    assert.ok(reread.remember(key("/cg/a"), false).ok);
    assert.equal(
      reread.dropStale(recreated),
      "the takeover ledger's entry for /cg/a is dropped: the cgroup it was written down for was removed, and the one there now was made since, so its original is not that cgroup's",
    );
  });
});

test("a ledger of version 1 (no identities) is believed by path, and entries written again get their cgroup's identity", () => {
  withDir((dir) => {
    const path = join(dir, "takeover.json");
    writeFileSync(path, JSON.stringify({ version: 1, ownerPid: 7, cgroups: { "/cg/a": false }, limits: { "/cg/a": 4096 } }), { mode: 0o600 });
    const ledger = openLedger(path);
    assert.equal(ledger.recall(key("/cg/a")), false);
    assert.equal(ledger.recallLimit(key("/cg/a")), 4096);
    assert.equal(ledger.dropStale(key("/cg/a")), null, "nothing to compare with: not stale");
    assert.ok(ledger.remember(key("/cg/a"), false).ok);
    const file = JSON.parse(readFileSync(path, "utf8"));
    assert.deepEqual(file, { version: 2, cgroups: { "/cg/a": { oomKillDisable: false, ...IDENTITY } }, limits: { "/cg/a": { limitBytes: 4096 } } });
  });
});

test("a ledger with guard-band entries is version 3 (an older oomwarden refuses it rather than drop them); without, version 2", async () => {
  const { formatLedger, parseLedgerText } = await import("../../src/daemon/ledger-format.js");
  const plain = { cgroups: { "/x": { original: false, identity: IDENTITY } }, limits: {}, highs: {} };
  assert.equal(JSON.parse(formatLedger(plain)).version, 2);
  assert.equal("highs" in JSON.parse(formatLedger(plain)), false);
  const banded = { cgroups: {}, limits: {}, highs: { "/sys/fs/cgroup/job": { original: null, identity: IDENTITY }, "/sys/fs/cgroup/b": { original: 4096, identity: IDENTITY } } };
  const text = formatLedger(banded);
  assert.deepEqual(JSON.parse(text), {
    version: 3,
    cgroups: {},
    limits: {},
    highs: { "/sys/fs/cgroup/job": { highBytes: null, ...IDENTITY }, "/sys/fs/cgroup/b": { highBytes: 4096, ...IDENTITY } },
  });
  const back = parseLedgerText(text, "/state/takeover.json");
  assert.ok(back.ok);
  assert.deepEqual(back.value, banded);
  // Hand-edited nonsense is not taken for an original.
  const odd = parseLedgerText(JSON.stringify({ version: 3, highs: { "/a": { highBytes: "64M" }, "/b": { highBytes: -1 } } }), "/state/takeover.json");
  assert.ok(odd.ok);
  assert.deepEqual(odd.value.highs, {});
});
