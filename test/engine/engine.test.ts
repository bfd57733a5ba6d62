// The engine over a scripted host in virtual time: who dies, how many, and what the journal says.

import assert from "node:assert/strict";
import test from "node:test";
import { MemoryJournal } from "../../src/daemon/journal.js";
import { Engine } from "../../src/engine/engine.js";
import { joinDecisions, type DecidedRecord } from "../../src/engine/journal-record.js";
import { FakeHost } from "./fake-host.js";

const MIB = 1024 * 1024;

function setup(version: 1 | 2 = 1): { host: FakeHost; journal: MemoryJournal; engine: Engine } {
  const host = new FakeHost(version);
  const journal = new MemoryJournal();
  const engine = new Engine(host, journal, { observeIntervalMs: 100, maxObservationsWithoutProgress: 5 });
  return { host, journal, engine };
}

function decisions(journal: MemoryJournal): DecidedRecord[] {
  return joinDecisions(journal.records);
}

test("an OOM kills exactly the hog, and the journal explains it", async () => {
  const { host, journal, engine } = setup();
  host.add({ pid: 100, comm: "innocent", rssBytes: 1 * MIB });
  host.add({ pid: 200, comm: "hog", rssBytes: 60 * MIB });
  assert.ok(engine.manage(host.ref.path).ok);
  assert.equal(host.oomKillDisabled, true, "the kernel killer is disabled while managed");

  host.fireOom();
  await host.advance(1000);
  await engine.whenIdle();

  assert.deepEqual(host.killed, [200]);
  assert.ok(host.alive(100));
  const [record, ...rest] = decisions(journal);
  assert.equal(rest.length, 0);
  assert.ok(record);
  assert.equal(record.incident.kind, "memcg-oom");
  assert.equal(record.victim?.pid, 200);
  assert.equal(record.action, "kill");
  assert.equal(record.outcome.result, "recovered");
  assert.equal(record.candidates[0]?.pid, 200);
  assert.equal(record.candidates[1]?.pid, 100);
  assert.match(record.candidates[0]?.reason ?? "", /\S/);
  assert.equal(record.outcome.msToKill, 0, "virtual time: kill in the same tick as the notification");
  assert.ok(record.outcome.msToMemoryBack !== null && record.outcome.msToMemoryBack <= 2, `memory back at ${record.outcome.msToMemoryBack} ms`);
  assert.equal(record.outcome.freedBytes, 60 * MIB);

  engine.stop();
  assert.equal(host.oomKillDisabled, false, "stop restores oom_kill_disable");
});

test("no second victim while the first is dying slowly but making progress (seed 000)", async () => {
  const { host, journal, engine } = setup();
  host.add({ pid: 100, comm: "innocent", rssBytes: 1 * MIB });
  host.add({ pid: 200, comm: "hog", rssBytes: 60 * MIB, reapable: false, onKill: { shrinkBytesPerMs: 0.03 * MIB } });
  // The waiting task needs 30 MiB: the OOM lasts about a second while the victim shrinks 3 MiB per 100 ms.
  host.oomNeedBytes = 30 * MIB;
  engine.manage(host.ref.path);
  host.fireOom();
  // Notifications keep coming while the victim dies: they must be absorbed, not answered with kills.
  for (let i = 0; i < 10; i++) {
    await host.advance(150);
    host.notifyWithoutOom();
  }
  await host.advance(3000);
  await engine.whenIdle();
  const records = decisions(journal);
  assert.deepEqual(host.killed, [200]);
  assert.ok(host.alive(100));
  assert.equal(records[0]?.outcome.result, "recovered");
  assert.ok((records[0]?.incident.suppressedNotifications ?? 0) > 0, "absorbed notifications are counted");
  engine.stop();
});

test("a victim that makes no progress is escalated after the configured observations, with stall evidence (seed 001)", async () => {
  const { host, journal, engine } = setup();
  host.add({ pid: 100, comm: "small", rssBytes: 5 * MIB });
  host.add({ pid: 200, comm: "stuck", rssBytes: 50 * MIB, onKill: "stall", reapable: false });
  engine.manage(host.ref.path);
  host.fireOom();
  await host.advance(400);
  assert.deepEqual(host.killed, [200], "no escalation before 5 observations");
  await host.advance(2000);
  await engine.whenIdle();
  assert.deepEqual(host.killed, [200, 100]);
  const [first, second] = decisions(journal);
  assert.equal(first?.outcome.result, "escalated");
  assert.equal(first?.outcome.stall?.state, "D");
  assert.equal(first?.outcome.stall?.wchan, "mem_cgroup_oom_synchronize");
  assert.equal(first?.outcome.stall?.observationsWithoutProgress, 5);
  assert.equal(second?.escalatedFrom, first?.decisionId);
  assert.deepEqual(second?.priorVictimsAlive, [200]);
  assert.ok(second?.excluded.some((e) => e.pid === 200 && /killed earlier/.test(e.reason)), "the stuck victim is never chosen twice");
  engine.stop();
});

