// The machine guard's levels over a scripted host in virtual time: warn journals, terminate sends
// SIGTERM with a grace that ends in SIGKILL only while memory is short, kill sends SIGKILL at once.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MemoryJournal } from "../../src/daemon/journal.js";
import { Engine } from "../../src/engine/engine.js";
import { joinDecisions, type DecidedRecord, type LifecycleRecord } from "../../src/engine/journal-record.js";
import { FakeHost, type FakeProcess } from "./fake-host.js";

const MIB = 1024 * 1024;

type Machine = { host: FakeHost; journal: MemoryJournal; engine: Engine };

/** A 1 GiB machine running these processes, its engine observing every 100 ms. */
function machineWith(processes: FakeProcess[]): Machine {
  const host = new FakeHost(2);
  const journal = new MemoryJournal();
  const engine = new Engine(host, journal, { observeIntervalMs: 100, maxObservationsWithoutProgress: 5 });
  for (const p of processes) host.add(p);
  return { host, journal, engine };
}

function setup(hog: Partial<FakeProcess> = {}): Machine {
  return machineWith([
    { pid: 100, comm: "small", rssBytes: 10 * MIB },
    { pid: 200, comm: "medium", rssBytes: 300 * MIB },
    { pid: 300, comm: "hog", rssBytes: 600 * MIB, ...hog },
  ]);
}

/**
 * A machine whose memory others hold (makeAvailable), at the terminate level: its first victim, a
 * 20 MiB hog that exits on SIGTERM, gives back too little to leave that level.
 */
async function hogTerminatedFirst(): Promise<Machine> {
  const machine = machineWith([
    { pid: 100, comm: "small", rssBytes: 5 * MIB },
    { pid: 200, comm: "medium", rssBytes: 10 * MIB },
    { pid: 300, comm: "hog", rssBytes: 20 * MIB, onTerm: "exit" },
  ]);
  makeAvailable(machine.host, 82); // the terminate level
  assert.ok(machine.engine.guardMachine().ok);
  await machine.host.advance(200);
  assert.deepEqual(machine.host.terminated, [300]);
  assert.ok(!machine.host.alive(300));
  return machine;
}

/** MemAvailable of the 1 GiB machine, in MiB (the processes hold 912 MiB, so at most 110). */
function makeAvailable(host: FakeHost, availableMiB: number): void {
  host.machineOtherUsedBytes = host.machineTotalBytes - host.usageBytes() - availableMiB * MIB;
}

const decisions = (journal: MemoryJournal): DecidedRecord[] => joinDecisions(journal.records);
const notices = (journal: MemoryJournal): string[] => journal.records.filter((r): r is LifecycleRecord => r.type === "notice").map((r) => r.message);

describe("machine levels: warn", () => {
  it("is journaled once while memory stays below it, again after it has been above, and signals nobody", async () => {
    const { host, journal, engine } = setup();
    makeAvailable(host, 110 - 0); // 10.7%: below warn (15%), above terminate (10%)
    assert.ok(engine.guardMachine().ok);
    await host.advance(3000);
    // 3 MiB in a 40 ms interval (75 MiB/s), projected 40 ms ahead: 104 MiB, still above the 10% line.
    makeAvailable(host, 107);
    await host.advance(3000);
    assert.equal(notices(journal).filter((m) => /^warn: /.test(m)).length, 1);
    assert.match(notices(journal)[0] ?? "", /warn: available 110\.0 MiB of 1024\.0 MiB \(10\.7% < 15%\), no swap: warn level/);
    const warned = journal.records.find((r) => r.type === "notice");
    assert.equal(warned?.type === "notice" ? warned.level : undefined, "warn", "the warn notice says its level, for warnCommand");
    host.machineOtherUsedBytes = 0;
    host.processes.get(200)!.rssBytes = 10 * MIB; // memory plentiful again
    await host.advance(2000);
    // Back down, above the warn level first, then 2 MiB per 100 ms to 108 MiB: a fall that, projected
    // a sample and a decision ahead, stays above the terminate line (one sudden drop from plenty to
    // just above it would not, and would be decided on).
    host.processes.get(200)!.rssBytes = 300 * MIB;
    makeAvailable(host, 200);
    await host.advance(2000);
    for (let availableMiB = 198; availableMiB >= 108; availableMiB -= 2) {
      makeAvailable(host, availableMiB);
      await host.advance(100);
    }
    await host.advance(2000);
    assert.equal(notices(journal).filter((m) => /^warn: /.test(m)).length, 2);
    assert.deepEqual(host.killed, []);
    assert.deepEqual(host.terminated, [], decisions(journal).map((d) => d.incident.reason).join("\n"));
    assert.deepEqual(decisions(journal), []);
    engine.stop();
  });
});

