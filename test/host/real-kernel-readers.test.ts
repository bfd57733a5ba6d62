// The readers against the live kernel, read-only: /proc/self, /proc/meminfo, this machine's
// cgroup mounts and the v1 memory root cgroup. Nothing here writes to any cgroup. Each test
// skips with the reason when the machine lacks what it reads.

import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { describe, it } from "node:test";
import { listCgroupPids, readCgroupSample } from "../../src/host/linux/cgroup-reader.js";
import { readCgroupMounts, validateCgroupPath, type CgroupMounts } from "../../src/host/linux/cgroup-mounts.js";
import { readMachineMemory, readProcCgroups, readProcessSample, readStallEvidence } from "../../src/host/linux/proc-reader.js";
import { value } from "../support/result-assert.js";

const onLinux = process.platform === "linux" && existsSync("/proc/self/stat");

describe("real kernel: procfs", () => {
  it("reads this process", (t) => {
    if (!onLinux) return t.skip("no procfs: not Linux");
    const sample = value(readProcessSample(process.pid));
    assert.equal(sample.pid, process.pid);
    assert.equal(sample.isKernelThread, false);
    assert.ok(sample.rssBytes > 1 << 20, `node's RSS should exceed 1 MiB, got ${sample.rssBytes}`);
    assert.ok(sample.pageTablesBytes > 0);
    assert.ok(sample.startTimeTicks > 0);
    assert.equal(sample.state, "R"); // it is running: it is reading its own stat
    assert.ok(sample.oomScoreAdj >= -1000 && sample.oomScoreAdj <= 1000);
    // The start time names the process: a second read agrees.
    assert.equal(value(readProcessSample(process.pid)).startTimeTicks, sample.startTimeTicks);
  });

  it("reads a kernel thread as a kernel thread", (t) => {
    if (!onLinux) return t.skip("no procfs: not Linux");
    // kthreadd is pid 2 in the initial pid namespace; inside a container pid 2 is something else.
    const sample = readProcessSample(2);
    if (!sample.ok || sample.value.comm !== "kthreadd") return t.skip("pid 2 is not kthreadd here (pid namespace)");
    assert.equal(sample.value.isKernelThread, true);
    assert.equal(sample.value.rssBytes, 0);
  });

  it("stall evidence for this process lists its threads, main thread included", (t) => {
    if (!onLinux) return t.skip("no procfs: not Linux");
    const evidence = value(readStallEvidence(process.pid));
    assert.ok(evidence.threads.includes(`${process.pid}:R`), evidence.threads.join(" "));
    // node runs libuv and V8 worker threads besides the main one.
    assert.ok(evidence.threads.length > 1);
    assert.equal(evidence.wchan, ""); // running: no wait channel
  });

  it("a pid that cannot exist is ESRCH", (t) => {
    if (!onLinux) return t.skip("no procfs: not Linux");
    // PID_MAX_LIMIT is 2^22: no pid is ever this large.
    const result = readProcessSample(2 ** 22 + 1);
    assert.equal(result.ok, false);
    if (!result.ok) assert.equal(result.error.code, "ESRCH");
  });

  it("reads /proc/meminfo", (t) => {
    if (!onLinux) return t.skip("no procfs: not Linux");
    const memory = value(readMachineMemory());
    assert.ok(memory.totalBytes > 64 << 20);
    assert.ok(memory.availableBytes > 0 && memory.availableBytes <= memory.totalBytes);
    assert.ok(memory.swapFreeBytes <= memory.swapTotalBytes);
  });
});

describe("real kernel: cgroup v1 memory root (read-only)", () => {
  const mounts: CgroupMounts | null = onLinux ? value(readCgroupMounts()) : null;
  const memoryRoot = mounts?.v1Memory ?? null;
  const skipReason = !onLinux ? "not Linux" : memoryRoot === null ? "no cgroup v1 memory controller mounted (see /proc/self/mountinfo)" : null;

  it("validates the v1 memory root and reads it", (t) => {
    if (skipReason !== null || mounts === null || memoryRoot === null) return t.skip(skipReason ?? "");
    const ref = value(validateCgroupPath(memoryRoot, mounts));
    assert.deepEqual(ref, { path: memoryRoot, version: 1 });
    const sample = value(readCgroupSample(ref));
    assert.equal(sample.limitBytes, null, "the root memcg is never limited");
    assert.ok(sample.usageBytes > 0);
    // The kernel refuses oom_kill_disable on the root, and nobody is OOM at the root while we run.
    assert.equal(sample.oomKillDisabled, false);
    assert.equal(sample.underOom, false);
  });

  it("lists every process below the root, this one included", (t) => {
    if (skipReason !== null || memoryRoot === null) return t.skip(skipReason ?? "");
    const pids = value(listCgroupPids({ path: memoryRoot, version: 1 }));
    assert.ok(pids.includes(process.pid), `${process.pid} not among ${pids.length} pids`);
    assert.deepEqual(pids, [...new Set(pids)].sort((a, b) => a - b));
  });

  it("this process's memory cgroup from /proc/self/cgroup validates and lists this process", (t) => {
    if (skipReason !== null || mounts === null || memoryRoot === null) return t.skip(skipReason ?? "");
    const entry = value(readProcCgroups(process.pid)).find((e) => e.controllers.includes("memory"));
    if (entry === undefined) return t.skip("no v1 memory line in /proc/self/cgroup");
    const path = entry.path === "/" ? memoryRoot : `${memoryRoot}${entry.path}`;
    const ref = validateCgroupPath(path, mounts);
    if (!ref.ok) return t.skip(`own memcg not visible from this mount namespace: ${ref.error.message}`);
    assert.ok(value(listCgroupPids(ref.value)).includes(process.pid));
  });

  it("rejects the other hierarchies on this machine with NOT_MEMCG or OUTSIDE_MOUNTS, naming the path", (t) => {
    if (skipReason !== null || mounts === null) return t.skip(skipReason ?? "");
    const cases: Array<[string | null, string]> = [
      [mounts.v1Freezer, "NOT_MEMCG"],
      // On a hybrid host memory is bound to v1, so the v2 root has no memory.max either way.
      [mounts.v2, "NOT_MEMCG"],
      ["/proc", "OUTSIDE_MOUNTS"],
    ];
    for (const [path, code] of cases) {
      if (path === null) continue;
      const result = validateCgroupPath(path, mounts);
      assert.equal(result.ok, false, path);
      if (!result.ok) {
        assert.equal(result.error.code, code, result.error.message);
        assert.ok(result.error.message.includes(path), result.error.message);
      }
    }
  });
});
