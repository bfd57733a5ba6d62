// The edges of "wait for a victim in flight, read again before the kill": what a review of that
// path found. Each case once ended in an innocent killed, a loop that never yielded, or a guard
// blocked for good.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { joinDecisions } from "../../src/engine/journal-record.js";
import type { FakeHost } from "./fake-host.js";
import { fakeEngine } from "./fake-engine.js";

const MIB = 1024 * 1024;

const setup = fakeEngine;

/** MemAvailable of the fake 1 GiB machine, in MiB. */
function makeAvailable(host: FakeHost, availableMiB: number): void {
  host.machineOtherUsedBytes = Math.max(0, host.machineTotalBytes - host.usageBytes() - availableMiB * MIB);
}

describe("the machine guard after someone else's kill", () => {
  it("PSI: the stall before the kernel's kill does not call for a second victim once the hog is gone", async () => {
    const { host, journal, engine } = setup(2, { maxObservationsWithoutProgress: 30, machineGuard: { lowAvailablePct: 0, psiWindowMs: 2000, psiFullPct: 60 } });
    host.add({ pid: 100, comm: "small", rssBytes: 10 * MIB });
    host.add({ pid: 200, comm: "medium", rssBytes: 300 * MIB });
    host.add({ pid: 300, comm: "hog", rssBytes: 600 * MIB, onKill: { exitAfterMs: 1500 } });
    host.machine = { psiFullTotalUs: 0 };
    assert.ok(engine.guardMachine().ok);
    // Every task stalls on memory; at 1.5 s the kernel kills the hog, whose exit takes 1.5 s; the
    // guard's sample at 2 s (the first full window) finds it exiting and waits; the stall ends with it.
    for (let t = 0; t < 8000; t += 50) {
      if (t === 1500) host.killFromOutside(300, { noMm: true });
      await host.advance(50);
      if (host.alive(300)) host.machine = { psiFullTotalUs: (host.machine.psiFullTotalUs ?? 0) + 50_000 };
    }
    await engine.whenIdle();
    assert.deepEqual(host.killed, [], "no second victim");
    assert.ok(host.alive(100) && host.alive(200));
    const machine = joinDecisions(journal.records);
    assert.ok(machine.every((d) => d.action === "wait"), JSON.stringify(machine.map((d) => [d.action, d.outcome.result])));
    engine.stop();
  });

  it("a stalled exiting process is waited for once, not again in every later episode", async () => {
    // Patience 3 s (30 x 100 ms): long enough to tell a second wait from none.
    const { host, journal, engine } = setup(2, { maxObservationsWithoutProgress: 30 });
    host.add({ pid: 100, comm: "small", rssBytes: 10 * MIB });
    host.add({ pid: 200, comm: "medium", rssBytes: 300 * MIB });
    host.add({ pid: 300, comm: "stuck", rssBytes: 100 * MIB, onKill: "stall", reapable: false });
    host.killFromOutside(300); // killed by someone else, stuck in D (an NFS server gone)
    makeAvailable(host, 32); // 3.1%: low, not critical
    assert.ok(engine.guardMachine().ok);
    await host.advance(5000);
    assert.deepEqual(host.killed, [], "episode 1: the stuck process may still exit, the machine is not critical");
    assert.ok(journal.records.some((r) => r.type === "notice" && r.cgroup === "/" && /not critical/.test(r.message)), "the hold is journaled when it begins");

    // Memory comes back from elsewhere: the episode ends. A new one begins.
    makeAvailable(host, 500);
    await host.advance(3000);
    makeAvailable(host, 32);
    await host.advance(5000);
    await engine.whenIdle();
    assert.deepEqual(host.killed, [200], "episode 2: after one patience for the stuck process, the best victim");

    host.add({ pid: 400, comm: "hog2", rssBytes: 200 * MIB });
    makeAvailable(host, 500);
    await host.advance(3000);
    makeAvailable(host, 32);
    // Within the next idle sample (1 s) plus less than one patience (3 s).
    await host.advance(1500);
    assert.deepEqual(host.killed, [200, 400], "episode 3: no second patience for the stuck process");
    engine.stop();
  });

  it("a short-lived process caught mid-exit is not waited for", async () => {
    const { host, journal, engine } = setup(2);
    host.add({ pid: 100, comm: "sh", rssBytes: 512 * 1024, onKill: { exitAfterMs: 1 } });
    host.add({ pid: 300, comm: "hog", rssBytes: 800 * MIB });
    host.killFromOutside(100); // exiting with its memory still shown, but half a MiB
    makeAvailable(host, 32);
    assert.ok(engine.guardMachine().ok);
    await host.advance(1000);
    await engine.whenIdle();
    assert.deepEqual(host.killed, [300]);
    const [decision] = joinDecisions(journal.records);
    assert.equal(decision?.action, "kill");
    assert.ok(decision?.excluded.some((e) => e.pid === 100 && /too small to wait for/.test(e.reason)));
    engine.stop();
  });
});

