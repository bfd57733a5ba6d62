// Real memcg OOMs on cgroup v1: real hogs in small scratch cgroups, innocents beside them,
// assertions on who died, who lived, and what the journal says. Root and the v1 memory controller
// are required; elsewhere every test skips and says why.

import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import test from "node:test";
import { MemoryJournal } from "../../src/daemon/journal.js";
import { Engine } from "../../src/engine/engine.js";
import { joinDecisions, type DecidedRecord } from "../../src/engine/journal-record.js";
import { createLinuxHost } from "../../src/host/linux/linux-host.js";
import {
  createScratchFreezerCgroup,
  createScratchMemoryCgroup,
  v1MemoryUnavailableReason,
  type ScratchCgroup,
} from "../../src/host/linux/scratch-cgroup.js";
import { boundedAllocator, isAlive, killQuietly, MIB, oomControl, rssBytes, startInside, UNBOUNDED_HOG, waitFor } from "./support.js";

const skip = v1MemoryUnavailableReason();
if (skip !== null) console.log(`# real-kernel memcg OOM tests skipped: ${skip}`);
const options = { skip: skip ?? false, timeout: 60_000 };

function decisions(journal: MemoryJournal): DecidedRecord[] {
  return joinDecisions(journal.records);
}

async function withCgroups(count: number, limitBytes: number, body: (cgroups: ScratchCgroup[]) => Promise<void>): Promise<void> {
  const cgroups: ScratchCgroup[] = [];
  try {
    for (let i = 0; i < count; i++) cgroups.push(createScratchMemoryCgroup("test", limitBytes));
    await body(cgroups);
  } finally {
    for (const c of cgroups) await c.remove();
  }
}

test("a 64 MiB cgroup: exactly the hog dies, the innocent lives, the cgroup recovers, the journal says so", options, async () => {
  await withCgroups(1, 64 * MIB, async ([cgroup]) => {
    assert.ok(cgroup);
    const journal = new MemoryJournal();
    const engine = new Engine(createLinuxHost(), journal);
    try {
      const innocent = await startInside(cgroup, ["sleep", "600"]);
      assert.equal(oomControl(cgroup.path).oomKillDisable, 0);
      assert.ok(engine.manage(cgroup.path).ok);
      assert.equal(oomControl(cgroup.path).oomKillDisable, 1, "kernel killer disabled while managed");

      const hog = await startInside(cgroup, UNBOUNDED_HOG);
      await waitFor("a decision", () => decisions(journal).length > 0);
      await engine.whenIdle();
      await waitFor("the hog to be gone", () => !isAlive(hog.pid));

      const [record, ...more] = decisions(journal);
      assert.equal(more.length, 0, "one decision");
      assert.ok(record);
      assert.equal(record.incident.kind, "memcg-oom");
      assert.equal(record.incident.cgroup, cgroup.path);
      assert.equal(record.victim?.pid, hog.pid);
      assert.equal(record.victim?.comm, "tail");
      assert.equal(record.action, "kill");
      assert.equal(record.outcome.result, "recovered");
      assert.equal(record.candidates[0]?.pid, hog.pid);
      assert.ok(record.candidates.some((c) => c.pid === innocent.pid), "the innocent was ranked too");
      assert.ok((record.outcome.freedBytes ?? 0) > 48 * MIB, `freed ${record.outcome.freedBytes}`);
      assert.ok(record.outcome.msToKill !== null && record.outcome.msToKill >= 0);
      assert.ok(record.outcome.msToMemoryBack !== null && record.outcome.msToMemoryBack >= record.outcome.msToKill);
      assert.ok(isAlive(innocent.pid), "the innocent survived");
      assert.equal(oomControl(cgroup.path).underOom, 0, "the cgroup left the OOM state");
    } finally {
      engine.stop();
    }
    assert.equal(oomControl(cgroup.path).oomKillDisable, 0, "restored after stop");
  });
});

