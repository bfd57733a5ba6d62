// The machine guard over a scripted host in virtual time: whole-machine low memory, watermark
// starvation and their journal records; who dies, who never does, and how often the machine is read.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MemoryJournal } from "../../src/daemon/journal.js";
import { Engine } from "../../src/engine/engine.js";
import type { EngineOptionsInput } from "../../src/engine/engine-options.js";
import { joinDecisions, type DecidedRecord, type JournalRecord, type LifecycleRecord } from "../../src/engine/journal-record.js";
import { FakeHost } from "./fake-host.js";

const MIB = 1024 * 1024;

/** A 1 GiB machine (the FakeHost's default) whose processes hold 912 MiB with 2 MiB of base usage. */
function setup(options: EngineOptionsInput = {}): { host: FakeHost; journal: MemoryJournal; engine: Engine } {
  const host = new FakeHost(2);
  const journal = new MemoryJournal();
  const engine = new Engine(host, journal, { observeIntervalMs: 100, maxObservationsWithoutProgress: 5, ...options });
  return { host, journal, engine };
}

function decisions(journal: MemoryJournal): DecidedRecord[] {
  return joinDecisions(journal.records);
}

function notices(journal: MemoryJournal): LifecycleRecord[] {
  return journal.records.filter((r): r is LifecycleRecord => r.type === "notice");
}

function errors(journal: MemoryJournal): JournalRecord[] {
  return journal.records.filter((r) => r.type === "error");
}

/** Sets machineOtherUsedBytes so that MemAvailable is `availableMiB`. */
function makeAvailable(host: FakeHost, availableMiB: number): void {
  host.machineOtherUsedBytes = host.machineTotalBytes - host.usageBytes() - availableMiB * MIB;
  assert.ok(host.machineOtherUsedBytes >= 0, "the processes fit");
}

function addWorkload(host: FakeHost, hog: Partial<Parameters<FakeHost["add"]>[0]> = {}): void {
  host.add({ pid: 100, comm: "small", rssBytes: 10 * MIB });
  host.add({ pid: 200, comm: "medium", rssBytes: 300 * MIB });
  host.add({ pid: 300, comm: "hog", rssBytes: 600 * MIB, ...hog });
}

