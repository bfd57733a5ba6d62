// The v2 guard band over the scripted host in virtual time: memory.high a band below memory.max,
// recorded and given back; a workload throttled in the band is the incident; the kernel's own kill
// is journaled with its victim named and counts as the incident's kill.

import assert from "node:assert/strict";
import test from "node:test";
import { incidentThreshold } from "../../src/core/guard-band-plan.js";
import { MemoryJournal } from "../../src/daemon/journal.js";
import { Engine } from "../../src/engine/engine.js";
import type { EngineOptionsInput } from "../../src/engine/engine-options.js";
import { joinDecisions, type DecidedRecord, type KernelKillRecord } from "../../src/engine/journal-record.js";
import { InMemoryLedger } from "../../src/engine/takeover-ledger.js";
import { FakeHost } from "./fake-host.js";

const MIB = 1024 * 1024;
const LIMIT = 128 * MIB;
/** 10% below 128 MiB, in whole pages. */
const BAND_HIGH = Math.floor((LIMIT - Math.ceil((LIMIT * 0.1) / 4096) * 4096) / 4096) * 4096;

function setup(options: EngineOptionsInput = {}): { host: FakeHost; journal: MemoryJournal; engine: Engine; ledger: InMemoryLedger } {
  const host = new FakeHost(2, LIMIT);
  const journal = new MemoryJournal();
  const ledger = new InMemoryLedger();
  const engine = new Engine(host, journal, { observeIntervalMs: 100, maxObservationsWithoutProgress: 5, machineGuard: { enabled: false }, ...options }, { ledger });
  host.add({ pid: 100, comm: "innocent", rssBytes: 4 * MIB });
  host.add({ pid: 200, comm: "hog", rssBytes: 40 * MIB });
  return { host, journal, engine, ledger };
}

const decisions = (journal: MemoryJournal): DecidedRecord[] => joinDecisions(journal.records);
const kernelKills = (journal: MemoryJournal): KernelKillRecord[] => journal.records.filter((r): r is KernelKillRecord => r.type === "kernel-kill");

test("memory.high goes a band below memory.max, its original written down first, and comes back at stop", () => {
  const { host, engine, ledger } = setup();
  const managed = engine.manage(host.ref.path);
  assert.ok(managed.ok);
  assert.deepEqual(host.highWrites, [BAND_HIGH]);
  assert.equal(ledger.recallHigh(host.ledgerKey()), null, "the original was \"max\"");
  assert.ok(managed.value.notes.some((n) => n.includes(`memory.high ${BAND_HIGH} bytes (10% below the limit of ${LIMIT} bytes)`)), managed.value.notes.join("; "));
  assert.deepEqual(host.pressureTrigger, { stallUs: 100_000, windowUs: 1_000_000 }, "a PSI trigger on the cgroup's memory.pressure");
  engine.stop();
  assert.deepEqual(host.highWrites, [BAND_HIGH, null], "memory.high back to max");
  assert.equal(ledger.recallHigh(host.ledgerKey()), undefined, "and forgotten by the ledger");
});

test("a workload throttled in the band: the hog dies by oomwarden's hand before the kernel has to, the innocent lives", async () => {
  const { host, journal, engine } = setup();
  assert.ok(engine.manage(host.ref.path).ok);
  host.growInto(BAND_HIGH + 4 * MIB);
  await host.advance(1000);
  await engine.whenIdle();
  assert.deepEqual(host.killed, [200]);
  assert.ok(host.alive(100));
  assert.equal(host.events.oomKill, 0, "the kernel's killer never acted");
  const [decision, ...more] = decisions(journal);
  assert.equal(more.length, 0);
  assert.equal(decision?.incident.kind, "guard-band");
  assert.match(decision?.incident.reason ?? "", /past memory\.high \d+ bytes by more than the kernel reclaims: the workload is being throttled in the guard band below memory\.max/);
  assert.equal(decision?.outcome.result, "recovered");
  engine.stop();
});

test("usage at memory.high that reclaim keeps there (page cache) is no incident; past the throttle point it is", async () => {
  const { host, engine } = setup();
  assert.ok(engine.manage(host.ref.path).ok);
  host.growInto(incidentThreshold(BAND_HIGH));
  await host.advance(500);
  assert.deepEqual(host.killed, [], "at the throttle point itself: reclaim still keeps up");
  host.growInto(incidentThreshold(BAND_HIGH) + 4096);
  await host.advance(500);
  await engine.whenIdle();
  assert.deepEqual(host.killed, [200]);
  engine.stop();
});

