import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fail } from "../../src/core/result.js";
import { nodeLinuxFs, type LinuxFs } from "../../src/host/linux/linux-fs.js";
import {
  readMachineMemory,
  readProcCgroups,
  readProcessSample,
  readProcessSamples,
  readStallEvidence,
} from "../../src/host/linux/proc-reader.js";
import { captured } from "../fixtures/captured.js";
import { buildProcTree, statLine, statusText, type ProcTree } from "../fixtures/proc-tree.js";
import { value, errorOf } from "../support/result-assert.js";

const VICTIM = 3573;
const KTHREADD = 2;
const ADVERSARIAL = 4715;

/** tid -> stat line, from the captured task/*\/stat of the OOM victim. */
function victimTasks(): Record<number, string> {
  const tasks: Record<number, string> = {};
  for (const line of captured("proc-pid-task-stats.memcg-oom-victim.txt").split("\n")) {
    if (line !== "") tasks[Number(line.split(" ")[0])] = `${line}\n`;
  }
  return tasks;
}

describe("proc readers on a fake /proc built from captured text", () => {
  let proc: ProcTree;
  before(() => {
    proc = buildProcTree();
    proc.addProcess(VICTIM, {
      stat: captured("proc-pid-stat.memcg-oom-victim.txt"),
      status: captured("proc-pid-status.memcg-oom-victim.txt"),
      oomScoreAdj: "500\n",
      wchan: captured("proc-pid-wchan.memcg-oom-victim.txt"),
      tasks: victimTasks(),
    });
    proc.addProcess(KTHREADD, {
      stat: captured("proc-kthreadd-stat.txt"),
      status: captured("proc-kthreadd-status.txt"),
      wchan: captured("proc-kthreadd-wchan.txt"),
    });
    proc.addProcess(ADVERSARIAL, {
      stat: captured("proc-pid-stat.adversarial-comm.txt"),
      status: captured("proc-pid-status.adversarial-comm.txt"),
      oomScoreAdj: "-17\n",
    });
    proc.setMeminfo(captured("proc-meminfo.txt"));
    writeFileSync(join(proc.root, String(VICTIM), "cgroup"), captured("proc-self-cgroup.txt"));
  });
  after(() => proc.cleanup());

  it("readProcessSample combines stat, status and oom_score_adj", () => {
    assert.deepEqual(value(readProcessSample(VICTIM, proc.root)), {
      pid: VICTIM,
      comm: "node",
      startTimeTicks: 100426,
      state: "D",
      rssBytes: 97856 * 1024,
      swapBytes: 0,
      pageTablesBytes: 576 * 1024,
      oomScoreAdj: 500,
      isKernelThread: false,
      threads: 7,
      exiting: false,
    });
  });

  it("a kernel thread is marked and has no memory", () => {
    const sample = value(readProcessSample(KTHREADD, proc.root));
    assert.equal(sample.isKernelThread, true);
    assert.equal(sample.comm, "kthreadd");
    assert.equal(sample.rssBytes, 0);
    assert.equal(sample.pageTablesBytes, 0);
  });

  it('keeps the raw comm "a) (b c" from stat', () => {
    const sample = value(readProcessSample(ADVERSARIAL, proc.root));
    assert.equal(sample.comm, "a) (b c");
    assert.equal(sample.oomScoreAdj, -17);
    assert.equal(sample.state, "S");
  });

  it("a pid that does not exist is ESRCH naming it", () => {
    const error = errorOf(readProcessSample(99999, proc.root));
    assert.equal(error.code, "ESRCH");
    assert.match(error.message, /99999/);
  });

  it("a process that exits between two reads is ESRCH, not a half sample", () => {
    const pid = 4242;
    proc.addProcess(pid, { stat: statLine(pid, "brief"), status: statusText(pid, "brief", { rssKiB: 10, anonKiB: 5, swapKiB: 0, pteKiB: 4 }) });
    const exitingFs: LinuxFs = {
      ...nodeLinuxFs,
      readText(path) {
        const text = nodeLinuxFs.readText(path);
        if (path.endsWith(`/${pid}/stat`)) proc.removeProcess(pid); // gone right after its stat was read
        return text;
      },
    };
    assert.equal(errorOf(readProcessSample(pid, proc.root, exitingFs)).code, "ESRCH");
  });

  it("a pid reused while being read is detected by the start time", () => {
    const pid = 4343;
    proc.addProcess(pid, { stat: statLine(pid, "first", { startTimeTicks: 1000 }), status: statusText(pid, "first", { rssKiB: 8, anonKiB: 8, swapKiB: 0, pteKiB: 4 }) });
    const reusingFs: LinuxFs = {
      ...nodeLinuxFs,
      readText(path) {
        const text = nodeLinuxFs.readText(path);
        // After status is read, the first process dies and a new one gets the same pid.
        if (path.endsWith(`/${pid}/status`)) proc.writeFile(pid, "stat", statLine(pid, "second", { startTimeTicks: 2000 }));
        return text;
      },
    };
    const error = errorOf(readProcessSample(pid, proc.root, reusingFs));
    assert.equal(error.code, "ESRCH");
    assert.match(error.message, /reused/);
  });

  it("a permission error is reported as such, not as a vanished process", () => {
    const deniedFs: LinuxFs = {
      ...nodeLinuxFs,
      readText(path) {
        return path.endsWith("/status") ? fail("EACCES", `cannot read ${path}: permission denied`) : nodeLinuxFs.readText(path);
      },
    };
    const error = errorOf(readProcessSample(VICTIM, proc.root, deniedFs));
    assert.equal(error.code, "EACCES");
    assert.match(error.message, new RegExp(`${VICTIM}/status`));
  });

  it("readProcessSamples skips vanished pids and reports unreadable ones", () => {
    const pid = 4545;
    proc.addProcess(pid, { stat: statLine(pid, "bad"), status: statusText(pid, "bad", null), oomScoreAdj: "9999\n" });
    const { samples, unreadable } = readProcessSamples([VICTIM, 99998, pid, KTHREADD], proc.root);
    assert.deepEqual(
      samples.map((sample) => sample.pid),
      [VICTIM, KTHREADD],
    );
    assert.equal(unreadable.length, 1);
    assert.equal(unreadable[0]?.pid, pid);
    assert.equal(unreadable[0]?.error.code, "PARSE_ERROR");
  });

  it("readStallEvidence: state, wchan and every thread's state, sorted by tid", () => {
    assert.deepEqual(value(readStallEvidence(VICTIM, proc.root)), {
      state: "D",
      wchan: "mem_cgroup_oom_synchronize",
      threads: ["3573:D", "3577:S", "3578:S", "3579:S", "3580:S", "3581:S", "3584:S"],
    });
  });

  it("readStallEvidence: a thread exiting meanwhile is skipped; the process gone is ESRCH", () => {
    const pid = 4646;
    proc.addProcess(pid, {
      stat: statLine(pid, "mt", { state: "D", threads: 3 }),
      status: statusText(pid, "mt", { rssKiB: 8, anonKiB: 8, swapKiB: 0, pteKiB: 4 }),
      wchan: "0",
      tasks: { [pid]: statLine(pid, "mt", { state: "D" }), 4647: statLine(4647, "mt", { state: "R" }), 10000: statLine(10000, "mt") },
    });
    // Thread 4647 is listed in task/ but exits before its stat is read.
    const threadExitFs: LinuxFs = {
      ...nodeLinuxFs,
      readText(path) {
        if (path.endsWith("/task/4647/stat")) return fail("ENOENT", `cannot read ${path}`);
        return nodeLinuxFs.readText(path);
      },
    };
    assert.deepEqual(value(readStallEvidence(pid, proc.root, threadExitFs)), { state: "D", wchan: "", threads: [`${pid}:D`, "10000:S"] });
    proc.removeProcess(pid);
    assert.equal(errorOf(readStallEvidence(pid, proc.root)).code, "ESRCH");
  });

  it("readMachineMemory reads meminfo in bytes", () => {
    assert.deepEqual(value(readMachineMemory(proc.root)), {
      totalBytes: 24684092 * 1024,
      availableBytes: 24404088 * 1024,
      swapTotalBytes: 0,
      swapFreeBytes: 0,
    });
  });

  it("readProcCgroups reads /proc/PID/cgroup", () => {
    const entries = value(readProcCgroups(VICTIM, proc.root));
    assert.equal(entries.find((entry) => entry.controllers.includes("memory"))?.hierarchyId, 4);
    assert.equal(errorOf(readProcCgroups(99997, proc.root)).code, "ESRCH");
  });
});