describe("machine guard: low memory", () => {
  it("kills exactly the biggest process once, journals it under \"/\" with the reason, and recovers", async () => {
    const { host, journal, engine } = setup();
    addWorkload(host);
    makeAvailable(host, 32); // 3.1% of 1 GiB: below 5%, above the critical 1.5%
    const started = engine.guardMachine();
    assert.ok(started.ok);
    assert.ok(journal.records.some((r) => r.type === "manage" && r.cgroup === "/" && /guarding the whole machine/.test(r.message)));
    await host.advance(5000);
    await engine.whenIdle();

    assert.deepEqual(host.killed, [300]);
    assert.ok(host.alive(100) && host.alive(200));
    assert.ok(host.routineListings.decision >= 1, `the decision's listing is not a routine one (it keeps the raised priority): ${JSON.stringify(host.routineListings)}`);
    const all = decisions(journal);
    assert.equal(all.length, 1, JSON.stringify(all));
    const [record] = all;
    assert.ok(record);
    assert.equal(record.incident.cgroup, "/");
    assert.equal(record.incident.kind, "low-memory");
    assert.match(record.incident.reason ?? "", /available 32\.0 MiB of 1024\.0 MiB \(3\.1% < 5%\), no swap/);
    assert.equal(record.incident.limitBytes, 1024 * MIB);
    assert.equal(record.incident.usageBytes, 992 * MIB);
    assert.equal(record.incident.machine?.availableBytes, 32 * MIB);
    assert.equal(record.incident.machine?.swapTotalBytes, 0);
    assert.equal(record.action, "kill");
    assert.equal(record.victim?.pid, 300);
    assert.equal(record.victim?.comm, "hog");
    assert.deepEqual(
      record.candidates.map((c) => c.pid),
      [300, 200, 100],
    );
    assert.equal(record.escalatedFrom, null);
    assert.deepEqual(record.priorVictimsAlive, []);
    assert.equal(record.outcome.result, "recovered");
    assert.equal(record.outcome.victimExited, true);
    assert.equal(record.outcome.freedBytes, 600 * MIB);
    assert.equal(record.outcome.msToKill, 0, "the first sample is judged at once");
    assert.ok(record.outcome.msToMemoryBack !== null && record.outcome.msToMemoryBack <= 5, `memory back at ${record.outcome.msToMemoryBack} ms`);
    assert.deepEqual(errors(journal), []);
    engine.stop();
  });

  it("kills nobody while memory is plentiful; samples as often as the next level could be reached", async () => {
    const { host, journal, engine } = setup();
    addWorkload(host, { rssBytes: 100 * MIB });
    // A 24 GiB machine with 20 GiB available: 17.6 GiB above the terminate line is more than
    // 8 s at the assumed 2 GiB/s, so the idle interval (1 s) bounds it.
    host.machineTotalBytes = 24 * 1024 * MIB;
    makeAvailable(host, 20 * 1024);
    assert.ok(engine.guardMachine().ok);
    await host.advance(1); // the first judgement, at once
    let before = host.machineReads;
    await host.advance(10_000);
    assert.equal(host.machineReads - before, 10, "once a second (idleSampleIntervalMs 1000)");
    engine.stop();
    assert.deepEqual(host.killed, []);
    assert.deepEqual(decisions(journal), []);
  });

  it("samples more densely the nearer memory is to the next acting line", async () => {
    // Each on a machine of its own: one dropping from one of these to the next in a sample interval
    // would be a fall of hundreds of MiB/s, and judged so (fallRateBytesPerMs).
    const samplesIn10s = async (availableMiB: number): Promise<number> => {
      const { host, journal, engine } = setup();
      addWorkload(host, { rssBytes: 100 * MIB });
      makeAvailable(host, availableMiB);
      assert.ok(engine.guardMachine().ok);
      await host.advance(2500);
      const before = host.machineReads;
      await host.advance(10_000);
      engine.stop();
      assert.deepEqual(host.killed, []);
      assert.deepEqual(decisions(journal), []);
      // Above the warn level the processes are listed for growth every 5 s: routine listings.
      assert.ok(host.routineListings.routine >= 2, `the listings for growth are routine ones: ${JSON.stringify(host.routineListings)}`);
      return host.machineReads - before;
    };
    // 1 GiB with 600 MiB available: 497.6 MiB above the terminate line (10%), 243 ms at 2 GiB/s.
    const far = await samplesIn10s(600);
    assert.ok(Math.abs(far - 10_000 / 243) <= 2, `${far} samples in 10 s`);
    // 15% available: 51 MiB above the terminate line, 25 ms at 2 GiB/s, so the densest: 40 ms.
    const near = await samplesIn10s(154);
    assert.ok(Math.abs(near - 10_000 / 40) <= 20, `${near} samples in 10 s`);
  });
});

describe("machine guard: a stalled victim (seed 000, machine-wide)", () => {
  it("no second victim while the machine is not critical; the next one once it is", async () => {
    const { host, journal, engine } = setup();
    addWorkload(host, { onKill: "stall", reapable: false });
    makeAvailable(host, 32); // 3.1%: low, not critical
    assert.ok(engine.guardMachine().ok);
    await host.advance(20_000);
    assert.deepEqual(host.killed, [300], "a stalled victim on a machine that can wait costs nobody else their life");
    assert.ok(host.alive(300));
    // The decision is journaled at the kill; its outcome only once the confirmation ends: not yet.
    const early = decisions(journal);
    assert.equal(early.length, 1);
    assert.equal(early[0]?.victim?.pid, 300);
    assert.equal(early[0]?.outcome.result, "pending", "no outcome while the victim is still watched");

    // The machine becomes critical: 10 MiB available (under 1%).
    makeAvailable(host, 10);
    await host.advance(5000);
    await engine.whenIdle();
    assert.deepEqual(host.killed, [300, 200], "the next biggest, never the stalled victim again");
    assert.ok(host.alive(300) && host.alive(100));
    const [first, second, ...rest] = decisions(journal);
    assert.equal(rest.length, 0);
    assert.ok(first && second);
    assert.equal(first.victim?.pid, 300);
    assert.equal(first.outcome.result, "escalated");
    assert.ok((first.outcome.escalationsHeldBack ?? 0) > 0, "the holds while not critical are counted");
    assert.equal(first.outcome.stall?.state, "D");
    assert.equal(second.victim?.pid, 200);
    assert.equal(second.escalatedFrom, first.decisionId);
    assert.deepEqual(second.priorVictimsAlive, [300]);
    assert.ok(second.excluded.some((e) => e.pid === 300 && /killed earlier/.test(e.reason)));
    assert.equal(second.outcome.result, "recovered");
    engine.stop();
  });
});