test("a PSI trigger wakes oomwarden when the band's throttling stalls the workload", async () => {
  const { host, engine } = setup();
  assert.ok(engine.manage(host.ref.path).ok);
  await host.advance(10); // the look taken at start, below the band
  // Usage in the band without a memory.events change reaching us: the pressure trigger finds it.
  host.baseUsageBytes += BAND_HIGH + 4 * MIB - host.usageBytes();
  await host.advance(100);
  assert.deepEqual(host.killed, []);
  host.firePressure();
  await host.advance(500);
  await engine.whenIdle();
  assert.deepEqual(host.killed, [200]);
  engine.stop();
});

test("a pressure trigger the kernel refuses is said once; memory.events still drives the band", () => {
  const { host, engine } = setup();
  host.pressureRefusal = "cannot set a pressure trigger: operation not permitted";
  const managed = engine.manage(host.ref.path);
  assert.ok(managed.ok);
  assert.ok(managed.value.notes.some((n) => n.startsWith("no memory pressure trigger (cannot set a pressure trigger: operation not permitted)")), managed.value.notes.join("; "));
  engine.stop();
});

test("the kernel kills first (a hog faster than the band): exactly one process dies, the journal names it, nobody else is chosen", async () => {
  const { host, journal, engine } = setup();
  host.add({ pid: 300, comm: "fast-hog", rssBytes: 80 * MIB, onKill: { exitAfterMs: 400 }, reapable: false });
  assert.ok(engine.manage(host.ref.path).ok);
  // The kernel's killer at memory.max: oom rises, then oom_kill, and the victim takes 400 ms to exit
  // while the cgroup stays in the band.
  host.kernelKills(300);
  await host.advance(2000);
  await engine.whenIdle();
  assert.deepEqual(host.killed, [], "no kill of oomwarden's");
  assert.ok(host.alive(100) && host.alive(200), "the innocent and the other process live");
  assert.ok(!host.alive(300));
  const [record] = kernelKills(journal);
  assert.deepEqual(record?.victims, [{ pid: 300, comm: "fast-hog", rssBytes: 80 * MIB, source: "kernel log" }]);
  assert.match(record?.note ?? "", /killed fast-hog\[300\].*counts as the incident's kill/);
  // While its victim exits, the band incident waits for it rather than choosing another.
  const waits = decisions(journal);
  assert.ok(waits.length >= 1 && waits.every((d) => d.action === "wait" && d.waitingFor?.pid === 300), JSON.stringify(waits.map((d) => [d.action, d.waitingFor?.pid])));
  assert.equal(waits[0]?.outcome.result, "recovered");
  engine.stop();
});

test("the kernel's victim is named from the processes when its log cannot be read: exiting, or gone since the last listing", async () => {
  const { host, journal, engine } = setup();
  host.kernelLog = null;
  host.add({ pid: 300, comm: "fast-hog", rssBytes: 80 * MIB, onKill: { exitAfterMs: 300 }, reapable: false });
  host.add({ pid: 400, comm: "quick", rssBytes: 1 * MIB });
  assert.ok(engine.manage(host.ref.path).ok);
  host.kernelKills(300);
  await host.advance(1000);
  await engine.whenIdle();
  assert.deepEqual(kernelKills(journal)[0]?.victims, [{ pid: 300, comm: "fast-hog", rssBytes: 80 * MIB, source: "exiting" }]);
  // A victim that is gone before anyone looks is named from the members last listed.
  host.kernelKills(400, { goneBeforeNotify: true });
  await host.advance(1000);
  await engine.whenIdle();
  assert.deepEqual(kernelKills(journal)[1]?.victims, [{ pid: 400, comm: "quick", rssBytes: 1 * MIB, source: "gone" }]);
  assert.deepEqual(host.killed, []);
  engine.stop();
});

test("regression: the kernel entering OOM (oom 1, oom_kill 0) with usage below the band is not a decision of oomwarden's", async () => {
  const { host, journal, engine } = setup();
  assert.ok(engine.manage(host.ref.path).ok);
  // 52 MiB of 128: the counter says the kernel started an OOM; usage says nothing is short here.
  host.baseUsageBytes += 52 * MIB - host.usageBytes();
  host.events = { ...host.events, oom: host.events.oom + 1 };
  host.notifyWithoutOom();
  await host.advance(1000);
  await engine.whenIdle();
  assert.deepEqual(host.killed, []);
  assert.deepEqual(decisions(journal), []);
  engine.stop();
});

test("regression: after the kernel's kill, a second victim only if the cgroup is still in the band once that memory is back", async () => {
  const { host, journal, engine } = setup();
  host.add({ pid: 300, comm: "fast-hog", rssBytes: 70 * MIB, onKill: { exitAfterMs: 200 }, reapable: false });
  assert.ok(engine.manage(host.ref.path).ok);
  host.kernelKills(300);
  // The hog's exit brings usage back below the band: nobody else dies.
  await host.advance(1000);
  await engine.whenIdle();
  assert.deepEqual(host.killed, []);
  // Later the other hog fills the band by itself: that is a new incident, and it dies.
  host.growInto(BAND_HIGH + 8 * MIB);
  await host.advance(1000);
  await engine.whenIdle();
  assert.deepEqual(host.killed, [200]);
  assert.ok(host.alive(100));
  assert.equal(decisions(journal).filter((d) => d.action === "kill").length, 1);
  engine.stop();
});

test("a memory.high the owner set lower than the band is kept, and the band starts there", () => {
  const { host, engine, ledger } = setup();
  host.highBytes = 64 * MIB;
  const managed = engine.manage(host.ref.path);
  assert.ok(managed.ok);
  assert.deepEqual(host.highWrites, [], "nothing written");
  assert.equal(ledger.recallHigh(host.ledgerKey()), undefined);
  assert.ok(managed.value.notes.some((n) => /memory\.high is already 67108864 bytes/.test(n)), managed.value.notes.join("; "));
  engine.stop();
  assert.deepEqual(host.highWrites, []);
  assert.equal(host.highBytes, 64 * MIB);
});

test("a memory.high an earlier, killed oomwarden set is recognised from the ledger and given back as it was", () => {
  const { host, engine, ledger } = setup();
  ledger.rememberHigh(host.ledgerKey(), 120 * MIB);
  host.highBytes = BAND_HIGH; // left by the killed daemon
  assert.ok(engine.manage(host.ref.path).ok);
  engine.stop();
  assert.equal(host.highBytes, 120 * MIB, "the owner's value, not the band");
  assert.equal(ledger.recallHigh(host.ledgerKey()), undefined);
});

test("no memory.high is written before its original is on disk", () => {
  const host = new FakeHost(2, LIMIT);
  const ledger = new InMemoryLedger(undefined, () => ({ ok: false, error: { code: "ENOSPC", message: "no space left on device" } }));
  const engine = new Engine(host, new MemoryJournal(), { machineGuard: { enabled: false } }, { ledger });
  const managed = engine.manage(host.ref.path);
  assert.equal(managed.ok, false);
  assert.match(managed.ok ? "" : managed.error.message, /the original memory\.high could not be recorded \(no space left on device\)/);
  assert.deepEqual(host.highWrites, []);
});

test("a v2 cgroup without memory.max is refused unless given a logical limit, which the band then keeps it below", () => {
  const host = new FakeHost(2, LIMIT);
  host.limitBytes = null as unknown as number;
  const engine = new Engine(host, new MemoryJournal(), { machineGuard: { enabled: false } }, { ledger: new InMemoryLedger() });
  const refused = engine.manage(host.ref.path);
  assert.equal(refused.ok, false);
  assert.match(refused.ok ? "" : refused.error.message, /has no memory\.max, so no limit to keep it below/);
  assert.deepEqual(host.highWrites, []);
  const managed = engine.manage(host.ref.path, 256 * MIB);
  assert.ok(managed.ok, managed.ok ? "" : managed.error.message);
  assert.equal(host.highWrites[0], Math.floor((256 * MIB - Math.ceil((256 * MIB * 0.1) / 4096) * 4096) / 4096) * 4096);
  engine.stop();
});

test("dry run: the band is computed and journaled decisions show it, but memory.high is left alone", async () => {
  const { host, journal, engine } = setup({ dryRun: true });
  const managed = engine.manage(host.ref.path);
  assert.ok(managed.ok);
  assert.deepEqual(host.highWrites, []);
  assert.ok(managed.value.notes.some((n) => /dry run: the guard band would be memory\.high/.test(n)), managed.value.notes.join("; "));
  host.growInto(BAND_HIGH + 4 * MIB);
  await host.advance(500);
  await engine.whenIdle();
  assert.deepEqual(host.killed, []);
  assert.equal(decisions(journal)[0]?.action, "dry-run");
  assert.equal(decisions(journal)[0]?.victim?.pid, 200);
  engine.stop();
});

test("soft-limit mode on v2 is the band on the logical limit: the hard limit is raised, memory.high is the old limit", async () => {
  const { host, journal, engine, ledger } = setup({ softLimit: { enabled: true } });
  assert.ok(engine.manage(host.ref.path).ok);
  const headroom = Math.ceil((LIMIT * 0.1) / 4096) * 4096;
  assert.deepEqual(host.limitWrites, [LIMIT + headroom]);
  assert.deepEqual(host.highWrites, [LIMIT], "throttling starts at the logical limit");
  assert.equal(ledger.recallLimit(host.ledgerKey()), LIMIT);
  assert.equal(ledger.recallHigh(host.ledgerKey()), null);
  host.growInto(LIMIT + 4 * MIB);
  await host.advance(1000);
  await engine.whenIdle();
  assert.deepEqual(host.killed, [200]);
  assert.equal(decisions(journal)[0]?.incident.kind, "soft-limit");
  assert.match(decisions(journal)[0]?.incident.reason ?? "", /guard band below the logical limit 134217728 bytes \(soft-limit mode\)/);
  engine.stop();
  assert.deepEqual(host.highWrites, [LIMIT, null], "memory.high back first");
  assert.equal(host.limitWrites.at(-1), LIMIT, "then the hard limit");
});

test("v2 memory.oom.group: the band incident kills the whole cgroup through cgroup.kill", async () => {
  const { host, journal, engine } = setup();
  host.oomGroup = true;
  assert.ok(engine.manage(host.ref.path).ok);
  host.growInto(BAND_HIGH + 4 * MIB);
  await host.advance(500);
  await engine.whenIdle();
  assert.deepEqual(host.cgroupKills, [host.ref.path]);
  const [record] = decisions(journal);
  assert.equal(record?.action, "kill-cgroup");
  assert.deepEqual(record?.outcome.groupKilledPids, [100, 200]);
  engine.stop();
});

test("a cgroup taken over already throttled in its band is handled at once, without waiting for a memory.events change", async () => {
  const { host, journal, engine } = setup();
  host.baseUsageBytes += BAND_HIGH + 4 * MIB - host.usageBytes();
  assert.ok(engine.manage(host.ref.path).ok);
  assert.deepEqual(host.killed, [], "never inside manage()");
  await host.advance(500);
  await engine.whenIdle();
  assert.deepEqual(host.killed, [200]);
  assert.equal(decisions(journal)[0]?.incident.kind, "guard-band");
  engine.stop();
});

test("memory.max changed under oomwarden moves the band with it; removed, the band is given back", async () => {
  const { host, journal, engine, ledger } = setup();
  assert.ok(engine.manage(host.ref.path).ok);
  assert.deepEqual(host.highWrites, [BAND_HIGH]);
  // An operator lowers the limit to 96 MiB: memory.high must follow below it, or there is no band.
  host.limitBytes = 96 * MIB;
  host.notifyWithoutOom();
  await host.advance(10);
  const lowered = Math.floor((96 * MIB - Math.ceil((96 * MIB * 0.1) / 4096) * 4096) / 4096) * 4096;
  assert.deepEqual(host.highWrites, [BAND_HIGH, null, lowered], "given back, then set below the new limit");
  assert.equal(ledger.recallHigh(host.ledgerKey()), null, "the original is still the owner's");
  assert.ok(journal.records.some((r) => r.type === "notice" && r.message.startsWith(`memory.max changed from ${LIMIT} to ${96 * MIB} bytes: guard band: memory.high ${lowered} bytes`)));
  // Usage past the new band is the incident.
  host.growInto(lowered + 4 * MIB);
  await host.advance(500);
  await engine.whenIdle();
  assert.deepEqual(host.killed, [200]);
  // memory.max removed: nothing left to keep it below.
  host.limitBytes = null as unknown as number;
  host.notifyWithoutOom();
  await host.advance(10);
  assert.equal(host.highBytes, null);
  assert.equal(ledger.recallHigh(host.ledgerKey()), undefined);
  engine.stop();
  assert.equal(host.highBytes, null);
});

