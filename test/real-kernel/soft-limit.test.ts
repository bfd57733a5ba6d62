// Soft-limit mode (seed 002) on real cgroup v1: the hard limit is raised by the headroom while
// oomwarden manages the cgroup, a hog that creeps over the original ("logical") limit is killed by
// oomwarden before it reaches the raised hard limit (so the kernel never charges against it and its
// killer never acts), the innocent beside it lives, and the original limit is back after stop.
// Root and the v1 memory controller are required; elsewhere every test skips and says why.

import assert from "node:assert/strict";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import test from "node:test";
import { MemoryJournal } from "../../src/daemon/journal.js";
import { Engine } from "../../src/engine/engine.js";
import { joinDecisions, type DecidedRecord } from "../../src/engine/journal-record.js";
import { InMemoryLedger } from "../../src/engine/takeover-ledger.js";
import { createLinuxHost } from "../../src/host/linux/linux-host.js";
import {
  createScratchMemoryCgroup,
  V1_MEMORY_ROOT,
  v1MemoryUnavailableReason,
  type ScratchCgroup,
} from "../../src/host/linux/scratch-cgroup.js";
import { isAlive, killQuietly, MIB, oomControl, startInside, waitFor } from "./support.js";

const skip = v1MemoryUnavailableReason();
if (skip !== null) console.log(`# real-kernel soft-limit tests skipped: ${skip}`);
const options = { skip: skip ?? false, timeout: 60_000 };

const LOGICAL_LIMIT = 64 * MIB; // 67108864
/** 64 MiB + 10% headroom rounded up to whole 4 KiB pages: 67108864 + 1639 * 4096. */
const RAISED_LIMIT = 73_822_208;

/**
 * A hog that creeps: 40 MiB quickly, then 1 MiB every 300 ms (about 3.3 MiB/s) up to 100 MiB. The
 * 6.4 MiB of headroom then lasts about two seconds, well beyond the grace (200 ms) plus one check
 * interval (100 ms) plus the kill, even on a machine busy with the rest of the test suite (at
 * 150 ms per MiB one run in the full suite met the hard limit first). A hog at 100 MiB/s would cross the headroom in ~65 ms and meet
 * the kernel's hard limit first: that is a memcg OOM, not a soft-limit incident.
 */
const CREEPING_HOG = [
  "python3",
  "-c",
  "import time\nb=[]\nfor i in range(100):\n  b.append(b'x'*(1<<20))\n  time.sleep(0.01 if i < 40 else 0.3)\ntime.sleep(600)",
];

function decisions(journal: MemoryJournal): DecidedRecord[] {
  return joinDecisions(journal.records);
}

const readNumber = (cgroup: ScratchCgroup, name: string): number => Number(cgroup.readFile(name).trim());

/** The scratch cgroups this process created (their names carry our pid); others' are never looked into. */
function ourScratchCgroups(): string[] {
  return readdirSync(V1_MEMORY_ROOT).filter((name) => name.startsWith("oomwarden-") && name.includes(`-${process.pid}-`));
}

async function withCgroup(cgroup: ScratchCgroup, body: (cgroup: ScratchCgroup) => Promise<void>): Promise<void> {
  try {
    await body(cgroup);
  } finally {
    await cgroup.remove();
  }
  assert.equal(existsSync(cgroup.path), false, `${cgroup.path} removed`);
}

/** 64 MiB of memory, memory+swap unlimited: v1 refuses a memory limit above the memsw one, and soft-limit mode raises it. */
function createSoftLimitCgroup(): ScratchCgroup {
  const cgroup = createScratchMemoryCgroup("softlimit", -1);
  try {
    writeFileSync(join(cgroup.path, "memory.limit_in_bytes"), String(LOGICAL_LIMIT));
  } catch (error) {
    void cgroup.remove();
    throw error;
  }
  return cgroup;
}

