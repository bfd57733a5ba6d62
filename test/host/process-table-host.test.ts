// The process table on this machine's kernel, with processes this test starts (and kills, by pid):
// what a kept /proc/PID fd answers once its process is gone and once its pid is someone else's,
// the same samples as the reader by path, details of a real process, a second listing that reads
// no detail, a routine listing that reads stat alone, an exit between listings, and the fd cap.

import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { oomBadness } from "../../src/core/badness.js";
import type { ProcessSample } from "../../src/core/types.js";
import { nodeLinuxFs, type LinuxFs } from "../../src/host/linux/linux-fs.js";
import { LinuxHost } from "../../src/host/linux/linux-host.js";
import { readProcessSamples } from "../../src/host/linux/proc-reader.js";
import { value } from "../support/result-assert.js";

const PROBE = join(dirname(fileURLToPath(import.meta.url)), "..", "support", "pid-reuse-probe.js");
const PAGE_SIZE_BYTES = 4096;

type Started = ChildProcess & { pid: number };

async function startSleep(args: string[] = ["600"], options: { detached?: boolean } = {}): Promise<Started> {
  const child = spawn("sleep", args, { stdio: "ignore", detached: options.detached === true });
  if (child.pid === undefined) throw new Error("sleep did not start");
  const pid = child.pid;
  // Until its exec the child is a copy of node, and until it sleeps the loader still maps pages:
  // wait for it to sleep in nanosleep, where its files stay as they are.
  for (let i = 0; i < 2000; i++) {
    if (readFileSync(`/proc/${pid}/cmdline`, "utf8").startsWith("sleep") && readFileSync(`/proc/${pid}/wchan`, "utf8").includes("nanosleep")) return child as Started;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`pid ${pid} never went to sleep`);
}

async function stop(child: Started): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  process.kill(child.pid, "SIGKILL");
  await exited;
}

const withoutDetails = ({ details: _details, ...sample }: ProcessSample): ProcessSample => sample;
const openFdCount = (): number => readdirSync("/proc/self/fd").length;

