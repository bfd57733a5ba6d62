import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fail, type Result } from "../../src/core/result.js";
import type { CgroupRef } from "../../src/engine/host.js";
import { listCgroupPids, readCgroupSample } from "../../src/host/linux/cgroup-reader.js";
import { nodeLinuxFs, type LinuxFs } from "../../src/host/linux/linux-fs.js";
import { buildCgroupTree, v1MemcgFiles, v2MemcgFiles, v2RootFiles, type CgroupTree } from "../fixtures/cgroup-tree.js";
import { value, errorOf } from "../support/result-assert.js";

const MiB = 1 << 20;

describe("readCgroupSample v1", () => {
  let tree: CgroupTree;
  let job: CgroupRef;
  let root: CgroupRef;
  before(() => {
    tree = buildCgroupTree({
      v1Memory: {
        files: v1MemcgFiles({ usageBytes: 101568512 }),
        children: { job: { files: v1MemcgFiles({ usageBytes: 64 * MiB, limitBytes: 64 * MiB, oomKillDisable: true, underOom: true, oomKill: 2 }) } },
      },
    });
    job = { path: tree.path(tree.v1Memory, "job"), version: 1 };
    root = { path: tree.path(tree.v1Memory), version: 1 };
  });
  after(() => tree.cleanup());

  it("reads usage, limit and oom_control", () => {
    assert.deepEqual(value(readCgroupSample(job)), {
      path: job.path,
      version: 1,
      usageBytes: 64 * MiB,
      limitBytes: 64 * MiB,
      highBytes: null,
      underOom: true,
      oomKillDisabled: true,
      events: { low: 0, high: 0, max: 0, oom: 0, oomKill: 2, oomGroupKill: 0 },
      oomGroup: false,
    });
  });

  it("the root's sentinel limit is null", () => {
    const sample = value(readCgroupSample(root));
    assert.equal(sample.limitBytes, null);
    assert.equal(sample.usageBytes, 101568512);
  });

  it("sees a change made between reads (no caching)", () => {
    tree.writeControl(job.path, "memory.oom_control", "oom_kill_disable 1\nunder_oom 0\noom_kill 3\n");
    const sample = value(readCgroupSample(job));
    assert.equal(sample.underOom, false);
    assert.equal(sample.events.oomKill, 3);
  });

  it("a garbled control file is a PARSE_ERROR naming the file", () => {
    const child = tree.addCgroup(root.path, "garbled", { files: { ...v1MemcgFiles(), "memory.usage_in_bytes": "lots\n" } });
    const error = errorOf(readCgroupSample({ path: child, version: 1 }));
    assert.equal(error.code, "PARSE_ERROR");
    assert.ok(error.message.includes(join(child, "memory.usage_in_bytes")), error.message);
  });

  it("a missing control file in an existing cgroup is NOT_MEMCG, not ENOENT", () => {
    const child = tree.addCgroup(root.path, "partial", { files: { "memory.oom_control": "oom_kill_disable 0\nunder_oom 0\n" } });
    const error = errorOf(readCgroupSample({ path: child, version: 1 }));
    assert.equal(error.code, "NOT_MEMCG");
    assert.match(error.message, /memory\.usage_in_bytes/);
  });

  it("a cgroup that vanished is ENOENT naming it, not an exception", () => {
    const child = tree.addCgroup(root.path, "short-lived", { files: v1MemcgFiles() });
    tree.removeCgroup(child);
    const error = errorOf(readCgroupSample({ path: child, version: 1 }));
    assert.equal(error.code, "ENOENT");
    assert.ok(error.message.includes(child));
  });
});