describe("machine guard: memory back from elsewhere while the victim lives", () => {
  it("is not journaled as this kill's recovery: recovered-elsewhere, victim not exited, and nobody else dies", async () => {
    const { host, journal, engine } = setup();
    addWorkload(host, { onKill: "stall", reapable: false });
    makeAvailable(host, 32);
    assert.ok(engine.guardMachine().ok);
    await host.advance(300);
    assert.deepEqual(host.killed, [300]);
    // Someone else gives memory back (the kernel killed another process, a job ended): the
    // machine is fine, the victim is still there.
    makeAvailable(host, 110);
    await host.advance(10_000);
    await engine.whenIdle();
    assert.deepEqual(host.killed, [300], "nobody else");
    const [record, ...rest] = decisions(journal);
    assert.equal(rest.length, 0);
    assert.ok(record);
    assert.equal(record.outcome.result, "recovered-elsewhere");
    assert.equal(record.outcome.victimExited, false);
    assert.equal(record.outcome.msToMemoryBack, null);
    engine.stop();
  });

  it("a victim that exits after the machine recovered is still this kill's recovery", async () => {
    const { host, journal, engine } = setup();
    addWorkload(host, { onKill: { exitAfterMs: 600 }, reapable: false });
    makeAvailable(host, 32);
    assert.ok(engine.guardMachine().ok);
    await host.advance(300);
    makeAvailable(host, 110);
    await host.advance(5000);
    await engine.whenIdle();
    const [record] = decisions(journal);
    assert.equal(record?.outcome.result, "recovered");
    assert.equal(record?.outcome.victimExited, true);
    engine.stop();
  });
});

describe("machine guard: who is never chosen", () => {
  it("oomwarden itself and oom_score_adj -1000 are skipped for the next process", async () => {
    const { host, journal, engine } = setup();
    host.add({ pid: 4242, comm: "oomwarden", rssBytes: 500 * MIB });
    host.add({ pid: 1, comm: "init", rssBytes: 300 * MIB, oomScoreAdj: -1000 });
    host.add({ pid: 500, comm: "worker", rssBytes: 100 * MIB });
    makeAvailable(host, 32);
    assert.ok(engine.guardMachine().ok);
    await host.advance(3000);
    await engine.whenIdle();
    assert.deepEqual(host.killed, [500]);
    const [record] = decisions(journal);
    assert.equal(record?.victim?.pid, 500);
    assert.deepEqual(record?.candidates.map((c) => c.pid), [500]);
    assert.deepEqual(
      record?.excluded.map((e) => e.pid).sort((a, b) => a - b),
      [1, 4242],
    );
    engine.stop();
  });

  it("nothing killable: one \"nothing-done\" decision per episode, not one per sample", async () => {
    const { host, journal, engine } = setup();
    host.add({ pid: 4242, comm: "oomwarden", rssBytes: 500 * MIB });
    host.add({ pid: 1, comm: "init", rssBytes: 300 * MIB, oomScoreAdj: -1000 });
    makeAvailable(host, 32);
    assert.ok(engine.guardMachine().ok);
    const readsBefore = host.machineReads;
    await host.advance(5000);
    await engine.whenIdle();
    assert.ok(host.machineReads - readsBefore >= 15, `the low machine kept being sampled (${host.machineReads - readsBefore} reads)`);
    assert.deepEqual(host.killed, []);
    const first = decisions(journal);
    assert.equal(first.length, 1, JSON.stringify(first.map((d) => d.outcome.result)));
    assert.equal(first[0]?.action, "none");
    assert.equal(first[0]?.victim, null);
    assert.equal(first[0]?.outcome.result, "nothing-done");
    assert.equal(first[0]?.incident.cgroup, "/");

    // The episode ends, and a new one begins: one more decision.
    makeAvailable(host, 110); // plenty: no rule fires
    await host.advance(2000);
    makeAvailable(host, 32);
    await host.advance(5000);
    await engine.whenIdle();
    const both = decisions(journal);
    assert.equal(both.length, 2);
    assert.equal(both[1]?.outcome.result, "nothing-done");
    assert.deepEqual(host.killed, []);
    engine.stop();
  });
});