test("a frozen victim whose memory is reaped counts as recovered: no second kill", async () => {
  const { host, journal, engine } = setup();
  host.add({ pid: 100, comm: "innocent", rssBytes: 1 * MIB });
  host.add({ pid: 200, comm: "frozen", rssBytes: 60 * MIB, onKill: "stall", reapable: true });
  engine.manage(host.ref.path);
  host.fireOom();
  await host.advance(3000);
  await engine.whenIdle();
  assert.deepEqual(host.killed, [200]);
  const [record] = decisions(journal);
  assert.equal(record?.outcome.result, "recovered");
  assert.equal(record?.outcome.victimExited, false);
  assert.deepEqual(record?.outcome.reap, { durationMs: 4, alreadyGone: false });
  engine.stop();
});

test("a candidate that vanished or whose pid was reused is skipped for the next one", async () => {
  const { host, journal, engine } = setup();
  host.add({ pid: 100, comm: "innocent", rssBytes: 1 * MIB });
  host.add({ pid: 150, comm: "second", rssBytes: 20 * MIB });
  host.add({ pid: 200, comm: "hog", rssBytes: 40 * MIB });
  engine.manage(host.ref.path);
  const original = host.openVictim.bind(host);
  host.openVictim = (pid, start) => (pid === 200 ? original(pid, start + 1) : original(pid, start));
  host.fireOom();
  await host.advance(1000);
  await engine.whenIdle();
  assert.deepEqual(host.killed, [150]);
  const [record] = decisions(journal);
  assert.equal(record?.victim?.pid, 150);
  assert.ok(record?.excluded.some((e) => e.pid === 200 && /reused/.test(e.reason)));
  engine.stop();
});

test("a spurious notification (not under OOM) kills nobody", async () => {
  const { host, journal, engine } = setup();
  host.add({ pid: 200, comm: "hog", rssBytes: 10 * MIB });
  engine.manage(host.ref.path);
  host.notifyWithoutOom();
  await host.advance(500);
  await engine.whenIdle();
  assert.deepEqual(host.killed, []);
  assert.equal(decisions(journal).length, 0);
  engine.stop();
});

test("dry run journals the decision, kills nothing itself, hands the OOM to the kernel and journals its kill", async () => {
  const host = new FakeHost(1);
  const journal = new MemoryJournal();
  const engine = new Engine(host, journal, { dryRun: true });
  host.add({ pid: 100, comm: "innocent", rssBytes: 1 * MIB });
  host.add({ pid: 200, comm: "hog", rssBytes: 60 * MIB });
  engine.manage(host.ref.path);
  host.fireOom();
  await host.advance(500);
  await engine.whenIdle();
  assert.deepEqual(host.killed, [], "oomwarden killed nobody");
  assert.deepEqual(host.kernelKilled, [200]);
  const [record] = decisions(journal);
  assert.equal(record?.action, "dry-run");
  assert.equal(record?.victim?.pid, 200);
  assert.equal(record?.outcome.result, "not-acted");
  const kernelKill = journal.records.find((r) => r.type === "kernel-kill");
  assert.ok(kernelKill && kernelKill.type === "kernel-kill");
  assert.equal(kernelKill.oomKills, 1);
  assert.deepEqual(kernelKill.goneSinceSnapshot, [200]);
  assert.equal(host.oomKillDisabled, true, "taken over again after the kernel acted");
  engine.stop();
  assert.equal(host.oomKillDisabled, false);
});