test("several cgroups going OOM at the same moment: each handled, nothing outside them touched", options, async () => {
  await withCgroups(3, 64 * MIB, async (cgroups) => {
    const journal = new MemoryJournal();
    const engine = new Engine(createLinuxHost(), journal);
    const outsider = await import("node:child_process").then((cp) => cp.spawn("sleep", ["600"], { stdio: "ignore" }));
    try {
      const innocents = [];
      for (const c of cgroups) {
        innocents.push(await startInside(c, ["sleep", "600"]));
        assert.ok(engine.manage(c.path).ok);
      }
      const hogs = await Promise.all(cgroups.map((c) => startInside(c, UNBOUNDED_HOG)));
      await waitFor("three decisions", () => decisions(journal).length >= 3);
      await engine.whenIdle();
      const records = decisions(journal);
      assert.equal(records.length, 3, "one decision per cgroup");
      for (const [i, c] of cgroups.entries()) {
        const record = records.find((r) => r.incident.cgroup === c.path);
        assert.ok(record, `a decision for ${c.path}`);
        assert.equal(record.victim?.pid, hogs[i]?.pid);
        assert.equal(record.outcome.result, "recovered");
        assert.ok(isAlive(innocents[i]?.pid ?? -1));
      }
      assert.ok(isAlive(outsider.pid ?? -1), "a process outside the managed cgroups is untouched");
    } finally {
      engine.stop();
      killQuietly(outsider.pid);
    }
  });
});

test("a frozen victim: process_mrelease gives its memory back and no second process is killed", options, async () => {
  const freezer = createScratchFreezerCgroup("test-frozen");
  try {
    await withCgroups(1, 256 * MIB, async ([cgroup]) => {
      assert.ok(cgroup);
      const journal = new MemoryJournal();
      const engine = new Engine(createLinuxHost(), journal);
      try {
        const innocent = await startInside(cgroup, ["sleep", "600"]);
        const big = await startInside(cgroup, boundedAllocator(150));
        await waitFor("the big process to hold 150 MiB", () => rssBytes(big.pid) >= 150 * MIB, 20_000);
        freezer.join(big.pid);
        freezer.freeze();
        assert.ok(engine.manage(cgroup.path).ok);

        const pusher = await startInside(cgroup, boundedAllocator(120));
        await waitFor("a decision", () => decisions(journal).length > 0, 20_000);
        await engine.whenIdle();
        await waitFor("the pusher to finish allocating", () => rssBytes(pusher.pid) >= 120 * MIB, 20_000);

        const [record, ...more] = decisions(journal);
        assert.ok(record);
        assert.equal(record.victim?.pid, big.pid, "the biggest process is the victim");
        assert.equal(record.outcome.result, "recovered");
        assert.equal(record.outcome.victimExited, false, "a frozen victim cannot exit");
        assert.ok(record.outcome.reap !== null && "durationMs" in record.outcome.reap && !record.outcome.reap.alreadyGone, "reaped by process_mrelease");
        assert.ok((record.outcome.freedBytes ?? 0) > 100 * MIB, `freed ${record.outcome.freedBytes}`);
        assert.equal(more.length, 0, "no second decision");
        assert.ok(isAlive(pusher.pid), "the allocating process lives");
        assert.ok(isAlive(innocent.pid), "the innocent lives");
        assert.ok(isAlive(big.pid) && rssBytes(big.pid) < 10 * MIB, "the frozen victim is still there, its memory gone");
      } finally {
        engine.stop();
        // A frozen task cannot die: thaw it first, or its memory cgroup cannot be removed.
        freezer.thaw();
      }
    });
  } finally {
    await freezer.remove();
  }
});