describe("machine guard: dry run", () => {
  it("journals one dry-run decision per episode and kills nothing", async () => {
    const { host, journal, engine } = setup({ dryRun: true });
    addWorkload(host);
    makeAvailable(host, 32);
    const started = engine.guardMachine();
    assert.ok(started.ok);
    assert.ok(started.value.notes.some((n) => /dry run/.test(n)));
    await host.advance(5000);
    await engine.whenIdle();
    assert.deepEqual(host.killed, []);
    const first = decisions(journal);
    assert.equal(first.length, 1);
    assert.equal(first[0]?.action, "dry-run");
    assert.equal(first[0]?.victim?.pid, 300, "the victim it would have killed");
    assert.equal(first[0]?.outcome.result, "not-acted");
    assert.equal(first[0]?.incident.kind, "low-memory");

    makeAvailable(host, 110);
    await host.advance(2000);
    makeAvailable(host, 32);
    await host.advance(5000);
    await engine.whenIdle();
    assert.equal(decisions(journal).length, 2, "a second episode, a second dry-run decision");
    assert.equal(decisions(journal)[1]?.action, "dry-run");
    assert.deepEqual(host.killed, []);
    engine.stop();
  });
});

describe("machine guard: watermark starvation (seed 003)", () => {
  /**
   * Free below min (4 MiB of a min of 8: at min/2, unless `freeBytes` says otherwise) with reclaim
   * and direct-reclaim stalls rising, advanced in steps of `stepMs` (250 ms unless said otherwise).
   */
  async function starve(
    host: FakeHost,
    ms: number,
    counters: { reclaimed: number; stalls: number },
    until?: () => boolean,
    o: { freeBytes?: number; stepMs?: number } = {},
  ): Promise<void> {
    const stepMs = o.stepMs ?? 250;
    for (let t = 0; t < ms; t += stepMs) {
      counters.reclaimed += 400;
      counters.stalls += 3;
      host.machine = { freeBytes: o.freeBytes ?? 4 * MIB, reclaimedPagesTotal: counters.reclaimed, allocStallsTotal: counters.stalls };
      await host.advance(stepMs);
      if (until?.()) return;
    }
  }

  it("one kill for a starvation at min/2 that lasts a fifth of the window; a second episode within 60 s gets a notice, no kill", async () => {
    const { host, journal, engine } = setup();
    host.add({ pid: 100, comm: "small", rssBytes: 10 * MIB });
    host.add({ pid: 300, comm: "app", rssBytes: 200 * MIB });
    const counters = { reclaimed: 1000, stalls: 10 };
    host.machine = { freeBytes: 4 * MIB, reclaimedPagesTotal: counters.reclaimed, allocStallsTotal: counters.stalls };
    assert.ok(engine.guardMachine().ok);
    await starve(host, 5000, counters, () => host.killed.length > 0, { stepMs: 40 });
    assert.deepEqual(host.killed, [300]);
    const killedAtMs = host.now();
    assert.ok(killedAtMs >= 200 && killedAtMs <= 280, `killed at ${killedAtMs} ms: after a fifth of the 1 s window at min/2, not before`);
    // The kill ends the starvation.
    host.machine = {};
    await host.advance(2000);
    await engine.whenIdle();
    const [record, ...rest] = decisions(journal);
    assert.equal(rest.length, 0);
    assert.ok(record);
    assert.equal(record.incident.kind, "watermark-starvation");
    assert.equal(record.incident.cgroup, "/");
    assert.match(record.incident.reason ?? "", /free 4\.0 MiB below the min watermark 8\.0 MiB for \d+ ms while reclaim freed \d+ pages and allocations entered direct reclaim \d+ times/);
    assert.equal(record.incident.machine?.freeBytes, 4 * MIB);
    assert.equal(record.incident.machine?.minWatermarkBytes, 8 * MIB);
    assert.equal(record.victim?.pid, 300);
    assert.equal(record.outcome.result, "recovered");

    // A second starvation 10 s later: within the minute, so held back, said once.
    await host.advance(10_000);
    await starve(host, 5000, counters);
    assert.deepEqual(host.killed, [300], "no second starvation kill within starvationKillIntervalMs");
    assert.equal(decisions(journal).length, 1);
    const said = notices(journal);
    assert.equal(said.length, 1, JSON.stringify(said));
    assert.equal(said[0]?.cgroup, "/");
    assert.match(said[0]?.message ?? "", /^watermark-starvation: free 4\.0 MiB below the min watermark .*; not acted on: one watermark-starvation kill per 60000 ms/);
    engine.stop();
  });

  it("just below min, the whole window", async () => {
    const { host, engine } = setup();
    host.add({ pid: 300, comm: "app", rssBytes: 200 * MIB });
    assert.ok(engine.guardMachine().ok);
    await starve(host, 5000, { reclaimed: 0, stalls: 0 }, () => host.killed.length > 0, { freeBytes: 8 * MIB - 4096, stepMs: 40 });
    assert.deepEqual(host.killed, [300]);
    assert.ok(host.now() >= 1000 && host.now() <= 1080, `killed at ${host.now()} ms: after the 1 s window, not before`);
    engine.stop();
  });

  it("samples every 40 ms below the low watermark, every 250 ms up to twice it", async () => {
    const { host, engine } = setup();
    host.add({ pid: 300, comm: "app", rssBytes: 200 * MIB });
    host.machine = { freeBytes: 9 * MIB };
    assert.ok(engine.guardMachine().ok);
    await host.advance(1);
    let reads = host.machineReads;
    await host.advance(1000);
    assert.equal(host.machineReads - reads, 25, "free between min and low: every 40 ms");
    host.machine = { freeBytes: 15 * MIB };
    await host.advance(40);
    reads = host.machineReads;
    await host.advance(1000);
    assert.equal(host.machineReads - reads, 4, "free above low, below twice it: every 250 ms");
    assert.deepEqual(host.killed, []);
    engine.stop();
  });

  it("a dip below min shorter than its depth asks for (750 ms just below min, 160 ms at min/2), or without reclaim running, kills nobody", async () => {
    const { host, journal, engine } = setup();
    host.add({ pid: 300, comm: "app", rssBytes: 200 * MIB });
    assert.ok(engine.guardMachine().ok);
    const counters = { reclaimed: 0, stalls: 0 };
    await starve(host, 750, counters, undefined, { freeBytes: 8 * MIB - 4096 });
    host.machine = {};
    await host.advance(1000);
    // Between min and low the guard samples densely; a burst then takes free to min/2 for 160 ms.
    host.machine = { freeBytes: 9 * MIB };
    await host.advance(1000);
    const reads = host.machineReads;
    await starve(host, 160, counters, undefined, { stepMs: 40 });
    assert.ok(host.machineReads - reads >= 4, "the dip was sampled");
    host.machine = { freeBytes: 9 * MIB };
    await host.advance(1000);
    host.machine = {};
    await host.advance(1000);
    // Below min for long, but reclaim reclaims nothing: not starvation.
    host.machine = { freeBytes: 4 * MIB, reclaimedPagesTotal: 5, allocStallsTotal: 5 };
    await host.advance(5000);
    await engine.whenIdle();
    assert.deepEqual(host.killed, []);
    assert.deepEqual(decisions(journal), []);
    assert.deepEqual(notices(journal), []);
    engine.stop();
  });
});