test("v2: the memory.events counters alone decide nothing; the guard band does, after a kernel kill too", async () => {
  const { host, journal, engine } = setup(2);
  host.add({ pid: 100, comm: "innocent", rssBytes: 1 * MIB });
  host.add({ pid: 200, comm: "hog", rssBytes: 20 * MIB });
  engine.manage(host.ref.path);
  // The kernel counts oom when it starts an OOM and oom_kill at its kill: 2 ooms and 1 kill read
  // here once meant "one OOM left unanswered", and an innocent died for it. Below the band (23 of
  // 64 MiB) nothing is short: nobody dies.
  host.events = { ...host.events, oom: host.events.oom + 1, oomKill: host.events.oomKill + 1 };
  host.fireOom();
  await host.advance(500);
  await engine.whenIdle();
  assert.equal(journal.records.filter((r) => r.type === "kernel-kill").length, 1, "the kernel's kill is journaled");
  assert.deepEqual(host.killed, []);
  // Throttled in the band once the kernel's victim is gone: a decision of oomwarden's, the biggest dies.
  host.growInto(62 * MIB);
  await host.advance(500);
  await engine.whenIdle();
  assert.deepEqual(host.killed, [200]);
  assert.ok(host.alive(100));
  engine.stop();
});

test("v2 memory.oom.group: the whole cgroup is killed through cgroup.kill, and recovery is confirmed", async () => {
  const { host, journal, engine } = setup(2);
  host.oomGroup = true;
  host.add({ pid: 100, comm: "a", rssBytes: 1 * MIB });
  host.add({ pid: 200, comm: "b", rssBytes: 60 * MIB });
  engine.manage(host.ref.path);
  host.fireOom();
  await host.advance(500);
  await engine.whenIdle();
  assert.deepEqual(host.cgroupKills, [host.ref.path]);
  const [record] = decisions(journal);
  assert.equal(record?.action, "kill-cgroup");
  assert.deepEqual(record?.outcome.groupKilledPids, [100, 200]);
  assert.equal(record?.outcome.result, "recovered");
  assert.ok(record?.outcome.msToMemoryBack !== null);
  engine.stop();
});

test("a path that cannot be managed is an error naming it; the others are still managed", () => {
  const { host, journal, engine } = setup();
  const bad = engine.manage("/sys/fs/cgroup/memory/nope");
  assert.equal(bad.ok, false);
  if (!bad.ok) assert.match(bad.error.message, /\/sys\/fs\/cgroup\/memory\/nope/);
  assert.ok(engine.manage(host.ref.path).ok);
  assert.deepEqual(engine.managedPaths(), [host.ref.path]);
  assert.ok(journal.records.some((r) => r.type === "error" && r.cgroup === "/sys/fs/cgroup/memory/nope"));
  engine.stop();
});

test("v1 with nothing oomwarden may kill: the OOM goes to the kernel instead of hanging, and the journal says so", async () => {
  const { host, journal, engine } = setup();
  host.add({ pid: 100, comm: "protected", rssBytes: 60 * MIB, oomScoreAdj: -1000 });
  engine.manage(host.ref.path);
  host.fireOom();
  await host.advance(6000);
  await engine.whenIdle();
  assert.deepEqual(host.killed, []);
  const [record] = decisions(journal);
  assert.equal(record?.action, "none");
  assert.equal(record?.outcome.result, "nothing-done");
  const handover = journal.records.find((r) => r.type === "kernel-kill");
  assert.ok(handover?.type === "kernel-kill" && /found nothing it may kill/.test(handover.note));
  assert.equal(host.underOom, false, "the cgroup is not left hanging");
  assert.equal(host.oomKillDisabled, true, "managed again afterwards");
  engine.stop();
});

test("stopping during a dry-run handover leaves the kernel killer enabled", async () => {
  const host = new FakeHost(1);
  const journal = new MemoryJournal();
  const engine = new Engine(host, journal, { dryRun: true });
  host.add({ pid: 100, comm: "protected", rssBytes: 60 * MIB, oomScoreAdj: -1000 });
  host.add({ pid: 200, comm: "small", rssBytes: 1 * MIB });
  host.oomNeedBytes = 100 * MIB; // the OOM outlasts the kernel's kill, so the handover keeps waiting
  engine.manage(host.ref.path);
  host.fireOom();
  await host.advance(50);
  engine.stop();
  await host.advance(6000);
  await engine.whenIdle();
  assert.equal(host.oomKillDisabled, false, "not taken over again after stop");
});

