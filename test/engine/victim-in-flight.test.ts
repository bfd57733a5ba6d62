// Never the wrong victim when someone else is already ending a process: a process of the scope that
// is exiting (SIGKILL from the kernel or another tool) is waited for, as the kernel waits for its own
// victim in flight; the scope is read again just before any signal; and each decision is on the
// journal the moment it is acted on, its outcome following as a linked record.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { joinDecisions, type DecisionRecord, type OutcomeRecord } from "../../src/engine/journal-record.js";
import { fakeEngine } from "./fake-engine.js";

const MIB = 1024 * 1024;

const setup = fakeEngine;

describe("a process already exiting in the scope is a victim in flight", () => {
  it("v1: the hog killed by another listener and past exit_mm is waited for; the innocent lives", async () => {
    const { host, journal, engine } = setup(1, { machineGuard: { enabled: false } });
    host.add({ pid: 100, comm: "sleep", rssBytes: 1 * MIB });
    host.add({ pid: 200, comm: "tail", rssBytes: 60 * MIB, onKill: { exitAfterMs: 30 } });
    assert.ok(engine.manage(host.ref.path).ok);
    // The other listener's SIGKILL lands first: the hog shows no memory while exit_mmap still frees it.
    host.killFromOutside(200, { noMm: true });
    host.fireOom();
    await host.advance(1000);
    await engine.whenIdle();

    assert.deepEqual(host.killed, [], "oomwarden sent no signal");
    assert.ok(host.alive(100), "the innocent lives");
    const [wait, ...more] = joinDecisions(journal.records);
    assert.equal(more.length, 0, JSON.stringify(more));
    assert.equal(wait?.action, "wait");
    assert.equal(wait?.victim, null);
    assert.equal(wait?.waitingFor?.pid, 200);
    assert.equal(wait?.outcome.result, "recovered");
    assert.equal(wait?.outcome.victimExited, true);
    assert.equal(wait?.outcome.reap, null, "someone else's victim is watched, not reaped");
    assert.ok(wait?.excluded.some((e) => e.pid === 200 && /already exiting/.test(e.reason)), "the exiting hog is explained, not 'no mm'");
    assert.ok(wait?.candidates.some((c) => c.pid === 100), "the innocent was ranked, not chosen");
    engine.stop();
  });

  it("an exiting process that makes no progress for the patience leads to a decision without it", async () => {
    const { host, journal, engine } = setup(1, { machineGuard: { enabled: false } });
    host.add({ pid: 100, comm: "worker", rssBytes: 20 * MIB });
    host.add({ pid: 200, comm: "stuck", rssBytes: 40 * MIB, onKill: "stall", reapable: false });
    assert.ok(engine.manage(host.ref.path).ok);
    host.killFromOutside(200);
    host.fireOom();
    await host.advance(300);
    assert.deepEqual(host.killed, [], "nobody killed while the exiting process still has patience");
    await host.advance(2000);
    await engine.whenIdle();
    assert.deepEqual(host.killed, [100], "the cgroup stays stuck: as the kernel does after MMF_OOM_SKIP, the next one goes");
    const [wait, kill] = joinDecisions(journal.records);
    assert.equal(wait?.action, "wait");
    assert.equal(wait?.outcome.result, "escalated");
    assert.equal(kill?.action, "kill");
    assert.equal(kill?.escalatedFrom, wait?.decisionId);
    assert.ok(kill?.excluded.some((e) => e.pid === 200 && /still exiting/.test(e.reason)));
    engine.stop();
  });

  it("machine guard: a process the kernel's global killer took is waited for, nobody else dies", async () => {
    const { host, journal, engine } = setup(2);
    host.add({ pid: 100, comm: "idle", rssBytes: 10 * MIB });
    host.add({ pid: 300, comm: "hog", rssBytes: 600 * MIB, onKill: { exitAfterMs: 40 } });
    // 3.1% available: the low-memory rule fires at the first sample.
    host.machineOtherUsedBytes = host.machineTotalBytes - host.usageBytes() - 32 * MIB;
    host.killFromOutside(300, { noMm: true });
    assert.ok(engine.guardMachine().ok);
    await host.advance(3000);
    await engine.whenIdle();
    assert.deepEqual(host.killed, []);
    assert.ok(host.alive(100));
    const all = joinDecisions(journal.records);
    assert.equal(all.length, 1, JSON.stringify(all));
    assert.equal(all[0]?.action, "wait");
    assert.equal(all[0]?.waitingFor?.pid, 300);
    assert.equal(all[0]?.outcome.result, "recovered");
    engine.stop();
  });

  it("dry run: the decision says it would wait, and nothing is touched", async () => {
    const { host, journal, engine } = setup(2, { dryRun: true, machineGuard: { enabled: false } });
    host.add({ pid: 100, comm: "sleep", rssBytes: 1 * MIB });
    host.add({ pid: 200, comm: "tail", rssBytes: 61 * MIB, onKill: "stall" });
    assert.ok(engine.manage(host.ref.path).ok);
    host.killFromOutside(200);
    host.fireOom();
    await host.advance(500);
    await engine.whenIdle();
    const [record] = joinDecisions(journal.records);
    assert.equal(record?.action, "dry-run");
    assert.equal(record?.victim, null);
    assert.equal(record?.waitingFor?.pid, 200);
    assert.deepEqual(host.killed, []);
    engine.stop();
  });
});

