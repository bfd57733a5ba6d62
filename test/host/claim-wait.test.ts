// A cgroup claim held for a moment by someone else (`oomwarden restore` writing the cgroup's
// settings back) is waited out; one held for longer is refused, and the refusal says it waited.

import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { performance } from "node:perf_hooks";
import test from "node:test";
import { discoverCgroupMounts } from "../../src/host/linux/cgroup-mounts.js";
import { lockHolderPid } from "../../src/host/linux/exclusive-lock.js";
import { createLinuxHost } from "../../src/host/linux/linux-host.js";
import { buildCgroupTree, v1MemcgFiles } from "../fixtures/cgroup-tree.js";

/** flock(1) holding the directory for `holdMs`; resolves once /proc/locks shows it held. */
async function holdFor(path: string, holdMs: number): Promise<ChildProcess> {
  const child = spawn("flock", ["--exclusive", path, "sleep", String(holdMs / 1000)], { stdio: "ignore" });
  const fd = openSync(path, "r");
  try {
    const start = Date.now();
    while (lockHolderPid(fd) === null) {
      if (Date.now() - start > 5000) throw new Error("flock(1) did not take the lock");
      await new Promise((r) => setTimeout(r, 2));
    }
  } finally {
    closeSync(fd);
  }
  return child;
}

test("a claim waits out a holder that lets go within the wait, and is refused, saying so, when the holder keeps it", { timeout: 20_000 }, async (t) => {
  const probe = spawn("flock", ["--version"], { stdio: "ignore" });
  const usable = await new Promise<boolean>((resolve) => {
    probe.once("error", () => resolve(false));
    probe.once("exit", (code) => resolve(code === 0));
  });
  if (!usable) {
    t.skip("flock(1) is not installed");
    return;
  }
  const tree = buildCgroupTree({ v1Memory: { files: v1MemcgFiles(), children: { job: { files: v1MemcgFiles() } } } });
  const holders: ChildProcess[] = [];
  try {
    const mounts = discoverCgroupMounts(tree.mountinfo);
    assert.ok(mounts.ok);
    const host = createLinuxHost({ mounts: mounts.value });
    const ref = host.resolveCgroup(tree.path(tree.v1Memory, "job"));
    assert.ok(ref.ok, JSON.stringify(ref));

    holders.push(await holdFor(ref.value.path, 150));
    const started = performance.now();
    const claim = host.claimCgroup(ref.value);
    const waitedMs = performance.now() - started;
    assert.ok(claim.ok, JSON.stringify(claim));
    assert.ok(waitedMs > 20 && waitedMs < 500, `waited ${waitedMs.toFixed(0)} ms for a holder of 150 ms`);
    claim.value();

    const keeper = await holdFor(ref.value.path, 5000);
    holders.push(keeper);
    const refusedAt = performance.now();
    const refused = host.claimCgroup(ref.value);
    const refusedAfterMs = performance.now() - refusedAt;
    assert.ok(!refused.ok && refused.error.code === "CLAIMED", JSON.stringify(refused));
    assert.match(refused.error.message, /^another oomwarden manages \S+\/job \(pid \d+ holds its lock\), still after waiting 500 ms$/);
    assert.ok(refusedAfterMs >= 500 && refusedAfterMs < 2000, `refused after ${refusedAfterMs.toFixed(0)} ms`);
  } finally {
    for (const holder of holders) holder.kill("SIGKILL");
    tree.cleanup();
  }
});
