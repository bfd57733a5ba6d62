// "Does not exist" (ENOENT) must mean removed: `oomwarden restore` forgets an original on it. So a
// missing path is ENOENT only inside a mounted memory hierarchy; outside (the hierarchy not
// mounted in this namespace) it is NOT_MOUNTED, and without a readable mount table nothing is sure.

import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { discoverCgroupMounts, validateCgroupPath, type CgroupMounts } from "../../src/host/linux/cgroup-mounts.js";
import { LinuxHost } from "../../src/host/linux/linux-host.js";
import { buildCgroupTree, v1FreezerFiles, v1MemcgFiles, v2RootFiles, type CgroupTree } from "../fixtures/cgroup-tree.js";
import { value } from "../support/result-assert.js";

describe("a cgroup path that does not resolve", () => {
  let tree: CgroupTree;
  let mounts: CgroupMounts;
  before(() => {
    tree = buildCgroupTree({ v1Memory: { files: v1MemcgFiles() }, v1Freezer: { files: v1FreezerFiles() } });
    mounts = value(discoverCgroupMounts(tree.mountinfo));
  });
  after(() => tree.cleanup());

  it("is ENOENT inside the mounted memory hierarchy, `..` resolved first", () => {
    const gone = tree.path(tree.v1Memory, "job");
    const result = validateCgroupPath(gone, mounts);
    assert.deepEqual(result, { ok: false, error: { code: "ENOENT", message: `cgroup path ${gone} does not exist` } });
    const escaping = validateCgroupPath(`${tree.path(tree.v1Memory)}/../elsewhere/job`, mounts);
    assert.ok(!escaping.ok && escaping.error.code === "NOT_MOUNTED", JSON.stringify(escaping));
  });

  it("is NOT_MOUNTED in another hierarchy or outside all of them, naming the memory mounts there are", () => {
    for (const path of [tree.path(tree.v1Freezer, "job"), join(tree.outsideDirectory, "memory", "job")]) {
      const result = validateCgroupPath(path, mounts);
      assert.ok(!result.ok && result.error.code === "NOT_MOUNTED", JSON.stringify(result));
      assert.equal(
        result.ok ? "" : result.error.message,
        `cgroup path ${path} does not exist here, and lies outside every mounted memory cgroup hierarchy (memory cgroup mounts: cgroup v1 hierarchy (memory) mounted at ${tree.v1Memory})`,
      );
    }
    const none = validateCgroupPath(tree.path(tree.v1Memory, "job"), { v1Memory: null, v2: null, v1Freezer: null, all: [] });
    assert.ok(!none.ok && none.error.code === "NOT_MOUNTED" && none.error.message.endsWith("(no memory cgroup hierarchy is mounted)"), JSON.stringify(none));
  });

  it("cannot be judged at all by a host whose mount table could not be read", () => {
    const procRoot = mkdtempSync(join(tmpdir(), "oomwarden-no-mountinfo-"));
    try {
      const host = new LinuxHost({ procRoot });
      const result = host.resolveCgroup(tree.path(tree.v1Memory, "job"));
      assert.ok(!result.ok && result.error.code === "MOUNTS_UNKNOWN", JSON.stringify(result));
      assert.match(result.ok ? "" : result.error.message, new RegExp(`^cgroup path \\S+/job cannot be checked: cannot read ${procRoot}/self/mountinfo: ENOENT`));
    } finally {
      rmSync(procRoot, { recursive: true, force: true });
    }
  });
});

describe("a missing path under cgroup v2", () => {
  it("is ENOENT where v2 carries the memory controller, NOT_MOUNTED where it does not (a hybrid host)", () => {
    for (const [controllers, code] of [["cpu io memory pids", "ENOENT"], ["cpu io pids", "NOT_MOUNTED"]] as const) {
      const tree = buildCgroupTree({ v2: { files: v2RootFiles(controllers) } });
      try {
        const result = validateCgroupPath(tree.path(tree.v2, "app"), value(discoverCgroupMounts(tree.mountinfo)));
        assert.ok(!result.ok && result.error.code === code, `${controllers}: ${JSON.stringify(result)}`);
      } finally {
        tree.cleanup();
      }
    }
  });
});
