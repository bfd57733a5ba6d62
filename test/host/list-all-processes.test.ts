// LinuxHost.listAllProcesses: every numeric /proc entry, kernel threads left out, vanished pids
// skipped; on a fake /proc built from captured text and on this machine's real /proc.

import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { CgroupMounts } from "../../src/host/linux/cgroup-mounts.js";
import { nodeLinuxFs, type LinuxFs } from "../../src/host/linux/linux-fs.js";
import { LinuxHost } from "../../src/host/linux/linux-host.js";
import { captured } from "../fixtures/captured.js";
import { buildProcTree, statLine, statusText } from "../fixtures/proc-tree.js";
import { procLikeFs } from "../support/proc-like-fs.js";
import { errorOf, value } from "../support/result-assert.js";

/** Passed so the host does not read mountinfo from the fake /proc. */
const NO_MOUNTS: CgroupMounts = { v1Memory: null, v2: null, v1Freezer: null, all: [] };
const KTHREADD = 2;

describe("listAllProcesses on a fake /proc", () => {
  it("lists user processes in pid order, without kernel threads or non-pid entries", () => {
    const proc = buildProcTree();
    try {
      proc.addProcess(KTHREADD, { stat: captured("proc-kthreadd-stat.txt"), status: captured("proc-kthreadd-status.txt") });
      for (const pid of [300, 41]) {
        proc.addProcess(pid, { stat: statLine(pid, `user${pid}`, { startTimeTicks: pid * 10 }), status: statusText(pid, `user${pid}`, { rssKiB: 100, anonKiB: 50, swapKiB: 0, pteKiB: 4 }) });
      }
      mkdirSync(join(proc.root, "self"));
      mkdirSync(join(proc.root, "sys"));
      proc.setMeminfo("MemTotal: 1 kB\nMemFree: 1 kB\n");
      const host = new LinuxHost({ procRoot: proc.root, mounts: NO_MOUNTS });
      assert.deepEqual(
        value(host.listAllProcesses()).map((p) => [p.pid, p.comm, p.startTimeTicks, p.rssBytes]),
        [
          [41, "user41", 410, 100 * 1024],
          [300, "user300", 3000, 100 * 1024],
        ],
      );
    } finally {
      proc.cleanup();
    }
  });

  it("leaves a kernel thread out after its stat, its status never read; a later unhurried listing reads its oom_score_adj alone, one under pressure nothing (pid 2 is given once)", () => {
    const proc = buildProcTree();
    try {
      proc.addProcess(KTHREADD, { stat: captured("proc-kthreadd-stat.txt"), status: captured("proc-kthreadd-status.txt") });
      proc.addProcess(41, { stat: statLine(41, "user41", { startTimeTicks: 410 }), status: statusText(41, "user41", { rssKiB: 100, anonKiB: 50, swapKiB: 0, pteKiB: 4 }) });
      const fs = procLikeFs(proc.root);
      const host = new LinuxHost({ procRoot: proc.root, fs, mounts: NO_MOUNTS });
      assert.deepEqual(
        value(host.listAllProcesses()).map((p) => p.pid),
        [41],
      );
      const read = fs.reads();
      // stat, then stat again through its fd once oom_score_adj (what is kept) is open.
      assert.deepEqual(read.filter((path) => path.startsWith(`/${KTHREADD}/`)), [`/${KTHREADD}/stat`, `/${KTHREADD}/stat`]);
      fs.clearLog();
      value(host.listAllProcesses({ refreshStaleDetails: true }));
      assert.deepEqual(fs.reads().filter((path) => path.startsWith(`/${KTHREADD}/`)), [`/${KTHREADD}/oom_score_adj`], "one small read at every unhurried listing after");
      fs.clearLog();
      assert.deepEqual(value(host.listAllProcesses()).map((p) => p.pid), [41]);
      assert.deepEqual(fs.reads().filter((path) => path.startsWith(`/${KTHREADD}/`)), [], "none under pressure");
      assert.ok(read.includes("/41/status") && read.includes("/41/oom_score_adj"), read.join(", "));
    } finally {
      proc.cleanup();
    }
  });

  it("skips a process that exits between the listing and its reads", () => {
    const proc = buildProcTree();
    try {
      for (const pid of [10, 11]) proc.addProcess(pid, { stat: statLine(pid, "p"), status: statusText(pid, "p", { rssKiB: 8, anonKiB: 8, swapKiB: 0, pteKiB: 4 }) });
      const exitingFs: LinuxFs = {
        ...nodeLinuxFs,
        listEntries(path) {
          const listed = nodeLinuxFs.listEntries(path);
          if (path === proc.root) proc.removeProcess(10); // exits right after readdir
          return listed;
        },
      };
      const host = new LinuxHost({ procRoot: proc.root, fs: exitingFs, mounts: NO_MOUNTS });
      assert.deepEqual(
        value(host.listAllProcesses()).map((p) => p.pid),
        [11],
      );
    } finally {
      proc.cleanup();
    }
  });

  it("a procRoot that cannot be listed is a failure naming it", () => {
    const proc = buildProcTree();
    const missing = join(proc.root, "no-such-proc");
    try {
      const error = errorOf(new LinuxHost({ procRoot: missing, mounts: NO_MOUNTS }).listAllProcesses());
      assert.equal(error.code, "ENOENT");
      assert.ok(error.message.includes(missing), error.message);
    } finally {
      proc.cleanup();
    }
  });

  it("a procRoot that is a file is a failure too", () => {
    const proc = buildProcTree();
    try {
      const file = join(proc.root, "plain-file");
      writeFileSync(file, "");
      assert.equal(errorOf(new LinuxHost({ procRoot: file, mounts: NO_MOUNTS }).listAllProcesses()).code, "ENOTDIR");
    } finally {
      proc.cleanup();
    }
  });
});

describe("listAllProcesses on this machine's /proc", () => {
  it("holds this process with its start time, and no kernel thread (kthreadd, pid 2, is absent)", () => {
    const all = value(new LinuxHost().listAllProcesses());
    // Field 22 of /proc/self/stat, read here by counting fields after the last ")" (state is field 3).
    const stat = readFileSync("/proc/self/stat", "utf8");
    const startTimeTicks = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[22 - 3]);
    const self = all.find((p) => p.pid === process.pid);
    assert.ok(self, `pid ${process.pid} missing from ${all.length} processes`);
    assert.equal(self.startTimeTicks, startTimeTicks);
    assert.equal(all.find((p) => p.pid === KTHREADD), undefined);
    assert.deepEqual(
      all.filter((p) => p.isKernelThread).map((p) => p.pid),
      [],
    );
    assert.ok(all.length >= 2, "at least this process and its parent");
  });
});
