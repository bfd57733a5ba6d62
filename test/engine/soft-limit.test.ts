// Soft-limit mode over the scripted host in virtual time (no ENOMEM at the memcg limit): the hard
// limit is raised by the headroom, the old limit is enforced by oomwarden, and everything is given
// back on stop. On v1 oomwarden samples usage against the logical limit with a grace period (these
// tests); on v2 the guard band on the logical limit does it (test/engine/guard-band.test.ts).

import assert from "node:assert/strict";
import test from "node:test";
import { MemoryJournal } from "../../src/daemon/journal.js";
import { Engine } from "../../src/engine/engine.js";
import { joinDecisions, type DecidedRecord } from "../../src/engine/journal-record.js";
import { InMemoryLedger } from "../../src/engine/takeover-ledger.js";
import { FakeHost } from "./fake-host.js";

const MIB = 1024 * 1024;

function setup(limitBytes: number | null = 64 * MIB): { host: FakeHost; journal: MemoryJournal; engine: Engine; ledger: InMemoryLedger } {
  const host = new FakeHost(1, limitBytes ?? Number.MAX_SAFE_INTEGER);
  if (limitBytes === null) host.limitBytes = null as unknown as number;
  const journal = new MemoryJournal();
  const ledger = new InMemoryLedger();
  const engine = new Engine(host, journal, { observeIntervalMs: 100, maxObservationsWithoutProgress: 5, softLimit: { enabled: true } }, { ledger });
  return { host, journal, engine, ledger };
}

const decisions = (journal: MemoryJournal): DecidedRecord[] => joinDecisions(journal.records);

test("soft-limit mode raises the hard limit by the headroom and writes the original to the ledger first", () => {
  const { host, engine, ledger } = setup();
  const managed = engine.manage(host.ref.path);
  assert.ok(managed.ok);
  assert.deepEqual(host.limitWrites, [64 * MIB + Math.ceil((64 * MIB * 0.1) / 4096) * 4096]);
  assert.equal(ledger.recallLimit(host.ledgerKey()), 64 * MIB);
  assert.ok(managed.value.notes.some((n) => /logical limit 67108864 bytes/.test(n)), managed.value.notes.join("; "));
  engine.stop();
  assert.equal(host.limitWrites.at(-1), 64 * MIB, "the original limit is back");
  assert.equal(ledger.recallLimit(host.ledgerKey()), undefined, "and forgotten by the ledger");
});

test("usage above the logical limit for the grace period kills the biggest process; below it nobody dies", async () => {
  const { host, journal, engine } = setup();
  host.add({ pid: 10, comm: "cache-hog", rssBytes: 40 * MIB });
  host.add({ pid: 11, comm: "file-server", rssBytes: 8 * MIB });
  assert.ok(engine.manage(host.ref.path).ok);
  await host.advance(5000);
  assert.deepEqual(host.killed, [], "within the logical limit: nothing happens");
  // The file server's syscalls push usage 4 MiB over the logical 64 MiB (the kernel's hard limit is 70.4 MiB now).
  host.machineOtherUsedBytes = 0;
  host.baseUsageBytes += 18 * MIB;
  await host.advance(150);
  assert.deepEqual(host.killed, [], "the grace period (200 ms) has not passed");
  await host.advance(1000);
  await engine.whenIdle();
  assert.deepEqual(host.killed, [10]);
  const d = decisions(journal);
  assert.equal(d.length, 1);
  assert.equal(d[0]?.incident.kind, "soft-limit");
  assert.match(d[0]?.incident.reason ?? "", /above the logical limit 67108864 bytes for \d+ ms/);
  assert.equal(d[0]?.outcome.result, "recovered");
  engine.stop();
});

test("soft-limit mode refuses a cgroup without a limit and leaves it as it was", () => {
  const { host, engine, ledger } = setup(null);
  const managed = engine.manage(host.ref.path);
  assert.equal(managed.ok, false);
  assert.match(managed.ok ? "" : managed.error.message, /soft-limit mode needs a memory limit/);
  assert.deepEqual(host.limitWrites, []);
  assert.equal(ledger.recallLimit(host.ledgerKey()), undefined);
});

test("a limit an earlier, killed oomwarden raised is recognised from the ledger: the logical limit stays the original", () => {
  const { host, engine, ledger } = setup(70 * MIB);
  ledger.rememberLimit(host.ledgerKey(), 64 * MIB);
  assert.ok(engine.manage(host.ref.path).ok);
  assert.equal(host.limitWrites[0], 64 * MIB + Math.ceil((64 * MIB * 0.1) / 4096) * 4096, "headroom over the original, not over the raised limit");
  engine.stop();
  assert.equal(host.limitWrites.at(-1), 64 * MIB);
});

