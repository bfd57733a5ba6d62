import assert from "node:assert/strict";
import { symlinkSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Result } from "../../src/core/result.js";
import type { CgroupRef } from "../../src/engine/host.js";
import { discoverCgroupMounts, validateCgroupPath, type CgroupMounts } from "../../src/host/linux/cgroup-mounts.js";
import { captured } from "../fixtures/captured.js";
import {
  buildCgroupTree,
  v1FreezerFiles,
  v1MemcgFiles,
  v2MemcgFiles,
  v2NonMemcgFiles,
  v2RootFiles,
  type CgroupTree,
} from "../fixtures/cgroup-tree.js";
import { value } from "../support/result-assert.js";

/** Asserts the error code and that the message names the path the user gave. */
function assertError(result: Result<CgroupRef>, code: string, path: string, also?: RegExp): void {
  if (result.ok) assert.fail(`expected ${code}, got ok ${JSON.stringify(result.value)}`);
  assert.equal(result.error.code, code, result.error.message);
  assert.ok(result.error.message.includes(path), `message does not name ${path}: ${result.error.message}`);
  if (also) assert.match(result.error.message, also);
}

describe("discoverCgroupMounts", () => {
  it("finds the hybrid layout of this machine kind", () => {
    const mounts = value(discoverCgroupMounts(captured("proc-self-mountinfo.txt")));
    assert.equal(mounts.v1Memory, "/sys/fs/cgroup/memory");
    assert.equal(mounts.v1Freezer, "/sys/fs/cgroup/freezer");
    assert.equal(mounts.v2, "/sys/fs/cgroup/unified");
    assert.equal(mounts.all.length, 10);
    const systemd = mounts.all.find((mount) => mount.mountPoint === "/sys/fs/cgroup/systemd");
    assert.deepEqual(systemd, { mountPoint: "/sys/fs/cgroup/systemd", version: 1, controllers: [], name: "systemd", root: "/" });
  });

  it("finds a pure v2 host (systemd default) and no v1 memory", () => {
    const text = [
      "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw",
      "35 24 0:30 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot",
    ].join("\n");
    const mounts = value(discoverCgroupMounts(text));
    assert.equal(mounts.v2, "/sys/fs/cgroup");
    assert.equal(mounts.v1Memory, null);
    assert.equal(mounts.v1Freezer, null);
  });

  it("sees co-mounted v1 controllers and the options that are not controllers", () => {
    const text = "40 31 0:37 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:15 - cgroup cgroup rw,xattr,cpu,cpuacct\n";
    const [mount] = value(discoverCgroupMounts(text)).all;
    assert.deepEqual(mount?.controllers, ["cpu", "cpuacct"]);
  });

  it("reports mountinfo it cannot read instead of guessing", () => {
    assert.equal(discoverCgroupMounts("garbage line\n").ok, false);
  });

  it("unescapes a mount point with a space", () => {
    const tree = buildCgroupTree({ v1Memory: { files: v1MemcgFiles() }, mountNames: { v1Memory: "mem ory" } });
    try {
      assert.match(tree.mountinfo, /mem\\040ory/);
      assert.equal(value(discoverCgroupMounts(tree.mountinfo)).v1Memory, tree.v1Memory);
    } finally {
      tree.cleanup();
    }
  });
});