describe("machine levels: terminate", () => {
  it("SIGTERM to the best victim; one that exits on it is never SIGKILLed", async () => {
    const { host, journal, engine } = setup({ onTerm: { exitAfterMs: 400 } });
    makeAvailable(host, 82); // 8%
    assert.ok(engine.guardMachine().ok);
    await host.advance(5000);
    await engine.whenIdle();
    assert.deepEqual(host.terminated, [300]);
    assert.deepEqual(host.killed, []);
    const [record, ...rest] = decisions(journal);
    assert.equal(rest.length, 0);
    assert.equal(record?.action, "terminate");
    assert.equal(record?.incident.kind, "low-memory");
    assert.match(record?.incident.reason ?? "", /\(8\.0% < 10%\), no swap: terminate level/);
    assert.equal(record?.outcome.result, "recovered");
    assert.equal(record?.outcome.victimExited, true);
    assert.deepEqual(record?.outcome.sigterm, { graceMs: 3000, ending: "exited", msToSigkill: null, reapAtSigterm: "refused" }, "a victim that catches SIGTERM cannot be reaped before it exits");
    engine.stop();
  });

  it("a victim that leaves SIGTERM to its default action is reaped at once, beside its exit, and only once", async () => {
    const { host, journal, engine } = setup({ onTerm: { dyingForMs: 300 } });
    makeAvailable(host, 82);
    assert.ok(engine.guardMachine().ok);
    await host.advance(5000);
    await engine.whenIdle();
    assert.deepEqual(host.terminated, [300]);
    assert.deepEqual(host.killed, [], "dying already: no SIGKILL");
    assert.deepEqual(host.reaped, [300], "the reap begun at the SIGTERM is the confirmation's too");
    const [record, ...rest] = decisions(journal);
    assert.equal(rest.length, 0);
    assert.deepEqual(record?.outcome.sigterm, { graceMs: 3000, ending: "exiting", msToSigkill: null, reapAtSigterm: "reaped" }, "the grace ends when the reap shows the victim dying");
    assert.deepEqual(record?.outcome.reap, { durationMs: host.reapMs, alreadyGone: false });
    assert.equal(record?.outcome.result, "recovered");
    const backMs = record?.outcome.msToMemoryBack ?? Infinity;
    assert.ok(backMs < 300, `memory back ${backMs} ms after the notification, before the 300 ms exit: the reap freed it`);
    engine.stop();
  });

  it("a victim that ignores SIGTERM gets SIGKILL at the grace's end while memory is still short", async () => {
    const { host, journal, engine } = setup({ onTerm: "ignore" });
    makeAvailable(host, 82);
    assert.ok(engine.guardMachine().ok);
    await host.advance(2500);
    assert.deepEqual(host.killed, [], "within the grace");
    await host.advance(3000);
    await engine.whenIdle();
    assert.deepEqual(host.terminated, [300]);
    assert.deepEqual(host.killed, [300]);
    assert.deepEqual(host.reaped, [300, 300], "refused at the SIGTERM (caught), tried again after the SIGKILL");
    const [record] = decisions(journal);
    assert.equal(record?.outcome.sigterm?.ending, "grace-over");
    assert.equal(record?.outcome.sigterm?.reapAtSigterm, "refused");
    const reap = record?.outcome.reap;
    assert.ok(reap != null && !("error" in reap), `the reap after the SIGKILL is journaled, not the refusal: ${JSON.stringify(reap)}`);
    const msToSigkill = record?.outcome.sigterm?.msToSigkill ?? 0;
    assert.ok(msToSigkill >= 3000 && msToSigkill <= 3100, `SIGKILL ${msToSigkill} ms after the notification`);
    assert.equal(record?.outcome.result, "recovered");
    engine.stop();
  });

  it("the kill level during the grace ends it in SIGKILL at once", async () => {
    const { host, journal, engine } = setup({ onTerm: "ignore" });
    makeAvailable(host, 82);
    assert.ok(engine.guardMachine().ok);
    await host.advance(500);
    assert.deepEqual(host.terminated, [300]);
    makeAvailable(host, 30); // 2.9%: the kill level
    await host.advance(150);
    assert.deepEqual(host.killed, [300], "within one grace check (100 ms)");
    await host.advance(3000);
    await engine.whenIdle();
    const [record, ...rest] = decisions(journal);
    assert.equal(rest.length, 0, "the same victim, not a second one");
    assert.equal(record?.outcome.sigterm?.ending, "kill-level");
    engine.stop();
  });

  it("a victim alive at the grace's end on a machine that recovered is spared, and journaled so", async () => {
    const { host, journal, engine } = setup({ onTerm: "ignore" });
    makeAvailable(host, 82);
    assert.ok(engine.guardMachine().ok);
    await host.advance(500);
    host.processes.get(200)!.rssBytes = 10 * MIB; // medium gives memory back by itself
    await host.advance(4000);
    await engine.whenIdle();
    assert.deepEqual(host.killed, []);
    assert.ok(host.alive(300));
    const [record] = decisions(journal);
    assert.equal(record?.outcome.result, "survived-sigterm");
    assert.equal(record?.outcome.sigterm?.ending, "not-needed");
    assert.equal(record?.outcome.victimExited, false);
    engine.stop();
  });

  it("at the kill level there is no SIGTERM first", async () => {
    const { host, engine } = setup({ onTerm: "ignore" });
    makeAvailable(host, 30);
    assert.ok(engine.guardMachine().ok);
    await host.advance(2000);
    await engine.whenIdle();
    assert.deepEqual(host.terminated, []);
    assert.deepEqual(host.killed, [300]);
    engine.stop();
  });

  it("a terminate that did not suffice is followed by a kill-level decision once memory falls further", async () => {
    // The hog exits on SIGTERM, but gives back too little: the machine stays short, then gets shorter.
    const { host, journal, engine } = await hogTerminatedFirst();
    await host.advance(2000);
    assert.deepEqual([...host.terminated, ...host.killed], [300], "memory stays where the hog's exit left it: one victim per episode");
    makeAvailable(host, 30);
    await host.advance(3000);
    await engine.whenIdle();
    assert.deepEqual(host.killed, [200], "the next victim, by SIGKILL: the kill level is more severe than the terminate level acted on");
    const actions = decisions(journal).map((d) => d.action);
    assert.deepEqual(actions, ["terminate", "kill"]);
    engine.stop();
  });
});

