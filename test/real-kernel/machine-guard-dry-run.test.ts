// The machine guard on this machine's real /proc, in dry run with thresholds that always fire: the
// detectors, the machine-wide process list and the ranking run on real data, and nothing is killed.
// (A real low-memory kill would need this 24 GiB machine exhausted; the kill path itself is the
// cgroups' pidfd path, tested in memcg-oom.test.ts.) Needs no root.

import assert from "node:assert/strict";
import test from "node:test";
import { MemoryJournal } from "../../src/daemon/journal.js";
import { Engine } from "../../src/engine/engine.js";
import { joinDecisions, type DecidedRecord } from "../../src/engine/journal-record.js";
import { createLinuxHost } from "../../src/host/linux/linux-host.js";
import { isAlive } from "./support.js";

test("machine guard, dry run on the real machine: one decision for the episode, real candidates, nobody killed", async () => {
  const journal = new MemoryJournal();
  const engine = new Engine(createLinuxHost(), journal, {
    dryRun: true,
    machineGuard: { lowAvailablePct: 100, lowSwapFreePct: 100, sampleIntervalMs: 20, idleSampleIntervalMs: 20 },
  });
  try {
    const started = engine.guardMachine();
    assert.ok(started.ok, started.ok ? "" : started.error.message);
    await new Promise((r) => setTimeout(r, 300));
  } finally {
    engine.stop();
  }
  const decisions = joinDecisions(journal.records);
  assert.equal(decisions.length, 1, "one dry-run decision per episode, not one per sample");
  const d = decisions[0] as DecidedRecord;
  assert.equal(d.action, "dry-run");
  assert.equal(d.incident.cgroup, "/");
  assert.equal(d.incident.kind, "low-memory");
  assert.ok(d.incident.machine && d.incident.machine.minWatermarkBytes > 0, "the machine's numbers are in the record");
  assert.ok(d.candidates.length > 0, "real processes were ranked");
  assert.equal(d.victim?.pid, d.candidates[0]?.pid, "the victim is the best candidate");
  for (let i = 1; i < d.candidates.length; i++) {
    assert.ok((d.candidates[i - 1]?.score ?? 0) >= (d.candidates[i]?.score ?? 0), "candidates in score order");
  }
  assert.ok(d.excluded.some((e) => e.pid === process.pid && /oomwarden itself/.test(e.reason)), "never itself");
  assert.ok(!d.candidates.some((c) => c.pid === 1), "never pid 1");
  assert.ok(isAlive(d.victim?.pid ?? -1), "dry run: the would-be victim lives");
  assert.ok(journal.records.some((r) => r.type === "release" && r.cgroup === "/"));
});
