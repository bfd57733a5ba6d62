// cgroup v2 end to end on a fixture tree: the real LinuxHost (inotify on memory.events, memory.high
// writes, the kernel log read from a file, pidfd kills of real processes listed in the fixture's
// cgroup.procs). The real kernel's v2 runs in the VM tests (test/vm/); this one runs everywhere.

import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { appendFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import test from "node:test";
import { MemoryJournal } from "../../src/daemon/journal.js";
import { Engine } from "../../src/engine/engine.js";
import { joinDecisions, type DecidedRecord } from "../../src/engine/journal-record.js";
import { discoverCgroupMounts } from "../../src/host/linux/cgroup-mounts.js";
import { createLinuxHost } from "../../src/host/linux/linux-host.js";
import { nativeStatus } from "../../src/host/linux/native.js";
import { buildCgroupTree, v2MemcgFiles, v2RootFiles, type CgroupTree } from "../fixtures/cgroup-tree.js";
import { isAlive, MIB, rssBytes, waitFor } from "../real-kernel/support.js";

const native = nativeStatus();
const options = { skip: native.ok ? false : `native addon unavailable: ${native.ok ? "" : native.error.message}`, timeout: 30_000 };

interface Setup {
  tree: CgroupTree;
  path: string;
  engine: Engine;
  journal: MemoryJournal;
  big: ChildProcess & { pid: number };
  small: ChildProcess & { pid: number };
  /** A file standing in for /dev/kmsg. */
  kernelLog: string;
}

async function setup(oomGroup = false): Promise<Setup> {
  const big = spawn("python3", ["-c", "import time\nb=b'x'*(40<<20)\ntime.sleep(600)"], { stdio: "ignore" }) as ChildProcess & { pid: number };
  const small = spawn("sleep", ["600"], { stdio: "ignore" }) as ChildProcess & { pid: number };
  await waitFor("the big process to hold 40 MiB", () => rssBytes(big.pid) >= 40 * MIB);
  const tree = buildCgroupTree({
    v2: {
      files: v2RootFiles(),
      children: { job: { files: v2MemcgFiles({ currentBytes: 64 * MIB, maxBytes: 64 * MIB, oomGroup, pids: [small.pid, big.pid] }) } },
    },
  });
  const mounts = discoverCgroupMounts(tree.mountinfo);
  assert.ok(mounts.ok);
  const journal = new MemoryJournal();
  const kernelLog = join(tree.root, "kmsg");
  writeFileSync(kernelLog, "6,1,100,-;an older line, logged before oomwarden started\n");
  const engine = new Engine(createLinuxHost({ mounts: mounts.value, kernelLogPath: kernelLog }), journal, { machineGuard: { enabled: false } });
  const path = tree.path(tree.v2, "job");
  try {
    const managed = engine.manage(path);
    assert.ok(managed.ok, managed.ok ? "" : managed.error.message);
    assert.ok(managed.value.notes.some((n) => /^guard band: memory\.high 60395520 bytes \(10% below the limit of 67108864 bytes\)/.test(n)), managed.value.notes.join("; "));
    assert.equal(tree.readControl(path, "memory.high"), "60395520", "the band is written");
  } catch (error) {
    engine.stop();
    tree.cleanup();
    throw error;
  }
  return { tree, path, engine, journal, big, small, kernelLog };
}

function teardown(s: Setup): void {
  s.engine.stop();
  assert.equal(s.tree.readControl(s.path, "memory.high"), "max", "memory.high given back at stop");
  for (const p of [s.big, s.small]) if (isAlive(p.pid)) process.kill(p.pid, "SIGKILL");
  s.tree.cleanup();
}

function decisions(journal: MemoryJournal): DecidedRecord[] {
  return joinDecisions(journal.records);
}

test("v2: usage throttled in the guard band: the biggest process dies, the other lives", options, async () => {
  const s = await setup();
  try {
    s.tree.bumpMemoryEvents(s.path, "max", 3);
    s.tree.bumpMemoryEvents(s.path, "high", 1);
    await waitFor("the big process to die", () => !isAlive(s.big.pid));
    // The kernel would uncharge the victim's pages; the fixture does it by hand.
    s.tree.writeControl(s.path, "memory.current", `${8 * MIB}\n`);
    await waitFor("a decision", () => decisions(s.journal).length > 0);
    await s.engine.whenIdle();
    const [record] = decisions(s.journal);
    assert.equal(record?.incident.kind, "guard-band");
    assert.equal(record?.incident.events.max, 3, "memory.events counters travel with the incident");
    assert.equal(record?.incident.events.high, 1);
    assert.equal(record?.victim?.pid, s.big.pid);
    assert.equal(record?.action, "kill");
    assert.equal(record?.outcome.result, "recovered");
    assert.equal(record?.outcome.freedBytes, 56 * MIB);
    assert.ok(isAlive(s.small.pid));
  } finally {
    teardown(s);
  }
});

test("v2: the kernel's own OOM kill is journaled with its victim named from the kernel log, and not answered with another kill", options, async () => {
  const s = await setup();
  try {
    // The kernel's killer took a process of 56 MiB (not one of ours here) and its memory is back.
    appendFileSync(
      s.kernelLog,
      "6,470,126006627,-;oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/job,task_memcg=/job,task=tail,pid=4321,uid=0\n" +
        "3,471,126007735,-;Memory cgroup out of memory: Killed process 4321 (tail) total-vm:67736kB, anon-rss:57344kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:172kB oom_score_adj:0\n",
    );
    s.tree.writeControl(s.path, "memory.current", `${8 * MIB}\n`);
    s.tree.bumpMemoryEvents(s.path, "oom", 1);
    s.tree.bumpMemoryEvents(s.path, "oom_kill", 1);
    await waitFor("a kernel-kill record", () => s.journal.records.some((r) => r.type === "kernel-kill"));
    await new Promise((r) => setTimeout(r, 100));
    await s.engine.whenIdle();
    const record = s.journal.records.find((r) => r.type === "kernel-kill");
    assert.ok(record?.type === "kernel-kill");
    assert.deepEqual(record.victims, [{ pid: 4321, comm: "tail", rssBytes: 56 * MIB, source: "kernel log" }]);
    assert.equal(decisions(s.journal).length, 0);
    assert.ok(isAlive(s.big.pid) && isAlive(s.small.pid));
  } finally {
    teardown(s);
  }
});

test("v2 memory.oom.group: the whole cgroup is killed through cgroup.kill", options, async () => {
  const s = await setup(true);
  try {
    s.tree.bumpMemoryEvents(s.path, "high", 1);
    await waitFor("cgroup.kill to be written", () => s.tree.readControl(s.path, "cgroup.kill") === "1");
    // The kernel would kill every process and uncharge their memory; the fixture does the uncharge by hand.
    s.tree.writeControl(s.path, "memory.current", `${4 * MIB}\n`);
    await waitFor("a decision", () => decisions(s.journal).length > 0);
    await s.engine.whenIdle();
    const [record] = decisions(s.journal);
    assert.equal(record?.action, "kill-cgroup");
    assert.equal(record?.victim, null);
    assert.deepEqual(record?.outcome.groupKilledPids, [s.small.pid, s.big.pid].sort((a, b) => a - b));
    assert.equal(record?.outcome.result, "recovered");
    assert.equal(record?.outcome.freedBytes, 60 * MIB);
  } finally {
    teardown(s);
  }
});