test("an earlier victim still alive gets the tracker's patience before a new OOM kills anyone else", async () => {
  const { host, journal, engine } = setup();
  host.add({ pid: 100, comm: "innocent", rssBytes: 1 * MIB });
  host.add({ pid: 150, comm: "second", rssBytes: 10 * MIB });
  host.add({ pid: 200, comm: "frozen", rssBytes: 50 * MIB, onKill: "stall", reapable: true });
  engine.manage(host.ref.path);
  host.fireOom();
  await host.advance(1000);
  await engine.whenIdle();
  assert.deepEqual(host.killed, [200], "the frozen victim was reaped: recovered, still alive");
  const secondOomAtMs = host.now();
  host.fireOom();
  await host.advance(300);
  assert.deepEqual(host.killed, [200], "no new victim while the old one is observed");
  await host.advance(2000);
  await engine.whenIdle();
  assert.deepEqual(host.killed, [200, 150], "after the observations without progress, the next victim");
  const second = decisions(journal)[1];
  assert.deepEqual(second?.priorVictimsAlive, [200]);
  assert.ok((second?.outcome.msToKill ?? 0) >= 500, `waited ${second?.outcome.msToKill} ms since ${secondOomAtMs}`);
  engine.stop();
});

test("the cgroup leaving OOM at the first uncharge does not end the watch on a victim whose memory is still going down", async () => {
  const { host, journal, engine } = setup();
  host.add({ pid: 100, comm: "innocent", rssBytes: 1 * MIB });
  host.add({ pid: 200, comm: "big", rssBytes: 50 * MIB, onKill: { exitAfterMs: 900 } });
  host.reapMs = 700; // a big victim: reaping takes a while
  host.oomNeedBytes = 1; // the waiter is satisfied by any uncharge
  engine.manage(host.ref.path);
  host.fireOom();
  await host.advance(20);
  host.processes.get(200)!.rssBytes -= 2 * MIB; // the first pages come back: under_oom clears
  await host.advance(2000);
  await engine.whenIdle();
  assert.deepEqual(host.killed, [200]);
  const [record] = decisions(journal);
  assert.equal(record?.outcome.result, "recovered");
  assert.deepEqual(record?.outcome.reap, { durationMs: 700, alreadyGone: false }, "waited for the reap");
  assert.ok((record?.outcome.msToMemoryBack ?? 0) >= 700, `memory back at ${record?.outcome.msToMemoryBack} ms`);
  engine.stop();
});

test("a victim freeing its memory steadily is never joined by a second one, however many OOMs follow", async () => {
  const { host, journal, engine } = setup();
  host.add({ pid: 100, comm: "innocent", rssBytes: 1 * MIB });
  host.add({ pid: 150, comm: "second", rssBytes: 10 * MIB });
  host.add({ pid: 200, comm: "big", rssBytes: 50 * MIB, reapable: false, onKill: { shrinkBytesPerMs: 0.05 * MIB } });
  host.oomNeedBytes = 1;
  engine.manage(host.ref.path);
  host.fireOom();
  // The workload keeps hitting the limit while the victim shrinks (it is gone after about 1 s).
  for (let i = 0; i < 8; i++) {
    await host.advance(100);
    host.fireOom();
  }
  await host.advance(2000);
  await engine.whenIdle();
  assert.deepEqual(host.killed, [200]);
  assert.ok(decisions(journal).every((d) => d.victim?.pid === 200 || d.action === "none"));
  engine.stop();
});

test("v2 memory.oom.group with a protected member: members are killed one by one, the protected one lives", async () => {
  const { host, journal, engine } = setup(2);
  host.oomGroup = true;
  host.add({ pid: 100, comm: "guard", rssBytes: 1 * MIB, oomScoreAdj: -1000 });
  host.add({ pid: 200, comm: "b", rssBytes: 61 * MIB });
  engine.manage(host.ref.path);
  host.fireOom();
  await host.advance(1000);
  await engine.whenIdle();
  assert.deepEqual(host.cgroupKills, [], "no cgroup.kill: it would take the protected process too");
  assert.deepEqual(host.killed, [200]);
  assert.ok(host.alive(100));
  assert.equal(decisions(journal)[0]?.action, "kill");
  engine.stop();
});

test("the ledger holds the original value while managed, and a value left by a killed daemon is given back", async () => {
  const { InMemoryLedger } = await import("../../src/engine/takeover-ledger.js");
  const host = new FakeHost(1);
  const ledger = new InMemoryLedger();
  const engine = new Engine(host, new MemoryJournal(), {}, { ledger });
  engine.manage(host.ref.path);
  assert.equal(ledger.recall(host.ledgerKey()), false, "written down before the change");
  engine.stop();
  assert.equal(ledger.recall(host.ledgerKey()), null, "forgotten once restored");

  // A daemon killed by SIGKILL left 1 behind; the ledger knows it was 0.
  host.oomKillDisabled = true;
  ledger.remember(host.ledgerKey(), false);
  const next = new Engine(host, new MemoryJournal(), {}, { ledger });
  const managed = next.manage(host.ref.path);
  assert.ok(managed.ok && managed.value.notes.some((n) => /earlier oomwarden stopped without restoring/.test(n)));
  next.stop();
  assert.equal(host.oomKillDisabled, false);

  // 1 set by the operator (not in the ledger) stays 1.
  host.oomKillDisabled = true;
  const third = new Engine(host, new MemoryJournal(), {}, { ledger });
  third.manage(host.ref.path);
  third.stop();
  assert.equal(host.oomKillDisabled, true);
});

