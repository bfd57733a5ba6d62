// One owner per state directory: the flock on the directory itself decides, never the pid written
// in owner.lock; a killed owner leaves the directory free; the directory and its owner record are
// this user's alone.

import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test from "node:test";
import { claimStateDir } from "../../src/daemon/state-dir-lock.js";
import { ownerPathIn } from "../../src/daemon/paths.js";
import { holdStateDirElsewhere } from "./state-dir-holder.js";

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "oomwarden-statedir-"));
}

test("the owner writes its pid and command; a second claim, even in the same process, is refused naming it; released, it is free", () => {
  const dir = tempDir();
  try {
    const first = claimStateDir(dir, "run");
    assert.equal(first.kind, "owned");
    const written = JSON.parse(readFileSync(ownerPathIn(dir), "utf8")) as { pid: number; command: string; startTimeTicks: number };
    assert.equal(written.pid, process.pid);
    assert.equal(written.command, "run");
    assert.ok(Number.isInteger(written.startTimeTicks));
    const second = claimStateDir(dir, "restore");
    assert.deepEqual(second, { kind: "held", holder: `oomwarden run (pid ${process.pid})`, command: "run" });
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
    writeFileSync(ownerPathIn(dir), JSON.stringify({ pid: 1, startTimeTicks: 1, command: "run" }));
    const claim = claimStateDir(dir, "restore");
    assert.equal(claim.kind, "owned");
    if (claim.kind === "owned") claim.release();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a state directory that cannot exist cannot be locked by anyone, and says why", () => {
  const claim = claimStateDir("/proc/oomwarden-state", "run");
  assert.equal(claim.kind, "absent");
  assert.match(claim.kind === "absent" ? claim.reason : "", /^ENOENT: no such file or directory$/, "the caller names the path, once");
});

test("the owner record is the owner's alone (0600), a planted symbolic link is refused and not followed, and restore creates no state directory", () => {
  const dir = tempDir();
  try {
    const claim = claimStateDir(dir, "run");
    assert.equal(claim.kind, "owned");
    assert.equal(statSync(ownerPathIn(dir)).mode & 0o777, 0o600);
    if (claim.kind === "owned") claim.release();

    rmSync(ownerPathIn(dir));
    const target = `${dir}-elsewhere`;
    symlinkSync(target, ownerPathIn(dir));
    const planted = claimStateDir(dir, "run");
    assert.ok(planted.kind === "failed" && planted.message === `${ownerPathIn(dir)} is a symbolic link: the state files must be plain files of uid ${process.getuid?.()}, writable by it alone`, JSON.stringify(planted));
    assert.equal(existsSync(target), false, "the link's target was not created");
    assert.equal(claimStateDir(dir, "run").kind, "failed", "and the refusal released the directory's lock again: it is refused for the same reason, not held");

    const missing = join(dir, "not-yet");
    const restoring = claimStateDir(missing, "restore");
    assert.equal(restoring.kind, "absent");
    assert.equal(existsSync(missing), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("removing owner.lock while the owner runs does not free the directory: the lock is on the directory itself", () => {
  const dir = tempDir();
  try {
    const first = claimStateDir(dir, "run");
    assert.equal(first.kind, "owned");
    rmSync(ownerPathIn(dir)); // a clean-up of the directory while the daemon runs
    const second = claimStateDir(dir, "run");
    assert.equal(second.kind, "held", JSON.stringify(second));
    if (first.kind === "owned") {
      assert.equal(first.stillOwned(), null);
      first.release();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("an owner whose directory was removed and created again at the same path knows it no longer owns the path", () => {
  const dir = tempDir();
  try {
    const claim = claimStateDir(dir, "run");
    assert.ok(claim.kind === "owned");
    rmSync(dir, { recursive: true });
    const again = claimStateDir(dir, "run");
    assert.equal(again.kind, "owned", "a new directory, a new lock");
    assert.match(claim.stillOwned() ?? "", new RegExp(`^the state directory ${dir} is no longer the one this process locked`));
    claim.release();
    if (again.kind === "owned") again.release();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a state directory another user owns, or that its group or every user can write, is refused in one line naming it", { skip: process.getuid?.() !== 0 ? "needs root (chown)" : false }, () => {
  const dir = tempDir();
  try {
    chmodSync(dir, 0o1777); // a directory under /tmp, or one a user created for us
    const open = claimStateDir(dir, "run");
    assert.deepEqual(open, { kind: "failed", message: `${dir} can be written by every user (mode 1777): the state directory must belong to uid 0 and be writable by it alone` });
    chmodSync(dir, 0o770);
    const group = claimStateDir(dir, "restore");
    assert.ok(group.kind === "failed" && group.message.startsWith(`${dir} can be written by its group (mode 0770)`), JSON.stringify(group));
    chmodSync(dir, 0o700);
    chownSync(dir, 65534, 65534);
    const foreign = claimStateDir(dir, "run");
    assert.ok(foreign.kind === "failed" && foreign.message.startsWith(`${dir} belongs to uid 65534, not to uid 0 that runs oomwarden`), JSON.stringify(foreign));
    assert.equal(existsSync(ownerPathIn(dir)), false, "nothing was written there");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the state directory the daemon creates is 0700", () => {
  const parent = tempDir();
  try {
    const dir = join(parent, "new", "state");
    const claim = claimStateDir(dir, "run");
    assert.equal(claim.kind, "owned");
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    if (claim.kind === "owned") claim.release();
  } finally {
    rmSync(parent, { recursive: true, force: true });
  }
});