describe("validateCgroupPath on fixture trees", () => {
  let tree: CgroupTree;
  let mounts: CgroupMounts;

  before(() => {
    tree = buildCgroupTree({
      v1Memory: {
        files: v1MemcgFiles(),
        children: {
          job: { files: v1MemcgFiles({ limitBytes: 64 << 20 }), children: { inner: { files: v1MemcgFiles() } } },
          // A directory in the memory hierarchy without memory files (cannot happen in cgroupfs, can in a bad fixture or bind mount).
          bare: { files: { "cgroup.procs": "" } },
        },
      },
      v1Freezer: { files: v1FreezerFiles(), children: { frozen: { files: v1FreezerFiles() } } },
      v2: {
        files: v2RootFiles(),
        children: { app: { files: v2MemcgFiles({ maxBytes: 128 << 20 }) }, nomem: { files: v2NonMemcgFiles() } },
      },
    });
    mounts = value(discoverCgroupMounts(tree.mountinfo));
  });
  after(() => tree.cleanup());

  it("accepts a v1 memory cgroup, its root and a nested one", () => {
    const job = tree.path(tree.v1Memory, "job");
    assert.deepEqual(value(validateCgroupPath(job, mounts)), { path: job, version: 1 });
    assert.deepEqual(value(validateCgroupPath(tree.path(tree.v1Memory), mounts)), { path: tree.v1Memory, version: 1 });
    assert.equal(value(validateCgroupPath(tree.path(tree.v1Memory, "job", "inner"), mounts)).version, 1);
  });

  it("accepts a v2 cgroup with the memory controller", () => {
    const app = tree.path(tree.v2, "app");
    assert.deepEqual(value(validateCgroupPath(app, mounts)), { path: app, version: 2 });
  });

  it("resolves `..` and symlinks and returns the canonical path", () => {
    const job = tree.path(tree.v1Memory, "job");
    assert.equal(value(validateCgroupPath(`${job}/inner/..`, mounts)).path, job);
    const link = join(tree.outsideDirectory, "link-to-job");
    symlinkSync(job, link);
    assert.deepEqual(value(validateCgroupPath(link, mounts)), { path: job, version: 1 });
  });

  it("EINVAL for a relative path", () => {
    assertError(validateCgroupPath("memory/job", mounts), "EINVAL", "memory/job", /absolute/);
  });

  it("ENOENT for a path that does not exist", () => {
    const missing = tree.path(tree.v1Memory, "no-such-group");
    assertError(validateCgroupPath(missing, mounts), "ENOENT", missing, /does not exist/);
  });

  it("ENOTDIR for a control file", () => {
    const file = join(tree.path(tree.v1Memory, "job"), "memory.limit_in_bytes");
    assertError(validateCgroupPath(file, mounts), "ENOTDIR", file, /not a directory/);
  });

  it("OUTSIDE_MOUNTS for a directory outside every cgroup mount, even one holding a memory.max", () => {
    assertError(validateCgroupPath(tree.outsideDirectory, mounts), "OUTSIDE_MOUNTS", tree.outsideDirectory, /outside every cgroup mount/);
    // The tmpfs that holds the mounts (/sys/fs/cgroup on a hybrid host) is not a cgroup either.
    assertError(validateCgroupPath(tree.base, mounts), "OUTSIDE_MOUNTS", tree.base);
  });

  it("OUTSIDE_MOUNTS when `..` climbs out of a mount", () => {
    const escape = `${tree.v1Memory}/../../not-a-cgroup`;
    assertError(validateCgroupPath(escape, mounts), "OUTSIDE_MOUNTS", escape, /resolves to/);
  });

  it("OUTSIDE_MOUNTS, saying so, when no cgroup filesystem is mounted", () => {
    const none: CgroupMounts = { v1Memory: null, v2: null, v1Freezer: null, all: [] };
    const job = tree.path(tree.v1Memory, "job");
    assertError(validateCgroupPath(job, none), "OUTSIDE_MOUNTS", job, /no cgroup filesystem is mounted/);
  });

  it("NOT_MEMCG for a cgroup in the v1 freezer hierarchy, pointing at the memory hierarchy", () => {
    const frozen = tree.path(tree.v1Freezer, "frozen");
    assertError(validateCgroupPath(frozen, mounts), "NOT_MEMCG", frozen, /freezer/);
    assertError(validateCgroupPath(frozen, mounts), "NOT_MEMCG", frozen, new RegExp(`memory hierarchy is mounted at ${tree.v1Memory}`));
  });

  it("NOT_MEMCG when `..` leads from the memory hierarchy into the freezer one", () => {
    const sneaky = `${tree.v1Memory}/../freezer/frozen`;
    assertError(validateCgroupPath(sneaky, mounts), "NOT_MEMCG", sneaky, /freezer/);
  });

  it("NOT_MEMCG for a v1 memory-hierarchy directory without memory.limit_in_bytes", () => {
    const bare = tree.path(tree.v1Memory, "bare");
    assertError(validateCgroupPath(bare, mounts), "NOT_MEMCG", bare, /memory\.limit_in_bytes/);
  });

  it("NOT_MEMCG for the v2 root, which has no memory.max", () => {
    assertError(validateCgroupPath(tree.path(tree.v2), mounts), "NOT_MEMCG", tree.path(tree.v2), /root of the cgroup v2 hierarchy/);
  });

  it("NOT_MEMCG for a v2 child without memory enabled, naming the parent's subtree_control", () => {
    const nomem = tree.path(tree.v2, "nomem");
    assertError(validateCgroupPath(nomem, mounts), "NOT_MEMCG", nomem, new RegExp(`\\+memory.*${tree.v2}/cgroup\\.subtree_control`));
  });
});

describe("validateCgroupPath when memory is bound to v1 (this machine's v2)", () => {
  it("says the controller is bound to v1 and where", () => {
    const tree = buildCgroupTree({
      v1Memory: { files: v1MemcgFiles() },
      v2: { files: v2RootFiles("hugetlb"), children: { app: { files: v2NonMemcgFiles() } } },
    });
    try {
      const mounts = value(discoverCgroupMounts(tree.mountinfo));
      const app = tree.path(tree.v2, "app");
      assertError(validateCgroupPath(app, mounts), "NOT_MEMCG", app, new RegExp(`bound to cgroup v1 at ${tree.v1Memory}`));
    } finally {
      tree.cleanup();
    }
  });

  it("accepts a v1 memory cgroup under a mount point with a space", () => {
    const tree = buildCgroupTree({ v1Memory: { files: v1MemcgFiles(), children: { "a b": { files: v1MemcgFiles() } } }, mountNames: { v1Memory: "mem ory" } });
    try {
      const mounts = value(discoverCgroupMounts(tree.mountinfo));
      const child = tree.path(tree.v1Memory, "a b");
      assert.deepEqual(value(validateCgroupPath(child, mounts)), { path: child, version: 1 });
    } finally {
      tree.cleanup();
    }
  });
});