test("no takeover when the ledger cannot record the original: oom_kill_disable and the limit stay as they were", async () => {
  const { InMemoryLedger } = await import("../../src/engine/takeover-ledger.js");
  class FullDiskLedger extends InMemoryLedger {
    override remember(): { ok: false; error: { code: string; message: string } } {
      return { ok: false, error: { code: "ENOSPC", message: "no space left on device" } };
    }
    override rememberLimit(): { ok: false; error: { code: string; message: string } } {
      return { ok: false, error: { code: "ENOSPC", message: "no space left on device" } };
    }
  }
  const host = new FakeHost(1);
  const journal = new MemoryJournal();
  const engine = new Engine(host, journal, { machineGuard: { enabled: false } }, { ledger: new FullDiskLedger() });
  const managed = engine.manage(host.ref.path);
  assert.ok(!managed.ok && /could not be recorded \(no space left on device\)/.test(managed.error.message), JSON.stringify(managed));
  assert.equal(host.oomKillDisabled, false, "the kernel killer was never turned off");
  assert.deepEqual(engine.managedPaths(), []);
  engine.stop();

  // Soft-limit mode raises no limit it could not write down either (v1 killer already disabled by the operator).
  const soft = new FakeHost(1);
  soft.oomKillDisabled = true;
  const limitOf = (): number | null => {
    const read = soft.readCgroup();
    return read.ok ? read.value.limitBytes : -1;
  };
  const limitBefore = limitOf();
  const softEngine = new Engine(soft, new MemoryJournal(), { softLimit: { enabled: true } }, { ledger: new FullDiskLedger() });
  const softManaged = softEngine.manage(soft.ref.path);
  assert.ok(!softManaged.ok && /original limit could not be recorded/.test(softManaged.error.message), JSON.stringify(softManaged));
  assert.equal(limitOf(), limitBefore);
  softEngine.stop();
});

test("a reap that gives back part of the memory: the victim is watched to its exit, and freedBytes counts it all", async () => {
  const { host, journal, engine } = setup();
  host.reapShare = 0.6;
  host.add({ pid: 100, comm: "innocent", rssBytes: 1 * MIB });
  host.add({ pid: 200, comm: "hog", rssBytes: 60 * MIB, onKill: { exitAfterMs: 20 } });
  host.oomNeedBytes = 4 * MIB;
  engine.manage(host.ref.path);
  host.fireOom();
  await host.advance(1000);
  await engine.whenIdle();
  const [record, ...more] = decisions(journal);
  assert.equal(more.length, 0);
  assert.equal(record?.outcome.result, "recovered");
  assert.equal(record?.outcome.victimExited, true);
  assert.equal(record?.outcome.freedBytes, 60 * MIB, "the whole victim, not the reap's share");
  assert.ok((record?.outcome.msToMemoryBack ?? 99) <= 5, `memory back when the reap ended the OOM: ${record?.outcome.msToMemoryBack} ms`);
  engine.stop();
});

test("a victim found gone before its exit watch fires (the pidfd's readiness behind a timer) is journaled as exited, with its memory back", async () => {
  const { host, journal, engine } = setup();
  host.exitNoticeLateMs = 500;
  host.add({ pid: 100, comm: "innocent", rssBytes: 1 * MIB });
  host.add({ pid: 200, comm: "hog", rssBytes: 60 * MIB, onKill: { exitAfterMs: 300 }, reapable: false });
  host.oomNeedBytes = 4 * MIB;
  engine.manage(host.ref.path);
  host.fireOom();
  await host.advance(2000);
  await engine.whenIdle();
  const [record, ...more] = decisions(journal);
  assert.equal(more.length, 0);
  assert.equal(record?.outcome.result, "recovered");
  assert.equal(record?.outcome.victimExited, true, "the pidfd said it had exited: not 'recovered' with the victim unaccounted for");
  const backMs = record?.outcome.msToMemoryBack ?? null;
  assert.ok(backMs !== null && backMs >= 300 && backMs < 500, `memory back at the first observation after the exit, before the late notice: ${backMs} ms`);
  engine.stop();
});
