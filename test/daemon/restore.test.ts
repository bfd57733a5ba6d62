// `oomwarden restore` decides by the state directory's lock: refused while a daemon holds it, and
// not fooled by a live process that merely looks like oomwarden; an unreadable ledger is an error.

import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test from "node:test";
import { runRestore } from "../../src/daemon/restore.js";
import { claimStateDir } from "../../src/daemon/state-dir-lock.js";
import { ledgerPathIn } from "../../src/daemon/paths.js";
import { readCgroupMounts } from "../../src/host/linux/cgroup-mounts.js";
import { holdStateDirElsewhere } from "./state-dir-holder.js";

/**
 * A cgroup that does not exist inside this machine's memory hierarchy: restore forgets it as
 * removed, so the test needs no real cgroup. Null where no memory hierarchy is mounted.
 */
const MEMORY_ROOT = ((): string | null => {
  const mounts = readCgroupMounts();
  return mounts.ok ? (mounts.value.v1Memory ?? mounts.value.v2) : null;
})();
const GONE_CGROUP = join(MEMORY_ROOT ?? "/sys/fs/cgroup", `oomwarden-restore-test-gone-${process.pid}`);
const NEEDS_MEMORY_HIERARCHY = MEMORY_ROOT === null ? "no memory cgroup hierarchy is mounted" : false;

function restore(dir: string): { code: number; lines: string[] } {
  const lines: string[] = [];
  const code = runRestore({ stateDir: dir }, { out: (line) => lines.push(line), err: (line) => lines.push(line) });
  return { code, lines };
}

function withDir(body: (dir: string) => Promise<void> | void): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "oomwarden-restore-"));
  return Promise.resolve(body(dir)).finally(() => rmSync(dir, { recursive: true, force: true }));
}

function writeLedger(dir: string, ownerPid: number): void {
  writeFileSync(ledgerPathIn(dir), JSON.stringify({ version: 1, ownerPid, cgroups: { [GONE_CGROUP]: false } }));
}

test("a corrupt or unreadable ledger: exit 1 with one line saying it cannot be read, never 'nothing to restore'", () =>
  withDir((dir) => {
    writeFileSync(ledgerPathIn(dir), '{"version": 1, "cgroups": {"/sys/fs/cgroup/memory/job": fal');
    const corrupt = restore(dir);
    assert.equal(corrupt.code, 1);
    assert.equal(corrupt.lines.length, 1, corrupt.lines.join("\n"));
    assert.match(corrupt.lines[0] ?? "", /takeover\.json is not valid JSON .*; nothing was restored: repair the file/);
    assert.equal(readFileSync(ledgerPathIn(dir), "utf8").includes("/sys/fs/cgroup/memory/job"), true, "left as it was");

    rmSync(ledgerPathIn(dir));
    mkdirSync(ledgerPathIn(dir));
    const unreadable = restore(dir);
    assert.equal(unreadable.code, 1);
    assert.deepEqual(unreadable.lines.length, 1, unreadable.lines.join("\n"));
    assert.match(unreadable.lines[0] ?? "", /the takeover ledger \S+ is not a regular file.*nothing was restored/);
  }));

test("no ledger at all is nothing to restore (exit 0)", () =>
  withDir((dir) => {
    const none = restore(dir);
    assert.equal(none.code, 0);
    assert.match(none.lines.join("\n"), /nothing to restore/);
  }));

test("a live process named like oomwarden with the ledger's ownerPid does not stop restore: the lock is free, so nobody owns the cgroups", { skip: NEEDS_MEMORY_HIERARCHY }, async () => {
  let lookalike: ChildProcess | null = null;
  await withDir(async (dir) => {
    try {
      lookalike = spawn("bash", ["-c", "exec -a oomwarden-tail sleep 30"], { stdio: "ignore" });
      const pid = lookalike.pid as number;
      await new Promise((r) => setTimeout(r, 100));
      assert.match(readFileSync(`/proc/${pid}/cmdline`, "utf8"), /oomwarden/, "it looks like oomwarden");
      writeLedger(dir, pid);
      const run = restore(dir);
      assert.equal(run.code, 0, run.lines.join("\n"));
      assert.deepEqual(run.lines, [`cgroup path ${GONE_CGROUP} does not exist: removed, nothing to restore; forgotten`]);
      assert.deepEqual(JSON.parse(readFileSync(ledgerPathIn(dir), "utf8")).cgroups, {});
    } finally {
      (lookalike as ChildProcess | null)?.kill("SIGKILL");
    }
  });
});

