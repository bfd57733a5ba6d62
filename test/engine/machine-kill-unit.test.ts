// The machine guard's kill unit over a scripted host: the rest of a process group signalled right
// after the victim, a cgroup unit by cgroup.kill, a protected member spared, and all of it in the
// decision record.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DEFAULT_KILL_UNIT } from "../../src/core/kill-unit.js";
import type { ProcessDetails } from "../../src/core/types.js";
import { MemoryJournal } from "../../src/daemon/journal.js";
import { Engine } from "../../src/engine/engine.js";
import { joinDecisions } from "../../src/engine/journal-record.js";
import { FakeHost } from "./fake-host.js";

const MIB = 1024 * 1024;
const JOB = "/system.slice/build.service";

function details(pgid: number, cgroup: string, sid = 1): ProcessDetails {
  return { uid: 0, pgid, sid, cmdline: "", exe: null, cgroup, cgroupPreference: null };
}

function setup(kind: "process" | "process-group" | "cgroup") {
  const host = new FakeHost(2);
  const journal = new MemoryJournal();
  const engine = new Engine(host, journal, { observeIntervalMs: 100, maxObservationsWithoutProgress: 5, machineGuard: { killUnit: { ...DEFAULT_KILL_UNIT, kind } } });
  host.add({ pid: 100, comm: "innocent", rssBytes: 200 * MIB, details: details(100, "/system.slice/db.service") });
  host.add({ pid: 300, comm: "make", rssBytes: 10 * MIB, details: details(300, JOB) });
  host.add({ pid: 301, comm: "cc1", rssBytes: 500 * MIB, details: details(300, JOB) });
  host.add({ pid: 302, comm: "cc1", rssBytes: 100 * MIB, details: details(300, JOB) });
  host.add({ pid: 303, comm: "logger", rssBytes: 10 * MIB, details: details(303, JOB) });
  // MemAvailable 30 MiB of 1 GiB: the kill level.
  host.machineOtherUsedBytes = host.machineTotalBytes - host.usageBytes() - 30 * MIB;
  return { host, journal, engine };
}

describe("machine guard: kill units", () => {
  it("the rehearsal at start plans the victim's unit (memory.oom.group walked, members' pidfds opened and closed) and signals nobody", async () => {
    const { host, journal, engine } = setup("process-group");
    const lowOtherUsedBytes = host.machineOtherUsedBytes;
    host.machineOtherUsedBytes -= 400 * MIB; // plentiful: the rehearsal runs before the first sample
    assert.ok(engine.guardMachine().ok);
    await host.advance(1000);
    await engine.whenIdle();
    assert.deepEqual(host.killed, []);
    assert.deepEqual(host.terminated, []);
    assert.ok(host.readOomGroupCalls > 0, "the rehearsal walked the victim's cgroups for memory.oom.group");
    // The victim and its two group members, every rehearsal round; each closed again.
    assert.ok(host.victimsOpened >= 3, `pidfds opened: ${host.victimsOpened}`);
    assert.equal(host.victimsReleased, host.victimsOpened, "every pidfd the rehearsal opened is closed");
    assert.deepEqual(journal.records.filter((r) => r.type === "decision"), [], "the rehearsal journals no decision");
    host.machineOtherUsedBytes = lowOtherUsedBytes;
    await host.advance(2000);
    await engine.whenIdle();
    assert.deepEqual([...host.killed].sort(), [300, 301, 302], "the real decision afterwards takes the group");
    engine.stop();
  });

  it("process-group: the victim's group goes, nothing outside it, journaled with the pids", async () => {
    const { host, journal, engine } = setup("process-group");
    assert.ok(engine.guardMachine().ok);
    await host.advance(2000);
    await engine.whenIdle();
    assert.deepEqual([...host.killed].sort(), [300, 301, 302]);
    assert.ok(host.alive(100) && host.alive(303));
    const [record, ...rest] = joinDecisions(journal.records);
    assert.equal(rest.length, 0);
    assert.equal(record?.victim?.pid, 301);
    assert.deepEqual(record?.unit, { kind: "process-group", pgid: 300, pids: [300, 302], spared: [] });
    assert.deepEqual(record?.outcome.unitSignalled?.pids.sort(), [300, 302]);
    engine.stop();
  });

  it("cgroup: the victim's service by cgroup.kill, its sibling service untouched", async () => {
    const { host, journal, engine } = setup("cgroup");
    assert.ok(engine.guardMachine().ok);
    await host.advance(2000);
    await engine.whenIdle();
    assert.deepEqual(host.cgroupKills, [`${FakeHost.UNIT_ROOT}${JOB}`]);
    // cgroup.kill takes the victim too (already dying: harmless).
    assert.deepEqual([...new Set(host.killed)].sort(), [300, 301, 302, 303]);
    assert.ok(host.alive(100));
    const [record] = joinDecisions(journal.records);
    assert.ok(record?.unit?.kind === "cgroup");
    assert.equal(record.unit.cgroup, JOB);
    assert.equal(record.unit.byCgroupKill, true);
    engine.stop();
  });

  it("cgroup with a protected member: member by member, the protected one spared", async () => {
    const { host, journal, engine } = setup("cgroup");
    host.add({ pid: 304, comm: "sshd", rssBytes: 5 * MIB, oomScoreAdj: -1000, details: details(304, JOB) });
    host.machineOtherUsedBytes -= 5 * MIB;
    assert.ok(engine.guardMachine().ok);
    await host.advance(2000);
    await engine.whenIdle();
    assert.deepEqual(host.cgroupKills, []);
    assert.ok(host.alive(304) && host.alive(100));
    assert.deepEqual([...host.killed].sort(), [300, 301, 302, 303]);
    const [record] = joinDecisions(journal.records);
    assert.ok(record?.unit?.kind === "cgroup");
    assert.equal(record.unit.byCgroupKill, false);
    assert.deepEqual(record.unit.spared, [{ pid: 304, comm: "sshd" }]);
    engine.stop();
  });

  it("memory.oom.group on the victim's cgroup: the cgroup goes even with killUnit process", async () => {
    const { host, journal, engine } = setup("process");
    host.oomGroupCgroups.add(JOB);
    assert.ok(engine.guardMachine().ok);
    await host.advance(2000);
    await engine.whenIdle();
    assert.deepEqual(host.cgroupKills, [`${FakeHost.UNIT_ROOT}${JOB}`]);
    assert.ok(host.alive(100));
    const [record] = joinDecisions(journal.records);
    assert.match(record?.unit?.kind === "cgroup" ? record.unit.reason : "", /memory\.oom\.group/);
    engine.stop();
  });
});
