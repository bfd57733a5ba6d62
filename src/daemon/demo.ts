// `oomwarden demo`: a newcomer's first proof. A scratch 64 MiB cgroup, a memory hog and an innocent
// process in it; the engine resolves the OOM; the decision and its timings are printed; all is cleaned up.

import { Engine } from "../engine/engine.js";
import { joinDecisions, type DecidedRecord, type JournalRecord } from "../engine/journal-record.js";
import { createLinuxHost } from "../host/linux/linux-host.js";
import { createScratchMemoryCgroup, v1MemoryUnavailableReason, type ScratchCgroup } from "../host/linux/scratch-cgroup.js";

const DEMO_LIMIT_BYTES = 64 * 1024 * 1024;
const DECISION_TIMEOUT_MS = 15_000;
const MIB = 1024 * 1024;

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

export async function runDemo(): Promise<number> {
  const unavailable = v1MemoryUnavailableReason();
  if (unavailable !== null) {
    process.stderr.write(`oomwarden demo: cannot run here: ${unavailable}\n`);
    return 1;
  }
  let cgroup: ScratchCgroup | null = null;
  let engine: Engine | null = null;
  try {
    cgroup = createScratchMemoryCgroup("demo", DEMO_LIMIT_BYTES);
    say(`created ${cgroup.path} with a ${DEMO_LIMIT_BYTES / MIB} MiB limit`);
    const innocent = cgroup.spawnInside(["sleep", "600"]);
    await waitForMember(cgroup, innocent.pid ?? -1);
    say(`started the innocent process: sleep, pid ${innocent.pid}`);

    let resolveDecision: (record: DecidedRecord) => void = () => {};
    const decided = new Promise<DecidedRecord>((resolve) => (resolveDecision = resolve));
    const records: JournalRecord[] = [];
    const journal = {
      append(record: JournalRecord): void {
        records.push(record);
        // The decision is journaled at the kill, its outcome once memory is back: the demo shows both.
        if (record.type === "outcome") {
          const joined = joinDecisions(records).find((d) => d.decisionId === record.decisionId);
          if (joined !== undefined) resolveDecision(joined);
        }
      },
    };
    engine = new Engine(createLinuxHost(), journal, {}, { log: (message) => say(`  [engine] ${message}`) });
    const managed = engine.manage(cgroup.path);
    if (!managed.ok) throw new Error(managed.error.message);
    say(`oomwarden manages it: the kernel OOM killer is disabled there until the demo ends`);

    const hog = cgroup.spawnInside(["tail", "/dev/zero"]);
    say(`started the memory hog: tail /dev/zero, pid ${hog.pid} (reads an endless line into memory)`);

    let timer: NodeJS.Timeout | undefined;
    const record = await Promise.race([
      decided,
      new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), DECISION_TIMEOUT_MS))),
    ]);
    clearTimeout(timer);
    if (record === null) {
      say(`no OOM decision within ${DECISION_TIMEOUT_MS / 1000} s`);
      return 1;
    }
    await engine.whenIdle();
    printDecision(record);
    const innocentAlive = isAlive(innocent.pid ?? -1);
    const hogKilled = record.victim?.pid === hog.pid;
    say(`the hog was ${hogKilled ? "killed" : "NOT the victim"}; the innocent process is ${innocentAlive ? "alive" : "DEAD"}`);
    return hogKilled && innocentAlive ? 0 : 1;
  } finally {
    engine?.stop();
    if (cgroup !== null) {
      await cgroup.remove();
      say(`removed ${cgroup.path}`);
    }
  }
}

function printDecision(record: DecidedRecord): void {
  const o = record.outcome;
  say("");
  say(`OOM in ${record.incident.cgroup}: usage ${(record.incident.usageBytes / MIB).toFixed(1)} MiB of ${record.incident.limitBytes === null ? "unlimited" : `${(record.incident.limitBytes / MIB).toFixed(0)} MiB`}`);
  say("candidates (best victim first):");
  for (const c of record.candidates) say(`  pid ${c.pid} ${c.comm.padEnd(16)} score ${String(c.score).padStart(8)}  ${c.reason}`);
  for (const e of record.excluded) say(`  pid ${e.pid} ${e.comm.padEnd(16)} excluded: ${e.reason}`);
  say(`action: ${record.action} ${record.victim ? `${record.victim.comm}[${record.victim.pid}]` : ""}`);
  say(`outcome: ${o.result}`);
  if (o.msToKill !== null) say(`  SIGKILL sent      ${o.msToKill.toFixed(2)} ms after the kernel's notification`);
  if (o.msToMemoryBack !== null) say(`  memory back       ${o.msToMemoryBack.toFixed(2)} ms after the kernel's notification`);
  if (o.freedBytes !== null) say(`  freed             ${(o.freedBytes / MIB).toFixed(1)} MiB`);
  if (o.reap !== null) say(`  process_mrelease  ${"error" in o.reap ? o.reap.error : o.reap.alreadyGone ? "victim already gone" : `${o.reap.durationMs.toFixed(2)} ms`}`);
  say("");
}

async function waitForMember(cgroup: ScratchCgroup, pid: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (cgroup.readFile("cgroup.procs").split("\n").includes(String(pid))) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`pid ${pid} did not join ${cgroup.path}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
