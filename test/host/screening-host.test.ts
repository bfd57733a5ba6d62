// A screening listing on this machine's kernel, with processes this test starts (and kills, by
// pid): the kernel's oom_score of each process lies in the band of the badness read in full
// (our quantisation is the kernel's), and a known process comes screened: its rss from this stat,
// oom_score_adj and details as last read in full.

import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { describe, it } from "node:test";
import { oomBadness } from "../../src/core/badness.js";
import { readFileSync } from "node:fs";
import { LinuxHost } from "../../src/host/linux/linux-host.js";
import { procLikeFs } from "../support/proc-like-fs.js";
import { value } from "../support/result-assert.js";

type Started = ChildProcess & { pid: number };

/** A python holding `mib` MiB touched, at oom_score_adj `adj` (it raises its own: that needs no privilege). */
async function startHolder(mib: number, adj: number, started: Started[]): Promise<void> {
  const script = `import time\nopen("/proc/self/oom_score_adj", "w").write("${adj}")\nb = bytearray(${mib} * 1048576)\nfor i in range(0, len(b), 4096): b[i] = 1\nprint("ready", flush=True)\ntime.sleep(600)\n`;
  const child = spawn("python3", ["-c", script], { stdio: ["ignore", "pipe", "ignore"] });
  if (child.pid === undefined) throw new Error("python3 did not start");
  started.push(child as Started);
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on("data", (data: Buffer) => data.toString().includes("ready") && resolve());
    child.once("exit", () => reject(new Error("holder exited")));
  });
}

async function stop(child: Started): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  process.kill(child.pid, "SIGKILL");
  await exited;
}

describe("screening on this kernel", () => {
  it("takes the kernel's RAM + swap from the sample just read, and reads /proc/meminfo itself only without one", () => {
    const meminfo = readFileSync("/proc/meminfo", "utf8");
    const kib = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB$`, "m").exec(meminfo)?.[1]);
    const fs = procLikeFs("/proc");
    const host = new LinuxHost({ fs });
    const expectedPages = Math.floor(((kib("MemTotal") + kib("SwapTotal")) * 1024) / host.pageSizeBytes());
    value(host.readMachinePressure());
    fs.clearLog();
    assert.equal(value(host.screenAllProcesses()).kernelTotalPages, expectedPages);
    assert.ok(!fs.log.some((entry) => entry.path === "/meminfo"), "no second read of meminfo");
    const unsampled = new LinuxHost({ fs });
    fs.clearLog();
    assert.equal(value(unsampled.screenAllProcesses()).kernelTotalPages, expectedPages);
    assert.ok(fs.log.some((entry) => entry.path === "/meminfo"), "no sample yet: read");
  });

  it("every process's exact badness lies in the band its oom_score gives; a known one is screened, not read in full", async () => {
    const holders: Started[] = [];
    const host = new LinuxHost();
    try {
      for (const [mib, adj] of [[96, 0], [64, 300], [32, 100]] as const) await startHolder(mib, adj, holders);
      value(host.listAllProcesses());
      const screened = value(host.screenAllProcesses());
      for (const child of holders) assert.ok(screened.bounds.has(child.pid), `pid ${child.pid} known, so screened`);
      const full = value(host.readInFull([...screened.bounds.keys()]));
      const ours = new Set(holders.map((c) => c.pid));
      let checked = 0;
      for (const proc of full) {
        const band = screened.bounds.get(proc.pid);
        const badness = oomBadness(proc, -1, screened.kernelTotalPages, host.pageSizeBytes());
        if (band === undefined || badness.points === null) continue;
        // Our processes hold still; others may move a little between the two reads.
        const slack = ours.has(proc.pid) ? 0 : band.highPages - band.lowPages + 256;
        assert.ok(badness.points >= band.lowPages - slack && badness.points <= band.highPages + slack, `${proc.comm}[${proc.pid}]: ${badness.points} pages, band ${band.lowPages}..${band.highPages}`);
        if (ours.has(proc.pid)) checked++;
      }
      assert.equal(checked, holders.length);
      const screenedHolder = screened.processes.find((p) => p.pid === holders[1]?.pid);
      assert.equal(screenedHolder?.oomScoreAdj, 300, "oom_score_adj as last read in full");
      assert.ok((screenedHolder?.rssBytes ?? 0) >= 64 * 1048576, "rss from this stat");
      assert.match(screenedHolder?.details?.cmdline ?? "", /python3 -c import time/, "details kept");
    } finally {
      host.processTable.close();
      for (const child of holders) await stop(child);
    }
  });
});