test("a cgroup already under OOM when management starts is handled at once; a prior oom_kill_disable=1 stays", options, async () => {
  await withCgroups(1, 64 * MIB, async ([cgroup]) => {
    assert.ok(cgroup);
    // As a crashed handler would leave it: the kernel killer off and a task stuck at the limit.
    writeFileSync(join(cgroup.path, "memory.oom_control"), "1");
    const innocent = await startInside(cgroup, ["sleep", "600"]);
    const hog = await startInside(cgroup, UNBOUNDED_HOG);
    await waitFor("the cgroup to be under OOM", () => oomControl(cgroup.path).underOom === 1);

    const journal = new MemoryJournal();
    const engine = new Engine(createLinuxHost(), journal);
    try {
      assert.ok(engine.manage(cgroup.path).ok);
      await waitFor("a decision", () => decisions(journal).length > 0);
      await engine.whenIdle();
      const [record] = decisions(journal);
      assert.equal(record?.victim?.pid, hog.pid);
      assert.equal(record?.outcome.result, "recovered");
      assert.ok(isAlive(innocent.pid));
    } finally {
      engine.stop();
    }
    assert.equal(oomControl(cgroup.path).oomKillDisable, 1, "it was 1 before oomwarden, so it stays 1");
  });
});

test("bad paths are errors naming the path; the good cgroup beside them is still managed", options, async () => {
  const freezer = createScratchFreezerCgroup("test-notmem");
  try {
    await withCgroups(1, 64 * MIB, async ([cgroup]) => {
      assert.ok(cgroup);
      const journal = new MemoryJournal();
      const engine = new Engine(createLinuxHost(), journal);
      try {
        const missing = `${cgroup.path}-missing`;
        for (const [path, code] of [
          [missing, "ENOENT"],
          [freezer.path, "NOT_MEMCG"],
          ["/tmp", "OUTSIDE_MOUNTS"],
        ] as const) {
          const result = engine.manage(path);
          assert.equal(result.ok, false, path);
          if (!result.ok) {
            assert.equal(result.error.code, code, path);
            assert.ok(result.error.message.includes(path), `"${result.error.message}" names ${path}`);
          }
        }
        assert.ok(engine.manage(cgroup.path).ok);
        assert.deepEqual(engine.managedPaths(), [cgroup.path]);
        const hog = await startInside(cgroup, UNBOUNDED_HOG);
        await waitFor("a decision", () => decisions(journal).length > 0);
        await engine.whenIdle();
        assert.equal(decisions(journal)[0]?.victim?.pid, hog.pid);
      } finally {
        engine.stop();
      }
    });
  } finally {
    await freezer.remove();
  }
});

test("dry run: the decision is journaled, the kernel killer resolves the OOM, and its kill is journaled beside it", options, async () => {
  await withCgroups(1, 64 * MIB, async ([cgroup]) => {
    assert.ok(cgroup);
    const journal = new MemoryJournal();
    const engine = new Engine(createLinuxHost(), journal, { dryRun: true });
    try {
      const innocent = await startInside(cgroup, ["sleep", "600"]);
      assert.ok(engine.manage(cgroup.path).ok);
      const hog = await startInside(cgroup, UNBOUNDED_HOG);
      await waitFor("the kernel's kill to be journaled", () => journal.records.some((r) => r.type === "kernel-kill"));
      await engine.whenIdle();
      const [record, ...more] = decisions(journal);
      assert.equal(more.length, 0);
      assert.equal(record?.action, "dry-run");
      assert.equal(record?.victim?.pid, hog.pid, "oomwarden would have chosen the hog");
      assert.equal(record?.outcome.result, "not-acted");
      const kernelKill = journal.records.find((r) => r.type === "kernel-kill");
      assert.ok(kernelKill?.type === "kernel-kill");
      assert.equal(kernelKill.oomKills, 1);
      assert.deepEqual(kernelKill.goneSinceSnapshot, [hog.pid], "the kernel chose the same victim");
      await waitFor("the hog to be gone", () => !isAlive(hog.pid));
      assert.ok(isAlive(innocent.pid));
      assert.equal(oomControl(cgroup.path).oomKillDisable, 1, "taken over again after the handover");
    } finally {
      engine.stop();
    }
    assert.equal(oomControl(cgroup.path).oomKillDisable, 0);
  });
});