test("soft-limit mode: hard limit raised by 10%, the creeping hog killed by oomwarden over 64 MiB, the innocent lives, the kernel killer never acts, 64 MiB back after stop", options, async () => {
  await withCgroup(createSoftLimitCgroup(), async (cgroup) => {
    assert.equal(readNumber(cgroup, "memory.limit_in_bytes"), LOGICAL_LIMIT);
    const journal = new MemoryJournal();
    const ledger = new InMemoryLedger();
    const engine = new Engine(createLinuxHost(), journal, { softLimit: { enabled: true } }, { ledger });
    const pids: number[] = [];
    let sampler: NodeJS.Timeout | undefined;
    try {
      const innocent = await startInside(cgroup, ["sleep", "600"]);
      pids.push(innocent.pid);
      const before = oomControl(cgroup.path);
      assert.equal(before.oomKill, 0);
      const failcntBefore = readNumber(cgroup, "memory.failcnt");

      const managed = engine.manage(cgroup.path);
      assert.ok(managed.ok, managed.ok ? "" : managed.error.message);
      assert.ok(managed.value.notes.some((n) => n.includes(`logical limit ${LOGICAL_LIMIT} bytes`)), managed.value.notes.join("; "));
      assert.equal(cgroup.readFile("memory.limit_in_bytes").trim(), String(RAISED_LIMIT), "hard limit = 64 MiB + 10%, whole pages");
      assert.equal(ledger.recorded().limits[cgroup.path]?.original, LOGICAL_LIMIT, "the original limit is in the ledger while raised");
      assert.equal(oomControl(cgroup.path).oomKillDisable, 1, "kernel killer disabled while managed");

      // Watch the cgroup densely: when usage first went over the logical limit, whether it ever was under OOM.
      let underOomSeen = false;
      let overAtMs: number | null = null;
      sampler = setInterval(() => {
        try {
          if (oomControl(cgroup.path).underOom === 1) underOomSeen = true;
          if (overAtMs === null && readNumber(cgroup, "memory.usage_in_bytes") > LOGICAL_LIMIT) overAtMs = performance.now();
        } catch {
          // the cgroup is being removed
        }
      }, 5);

      const startedAtMs = performance.now();
      const hog = await startInside(cgroup, CREEPING_HOG);
      pids.push(hog.pid);
      await waitFor("a soft-limit decision", () => decisions(journal).length > 0, 30_000);
      const decidedAtMs = performance.now();
      await engine.whenIdle();
      await waitFor("the hog to be gone", () => !isAlive(hog.pid));
      // A moment for anything that would follow (a second decision, a late OOM) to show up.
      await new Promise((r) => setTimeout(r, 500));
      clearInterval(sampler);
      sampler = undefined;

      const [record, ...more] = decisions(journal);
      assert.equal(more.length, 0, `one decision, got ${decisions(journal).map((d) => d.incident.kind).join(", ")}`);
      assert.ok(record);
      assert.equal(record.incident.kind, "soft-limit");
      assert.equal(record.incident.cgroup, cgroup.path);
      assert.equal(record.incident.limitBytes, RAISED_LIMIT, "the kernel's limit at the snapshot is the raised one");
      assert.ok(record.incident.usageBytes > LOGICAL_LIMIT, `usage ${record.incident.usageBytes} above the logical limit`);
      assert.ok(record.incident.usageBytes < RAISED_LIMIT, `usage ${record.incident.usageBytes} below the hard limit`);
      const reason = record.incident.reason ?? "";
      const overForMs = Number(/above the logical limit 67108864 bytes for (\d+) ms/.exec(reason)?.[1] ?? NaN);
      assert.ok(overForMs >= 200, `over the logical limit for at least the grace period: "${reason}"`);
      assert.match(reason, /grace 200 ms/);
      assert.equal(record.action, "kill");
      assert.equal(record.victim?.pid, hog.pid);
      assert.equal(record.victim?.comm, "python3");
      assert.equal(record.candidates[0]?.pid, hog.pid);
      assert.ok(record.candidates.some((c) => c.pid === innocent.pid), "the innocent was ranked too");
      assert.equal(record.outcome.result, "recovered");
      assert.ok((record.outcome.freedBytes ?? 0) > 48 * MIB, `freed ${record.outcome.freedBytes}`);

      assert.ok(isAlive(innocent.pid), "the innocent survived");
      assert.ok(readNumber(cgroup, "memory.usage_in_bytes") < LOGICAL_LIMIT, "usage back under the logical limit");
      const maxUsage = readNumber(cgroup, "memory.max_usage_in_bytes");
      assert.ok(maxUsage > LOGICAL_LIMIT, `the headroom was used: peak ${maxUsage}`);
      assert.ok(maxUsage < RAISED_LIMIT, `the hard limit was never reached: peak ${maxUsage}`);
      // The kernel's side: no charge ever failed at the hard limit, no OOM, no kernel kill.
      assert.equal(readNumber(cgroup, "memory.failcnt"), failcntBefore, "memory.failcnt unchanged: no charge met the hard limit");
      const after = oomControl(cgroup.path);
      assert.equal(after.oomKill, before.oomKill, "memory.oom_control oom_kill unchanged");
      assert.equal(after.underOom, 0);
      assert.equal(underOomSeen, false, "under_oom never seen at 1");
      assert.equal(journal.records.some((r) => r.type === "kernel-kill" || r.type === "error"), false, "no kernel kill or error journaled");

      console.log(
        `soft-limit timings: hog start -> usage over 64 MiB ${overAtMs === null ? "unseen" : Math.round(overAtMs - startedAtMs)} ms; ` +
          `over -> decision journaled ${overAtMs === null ? "?" : Math.round(decidedAtMs - overAtMs)} ms; ` +
          `engine's over-for ${overForMs} ms; msToKill ${record.outcome.msToKill?.toFixed(1)} ms, msToMemoryBack ${record.outcome.msToMemoryBack?.toFixed(1)} ms; ` +
          `peak usage ${maxUsage} (${((maxUsage - LOGICAL_LIMIT) / MIB).toFixed(2)} MiB over, of ${((RAISED_LIMIT - LOGICAL_LIMIT) / MIB).toFixed(2)} MiB headroom)`,
      );
    } finally {
      if (sampler !== undefined) clearInterval(sampler);
      const report = engine.stop();
      for (const pid of pids) killQuietly(pid);
      assert.deepEqual(report.failed, [], "stop restored everything");
    }
    assert.equal(cgroup.readFile("memory.limit_in_bytes").trim(), String(LOGICAL_LIMIT), "the original limit is back after stop");
    assert.equal(ledger.recorded().limits[cgroup.path]?.original, undefined, "and forgotten by the ledger");
    assert.equal(oomControl(cgroup.path).oomKillDisable, 0, "the kernel killer is back after stop");
  });
});

