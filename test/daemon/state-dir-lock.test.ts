// One owner per state directory: the flock on owner.lock decides, never the pid written in it;
// a killed owner leaves the directory free.

import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test from "node:test";
import { claimStateDir } from "../../src/daemon/state-dir-lock.js";
import { lockPathIn } from "../../src/daemon/paths.js";
import { holdStateDirElsewhere } from "./state-dir-holder.js";

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "oomwarden-statedir-"));
}

test("the owner writes its pid and command; a second claim, even in the same process, is refused naming it; released, it is free", () => {
  const dir = tempDir();
  try {
    const first = claimStateDir(dir, "run");
    assert.equal(first.kind, "owned");
    const written = JSON.parse(readFileSync(lockPathIn(dir), "utf8")) as { pid: number; command: string; startTimeTicks: number };
    assert.equal(written.pid, process.pid);
    assert.equal(written.command, "run");
    assert.ok(Number.isInteger(written.startTimeTicks));
    const second = claimStateDir(dir, "restore");
    assert.deepEqual(second, { kind: "held", lockPath: lockPathIn(dir), holder: `oomwarden run (pid ${process.pid})` });
    if (first.kind === "owned") first.release();
    const third = claimStateDir(dir, "restore");
    assert.equal(third.kind, "owned");
    if (third.kind === "owned") third.release();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("another process's claim is refused naming its pid; after its SIGKILL the directory is free (no stale lock)", async () => {
  const dir = tempDir();
  let holder: (ChildProcess & { pid: number }) | null = null;
  try {
    holder = await holdStateDirElsewhere(dir);
    const refused = claimStateDir(dir, "run");
    assert.ok(refused.kind === "held" && refused.holder === `oomwarden run (pid ${holder.pid})`, JSON.stringify(refused));
    const gone = new Promise((resolve) => holder?.once("exit", resolve));
    holder.kill("SIGKILL");
    await gone;
    const after = claimStateDir(dir, "run");
    assert.equal(after.kind, "owned", "the kernel dropped the dead holder's lock");
    if (after.kind === "owned") after.release();
  } finally {
    holder?.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the pid in the lock file decides nothing: a live pid written there does not hold the directory", () => {
  const dir = tempDir();
  try {
    // pid 1 is alive, but holds no lock on this file.
    writeFileSync(lockPathIn(dir), JSON.stringify({ pid: 1, startTimeTicks: 1, command: "run" }));
    const claim = claimStateDir(dir, "restore");
    assert.equal(claim.kind, "owned");
    if (claim.kind === "owned") claim.release();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a state directory that cannot exist cannot be locked by anyone, and says why", () => {
  const claim = claimStateDir("/proc/oomwarden-state", "run");
  assert.equal(claim.kind, "unlockable");
  assert.match(claim.kind === "unlockable" ? claim.reason : "", /\/proc\/oomwarden-state/);
});

test("the lock file is the owner's alone (0600), a planted symbolic link is not followed, and restore creates no state directory", () => {
  const dir = tempDir();
  try {
    const claim = claimStateDir(dir, "run");
    assert.equal(claim.kind, "owned");
    assert.equal(statSync(lockPathIn(dir)).mode & 0o777, 0o600, "nobody else can open it, so nobody else can hold it");
    if (claim.kind === "owned") claim.release();

    rmSync(lockPathIn(dir));
    const target = `${dir}-elsewhere`;
    symlinkSync(target, lockPathIn(dir));
    const planted = claimStateDir(dir, "run");
    assert.equal(planted.kind, "failed", JSON.stringify(planted));
    assert.equal(existsSync(target), false, "the link's target was not created");

    const missing = join(dir, "not-yet");
    const restoring = claimStateDir(missing, "restore");
    assert.equal(restoring.kind, "unlockable");
    assert.equal(existsSync(missing), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
