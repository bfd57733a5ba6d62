// The Host's machine-wide additions on Linux: the PSI trigger on /proc/pressure/memory, the
// top-level memory cgroups (fixture trees and this machine), and the daemon's own major faults.

import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { performance } from "node:perf_hooks";
import type { CgroupMounts } from "../../src/host/linux/cgroup-mounts.js";
import { LinuxHost } from "../../src/host/linux/linux-host.js";
import { nodeLinuxFs } from "../../src/host/linux/linux-fs.js";
import { listTopLevelCgroups } from "../../src/host/linux/top-level-cgroups.js";
import { value } from "../support/result-assert.js";

describe("listTopLevelCgroups", () => {
  const base = mkdtempSync(join(tmpdir(), "oomwarden-top-"));
  after(() => rmSync(base, { recursive: true, force: true }));
  const v2 = join(base, "unified");
  for (const [name, memory] of [["system.slice", true], ["user.slice", true], ["init.scope", true], ["cpu-only", false]] as const) {
    mkdirSync(join(v2, name, "nested"), { recursive: true });
    if (memory) writeFileSync(join(v2, name, "memory.max"), "max\n");
    writeFileSync(join(v2, name, "nested", "memory.max"), "max\n");
  }
  writeFileSync(join(v2, "cgroup.procs"), "1\n");
  const v2Mounts: CgroupMounts = { v1Memory: null, v2, v1Freezer: null, all: [{ mountPoint: v2, version: 2, controllers: [], name: null, root: "/" }] };

  it("lists the v2 root's children that are memory cgroups, sorted, not their children", () => {
    assert.deepEqual(value(listTopLevelCgroups(v2Mounts, nodeLinuxFs)), [
      { path: join(v2, "init.scope"), version: 2 },
      { path: join(v2, "system.slice"), version: 2 },
      { path: join(v2, "user.slice"), version: 2 },
    ]);
  });
  it("none on a machine with cgroup v1 alone", () => {
    const v1Only: CgroupMounts = { v1Memory: base, v2: null, v1Freezer: null, all: [{ mountPoint: base, version: 1, controllers: ["memory"], name: null, root: "/" }] };
    assert.deepEqual(value(listTopLevelCgroups(v1Only, nodeLinuxFs)), []);
  });
  it("a root that cannot be listed is an error naming it", () => {
    const gone: CgroupMounts = { ...v2Mounts, v2: join(base, "gone") };
    const listed = listTopLevelCgroups(gone, nodeLinuxFs);
    assert.equal(listed.ok, false);
    assert.match(listed.ok ? "" : listed.error.message, /cgroup v2 root .*gone/);
  });
  it("on this machine: every one listed has memory.max and sits right below the v2 root", () => {
    const host = new LinuxHost();
    const tops = value(host.listTopLevelCgroups());
    for (const ref of tops) {
      assert.equal(ref.version, 2);
      assert.equal(join(ref.path, ".."), host.mounts.v2);
      assert.ok(existsSync(join(ref.path, "memory.max")), ref.path);
    }
    // Where memory is bound to v1 (our hosts), the v2 children have no memory.max: none.
    if (host.mounts.v1Memory !== null) assert.deepEqual(tops, []);
  });
});

describe("watchMachinePressure on this machine", { skip: existsSync("/proc/pressure/memory") ? false : "no /proc/pressure/memory (CONFIG_PSI off or psi=0)" }, () => {
  it("arms a trigger on /proc/pressure/memory, widened to 2 s with a note where the kernel requires it", () => {
    const host = new LinuxHost();
    const watch = value(host.watchMachinePressure({ stallUs: 100_000, windowUs: 1_000_000 }, () => {}));
    try {
      if (watch.note === null) {
        assert.deepEqual(watch.trigger, { stallUs: 100_000, windowUs: 1_000_000 });
      } else {
        // Without CAP_SYS_RESOURCE: the next window the kernel allows, the stall kept in proportion.
        assert.deepEqual(watch.trigger, { stallUs: 200_000, windowUs: 2_000_000 });
        assert.match(watch.note, /a 1000 ms window needs CAP_SYS_RESOURCE .*using 2 s \(stall 200 ms\)/);
      }
    } finally {
      watch.unwatch();
    }
  });
  it("a 2 s window is taken as asked by any writer", () => {
    const watch = value(new LinuxHost().watchMachinePressure({ stallUs: 300_000, windowUs: 2_000_000 }, () => {}));
    watch.unwatch();
    assert.deepEqual(watch.trigger, { stallUs: 300_000, windowUs: 2_000_000 });
    assert.equal(watch.note, null);
  });
});

describe("selfUsage", () => {
  it("major faults are this process's getrusage count, and never go down", () => {
    const host = new LinuxHost();
    const first = host.selfUsage().majorFaults;
    assert.ok(Number.isInteger(first) && first >= 0);
    const statFaults = Number(/\) \S+(?: \S+){8} (\d+)/.exec(require_stat())?.[1]);
    assert.ok(statFaults >= first, `/proc/self/stat majflt ${statFaults} against ${first}`);
    assert.ok(host.selfUsage().majorFaults >= first);
  });
  it("CPU time in user mode grows with work in JavaScript, in kernel mode with system calls", () => {
    const host = new LinuxHost();
    const before = host.selfUsage();
    const busyUntil = performance.now() + 60;
    while (performance.now() < busyUntil) {
      /* on the CPU, in user mode */
    }
    const afterWork = host.selfUsage();
    for (let i = 0; i < 20_000; i++) nodeLinuxFs.readText("/proc/self/stat");
    const afterCalls = host.selfUsage();
    assert.ok(before.userCpuMs !== null && afterWork.userCpuMs !== null && afterCalls.systemCpuMs !== null && afterWork.systemCpuMs !== null);
    assert.ok(afterWork.userCpuMs - before.userCpuMs >= 30, `60 ms busy: ${afterWork.userCpuMs - before.userCpuMs} ms in user mode`);
    assert.ok(afterCalls.systemCpuMs - afterWork.systemCpuMs > 0, "20,000 reads of /proc/self/stat took no time in the kernel");
  });
});

describe("mainThreadSchedule", () => {
  it("counts the main thread's work and not its sleep", async () => {
    const host = new LinuxHost();
    const before = host.mainThreadSchedule();
    if (before === null) {
      // A kernel without CONFIG_SCHED_INFO writes zeros; the file itself must still be there.
      assert.match(value(nodeLinuxFs.readText("/proc/thread-self/schedstat")), /^0 0 \d+/);
      return;
    }
    const busyUntil = performance.now() + 60;
    while (performance.now() < busyUntil) {
      /* on the CPU */
    }
    const afterWork = host.mainThreadSchedule();
    assert.ok(afterWork !== null);
    const workedMs = afterWork.onCpuMs - before.onCpuMs;
    // Up to a scheduler tick (at most 10 ms) of the busy loop may not be counted yet, and the run queue may have taken some of it.
    assert.ok(workedMs + (afterWork.runQueueMs - before.runQueueMs) >= 45, `60 ms busy: ${workedMs} ms on a CPU`);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const afterSleep = host.mainThreadSchedule();
    assert.ok(afterSleep !== null);
    assert.ok(afterSleep.onCpuMs - afterWork.onCpuMs < 50, `100 ms asleep: ${afterSleep.onCpuMs - afterWork.onCpuMs} ms on a CPU`);
    assert.ok(afterSleep.runQueueMs >= afterWork.runQueueMs);
  });
});

function require_stat(): string {
  return value(nodeLinuxFs.readText("/proc/self/stat"));
}