describe("the scope is read again just before the signal", () => {
  it("v1: an OOM that resolved itself between the snapshot and the kill costs nobody's life", async () => {
    const { host, journal, engine } = setup(1, { machineGuard: { enabled: false } });
    host.add({ pid: 100, comm: "sleep", rssBytes: 1 * MIB });
    host.add({ pid: 200, comm: "tail", rssBytes: 60 * MIB });
    assert.ok(engine.manage(host.ref.path).ok);
    // Memory came back after the notification was read (a task freed it, a hog exited unseen).
    host.beforeNextSignal = () => {
      host.underOom = false;
    };
    host.fireOom();
    await host.advance(500);
    await engine.whenIdle();
    assert.deepEqual(host.killed, []);
    const [record, ...more] = joinDecisions(journal.records);
    assert.equal(more.length, 0);
    assert.equal(record?.action, "none");
    assert.equal(record?.outcome.result, "resolved-before-kill");
    assert.equal(record?.candidates[0]?.pid, 200, "the ranking is still journaled: it explains what would have happened");
    engine.stop();
  });

  it("machine guard: memory back above the threshold by the time of the kill: nobody dies", async () => {
    const { host, journal, engine } = setup(2);
    host.add({ pid: 100, comm: "idle", rssBytes: 10 * MIB });
    host.add({ pid: 300, comm: "hog", rssBytes: 600 * MIB });
    host.machineOtherUsedBytes = host.machineTotalBytes - host.usageBytes() - 32 * MIB;
    host.beforeNextSignal = () => {
      host.machineOtherUsedBytes = 0;
    };
    assert.ok(engine.guardMachine().ok);
    await host.advance(2000);
    await engine.whenIdle();
    assert.deepEqual(host.killed, []);
    const [record] = joinDecisions(journal.records);
    assert.equal(record?.outcome.result, "resolved-before-kill");
    engine.stop();
  });
});