describe("machine levels: judged where memory will be when the signal lands", () => {
  it("a hog faster than a decision: acted on before the line, so the signal lands above the kill line", async () => {
    const host = new FakeHost(2);
    const journal = new MemoryJournal();
    const engine = new Engine(host, journal, { observeIntervalMs: 100, maxObservationsWithoutProgress: 5 });
    host.add({ pid: 100, comm: "small", rssBytes: 10 * MIB });
    host.add({ pid: 300, comm: "hog", rssBytes: 500 * MIB });
    // Listing every process takes 100 ms (a decision's snapshot, the warm-up's rounds alike).
    host.listingCostMs = 100;
    let lowestAvailableBytes = Infinity;
    const grow = (): void => {
      const hog = host.processes.get(300);
      if (hog === undefined || !hog.alive || hog.killed || host.terminated.includes(300)) return;
      hog.rssBytes += 10 * MIB; // 1 GiB/s, half of it in a decision's listing
      const read = host.readMachinePressure();
      if (read.ok) lowestAvailableBytes = Math.min(lowestAvailableBytes, read.value.availableBytes);
      host.setTimer(10, grow);
    };
    assert.ok(engine.guardMachine().ok);
    await host.advance(2000); // the guard's first samples, memory plentiful and still
    host.setTimer(10, grow);
    await host.advance(5000);
    await engine.whenIdle();
    engine.stop();
    const [first] = decisions(journal);
    assert.equal(first?.victim?.comm, "hog");
    assert.match(first?.incident.reason ?? "", /falling .* MiB\/s: .* when a signal decided a sample later would land \(40 \+ (100|200) ms\): (terminate|kill) level/, "the next sample at least 40 ms away, and the lead: twice the rehearsal's 100 ms, then the decisions' own");
    // Without the projection the 100 ms listing lets the hog take another 100 MiB past the line it was sampled at.
    assert.ok(lowestAvailableBytes > 0.05 * host.machineTotalBytes, `lowest MemAvailable ${(lowestAvailableBytes / MIB).toFixed(1)} MiB: below the kill line`);
  });
});

