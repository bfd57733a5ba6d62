// Real v1 memcg OOMs where someone else acts too: a second listener on memory.oom_control SIGKILLs
// the hog the moment the OOM is signalled. oomwarden, woken by the same OOM, must never take the
// innocent beside it: the exiting hog is a victim in flight, and the OOM is read again before any
// kill. Also: a daemon SIGKILLed right after its kill leaves the decision on disk.

import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test from "node:test";
import { MemoryJournal } from "../../src/daemon/journal.js";
import { readJournal } from "../../src/daemon/journal-reader.js";
import { Engine } from "../../src/engine/engine.js";
import { joinDecisions, type DecisionRecord } from "../../src/engine/journal-record.js";
import { createLinuxHost } from "../../src/host/linux/linux-host.js";
import { createScratchMemoryCgroup, v1MemoryUnavailableReason } from "../../src/host/linux/scratch-cgroup.js";
import { isAlive, killQuietly, MIB, startInside, UNBOUNDED_HOG, waitFor } from "./support.js";

const skip = v1MemoryUnavailableReason();
if (skip !== null) console.log(`# real-kernel victim-in-flight tests skipped: ${skip}`);

const TRIALS = 8;

/**
 * Another OOM handler in its own process: registers an eventfd on memory.oom_control, starts the
 * hog inside the cgroup, and SIGKILLs it as soon as the OOM is signalled (no /proc reads: as fast
 * as a listener can be).
 */
const SECOND_LISTENER = `
import os, signal, subprocess, sys
cg = sys.argv[1]
efd = os.eventfd(0)
ofd = os.open(cg + "/memory.oom_control", os.O_RDONLY)
with open(cg + "/cgroup.event_control", "w") as f:
    f.write("%d %d" % (efd, ofd))
def join():
    with open(cg + "/cgroup.procs", "w") as f:
        f.write(str(os.getpid()))
hog = subprocess.Popen(["tail", "/dev/zero"], preexec_fn=join, stdout=subprocess.DEVNULL)
print("hog", hog.pid, flush=True)
os.eventfd_read(efd)
os.kill(hog.pid, signal.SIGKILL)
print("killed", flush=True)
hog.wait()
`;