describe("one scope's victim is another scope's victim in flight", () => {
  it("the guard's victim, still exiting, is waited for by the cgroup: no innocent beside it", async () => {
    const { host, journal, engine } = setup(1);
    host.add({ pid: 100, comm: "small", rssBytes: 1 * MIB });
    host.add({ pid: 200, comm: "medium", rssBytes: 20 * MIB });
    host.add({ pid: 300, comm: "hog", rssBytes: 600 * MIB, onKill: { exitAfterMs: 400 }, reapable: false });
    host.limitBytes = 2048 * MIB;
    assert.ok(engine.manage(host.ref.path).ok);
    makeAvailable(host, 32);
    assert.ok(engine.guardMachine().ok);
    await host.advance(10);
    assert.deepEqual(host.killed, [300], "the guard kills the hog");
    host.fireOom(); // the cgroup hits its limit while the hog exits
    await host.advance(2000);
    await engine.whenIdle();
    assert.deepEqual(host.killed, [300], "the cgroup waits for the guard's victim");
    const cgroup = joinDecisions(journal.records).filter((d) => d.incident.cgroup === host.ref.path);
    assert.equal(cgroup[0]?.action, "wait");
    assert.equal(cgroup[0]?.waitingFor?.pid, 300);
    engine.stop();
  });
});

describe("failures on the way to a kill never loop and never stand for an exit", () => {
  it("SIGKILL refused after signal 0 passed: nothing done, the kernel gets the OOM (v1), no second round", async () => {
    const { host, journal, engine } = setup(1, { machineGuard: { enabled: false } });
    host.add({ pid: 100, comm: "sleep", rssBytes: 1 * MIB });
    host.add({ pid: 200, comm: "tail", rssBytes: 60 * MIB });
    host.killRefused.add(200);
    assert.ok(engine.manage(host.ref.path).ok);
    host.fireOom();
    await host.advance(6000);
    await engine.whenIdle();
    const decisions = joinDecisions(journal.records);
    assert.equal(decisions.length, 1, `one decision, not a loop: ${decisions.length}`);
    assert.equal(decisions[0]?.victim?.pid, 200);
    assert.equal(decisions[0]?.outcome.result, "nothing-done");
    assert.equal(decisions[0]?.outcome.victimExited, false);
    assert.match(decisions[0]?.outcome.actionError ?? "", /not permitted/);
    assert.ok(journal.records.some((r) => r.type === "kernel-kill"), "the OOM went to the kernel's killer");
    assert.deepEqual(host.kernelKilled, [200]);
    assert.ok(host.alive(100));
    engine.stop();
  });

  it("an exiting process whose pidfd cannot be opened: nothing done, no loop", async () => {
    const { host, journal, engine } = setup(1, { machineGuard: { enabled: false } });
    host.add({ pid: 100, comm: "sleep", rssBytes: 1 * MIB });
    host.add({ pid: 200, comm: "tail", rssBytes: 60 * MIB, onKill: "stall" });
    host.killFromOutside(200);
    host.openFails.set(200, "EMFILE");
    assert.ok(engine.manage(host.ref.path).ok);
    host.fireOom();
    await host.advance(6000);
    await engine.whenIdle();
    const decisions = joinDecisions(journal.records);
    assert.equal(decisions.length, 1, `one decision, not a loop: ${decisions.length}`);
    assert.equal(decisions[0]?.action, "wait");
    assert.equal(decisions[0]?.outcome.result, "nothing-done");
    assert.match(decisions[0]?.outcome.actionError ?? "", /EMFILE/);
    assert.ok(host.alive(100));
    engine.stop();
  });

  it("a failed read just before the signal does not cancel the kill", async () => {
    const { host, journal, engine } = setup(1, { machineGuard: { enabled: false } });
    host.add({ pid: 100, comm: "sleep", rssBytes: 1 * MIB });
    host.add({ pid: 200, comm: "tail", rssBytes: 60 * MIB });
    assert.ok(engine.manage(host.ref.path).ok);
    host.beforeNextSignal = () => {
      host.failCgroupReads = 1;
    };
    host.fireOom();
    await host.advance(1000);
    await engine.whenIdle();
    assert.deepEqual(host.killed, [200]);
    assert.equal(joinDecisions(journal.records)[0]?.outcome.result, "recovered");
    engine.stop();
  });

  it("a process someone else is ending is watched, never reaped by us", async () => {
    const { host, engine } = setup(1, { machineGuard: { enabled: false } });
    host.add({ pid: 100, comm: "sleep", rssBytes: 1 * MIB });
    host.add({ pid: 200, comm: "tail", rssBytes: 60 * MIB, onKill: { exitAfterMs: 30 } });
    assert.ok(engine.manage(host.ref.path).ok);
    host.killFromOutside(200, { noMm: true });
    host.fireOom();
    await host.advance(1000);
    await engine.whenIdle();
    assert.ok(!host.reaped.includes(200), "its robust futexes are its exit's to handle");
    assert.deepEqual(host.killed, []);
    engine.stop();
  });
});