describe("machine levels: a decision that races memory running out", () => {
  it("gives no CPU back on its way when the kill line is moments away, and does at a slow fall", async () => {
    for (const [fallMiBPerTick, racing] of [[10, true], [0.2, false]] as const) {
      const { host, engine } = setup();
      makeAvailable(host, 110);
      assert.ok(engine.guardMachine().ok);
      await host.advance(1000); // the rehearsal and first samples, the machine still
      const grow = (): void => {
        const hog = host.processes.get(300);
        if (hog === undefined || !hog.alive || host.terminated.includes(300) || host.killed.includes(300)) return;
        host.machineOtherUsedBytes += fallMiBPerTick * MIB; // every 10 ms: 1 GiB/s, or 20 MiB/s
        host.setTimer(10, grow);
      };
      const urgentBefore = host.urgentRacing.length;
      host.setTimer(10, grow);
      await host.advance(8000);
      await engine.whenIdle();
      engine.stop();
      const incidents = host.urgentRacing.slice(urgentBefore);
      assert.ok(incidents.length > 0, `no incident at a fall of ${fallMiBPerTick} MiB a tick`);
      assert.equal(incidents[0], racing, `the first incident at a fall of ${fallMiBPerTick * 100} MiB/s`);
    }
  });
});

describe("machine levels: a decision on the projection at the last look before the signal", () => {
  function suddenDrop(): Machine {
    const machine = machineWith([
      { pid: 100, comm: "small", rssBytes: 10 * MIB },
      { pid: 300, comm: "hog", rssBytes: 400 * MIB },
    ]);
    machine.host.listingCostMs = 50; // the lead: twice the rehearsal's 50 ms
    return machine;
  }

  /** After the start (whose rehearsal opens a pidfd too): memory given back just before the real decision's signal. */
  function freeBeforeSignal(host: FakeHost, mib: number): void {
    host.beforeNextSignal = () => {
      host.machineOtherUsedBytes -= mib * MIB;
    };
  }

  it("stands while memory is not back above where it was decided, though the fall over the listing alone would not project it", async () => {
    const { host, journal, engine } = suddenDrop();
    makeAvailable(host, 600);
    assert.ok(engine.guardMachine().ok);
    await host.advance(2000);
    freeBeforeSignal(host, 0);
    makeAvailable(host, 180); // 420 MiB at once, then nothing more: only the projection crosses the terminate line
    await host.advance(3000);
    await engine.whenIdle();
    engine.stop();
    const [first, ...more] = decisions(journal);
    assert.equal(more.length, 0, JSON.stringify(more.map((d) => d.action)));
    assert.match(first?.incident.reason ?? "", /when a signal decided a sample later would land/);
    assert.notEqual(first?.outcome.result, "resolved-before-kill");
    assert.deepEqual([...host.terminated, ...host.killed], [300]);
  });

  it("memory back above where it was decided before the signal: nobody is signalled", async () => {
    const { host, journal, engine } = suddenDrop();
    makeAvailable(host, 600);
    assert.ok(engine.guardMachine().ok);
    await host.advance(2000);
    freeBeforeSignal(host, 100);
    makeAvailable(host, 180);
    await host.advance(3000);
    await engine.whenIdle();
    engine.stop();
    assert.deepEqual([...host.terminated, ...host.killed], []);
    assert.equal(decisions(journal)[0]?.outcome.result, "resolved-before-kill");
  });
});