function startSecondListener(cgroupPath: string): { child: ChildProcess; hogPid: Promise<number>; killed: Promise<void> } {
  const child = spawn("python3", ["-c", SECOND_LISTENER, cgroupPath], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  let onHog: (pid: number) => void = () => {};
  let onKilled: () => void = () => {};
  const hogPid = new Promise<number>((resolve) => (onHog = resolve));
  const killed = new Promise<void>((resolve) => (onKilled = resolve));
  child.stdout?.on("data", (chunk: Buffer) => {
    out += chunk.toString();
    const hog = /hog (\d+)/.exec(out);
    if (hog?.[1] !== undefined) onHog(Number(hog[1]));
    if (out.includes("killed")) onKilled();
  });
  return { child, hogPid, killed };
}

test(`a second listener kills the hog at the OOM: oomwarden never takes the innocent (${TRIALS} trials)`, { skip: skip ?? false, timeout: 120_000 }, async () => {
  const seen = { waited: 0, killedHog: 0, nothing: 0 };
  for (let trial = 0; trial < TRIALS; trial++) {
    const cgroup = createScratchMemoryCgroup("inflight", 64 * MIB);
    const journal = new MemoryJournal();
    const engine = new Engine(createLinuxHost(), journal, { machineGuard: { enabled: false } });
    let listener: ReturnType<typeof startSecondListener> | null = null;
    try {
      const innocent = await startInside(cgroup, ["sleep", "600"]);
      assert.ok(engine.manage(cgroup.path).ok);
      listener = startSecondListener(cgroup.path);
      const hogPid = await listener.hogPid;
      await listener.killed;
      await waitFor("the hog to be gone", () => !isAlive(hogPid));
      // Anything oomwarden started is finished: decisions and their outcomes are journaled.
      await new Promise((r) => setTimeout(r, 100));
      await engine.whenIdle();
      const decisions = joinDecisions(journal.records);
      assert.ok(isAlive(innocent.pid), `trial ${trial}: the innocent died; decisions: ${JSON.stringify(decisions)}`);
      for (const d of decisions) {
        assert.ok(d.victim === null || d.victim.pid === hogPid, `trial ${trial}: oomwarden chose ${d.victim?.comm}[${d.victim?.pid}]`);
        assert.notEqual(d.outcome.result, "pending", "every decision has its outcome");
      }
      if (decisions.some((d) => d.action === "wait")) seen.waited++;
      else if (decisions.some((d) => d.action === "kill")) seen.killedHog++;
      else seen.nothing++;
    } finally {
      engine.stop();
      if (listener?.child.pid !== undefined) killQuietly(listener.child.pid);
      await cgroup.remove();
    }
  }
  console.log(`# second listener: oomwarden waited for the exiting hog ${seen.waited}x, killed the hog itself ${seen.killedHog}x, found the OOM gone ${seen.nothing}x`);
});

test("a daemon SIGKILLed right after its kill leaves the decision in the journal", { skip: skip ?? false, timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "oomwarden-inflight-"));
  const cgroup = createScratchMemoryCgroup("journal-first", 64 * MIB);
  const journalPath = join(dir, "journal.jsonl");
  let daemon: ChildProcess | null = null;
  try {
    const config = join(dir, "oomwarden.yaml");
    // The machine guard inert: a test daemon must never act on the shared machine.
    writeFileSync(config, "lowAvailablePct: 0\nstarvationWindowMs: 0\npsiFullPct: 0\n");
    const innocent = await startInside(cgroup, ["sleep", "600"]);
    let stderr = "";
    const started = spawn(process.execPath, ["dist/src/cli/main.js", "run", "--config", config, "--cgroup", cgroup.path, "--journal", journalPath, "--state-dir", dir], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    daemon = started;
    started.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    await waitFor("the daemon to manage the cgroup", () => stderr.includes(`managing ${cgroup.path}`));
    const hog = await startInside(cgroup, UNBOUNDED_HOG);
    // The instant the hog is seen dying (its SIGKILL is pending or it is gone), the daemon dies too:
    // the decision was written before the signal, so no instant after it can lose the record.
    await waitFor("the hog to be killed", () => !isAlive(hog.pid) || sigkillPending(hog.pid), 20_000);
    started.kill("SIGKILL");
    await new Promise<void>((resolve) => started.once("exit", () => resolve()));
    const read = readJournal(journalPath);
    assert.ok(read.ok, read.ok ? "" : read.message);
    const decision = read.records.find((r): r is DecisionRecord & { time: string } => r.type === "decision");
    assert.ok(decision, `the decision is on disk: ${JSON.stringify(read.records)}`);
    assert.equal(decision.victim?.pid, hog.pid);
    assert.equal(decision.action, "kill");
    assert.ok(isAlive(innocent.pid));
  } finally {
    if (daemon !== null && daemon.exitCode === null && daemon.signalCode === null) daemon.kill("SIGKILL");
    // The SIGKILLed daemon left oom_kill_disable 1: give it back before removing the cgroup.
    try {
      writeFileSync(join(cgroup.path, "memory.oom_control"), "0");
    } catch {
      // gone already
    }
    await cgroup.remove();
    rmSync(dir, { recursive: true, force: true });
  }
});

/** SIGKILL in the shared pending mask: the signal was sent, the process has not finished dying. */
function sigkillPending(pid: number): boolean {
  try {
    const mask = /ShdPnd:\s*([0-9a-f]+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? "0";
    return (Number.parseInt(mask.slice(-8), 16) & 0x100) !== 0;
  } catch {
    return false;
  }
}