describe("a decision is on the journal when it is acted on, its outcome follows linked to it", () => {
  it("the kill's decision is journaled at the signal, before any confirmation; the outcome record carries its id", async () => {
    const { host, journal, engine } = setup(1, { machineGuard: { enabled: false } });
    host.add({ pid: 100, comm: "sleep", rssBytes: 1 * MIB });
    // A slow exit (within the patience): the confirmation takes 300 ms, the decision is journaled at once.
    host.add({ pid: 200, comm: "tail", rssBytes: 60 * MIB, onKill: { exitAfterMs: 300 }, reapable: false });
    assert.ok(engine.manage(host.ref.path).ok);
    host.fireOom();
    await host.advance(1);
    assert.deepEqual(host.killed, [200], "the signal is sent");
    const decision = journal.records.find((r): r is DecisionRecord => r.type === "decision");
    assert.ok(decision, "a daemon killed now would leave this decision behind");
    assert.equal(decision.victim?.pid, 200);
    assert.equal(decision.action, "kill");
    assert.ok(decision.msToKill !== null && decision.msToKill >= 0);
    assert.ok(decision.phasesMs !== undefined);
    assert.ok(!journal.records.some((r) => r.type === "outcome"), "the outcome is not known yet");

    await host.advance(3000);
    await engine.whenIdle();
    const outcomes = journal.records.filter((r): r is OutcomeRecord => r.type === "outcome");
    assert.equal(outcomes.length, 1);
    assert.equal(outcomes[0]?.decisionId, decision.decisionId);
    assert.equal(outcomes[0]?.pid, 200);
    assert.equal(outcomes[0]?.cgroup, host.ref.path);
    assert.equal(outcomes[0]?.outcome.result, "recovered");
    const [joined] = joinDecisions(journal.records);
    assert.equal(joined?.outcome.msToKill, decision.msToKill, "the joined view carries the kill's timing");
    engine.stop();
  });

  it("the decision's phases say how long its listing gave the CPU back to others", async () => {
    const { host, journal, engine } = setup(1, { machineGuard: { enabled: false } });
    host.add({ pid: 100, comm: "sleep", rssBytes: 1 * MIB });
    host.add({ pid: 200, comm: "tail", rssBytes: 60 * MIB });
    host.givenBackMs = 7; // before this decision: not its own
    host.givenBackPerListingMs = 1.5;
    assert.ok(engine.manage(host.ref.path).ok);
    host.fireOom();
    await host.advance(1);
    const decision = journal.records.find((r): r is DecisionRecord => r.type === "decision");
    const given = decision?.phasesMs?.cpuGivenBackMs;
    assert.ok(given !== undefined && given > 0 && given % 1.5 === 0, `cpuGivenBackMs ${given}`);
    engine.stop();
  });

  it("the decision's phases say how long its main thread was on a CPU and waiting for one", async () => {
    const { host, journal, engine } = setup(1, { machineGuard: { enabled: false } });
    host.add({ pid: 100, comm: "sleep", rssBytes: 1 * MIB });
    host.add({ pid: 200, comm: "tail", rssBytes: 60 * MIB });
    host.schedule = { onCpuMs: 500, runQueueMs: 40 }; // before this decision: not its own
    host.schedulePerListing = { onCpuMs: 3, runQueueMs: 2 };
    host.cpuMs = { user: 100, system: 50 };
    host.cpuPerListingMs = 4;
    assert.ok(engine.manage(host.ref.path).ok);
    host.fireOom();
    await host.advance(1);
    const phases = journal.records.find((r): r is DecisionRecord => r.type === "decision")?.phasesMs;
    assert.ok(phases?.onCpuMs !== undefined && phases.onCpuMs > 0 && phases.onCpuMs % 3 === 0, `onCpuMs ${phases?.onCpuMs}`);
    assert.equal(phases.runQueueMs, (phases.onCpuMs / 3) * 2);
    assert.equal(phases.userCpuMs, (phases.onCpuMs / 3) * 4, "user and system CPU time over the same listings");
    assert.equal(phases.systemCpuMs, phases.userCpuMs);
    engine.stop();
  });

  it("a decision on a host that measures no CPU time (no scheduler statistics, the simulator) leaves those fields out", async () => {
    const { host, journal, engine } = setup(1, { machineGuard: { enabled: false } });
    host.add({ pid: 200, comm: "tail", rssBytes: 60 * MIB });
    assert.ok(engine.manage(host.ref.path).ok);
    host.fireOom();
    await host.advance(1);
    const phases = journal.records.find((r): r is DecisionRecord => r.type === "decision")?.phasesMs;
    assert.ok(phases !== undefined);
    assert.equal("onCpuMs" in phases, false);
    assert.equal("runQueueMs" in phases, false);
    assert.equal("userCpuMs" in phases, false);
    assert.equal(phases.majorFaults, 0);
    engine.stop();
  });

  it("the incident runs as urgent work (the raised priority) from its start to its end, and nothing between incidents does", async () => {
    const { host, journal, engine } = setup(1, { machineGuard: { enabled: false } });
    host.add({ pid: 100, comm: "sleep", rssBytes: 1 * MIB });
    host.add({ pid: 200, comm: "tail", rssBytes: 60 * MIB, onKill: { exitAfterMs: 300 }, reapable: false });
    assert.ok(engine.manage(host.ref.path).ok);
    assert.equal(host.urgentWork, 0, "managing a cgroup is not urgent");
    host.fireOom();
    await host.advance(1);
    assert.deepEqual(host.killed, [200]);
    assert.equal(host.urgentWork, 1, "signalled, the victim's exit still awaited: still urgent");
    await host.advance(3000);
    await engine.whenIdle();
    assert.ok(journal.records.some((r) => r.type === "outcome"));
    assert.equal(host.urgentWork, 0, "released at the incident's end");
    engine.stop();
  });

  it("the decision is in the journal before the signal is sent", async () => {
    const { host, journal, engine } = setup(1, { machineGuard: { enabled: false } });
    host.add({ pid: 100, comm: "sleep", rssBytes: 1 * MIB });
    host.add({ pid: 200, comm: "tail", rssBytes: 60 * MIB });
    assert.ok(engine.manage(host.ref.path).ok);
    const journaledAtSignal: boolean[] = [];
    const kill = host.kill.bind(host);
    host.kill = (victim) => {
      journaledAtSignal.push(journal.records.some((r) => r.type === "decision" && r.victim?.pid === victim.pid));
      return kill(victim);
    };
    host.fireOom();
    await host.advance(500);
    await engine.whenIdle();
    assert.deepEqual(journaledAtSignal, [true]);
    engine.stop();
  });

  it("a process we may not signal is skipped before anything is journaled; a victim gone at the signal ends the decision, never falls through", async () => {
    const { host, journal, engine } = setup(1, { machineGuard: { enabled: false } });
    host.add({ pid: 100, comm: "sleep", rssBytes: 1 * MIB });
    host.add({ pid: 150, comm: "other-user", rssBytes: 30 * MIB });
    host.add({ pid: 200, comm: "tail", rssBytes: 60 * MIB });
    host.notOurs.add(200);
    assert.ok(engine.manage(host.ref.path).ok);
    // 150 exits by itself between its checks and the signal: its memory ends the OOM.
    const kill = host.kill.bind(host);
    host.kill = (victim) => {
      const p = host.processes.get(victim.pid);
      if (p !== undefined && victim.pid === 150) {
        host.exit(p);
        host.underOom = false;
      }
      return kill(victim);
    };
    host.fireOom();
    await host.advance(500);
    await engine.whenIdle();
    assert.deepEqual(host.killed, [], "no signal reached anyone");
    assert.ok(host.alive(100), "the innocent is never the fall-through");
    const [record, ...more] = joinDecisions(journal.records);
    assert.equal(more.length, 0, JSON.stringify(more));
    assert.equal(record?.victim?.pid, 150, "the decision names whom it went for");
    assert.ok(record?.excluded.some((e) => e.pid === 200 && /not permitted/.test(e.reason)), "EPERM is an exclusion, not a decision");
    assert.equal(record?.outcome.result, "recovered");
    assert.match(record?.outcome.actionError ?? "", /gone/);
    engine.stop();
  });

  it("joinDecisions pairs an outcome with the latest decision of its id (ids restart with each daemon)", () => {
    const decision = (id: number, pid: number): DecisionRecord => ({
      type: "decision",
      decisionId: id,
      incident: { kind: "memcg-oom", cgroup: "/cg", usageBytes: 1, limitBytes: 1, events: { low: 0, high: 0, max: 0, oom: 1, oomKill: 0, oomGroupKill: 0 } },
      candidates: [],
      excluded: [],
      victim: { pid, comm: "x", startTime: 1, rssBytes: 1 },
      action: "kill",
      escalatedFrom: null,
      priorVictimsAlive: [],
      msToKill: 1,
    });
    const outcome = (id: number, pid: number): OutcomeRecord => ({
      type: "outcome",
      decisionId: id,
      cgroup: "/cg",
      action: "kill",
      pid,
      suppressedNotifications: 0,
      outcome: { result: "recovered", freedBytes: 1, msToMemoryBack: 2, victimExited: true, reap: null, observations: 1 },
    });
    // The first daemon died after its kill (no outcome); the second reused id 1.
    const joined = joinDecisions([decision(1, 10), { type: "daemon", message: "started" }, decision(1, 20), outcome(1, 20)]);
    assert.deepEqual(
      joined.map((d) => [d.victim?.pid, d.outcome.result]),
      [
        [10, "pending"],
        [20, "recovered"],
      ],
    );
  });
});
