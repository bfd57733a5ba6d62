// LinuxHost.setMemoryLimit: on real v1 scratch cgroups (root and the v1 memory controller needed,
// skipped with the reason otherwise), and on a v2 fixture tree (our machines bind memory to v1,
// so there is no real v2 memory.max to write).

import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import test from "node:test";
import { discoverCgroupMounts } from "../../src/host/linux/cgroup-mounts.js";
import { createLinuxHost } from "../../src/host/linux/linux-host.js";
import {
  createScratchMemoryCgroup,
  uniqueCgroupName,
  V1_MEMORY_ROOT,
  v1MemoryUnavailableReason,
  type ScratchCgroup,
} from "../../src/host/linux/scratch-cgroup.js";
import { buildCgroupTree, v1MemcgFiles, v2MemcgFiles, v2RootFiles } from "../fixtures/cgroup-tree.js";
import { errorOf, value } from "../support/result-assert.js";
import { boundedAllocator, isAlive, killQuietly, MIB, rssBytes, startInside, waitFor } from "./support.js";

/** What v1 reads back for "no limit" with 4 KiB pages (PAGE_COUNTER_MAX pages in bytes). */
const V1_UNLIMITED_READBACK = "9223372036854771712";

const skip = v1MemoryUnavailableReason();
if (skip !== null) console.log(`# real-kernel setMemoryLimit tests skipped: ${skip}`);
const v1Options = { skip: skip ?? false, timeout: 30_000 };

async function withScratch(limitBytes: number, body: (cgroup: ScratchCgroup) => Promise<void> | void): Promise<void> {
  const cgroup = createScratchMemoryCgroup("setlimit", limitBytes);
  try {
    await body(cgroup);
  } finally {
    await cgroup.remove();
  }
}

const limitOf = (cgroup: ScratchCgroup): string => cgroup.readFile("memory.limit_in_bytes").trim();

test("v1: 64 MiB reads back as 67108864, no limit as the kernel's sentinel", v1Options, async () => {
  // -1: neither memory nor memory+swap limited, because v1 refuses a memory limit above the memsw one.
  await withScratch(-1, (cgroup) => {
    const host = createLinuxHost();
    const ref = value(host.resolveCgroup(cgroup.path));
    assert.equal(ref.version, 1);
    value(host.setMemoryLimit(ref, 64 * MIB));
    assert.equal(limitOf(cgroup), "67108864");
    value(host.setMemoryLimit(ref, null));
    assert.equal(limitOf(cgroup), V1_UNLIMITED_READBACK);
  });
});

test("v1: a limit above memory.memsw.limit_in_bytes is EINVAL, names path, value and memsw, changes nothing", v1Options, async (t) => {
  if (!existsSync(join(V1_MEMORY_ROOT, "memory.memsw.limit_in_bytes"))) return t.skip("no memory.memsw.* files (swap accounting off)");
  // The scratch helper sets memsw to the same 64 MiB.
  await withScratch(64 * MIB, (cgroup) => {
    const host = createLinuxHost();
    const ref = value(host.resolveCgroup(cgroup.path));
    const error = errorOf(host.setMemoryLimit(ref, 128 * MIB));
    assert.equal(error.code, "EINVAL");
    assert.ok(error.message.includes(join(cgroup.path, "memory.limit_in_bytes")), error.message);
    assert.match(error.message, /"134217728"/);
    assert.match(error.message, /memory\.memsw\.limit_in_bytes, 67108864/);
    assert.equal(limitOf(cgroup), "67108864");
  });
});

test("v1: a limit below what the cgroup holds and cannot reclaim is EBUSY, and the old limit stays", v1Options, async (t) => {
  const swapTotal = /^SwapTotal:\s+(\d+) kB$/m.exec(readFileSync("/proc/meminfo", "utf8"))?.[1];
  if (swapTotal !== "0") return t.skip("swap is on: the kernel could swap the allocator out instead of refusing");
  await withScratch(128 * MIB, async (cgroup) => {
    const host = createLinuxHost();
    const ref = value(host.resolveCgroup(cgroup.path));
    const holder = await startInside(cgroup, boundedAllocator(32));
    try {
      await waitFor("the allocator to hold 32 MiB", () => rssBytes(holder.pid) >= 32 * MIB);
      const error = errorOf(host.setMemoryLimit(ref, 8 * MIB));
      assert.equal(error.code, "EBUSY");
      assert.ok(error.message.includes(join(cgroup.path, "memory.limit_in_bytes")), error.message);
      assert.match(error.message, /"8388608"/);
      assert.equal(limitOf(cgroup), "134217728");
      assert.ok(isAlive(holder.pid), "v1 refuses rather than killing");
    } finally {
      killQuietly(holder.pid);
    }
  });
});

test("v1: a cgroup that does not exist is ENOENT naming the path", v1Options, () => {
  // A fresh unique name: nothing is created, nothing existing is touched.
  const path = join(V1_MEMORY_ROOT, uniqueCgroupName("absent"));
  const error = errorOf(createLinuxHost().setMemoryLimit({ path, version: 1 }, 64 * MIB));
  assert.equal(error.code, "ENOENT");
  assert.ok(error.message.includes(join(path, "memory.limit_in_bytes")), error.message);
  assert.match(error.message, /"67108864"/);
  assert.equal(existsSync(path), false);
});

test("v2 fixture: memory.max gets the byte count, then \"max\"; bad values and removed cgroups are failures", () => {
  const tree = buildCgroupTree({ v2: { files: v2RootFiles(), children: { job: { files: v2MemcgFiles({ maxBytes: null }) } } } });
  try {
    const host = createLinuxHost({ mounts: value(discoverCgroupMounts(tree.mountinfo)) });
    const path = tree.path(tree.v2, "job");
    const ref = value(host.resolveCgroup(path));
    assert.equal(ref.version, 2);
    value(host.setMemoryLimit(ref, 64 * MIB));
    assert.equal(tree.readControl(path, "memory.max"), "67108864");
    value(host.setMemoryLimit(ref, null));
    assert.equal(tree.readControl(path, "memory.max"), "max");

    for (const bad of [-1, 1.5, Number.NaN, 2 ** 60]) {
      const error = errorOf(host.setMemoryLimit(ref, bad));
      assert.equal(error.code, "EINVAL", `${bad}`);
      assert.ok(error.message.includes(join(path, "memory.max")), error.message);
    }
    assert.equal(tree.readControl(path, "memory.max"), "max", "a refused value is not written");

    tree.removeCgroup(path);
    const gone = errorOf(host.setMemoryLimit(ref, 64 * MIB));
    assert.equal(gone.code, "ENOENT");
    assert.ok(gone.message.includes(join(path, "memory.max")), gone.message);
  } finally {
    tree.cleanup();
  }
});

test("v1 fixture: no limit is written as -1", () => {
  const tree = buildCgroupTree({ v1Memory: { files: v1MemcgFiles(), children: { job: { files: v1MemcgFiles({ limitBytes: 64 * MIB }) } } } });
  try {
    const host = createLinuxHost({ mounts: value(discoverCgroupMounts(tree.mountinfo)) });
    const path = tree.path(tree.v1Memory, "job");
    const ref = value(host.resolveCgroup(path));
    value(host.setMemoryLimit(ref, null));
    assert.equal(tree.readControl(path, "memory.limit_in_bytes"), "-1");
    value(host.setMemoryLimit(ref, 32 * MIB));
    assert.equal(tree.readControl(path, "memory.limit_in_bytes"), "33554432");
  } finally {
    tree.cleanup();
  }
});