describe("machine guard: stop", () => {
  it("stops sampling and journals the release of \"/\"", async () => {
    const { host, journal, engine } = setup();
    addWorkload(host, { rssBytes: 100 * MIB });
    assert.ok(engine.guardMachine().ok);
    assert.deepEqual(engine.guardMachine(), { ok: true, value: { notes: ["already guarding the machine"] } });
    await host.advance(3000);
    assert.ok(host.machineReads >= 4);
    engine.stop();
    const reads = host.machineReads;
    makeAvailable(host, 32);
    await host.advance(10_000);
    assert.equal(host.machineReads, reads, "no sample after stop");
    assert.deepEqual(host.killed, []);
    const released = journal.records.filter((r) => r.type === "release" && r.cgroup === "/");
    assert.equal(released.length, 1);
    assert.match((released[0] as LifecycleRecord).message, /stopped guarding the machine/);
  });

  it("stop during a confirmation on a critical machine: nothing else dies, sampling ends", async () => {
    const { host, journal, engine } = setup();
    addWorkload(host, { onKill: "stall", reapable: false });
    makeAvailable(host, 10); // critical
    assert.ok(engine.guardMachine().ok);
    await host.advance(200);
    assert.deepEqual(host.killed, [300]);
    engine.stop();
    await host.advance(5000);
    const reads = host.machineReads;
    await host.advance(10_000);
    await engine.whenIdle();
    assert.deepEqual(host.killed, [300], "the escalation that follows the stop kills nobody");
    assert.equal(host.machineReads, reads, "no sample once the confirmation in flight has ended");
    assert.ok(journal.records.some((r) => r.type === "release" && r.cgroup === "/"));
  });

  it(
    "stop during a confirmation on a machine that is not critical: the confirmation ends too",
    async () => {
      const { host, engine } = setup();
      addWorkload(host, { onKill: "stall", reapable: false });
      makeAvailable(host, 32); // low, not critical: the stalled victim is waited on
      assert.ok(engine.guardMachine().ok);
      await host.advance(2000);
      assert.deepEqual(host.killed, [300]);
      engine.stop();
      let idle = false;
      void engine.whenIdle().then(() => (idle = true));
      await host.advance(5000);
      const reads = host.machineReads;
      await host.advance(10_000);
      assert.deepEqual(host.killed, [300]);
      assert.equal(host.machineReads - reads, 0, "the stopped guard still reads the machine");
      assert.equal(idle, true, "engine.whenIdle() never resolves after stop");
    },
  );
});