describe("nodeLinuxFs: reads through kept fds and bounded reads", () => {
  it("readOpenFile gives the whole current text from offset 0, also of a file larger than its 64 KiB buffer", () => {
    const dir = mkdtempSync(join(tmpdir(), "oomwarden-fs-"));
    try {
      const path = join(dir, "big");
      const big = "0123456789abcdef".repeat(10_000);
      writeFileSync(path, big);
      const fd = value(nodeLinuxFs.openFile(path));
      try {
        assert.equal(value(nodeLinuxFs.readOpenFile(fd)), big);
        writeFileSync(path, "short\n");
        assert.equal(value(nodeLinuxFs.readOpenFile(fd)), "short\n", "read again from the start");
      } finally {
        nodeLinuxFs.closeFile(fd);
      }
      assert.equal(value(nodeLinuxFs.readTextPrefix(path, 3)), "sho");
      assert.equal(nodeLinuxFs.readOpenFile(fd).ok, false, "a closed fd reads nothing");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("a kept /proc/PID fd on this kernel", () => {
  it("reads its process while it lives and answers ESRCH once it is gone", async () => {
    const child = await startSleep();
    const fds = ["stat", "status", "oom_score_adj", "cmdline"].map((file) => value(nodeLinuxFs.openFile(`/proc/${child.pid}/${file}`)));
    try {
      for (let round = 0; round < 2; round++) {
        const stat = value(nodeLinuxFs.readOpenFile(fds[0] as number));
        assert.ok(stat.startsWith(`${child.pid} (sleep) `), stat);
        assert.match(value(nodeLinuxFs.readOpenFile(fds[1] as number)), /^Name:\tsleep\n/);
      }
      await stop(child);
      for (const fd of fds) {
        const read = nodeLinuxFs.readOpenFile(fd);
        assert.equal(read.ok ? "read" : read.error.code, "ESRCH");
      }
    } finally {
      for (const fd of fds) nodeLinuxFs.closeFile(fd);
      await stop(child);
    }
  });

  it("answers ESRCH after its pid was given to a new process, which the table reads afresh (a pid namespace of our own)", (t) => {
    if (process.getuid?.() !== 0) return t.skip("needs root: a pid namespace and its ns_last_pid");
    const run = spawnSync("unshare", ["--pid", "--fork", "--mount-proc", process.execPath, PROBE], { encoding: "utf8", timeout: 30_000 });
    if (run.error !== undefined || (run.status !== 0 && run.stdout === "")) return t.skip(`cannot make a pid namespace here: ${run.error?.message ?? run.stderr.trim()}`);
    const result = JSON.parse(run.stdout.trim()) as {
      pid: number;
      secondPid: number;
      oldFdRead: string;
      before?: { startTimeTicks: number; cmdline: string };
      after?: { startTimeTicks: number; cmdline: string };
      keptFds: number;
      error?: string;
    };
    assert.equal(result.error, undefined);
    assert.equal(result.secondPid, result.pid, "the pid was given to the second sleep");
    assert.equal(result.oldFdRead, "ESRCH");
    assert.equal(result.before?.cmdline, "sleep 1001");
    assert.equal(result.after?.cmdline, "sleep 1002", "the table read the newcomer, not the first one's fds or details");
    assert.ok((result.after?.startTimeTicks ?? 0) >= (result.before?.startTimeTicks ?? Infinity));
    assert.equal(result.keptFds, 4, "the first one's fds closed, the second's kept");
  });
});

describe("LinuxHost listings through the process table, on this machine", () => {
  const children: Started[] = [];
  before(async () => {
    // Different oom_score_adj (raising needs no privilege), so that ranking them has an order.
    for (const [index, adj] of [0, 300, 100, 700, 200].entries()) {
      const child = await startSleep([String(600 + index)]);
      writeFileSync(`/proc/${child.pid}/oom_score_adj`, String(adj));
      children.push(child);
    }
  });
  after(async () => {
    for (const child of children) await stop(child);
  });
  const ours = (samples: ProcessSample[]): ProcessSample[] => samples.filter((s) => children.some((c) => c.pid === s.pid));

  it("gives the samples, and so the ranking, of the reader by path over the same processes", () => {
    const host = new LinuxHost();
    const pids = children.map((c) => c.pid);
    const byPath = readProcessSamples(pids, "/proc").samples;
    const first = ours(value(host.listAllProcesses()));
    const second = ours(value(host.listAllProcesses()));
    assert.equal(byPath.length, children.length);
    assert.deepEqual(first.map(withoutDetails), byPath);
    assert.deepEqual(second.map(withoutDetails), byPath);
    const order = (samples: ProcessSample[]): number[] =>
      samples
        .map((s) => ({ pid: s.pid, badness: oomBadness(s, process.pid, 1 << 22, PAGE_SIZE_BYTES) }))
        .sort((a, b) => (b.badness.points ?? 0) - (a.badness.points ?? 0) || a.pid - b.pid)
        .map((entry) => entry.pid);
    assert.deepEqual(order(second), order(byPath));
    assert.deepEqual(order(second).slice(0, 2), [children[3]?.pid, children[1]?.pid], "oom_score_adj 700, then 300, first");
  });

  it("fills details from the process's own files", async () => {
    const child = await startSleep(["611"], { detached: true });
    try {
      const sample = value(new LinuxHost().listAllProcesses()).find((s) => s.pid === child.pid);
      const v2Line = readFileSync(`/proc/${child.pid}/cgroup`, "utf8").split("\n").find((line) => line.startsWith("0::"));
      assert.deepEqual(sample?.details, {
        uid: process.getuid?.(),
        // Started in a session of its own: it leads its group and session.
        pgid: child.pid,
        sid: child.pid,
        cmdline: "sleep 611",
        exe: realpathSync(`/proc/${child.pid}/exe`),
        cgroup: v2Line?.slice(3),
        cgroupPreference: null,
      });
    } finally {
      await stop(child);
    }
  });

  it("a second listing reads no cmdline, exe or cgroup, and opens nothing, for processes it knows", () => {
    const opened: string[] = [];
    const slowReads: string[] = [];
    const countingFs: LinuxFs = {
      ...nodeLinuxFs,
      readText(path) {
        if (/^\/proc\/\d+\//.test(path)) slowReads.push(path);
        return nodeLinuxFs.readText(path);
      },
      readTextPrefix(path, maxBytes) {
        slowReads.push(path);
        return nodeLinuxFs.readTextPrefix(path, maxBytes);
      },
      readLink(path) {
        slowReads.push(path);
        return nodeLinuxFs.readLink(path);
      },
      openFile(path) {
        opened.push(path);
        return nodeLinuxFs.openFile(path);
      },
    };
    const host = new LinuxHost({ fs: countingFs });
    try {
      value(host.listAllProcesses());
      const mine = children.map((c) => `/proc/${c.pid}/`);
      assert.ok(slowReads.some((path) => path === `${mine[0]}cmdline`), "details read at first sight");
      opened.length = 0;
      slowReads.length = 0;
      const second = ours(value(host.listAllProcesses()));
      assert.equal(second.length, children.length);
      assert.ok(second.every((s) => s.details?.cmdline.startsWith("sleep 6")));
      assert.deepEqual(opened.filter((path) => mine.some((prefix) => path.startsWith(prefix))), []);
      assert.deepEqual(slowReads.filter((path) => mine.some((prefix) => path.startsWith(prefix))), []);
    } finally {
      host.processTable.close();
    }
  });

  it("a routine listing, slice by slice, gives a full listing's samples and reads stat alone of a process whose rss did not move", () => {
    const pathOfFd = new Map<number, string>();
    const readPaths: string[] = [];
    const countingFs: LinuxFs = {
      ...nodeLinuxFs,
      openFile(path) {
        const fd = nodeLinuxFs.openFile(path);
        if (fd.ok) pathOfFd.set(fd.value, path);
        return fd;
      },
      readOpenFile(fd) {
        readPaths.push(pathOfFd.get(fd) ?? `fd ${fd}`);
        return nodeLinuxFs.readOpenFile(fd);
      },
    };
    const host = new LinuxHost({ fs: countingFs });
    try {
      const full = ours(value(host.listAllProcesses()));
      readPaths.length = 0;
      // Slices of one step each (budget 0): the listing is done only once every process was glanced at.
      const listing = value(host.beginRoutineListing());
      let slices = 1;
      let done = listing.next(0);
      for (; done === null; slices++) done = listing.next(0);
      assert.ok(slices >= 2, `${slices} slices for ${children.length} children and the rest of /proc`);
      const routine = ours(value(done));
      assert.equal(routine.length, children.length);
      assert.deepEqual(routine, full);
      const mine = children.map((c) => `/proc/${c.pid}/`);
      assert.deepEqual(
        readPaths.filter((path) => mine.some((prefix) => path.startsWith(prefix))),
        mine.map((prefix) => `${prefix}stat`),
      );
    } finally {
      host.processTable.close();
    }
  });

  it("a process that exits between two listings is left out and its three fds are closed", async () => {
    const host = new LinuxHost();
    const child = await startSleep(["612"]);
    try {
      const fdsBefore = openFdCount();
      assert.ok(value(host.listAllProcesses()).some((s) => s.pid === child.pid));
      const kept = host.processTable.keptFds;
      assert.equal(openFdCount() - fdsBefore, kept, "every kept fd is one of ours");
      await stop(child);
      const listed = value(host.listAllProcesses());
      assert.equal(listed.some((s) => s.pid === child.pid), false);
      assert.ok(host.processTable.keptFds <= kept - 4, `${host.processTable.keptFds} fds kept, ${kept} before`);
    } finally {
      host.processTable.close();
      await stop(child);
    }
  });

  it("beyond the fd cap processes are read by path with the same samples", () => {
    const capped = new LinuxHost({ maxKeptProcessFds: 4 });
    const warm = new LinuxHost();
    try {
      for (let listing = 0; listing < 2; listing++) {
        const few = ours(value(capped.listAllProcesses()));
        assert.deepEqual(few.map(withoutDetails), ours(value(warm.listAllProcesses())).map(withoutDetails));
        assert.ok(few.every((s) => s.details !== undefined));
        assert.ok(capped.processTable.keptFds <= 4);
      }
    } finally {
      capped.processTable.close();
      warm.processTable.close();
    }
  });
});