test("while a daemon holds the state directory, restore refuses naming it and changes nothing; after its death it proceeds", { skip: NEEDS_MEMORY_HIERARCHY }, async () => {
  await withDir(async (dir) => {
    writeLedger(dir, 1);
    const holder = await holdStateDirElsewhere(dir);
    try {
      const refused = restore(dir);
      assert.equal(refused.code, 1);
      assert.deepEqual(refused.lines, [
        `oomwarden run (pid ${holder.pid}) holds the state directory ${dir}: it gives back itself what the ledger there lists (at start what it does not manage, the rest when it stops); stop it instead`,
      ]);
      assert.ok(GONE_CGROUP in JSON.parse(readFileSync(ledgerPathIn(dir), "utf8")).cgroups, "the ledger is untouched");
      const gone = new Promise((resolve) => holder.once("exit", resolve));
      holder.kill("SIGKILL");
      await gone;
      const after = restore(dir);
      assert.equal(after.code, 0, after.lines.join("\n"));
      assert.match(after.lines.join("\n"), /forgotten/);
    } finally {
      holder.kill("SIGKILL");
    }
  });
});

test("restore holds the state directory while it works: a daemon starting meanwhile is refused", () =>
  withDir((dir) => {
    writeLedger(dir, 1);
    let seenByDaemon: string | null = null;
    const lines: string[] = [];
    const each = (line: string): void => {
      lines.push(line);
      if (seenByDaemon === null) {
        const claim = claimStateDir(dir, "run");
        seenByDaemon = claim.kind;
        if (claim.kind === "owned") claim.release();
      }
    };
    runRestore({ stateDir: dir }, { out: each, err: each });
    assert.equal(seenByDaemon, "held", lines.join("\n"));
    const free = claimStateDir(dir, "run");
    assert.equal(free.kind, "owned", "released when restore is done");
    if (free.kind === "owned") free.release();
  }));

test("a listed cgroup whose path lies outside every mounted memory hierarchy is kept, not forgotten: the hierarchy may just not be mounted here", () =>
  withDir((dir) => {
    const unmounted = "/nonexistent/memory/job";
    writeFileSync(ledgerPathIn(dir), JSON.stringify({ version: 1, cgroups: { [unmounted]: false } }));
    const run = restore(dir);
    assert.equal(run.code, 1);
    assert.equal(run.lines.length, 1, run.lines.join("\n"));
    assert.match(run.lines[0] ?? "", new RegExp(`^cgroup path ${unmounted} does not exist here, and lies outside every mounted memory cgroup hierarchy \\(.*\\); not restored, still listed$`));
    assert.deepEqual(JSON.parse(readFileSync(ledgerPathIn(dir), "utf8")).cgroups, { [unmounted]: false }, "the original is kept");
  }));

test("a restore held up by another restore says so (not that a daemon manages the cgroups), on the error output", async () => {
  await withDir(async (dir) => {
    writeLedger(dir, 1);
    const holder = await holdStateDirElsewhere(dir, "restore");
    try {
      const out: string[] = [];
      const err: string[] = [];
      const code = runRestore({ stateDir: dir }, { out: (l) => out.push(l), err: (l) => err.push(l) });
      assert.equal(code, 1);
      assert.deepEqual(out, []);
      assert.deepEqual(err, [`oomwarden restore (pid ${holder.pid}) is restoring from the state directory ${dir} now; nothing was done here`]);
    } finally {
      holder.kill("SIGKILL");
    }
  });
});

test("what was done goes to the normal output, what was not to the error output", { skip: NEEDS_MEMORY_HIERARCHY }, () =>
  withDir((dir) => {
    const unmounted = "/nonexistent/memory/job";
    writeFileSync(ledgerPathIn(dir), JSON.stringify({ version: 1, cgroups: { [GONE_CGROUP]: false, [unmounted]: false } }));
    const out: string[] = [];
    const err: string[] = [];
    const code = runRestore({ stateDir: dir }, { out: (l) => out.push(l), err: (l) => err.push(l) });
    assert.equal(code, 1);
    assert.deepEqual(out, [`cgroup path ${GONE_CGROUP} does not exist: removed, nothing to restore; forgotten`]);
    assert.equal(err.length, 1);
    assert.match(err[0] ?? "", /^cgroup path \/nonexistent\/memory\/job does not exist here, .*; not restored, still listed$/);
  }));

test("a state directory others can write is refused before its ledger is read: a planted ledger makes restore write nothing", () =>
  withDir((dir) => {
    chmodSync(dir, 0o1777);
    writeLedger(dir, 1);
    const run = restore(dir);
    assert.equal(run.code, 1);
    assert.deepEqual(run.lines, [`${dir} can be written by every user (mode 1777): the state directory must belong to uid ${process.getuid?.()} and be writable by it alone; nothing was restored`]);
    assert.ok(GONE_CGROUP in JSON.parse(readFileSync(ledgerPathIn(dir), "utf8")).cgroups, "not even forgotten");
  }));