describe("machine levels: a decision at the line, memory hovering there", () => {
  /** Memory given back (MiB) between the real decision's last look and its signal. */
  async function hoverAtLine(backMiB: number): Promise<{ host: FakeHost; journal: MemoryJournal }> {
    const { host, journal, engine } = setup({ onTerm: { exitAfterMs: 100 } });
    makeAvailable(host, 102); // 9.96% of 1 GiB: just below the terminate line
    host.beforeNextSignal = () => {
      host.machineOtherUsedBytes -= backMiB * MIB;
    };
    assert.ok(engine.guardMachine().ok);
    await host.advance(2000);
    await engine.whenIdle();
    engine.stop();
    return { host, journal };
  }

  it("a reclaim pass lifting memory a fraction of a MiB above the line does not undo it", async () => {
    const { host, journal } = await hoverAtLine(0.6); // 102.6 MiB: 10.02%, above the line at the last look
    assert.deepEqual(host.terminated, [300]);
    const [first, ...more] = decisions(journal);
    assert.equal(more.length, 0);
    assert.equal(first?.action, "terminate");
    assert.equal(first?.outcome.result, "recovered");
  });

  it("memory back by 5 MiB at the last look, the noise of a thrashing machine at the line (under 1% of RAM): the decision stands", async () => {
    const { host, journal } = await hoverAtLine(5);
    assert.deepEqual(host.terminated, [300]);
    const [first, ...more] = decisions(journal);
    assert.equal(more.length, 0);
    assert.equal(first?.action, "terminate");
  });

  it("memory back by more than 1% of RAM at the last look: nobody is signalled", async () => {
    const { host, journal } = await hoverAtLine(12); // 1 GiB: 1% is 10.24 MiB
    assert.deepEqual([...host.terminated, ...host.killed], []);
    assert.equal(decisions(journal)[0]?.outcome.result, "resolved-before-kill");
  });
});

