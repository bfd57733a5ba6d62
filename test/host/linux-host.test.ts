// LinuxHost on fixture trees: what it says it can do, what it would offer to manage, and the
// group kill without cgroup.kill (kernels before 5.14), on real processes listed in a fixture cgroup.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";
import test from "node:test";
import { discoverCgroupMounts } from "../../src/host/linux/cgroup-mounts.js";
import { createLinuxHost } from "../../src/host/linux/linux-host.js";
import { nativeStatus } from "../../src/host/linux/native.js";
import { buildCgroupTree, v1FreezerFiles, v1MemcgFiles, v2MemcgFiles, v2RootFiles } from "../fixtures/cgroup-tree.js";
import { isAlive, waitFor } from "../real-kernel/support.js";
import { value } from "../support/result-assert.js";

const MIB = 1024 * 1024;

test("without any memory hierarchy the host says nothing can be managed", () => {
  const tree = buildCgroupTree({ v1Freezer: { files: v1FreezerFiles() } });
  try {
    const host = createLinuxHost({ mounts: value(discoverCgroupMounts(tree.mountinfo)) });
    const { notes, canManage } = host.capabilities();
    assert.equal(canManage, false);
    assert.ok(notes.some((n) => /no memory cgroup hierarchy is mounted: nothing can be managed/.test(n)), notes.join("\n"));
    assert.deepEqual(host.listMemoryCgroups(), []);
  } finally {
    tree.cleanup();
  }
});

test("a v2 hierarchy without the memory controller is reported as such", () => {
  const tree = buildCgroupTree({ v2: { files: v2RootFiles("cpu io pids") } });
  try {
    const host = createLinuxHost({ mounts: value(discoverCgroupMounts(tree.mountinfo)) });
    assert.ok(host.capabilities().notes.some((n) => /cgroup v2 at .* without the memory controller/.test(n)));
  } finally {
    tree.cleanup();
  }
});

test("the cgroups offered for management are the memory cgroups below the roots, with usage and limit", () => {
  const tree = buildCgroupTree({
    v1Memory: {
      files: v1MemcgFiles(),
      children: {
        build: { files: v1MemcgFiles({ usageBytes: 10 * MIB, limitBytes: 64 * MIB }), children: { step: { files: v1MemcgFiles({ usageBytes: MIB }) } } },
        batch: { files: v1MemcgFiles({ usageBytes: 2 * MIB }) },
      },
    },
    v2: { files: v2RootFiles(), children: { web: { files: v2MemcgFiles({ currentBytes: 3 * MIB, maxBytes: 128 * MIB }) } } },
  });
  try {
    const host = createLinuxHost({ mounts: value(discoverCgroupMounts(tree.mountinfo)) });
    const listed = host.listMemoryCgroups().map((c) => [c.path, c.version, c.usageBytes, c.limitBytes]);
    assert.deepEqual(listed, [
      [tree.path(tree.v1Memory, "batch"), 1, 2 * MIB, null],
      [tree.path(tree.v1Memory, "build"), 1, 10 * MIB, 64 * MIB],
      [tree.path(tree.v1Memory, "build", "step"), 1, MIB, null],
      [tree.path(tree.v2, "web"), 2, 3 * MIB, 128 * MIB],
    ]);
  } finally {
    tree.cleanup();
  }
});

const native = nativeStatus();
test("a group kill without cgroup.kill signals every process through its own pidfd", { skip: native.ok ? false : "native addon unavailable" }, async () => {
  const a = spawn("sleep", ["600"], { stdio: "ignore" });
  const b = spawn("sleep", ["600"], { stdio: "ignore" });
  const pids = [a.pid ?? -1, b.pid ?? -1].sort((x, y) => x - y);
  const tree = buildCgroupTree({ v2: { files: v2RootFiles(), children: { job: { files: v2MemcgFiles({ oomGroup: true, pids }) } } } });
  try {
    const path = tree.path(tree.v2, "job");
    rmSync(join(path, "cgroup.kill"));
    const host = createLinuxHost({ mounts: value(discoverCgroupMounts(tree.mountinfo)) });
    const ref = value(host.resolveCgroup(path));
    assert.deepEqual(value(host.killCgroup(ref)).killedPids, pids);
    await waitFor("both processes to die", () => pids.every((pid) => !isAlive(pid)));
  } finally {
    for (const p of [a, b]) if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
    tree.cleanup();
  }
});
