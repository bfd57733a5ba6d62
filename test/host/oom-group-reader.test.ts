import assert from "node:assert/strict";
import { existsSync, statSync } from "node:fs";
import { afterEach, beforeEach, describe, it } from "node:test";
import { fail } from "../../src/core/result.js";
import { nodeLinuxFs, type LinuxFs } from "../../src/host/linux/linux-fs.js";
import { ABSENT_RECHECK_MS, MAX_KEPT_OOM_GROUP_FILES, OomGroupReader } from "../../src/host/linux/oom-group-reader.js";
import { buildCgroupTree, v2MemcgFiles, v2NonMemcgFiles, v2RootFiles, type CgroupTree } from "../fixtures/cgroup-tree.js";
import { value } from "../support/result-assert.js";

/** nodeLinuxFs counting opens and reads by path: what a kept fd saves. */
function countingFs(): { fs: LinuxFs; opens: () => number; pathReads: () => number } {
  let opens = 0;
  let pathReads = 0;
  const fs: LinuxFs = {
    ...nodeLinuxFs,
    openFile: (path) => {
      opens++;
      return nodeLinuxFs.openFile(path);
    },
    readText: (path) => {
      pathReads++;
      return nodeLinuxFs.readText(path);
    },
  };
  return { fs, opens: () => opens, pathReads: () => pathReads };
}

/**
 * nodeLinuxFs whose kept fds behave as kernfs's: once their file is removed (or replaced by one of
 * a cgroup made anew), a read through them is ENODEV rather than the old text a plain file keeps.
 */
function kernfsLikeFs(): LinuxFs {
  const opened = new Map<number, { path: string; ino: number }>();
  return {
    ...nodeLinuxFs,
    openFile: (path) => {
      const fd = nodeLinuxFs.openFile(path);
      if (fd.ok) opened.set(fd.value, { path, ino: statSync(path).ino });
      return fd;
    },
    readOpenFile: (fd) => {
      const file = opened.get(fd);
      if (file !== undefined && (!existsSync(file.path) || statSync(file.path).ino !== file.ino)) return fail("ENODEV", "no such device");
      return nodeLinuxFs.readOpenFile(fd);
    },
  };
}

describe("OomGroupReader", () => {
  let tree: CgroupTree;
  let nowMs = 0;
  beforeEach(() => {
    nowMs = 0;
    tree = buildCgroupTree({
      v2: {
        files: v2RootFiles(),
        children: {
          "system.slice": { files: v2MemcgFiles(), children: { "db.service": { files: v2MemcgFiles({ oomGroup: true }) } } },
          "plain.slice": { files: v2NonMemcgFiles() },
        },
      },
    });
  });
  afterEach(() => tree.cleanup());
  const reader = (fs: LinuxFs = nodeLinuxFs): OomGroupReader => new OomGroupReader({ mountPoint: tree.v2 ?? "", root: "/" }, fs, () => nowMs);

  it("says whether each cgroup has memory.oom.group set, the root and a cgroup without the memory controller as not set", () => {
    const r = reader();
    assert.equal(value(r.read("/system.slice/db.service")), true);
    assert.equal(value(r.read("/system.slice")), false);
    assert.equal(value(r.read("/plain.slice")), false);
    assert.equal(value(r.read("/")), false);
  });

  it("keeps each file open: asked again, it reads through the fd and sees the value as it is now", () => {
    const counting = countingFs();
    const r = reader(counting.fs);
    assert.equal(value(r.read("/system.slice/db.service")), true);
    tree.writeControl(tree.path(tree.v2, "system.slice", "db.service"), "memory.oom.group", "0\n");
    assert.equal(value(r.read("/system.slice/db.service")), false);
    assert.equal(counting.opens(), 1);
    assert.equal(counting.pathReads(), 0);
  });

  it("a removed cgroup is ENOENT, and one made anew under the name is read afresh", () => {
    const r = reader(kernfsLikeFs());
    const db = tree.path(tree.v2, "system.slice", "db.service");
    assert.equal(value(r.read("/system.slice/db.service")), true);
    tree.removeCgroup(db);
    const gone = r.read("/system.slice/db.service");
    assert.equal(gone.ok, false);
    assert.equal(!gone.ok && gone.error.code, "ENOENT");
    tree.addCgroup(tree.path(tree.v2, "system.slice"), "db.service", { files: v2MemcgFiles({ oomGroup: false }) });
    assert.equal(value(r.read("/system.slice/db.service")), false);
    assert.equal(r.read("/no/such.scope").ok, false);
  });

  it("an absent file is looked for again only after ABSENT_RECHECK_MS: enabling the controller makes it appear", () => {
    const counting = countingFs();
    const r = reader(counting.fs);
    const plain = tree.path(tree.v2, "plain.slice");
    assert.equal(value(r.read("/plain.slice")), false);
    const looks = counting.opens();
    tree.writeControl(plain, "memory.oom.group", "1\n");
    assert.equal(value(r.read("/plain.slice")), false, "still the answer cached");
    assert.equal(counting.opens(), looks);
    nowMs += ABSENT_RECHECK_MS;
    assert.equal(value(r.read("/plain.slice")), true);
  });

  it("refuses a path that climbs out of the mount", () => {
    const climbed = reader().read("/system.slice/../../etc");
    assert.equal(climbed.ok, false);
    assert.equal(!climbed.ok && climbed.error.code, "ENOENT");
  });

  it("keeps at most MAX_KEPT_OOM_GROUP_FILES open, then starts again", () => {
    const counting = countingFs();
    const r = reader(counting.fs);
    const parent = tree.path(tree.v2, "system.slice");
    for (let i = 0; i < MAX_KEPT_OOM_GROUP_FILES + 1; i++) tree.addCgroup(parent, `u${i}.service`, { files: { "memory.oom.group": "0\n" } });
    for (let i = 0; i < MAX_KEPT_OOM_GROUP_FILES + 1; i++) assert.equal(value(r.read(`/system.slice/u${i}.service`)), false);
    assert.equal(counting.opens(), MAX_KEPT_OOM_GROUP_FILES + 1);
    // u0 was dropped when the cache started again: opened anew.
    assert.equal(value(r.read("/system.slice/u0.service")), false);
    assert.equal(counting.opens(), MAX_KEPT_OOM_GROUP_FILES + 2);
    r.clear();
  });
});