test("soft-limit mode on a v1 cgroup whose memsw limit equals its limit: refused with an error naming memsw, nothing changed", options, async (t) => {
  if (!existsSync(join(V1_MEMORY_ROOT, "memory.memsw.limit_in_bytes"))) return t.skip("no memory.memsw.* files (swap accounting off)");
  // The scratch helper sets memory.memsw.limit_in_bytes to the same 64 MiB.
  await withCgroup(createScratchMemoryCgroup("softlimit-memsw", LOGICAL_LIMIT), async (cgroup) => {
    assert.equal(readNumber(cgroup, "memory.memsw.limit_in_bytes"), LOGICAL_LIMIT);
    const journal = new MemoryJournal();
    const ledger = new InMemoryLedger();
    const engine = new Engine(createLinuxHost(), journal, { softLimit: { enabled: true } }, { ledger });
    try {
      const managed = engine.manage(cgroup.path);
      assert.equal(managed.ok, false, "soft-limit mode cannot start");
      if (managed.ok) return;
      assert.equal(managed.error.code, "EINVAL");
      const message = managed.error.message;
      assert.ok(message.includes(join(cgroup.path, "memory.limit_in_bytes")), message);
      assert.ok(message.includes(`"${RAISED_LIMIT}"`), message);
      assert.ok(message.includes(`memory.memsw.limit_in_bytes, ${LOGICAL_LIMIT}`), message);
      assert.deepEqual(engine.managedPaths(), []);
      const error = journal.records.find((r) => r.type === "error");
      assert.ok(error?.type === "error" && error.message === message && error.cgroup === cgroup.path, "the refusal is journaled");

      assert.equal(cgroup.readFile("memory.limit_in_bytes").trim(), String(LOGICAL_LIMIT), "limit_in_bytes unchanged");
      assert.equal(readNumber(cgroup, "memory.memsw.limit_in_bytes"), LOGICAL_LIMIT, "memsw unchanged");
      assert.equal(oomControl(cgroup.path).oomKillDisable, 0, "the kernel killer was given back");
      assert.equal(ledger.recorded().limits[cgroup.path]?.original, undefined, "nothing left in the ledger");
      assert.equal(ledger.recorded().cgroups[cgroup.path], undefined);
    } finally {
      engine.stop();
    }
  });
});

test("no scratch cgroup of these tests is left behind", options, () => {
  assert.deepEqual(ourScratchCgroups(), []);
});