describe("machine levels: the kernel's hand during a grace", () => {
  it("a victim the kernel's OOM killer takes during the SIGTERM grace: the outcome says so, and nobody else dies", async () => {
    const { host, journal, engine } = setup({ onTerm: "ignore" });
    host.kernelLog = [];
    host.machine = { oomKillsTotal: 7 };
    makeAvailable(host, 82); // the terminate level
    assert.ok(engine.guardMachine().ok);
    await host.advance(200);
    assert.deepEqual(host.terminated, [300]);
    // The hog ignores SIGTERM and keeps allocating; the kernel runs out first and kills it.
    host.kernelLog.push({ pid: 300, comm: "hog", taskCgroup: "/", rssBytes: 600 * MIB, global: true });
    host.killFromOutside(300);
    host.machine = { oomKillsTotal: 8 };
    await host.advance(5000);
    await engine.whenIdle();
    engine.stop();
    assert.deepEqual(host.killed, [], "no SIGKILL of ours: the kernel's came first");
    const [decided, ...more] = decisions(journal);
    assert.equal(more.length, 0, JSON.stringify(more));
    assert.equal(decided?.action, "terminate");
    assert.equal(decided?.outcome.victimExited, true);
    assert.equal(decided?.outcome.endedBy, "kernel", JSON.stringify(decided?.outcome));
    assert.ok(journal.records.some((r) => r.type === "kernel-kill" && (r.victims ?? []).some((v) => v.pid === 300)));
  });

  it("a victim that exits on our own signal is never credited to the kernel", async () => {
    const { host, journal, engine } = setup({ onTerm: "exit" });
    host.kernelLog = [];
    makeAvailable(host, 82);
    assert.ok(engine.guardMachine().ok);
    await host.advance(2000);
    await engine.whenIdle();
    engine.stop();
    const [decided] = decisions(journal);
    assert.equal(decided?.outcome.victimExited, true);
    assert.equal(decided?.outcome.endedBy, undefined);
  });
});