test("without soft-limit mode, a limit an earlier oomwarden raised and never restored is put back from the ledger", () => {
  const host = new FakeHost(1, 70 * MIB);
  const ledger = new InMemoryLedger();
  ledger.rememberLimit(host.ledgerKey(), 64 * MIB);
  const engine = new Engine(host, new MemoryJournal(), {}, { ledger });
  const managed = engine.manage(host.ref.path);
  assert.ok(managed.ok);
  assert.deepEqual(host.limitWrites, [64 * MIB]);
  assert.equal(ledger.recallLimit(host.ledgerKey()), undefined);
  assert.ok(managed.value.notes.some((n) => /memory limit put back to 67108864 bytes/.test(n)), managed.value.notes.join("; "));
  engine.stop();
});

test("after a soft-limit incident the grace period starts afresh", async () => {
  const { host, journal, engine } = setup();
  host.add({ pid: 10, comm: "first", rssBytes: 40 * MIB });
  host.add({ pid: 11, comm: "second", rssBytes: 20 * MIB });
  assert.ok(engine.manage(host.ref.path).ok);
  // 50 ms after the first kill, usage refills to over the limit: between two usage checks, so no
  // check sees it below the limit.
  let refilledAtMs = -1;
  let secondKillAtMs = -1;
  const kill = host.kill.bind(host);
  host.kill = (victim) => {
    const sent = kill(victim);
    if (victim.pid === 11) secondKillAtMs = host.now();
    if (victim.pid === 10) {
      host.setTimer(50, () => {
        host.baseUsageBytes += 40 * MIB;
        refilledAtMs = host.now();
      });
    }
    return sent;
  };
  // 2 + 60 + 4 MiB: over the logical 64 MiB; the first goes.
  host.baseUsageBytes += 4 * MIB;
  await host.advance(3000);
  await engine.whenIdle();
  assert.deepEqual(host.killed, [10, 11]);
  assert.ok(secondKillAtMs - refilledAtMs >= 199, `refilled at ${refilledAtMs} ms, second kill at ${secondKillAtMs} ms`);
  const second = joinDecisions(journal.records)[1];
  const forMs = Number(/for (\d+) ms/.exec(second?.incident.reason ?? "")?.[1]);
  assert.ok(forMs >= 199 && forMs <= 400, `the reason counts from the refill: ${forMs} ms`);
  engine.stop();
});

test("a memcg OOM notified while a soft-limit incident is being handled is handled after it", async () => {
  const host = new FakeHost(1, 64 * MIB);
  const journal = new MemoryJournal();
  const engine = new Engine(host, journal, { observeIntervalMs: 100, maxObservationsWithoutProgress: 20, softLimit: { enabled: true } }, { ledger: new InMemoryLedger() });
  // A slow exit keeps the soft-limit incident busy for 800 ms.
  host.add({ pid: 10, comm: "a", rssBytes: 30 * MIB, onKill: { exitAfterMs: 800 }, reapable: false });
  host.add({ pid: 11, comm: "b", rssBytes: 20 * MIB });
  host.add({ pid: 12, comm: "c", rssBytes: 15 * MIB });
  assert.ok(engine.manage(host.ref.path).ok);
  await host.advance(500);
  host.baseUsageBytes += 10 * MIB; // 77 MiB: over the logical 64
  await host.advance(400);
  assert.deepEqual(host.killed, [10], "the soft-limit victim");
  // The kernel's memcg OOM (v1, oom_kill_disable) arrives while that incident still waits for its victim.
  host.oomNeedBytes = 60 * MIB;
  host.fireOom();
  await host.advance(10_000);
  await engine.whenIdle();
  const kinds = joinDecisions(journal.records).map((d) => d.incident.kind);
  assert.equal(kinds[0], "soft-limit");
  assert.ok(kinds.includes("memcg-oom"), `the OOM was looked at: ${kinds.join(", ")}`);
  const after = host.readCgroup();
  assert.ok(after.ok && !after.value.underOom, "and resolved");
  engine.stop();
});

test("stopping while usage is in the headroom leaves the raised limit, says why, and keeps the original in the ledger", async () => {
  const { host, engine, ledger } = setup();
  host.add({ pid: 10, comm: "a", rssBytes: 40 * MIB });
  assert.ok(engine.manage(host.ref.path).ok);
  host.baseUsageBytes += 24 * MIB; // 66 MiB: above 64, within the grace period
  const report = engine.stop();
  assert.equal(report.failed.length, 1);
  assert.match(report.failed[0]!.message, /usage \d+ bytes is above the original limit 67108864 bytes: the raised limit stays/);
  assert.equal(host.limitWrites.length, 1, "no write that the kernel would refuse or answer with its own OOM kill");
  assert.equal(ledger.recallLimit(host.ledgerKey()), 64 * MIB);
});