describe("machine guard: the decision path rehearsed at start", () => {
  it("runs the real path to the last look before the signal: nobody signalled, nothing journaled, decisions numbered from 1", async () => {
    const { host, journal, engine } = setup();
    addWorkload(host, { rssBytes: 400 * MIB });
    makeAvailable(host, 250); // plentiful (24%): the rehearsal runs before the first sample
    const listedBefore = host.listings;
    assert.ok(engine.guardMachine().ok);
    await host.advance(1000);
    await engine.whenIdle();
    assert.ok(host.listings - listedBefore >= 5 + 3, `the warm-up's and the rehearsal's listings: ${host.listings - listedBefore}`);
    assert.ok(host.signalZero.includes(300), "the rehearsal opened its victim's pidfd and checked it may signal it");
    assert.deepEqual(host.killed, []);
    assert.deepEqual(host.terminated, []);
    assert.deepEqual(
      journal.records.map((r) => r.type),
      ["manage"],
      "the rehearsal journals nothing",
    );
    makeAvailable(host, 32);
    await host.advance(2000);
    await engine.whenIdle();
    engine.stop();
    assert.deepEqual(host.killed, [300]);
    assert.equal(decisions(journal)[0]?.decisionId, 1);
  });

  it("a machine already short of memory at start is acted on at once, without a rehearsal first", async () => {
    const { host, engine } = setup();
    addWorkload(host);
    makeAvailable(host, 32);
    assert.ok(engine.guardMachine().ok);
    await host.advance(20);
    assert.deepEqual(host.killed, [300]);
    assert.deepEqual(host.signalZero, [300], "no rehearsal: the hog was checked once, by the real decision");
    engine.stop();
  });
});

describe("machine guard: a condition no kill can fix", () => {
  it("low memory that stays (hugetlb, full tmpfs): one kill for the episode, a notice, then nobody else", async () => {
    const { host, journal, engine } = setup();
    for (let i = 1; i <= 6; i++) host.add({ pid: 100 + i, comm: `p${i}`, rssBytes: 10 * i * MIB });
    // Available pinned at 3.9%, whatever dies: above the critical 1.5%.
    host.machine = { availableBytes: 40 * MIB, freeBytes: 40 * MIB };
    assert.ok(engine.guardMachine().ok);
    await host.advance(20_000);
    await engine.whenIdle();
    assert.deepEqual(host.killed, [106], "the biggest, once");
    const held = notices(journal);
    assert.equal(held.length, 1, JSON.stringify(held));
    assert.match(held[0]!.message, /not acted on: .*gave back 0\.0 MiB: another kill would not help either, unless memory is being filled again; waiting for MemAvailable to fall below 39\.0 MiB \(1\.0 MiB under its 40\.0 MiB since the victim exited\)/);
    engine.stop();
  });

  it("critical and still useless: no second kill either", async () => {
    const { host, engine } = setup();
    for (let i = 1; i <= 6; i++) host.add({ pid: 100 + i, comm: `p${i}`, rssBytes: 10 * i * MIB });
    host.machine = { availableBytes: 5 * MIB, freeBytes: 5 * MIB }; // 0.5%: critical
    assert.ok(engine.guardMachine().ok);
    await host.advance(20_000);
    await engine.whenIdle();
    assert.deepEqual(host.killed, [106]);
    engine.stop();
  });

  it("after the condition clears, a new episode may kill again", async () => {
    const { host, engine } = setup();
    for (let i = 1; i <= 6; i++) host.add({ pid: 100 + i, comm: `p${i}`, rssBytes: 10 * i * MIB });
    host.machine = { availableBytes: 40 * MIB, freeBytes: 40 * MIB };
    assert.ok(engine.guardMachine().ok);
    await host.advance(5_000);
    host.machine = { availableBytes: 500 * MIB, freeBytes: 500 * MIB };
    await host.advance(5_000);
    host.machine = { availableBytes: 40 * MIB, freeBytes: 40 * MIB };
    await host.advance(5_000);
    await engine.whenIdle();
    assert.deepEqual(host.killed, [106, 105]);
    engine.stop();
  });
});