describe("machine levels: a second victim in one episode", () => {
  it("at the kill level, once the first victim is gone and memory is still falling: someone else is filling it", async () => {
    const { host, engine } = setup({ onKill: "exit" });
    makeAvailable(host, 30); // the kill level
    assert.ok(engine.guardMachine().ok);
    await host.advance(200);
    assert.deepEqual(host.killed, [300]);
    // The hog's memory is taken again at once, and medium keeps growing: 20 MiB per 100 ms.
    makeAvailable(host, 40);
    for (let t = 0; t < 1500; t += 100) {
      host.machineOtherUsedBytes += 20 * MIB;
      await host.advance(100);
    }
    await engine.whenIdle();
    assert.deepEqual(host.killed, [300, 200], "the next victim, not critical yet (available above 1.5%) but still falling");
    engine.stop();
  });

  it("at the terminate level too, once the first victim is gone and memory falls again by more than 1% of RAM: SIGTERM to the next", async () => {
    const { host, journal, engine } = await hogTerminatedFirst();
    // The hog's 20 MiB are back (102 MiB, still below the 10% line), then something fills memory
    // again, 2 MiB per 100 ms: never down to the kill level (5%, 51 MiB) in the 1.5 s watched.
    const backBytes = host.machineTotalBytes - host.usageBytes() - host.machineOtherUsedBytes;
    for (let t = 0; t < 1500; t += 100) {
      host.machineOtherUsedBytes += 2 * MIB;
      await host.advance(100);
    }
    await engine.whenIdle();
    engine.stop();
    // The hog, then medium; small too once memory fell again after medium (the fill never stops here).
    assert.deepEqual(host.terminated.slice(0, 2), [300, 200], JSON.stringify(notices(journal)));
    assert.deepEqual(host.killed, [], "SIGTERM each time: memory never reached the kill level");
    const [, second] = decisions(journal).filter((d) => d.victim !== null);
    assert.equal(second?.action, "terminate");
    assert.match(second?.incident.reason ?? "", /terminate level/);
    // Not before memory fell by more than 1% of RAM (10.24 MiB) from where the hog's exit left it.
    const decidedAtBytes = second?.incident.machine?.availableBytes ?? Infinity;
    assert.ok(decidedAtBytes < backBytes - 10.24 * MIB, `${(decidedAtBytes / MIB).toFixed(1)} MiB, back at ${(backBytes / MIB).toFixed(1)}`);
  });

  it("not on reclaim's noise: memory moving by less than 1% of RAM after the first victim takes nobody else", async () => {
    const { host, journal, engine } = await hogTerminatedFirst();
    // Back at 102 MiB, then up and down by up to 8 MiB, as reclaim moves MemAvailable at the line, for 3 s.
    const otherUsedBytes = host.machineOtherUsedBytes;
    for (let t = 0; t < 3000; t += 100) {
      host.machineOtherUsedBytes = otherUsedBytes + ((t / 100) % 5) * 2 * MIB;
      await host.advance(100);
    }
    await engine.whenIdle();
    engine.stop();
    assert.deepEqual([...host.terminated, ...host.killed], [300]);
    assert.ok(notices(journal).some((m) => /1 kill\(s\) already in this episode; another only below 1\.5% available, on watermark starvation, or once memory falls again after the last victim is gone \(waiting for MemAvailable to fall below \d+\.\d MiB \(10\.2 MiB under its \d+\.\d MiB since the victim exited\)/.test(m)), notices(journal).join("\n"));
  });

  it("many small workers refilling what each victim frees: one after another, never the bigger idle process, and memory never runs out", async () => {
    const host = new FakeHost(2);
    const journal = new MemoryJournal();
    const engine = new Engine(host, journal, { observeIntervalMs: 100, maxObservationsWithoutProgress: 5 });
    host.add({ pid: 50, comm: "idle", rssBytes: 100 * MIB }); // the biggest process, an innocent that never grows
    const WORKERS = 32;
    const CAP = 30 * MIB; // 32 x 30 MiB + 100 MiB does not fit in 1 GiB: some workers must go
    for (let i = 0; i < WORKERS; i++) host.add({ pid: 1000 + i, comm: `small-${i}`, rssBytes: 20 * MIB });
    // Each worker grows 1 MiB per 100 ms up to its cap (320 MiB/s in all, a freed worker's memory taken again within 0.1 s).
    let lowestAvailableBytes = Infinity;
    const grow = (): void => {
      for (let i = 0; i < WORKERS; i++) {
        const p = host.processes.get(1000 + i);
        if (p !== undefined && p.alive && !p.killed) p.rssBytes = Math.min(CAP, p.rssBytes + MIB / 10);
      }
      const read = host.readMachinePressure();
      if (read.ok) lowestAvailableBytes = Math.min(lowestAvailableBytes, read.value.availableBytes);
      host.setTimer(10, grow);
    };
    host.setTimer(10, grow);
    assert.ok(engine.guardMachine().ok);
    await host.advance(20_000);
    await engine.whenIdle();
    engine.stop();
    assert.ok(host.alive(50), "the idle innocent lives: " + decisions(journal).map((d) => `${d.action} ${d.victim?.comm} ${d.incident.reason} ${d.candidates.slice(0, 3).map((c) => c.reason).join(" / ")}`).join("\n"));
    const victims = [...host.killed, ...host.terminated];
    assert.ok(victims.length >= 2, `more than one worker had to go: ${JSON.stringify(victims)}`);
    assert.ok(victims.every((pid) => pid >= 1000), JSON.stringify(victims));
    // What is left fits: the workers still alive at their cap plus the idle one.
    const alive = [...host.processes.values()].filter((p) => p.alive && p.pid >= 1000).length;
    assert.ok(alive * 30 + 100 + 2 <= 1024, `${alive} workers left`);
    assert.ok(lowestAvailableBytes > 10 * MIB, `lowest MemAvailable ${(lowestAvailableBytes / MIB).toFixed(1)} MiB: the kernel's OOM would have fired`);
    assert.ok(!notices(journal).some((m) => /would not help/.test(m)), notices(journal).join("\n"));
  });

  it("never while the first victim is still on its way out, however fast memory falls", async () => {
    const { host, engine } = setup({ onKill: { shrinkBytesPerMs: 0.2 * MIB }, reapable: false });
    makeAvailable(host, 30);
    assert.ok(engine.guardMachine().ok);
    await host.advance(200);
    assert.deepEqual(host.killed, [300]);
    for (let t = 0; t < 2000; t += 100) {
      host.machineOtherUsedBytes += 15 * MIB; // taken again as fast as the victim gives it back, and more
      await host.advance(100);
    }
    assert.deepEqual(host.killed, [300], "the victim is shrinking: nobody else");
    engine.stop();
  });
});