describe("readCgroupSample v2", () => {
  let tree: CgroupTree;
  let app: CgroupRef;
  before(() => {
    tree = buildCgroupTree({
      v2: {
        files: v2RootFiles(),
        children: {
          app: { files: v2MemcgFiles({ currentBytes: 100 * MiB, maxBytes: 128 * MiB, oomGroup: true, events: { max: 7, oom: 1 } }) },
          open: { files: v2MemcgFiles({ currentBytes: 5 }) },
        },
      },
    });
    app = { path: tree.path(tree.v2, "app"), version: 2 };
  });
  after(() => tree.cleanup());

  it("reads memory.current, memory.max, memory.events and memory.oom.group", () => {
    assert.deepEqual(value(readCgroupSample(app)), {
      path: app.path,
      version: 2,
      usageBytes: 100 * MiB,
      limitBytes: 128 * MiB,
      highBytes: null,
      underOom: false,
      oomKillDisabled: false,
      events: { low: 0, high: 0, max: 7, oom: 1, oomKill: 0, oomGroupKill: 0 },
      oomGroup: true,
    });
  });

  it('"max" is no limit', () => {
    assert.equal(value(readCgroupSample({ path: tree.path(tree.v2, "open"), version: 2 })).limitBytes, null);
  });

  it("follows memory.events as the kernel bumps it", () => {
    tree.bumpMemoryEvents(app.path, "oom_kill");
    tree.bumpMemoryEvents(app.path, "oom", 2);
    const events = value(readCgroupSample(app)).events;
    assert.equal(events.oomKill, 1);
    assert.equal(events.oom, 3);
  });

  it("a kernel without memory.oom.group reads as no group kill", () => {
    const files = v2MemcgFiles({ oomGroup: true });
    delete files["memory.oom.group"];
    const old = tree.addCgroup(tree.path(tree.v2), "old-kernel", { files });
    assert.equal(value(readCgroupSample({ path: old, version: 2 })).oomGroup, false);
  });

  it("the v2 root (no memory.current/max) is NOT_MEMCG", () => {
    const error = errorOf(readCgroupSample({ path: tree.path(tree.v2), version: 2 }));
    assert.equal(error.code, "NOT_MEMCG");
  });

  it("a vanished v2 cgroup is ENOENT", () => {
    const child = tree.addCgroup(tree.path(tree.v2), "gone", { files: v2MemcgFiles() });
    tree.removeCgroup(child);
    assert.equal(errorOf(readCgroupSample({ path: child, version: 2 })).code, "ENOENT");
  });
});

describe("listCgroupPids", () => {
  let tree: CgroupTree;
  let top: CgroupRef;
  before(() => {
    tree = buildCgroupTree({
      v1Memory: {
        files: v1MemcgFiles({ pids: [1] }),
        children: {
          top: {
            files: v1MemcgFiles({ pids: [300, 20] }),
            children: {
              a: { files: v1MemcgFiles({ pids: [4000, 20] }), children: { deep: { files: v1MemcgFiles({ pids: [5] }) } } },
              b: { files: v1MemcgFiles({ pids: [] }) },
            },
          },
        },
      },
    });
    top = { path: tree.path(tree.v1Memory, "top"), version: 1 };
  });
  after(() => tree.cleanup());

  it("walks descendants, deduplicates and sorts numerically, and stays inside the subtree", () => {
    assert.deepEqual(value(listCgroupPids(top)), [5, 20, 300, 4000]);
  });

  it("an empty leaf has no pids", () => {
    assert.deepEqual(value(listCgroupPids({ path: join(top.path, "b"), version: 1 })), []);
  });

  it("the cgroup itself vanished: ENOENT", () => {
    const gone = tree.addCgroup(top.path, "gone", { files: v1MemcgFiles({ pids: [9] }) });
    tree.removeCgroup(gone);
    const error = errorOf(listCgroupPids({ path: gone, version: 1 }));
    assert.equal(error.code, "ENOENT");
    assert.ok(error.message.includes(gone));
  });

  it("a descendant removed during the walk is skipped", () => {
    const doomed = tree.addCgroup(top.path, "doomed", { files: v1MemcgFiles({ pids: [777] }) });
    // rmdir races the walk: the child is listed, then gone before its cgroup.procs is read.
    const racingFs: LinuxFs = {
      ...nodeLinuxFs,
      listSubdirectories(path) {
        const names = nodeLinuxFs.listSubdirectories(path);
        if (path === top.path) tree.removeCgroup(doomed);
        return names;
      },
    };
    assert.deepEqual(value(listCgroupPids(top, racingFs)), [5, 20, 300, 4000]);
  });

  it("a threaded v2 descendant (EOPNOTSUPP on cgroup.procs) is skipped; other errors are reported", () => {
    const threaded = join(top.path, "a", "deep");
    const fsWith = (code: string): LinuxFs => ({
      ...nodeLinuxFs,
      readText(path): Result<string> {
        if (path === join(threaded, "cgroup.procs")) return fail(code, `cannot read ${path}`);
        return nodeLinuxFs.readText(path);
      },
    });
    assert.deepEqual(value(listCgroupPids(top, fsWith("EOPNOTSUPP"))), [20, 300, 4000]);
    const error = errorOf(listCgroupPids(top, fsWith("EACCES")));
    assert.equal(error.code, "EACCES");
    assert.ok(error.message.includes(threaded));
  });
});