describe("machine guard beside a managed cgroup", () => {
  it("waits for a process the cgroup's handling killed and is still watching, never kills beside it", async () => {
    const { host, journal, engine } = setup();
    addWorkload(host, { onKill: "stall", reapable: false, state: "D" });
    assert.ok(engine.manage(host.ref.path).ok);
    host.fireOom();
    await host.advance(50);
    assert.deepEqual(host.killed, [300], "the cgroup's victim: the hog, stuck");
    // Now the machine runs low: the guard's best victim would be the hog, which is already dying.
    makeAvailable(host, 32);
    assert.ok(engine.guardMachine().ok);
    await host.advance(1000);
    const machine = decisions(journal).filter((d) => d.incident.cgroup === "/");
    assert.equal(machine.length, 1);
    assert.equal(machine[0]?.action, "wait", "the hog is a victim in flight for the machine too");
    assert.equal(machine[0]?.waitingFor?.pid, 300);
    // (The cgroup itself, stuck at its limit with a stalled victim, escalates on its own: its rule.)
    assert.ok(!machine.some((d) => d.action === "kill"), "the guard kills nobody beside the hog while the machine is not critical");
    engine.stop();
  });
});

describe("machine guard: the kernel's global OOM killer", () => {
  it("its kill is journaled under \"/\" with the victim named from the kernel log, and counts as the episode's kill", async () => {
    const { host, journal, engine } = setup();
    addWorkload(host);
    host.machine = { oomKillsTotal: 3 };
    makeAvailable(host, 110); // plenty: no rule fires
    assert.ok(engine.guardMachine().ok);
    await host.advance(1000);
    // The kernel killed the hog before oomwarden could (vmstat oom_kill rises; the log says global).
    host.kernelLog?.push({ pid: 300, comm: "hog", taskCgroup: "/", rssBytes: 600 * MIB, global: true });
    host.killFromOutside(300);
    host.machine = { oomKillsTotal: 4 };
    await host.advance(2000);
    await engine.whenIdle();
    const kills = journal.records.filter((r) => r.type === "kernel-kill");
    assert.equal(kills.length, 1, JSON.stringify(kills));
    const [record] = kills;
    assert.ok(record?.type === "kernel-kill");
    assert.equal(record.cgroup, "/");
    assert.deepEqual(record.victims, [{ pid: 300, comm: "hog", rssBytes: 600 * MIB, source: "kernel log" }]);
    assert.match(record.note, /killed hog\[300\] on the machine \(the global OOM killer\); it counts as the episode's kill/);
    assert.deepEqual(host.killed, [], "no kill of oomwarden's");
    engine.stop();
  });

  it("a rise that the kernel log shows to be a memory cgroup's kill is that cgroup's to report, not the machine's", async () => {
    const { host, journal, engine } = setup();
    addWorkload(host);
    host.machine = { oomKillsTotal: 0 };
    makeAvailable(host, 110); // plenty: no rule fires
    assert.ok(engine.guardMachine().ok);
    await host.advance(1000);
    host.kernelLog?.push({ pid: 100, comm: "small", taskCgroup: "/job", rssBytes: 10 * MIB, global: false });
    host.machine = { oomKillsTotal: 1 };
    await host.advance(2000);
    assert.deepEqual(journal.records.filter((r) => r.type === "kernel-kill"), []);
    engine.stop();
  });
});

