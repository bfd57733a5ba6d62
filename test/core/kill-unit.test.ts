// The kill unit as a pure function fed literal snapshots: the process group without the session's
// leader, the nearest service or scope cgroup and never a login session or a user's slice, the
// protected members spared, memory.oom.group as the kernel takes it.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DEFAULT_KILL_UNIT, isSessionCgroup, killUnitFor, unitCgroup, type KillUnitConfig } from "../../src/core/kill-unit.js";
import { rankCandidates } from "../../src/core/rank.js";
import { compileVictimRules } from "../../src/core/victim-rules.js";
import type { ProcessSample, Snapshot } from "../../src/core/types.js";
import { machineScope } from "../support/machine-samples.js";

const MIB = 1024 * 1024;

function proc(pid: number, comm: string, rssMiB: number, where: { pgid: number; sid: number; cgroup: string }, o: Partial<ProcessSample> = {}): ProcessSample {
  return {
    pid,
    comm,
    startTimeTicks: 1000 + pid,
    state: "S",
    rssBytes: rssMiB * MIB,
    swapBytes: 0,
    pageTablesBytes: 4096,
    oomScoreAdj: 0,
    isKernelThread: false,
    threads: 1,
    exiting: false,
    details: { uid: 1000, pgid: where.pgid, sid: where.sid, cmdline: comm, exe: `/usr/bin/${comm}`, cgroup: where.cgroup, cgroupPreference: null },
    ...o,
  };
}

const APP = "/user.slice/user-1000.slice/user@1000.service/app.slice/app-build-1.scope";
const SESSION = "/user.slice/user-1000.slice/session-2.scope";

function snapshotOf(processes: ProcessSample[]): Snapshot {
  return { takenAtMs: 0, cgroup: machineScope(), processes, selfPid: 4242, pageSizeBytes: 4096 };
}

/** A shell (session leader) with a job of three in group 300 under the app scope, a sibling service. */
function machine(): ProcessSample[] {
  return [
    proc(200, "bash", 5, { pgid: 200, sid: 200, cgroup: SESSION }),
    proc(300, "make", 10, { pgid: 300, sid: 200, cgroup: APP }),
    proc(301, "cc1", 600, { pgid: 300, sid: 200, cgroup: APP }),
    proc(302, "cc1", 300, { pgid: 300, sid: 200, cgroup: APP }),
    proc(400, "nginx", 200, { pgid: 400, sid: 400, cgroup: "/system.slice/nginx.service" }),
    proc(401, "nginx", 100, { pgid: 400, sid: 400, cgroup: "/system.slice/nginx.service" }),
  ];
}

function unit(processes: ProcessSample[], config: Partial<KillUnitConfig>, oomGroupCgroup: string | null = null, rules = compileVictimRules([], { linearFallback: false })) {
  const snapshot = snapshotOf(processes);
  const ranking = rankCandidates(snapshot, { maxCandidates: 5, totalMemoryPages: 262_144, rules: rules.ok ? rules.rules : [] });
  const victim = ranking.candidates[0]!;
  return { victim, choice: killUnitFor(victim, snapshot, ranking, { ...DEFAULT_KILL_UNIT, ...config }, { oomGroupCgroup }) };
}

describe("kill unit", () => {
  it("process: the victim alone", () => {
    assert.deepEqual(unit(machine(), {}).choice, { kind: "process", note: null });
  });

  it("process-group: the job, never the shell nor the sibling service", () => {
    const { victim, choice } = unit(machine(), { kind: "process-group" });
    assert.equal(victim.pid, 301);
    assert.equal(choice.kind, "process-group");
    assert.ok(choice.kind === "process-group");
    assert.deepEqual(choice.others.map((p) => p.pid).sort(), [300, 302]);
  });

  it("process-group: a session leader in the victim's group is spared", () => {
    const processes = [proc(200, "sh", 5, { pgid: 200, sid: 200, cgroup: SESSION }), proc(201, "hog", 600, { pgid: 200, sid: 200, cgroup: SESSION })];
    const { choice } = unit(processes, { kind: "process-group" });
    assert.ok(choice.kind === "process-group");
    assert.deepEqual(choice.others, []);
    assert.deepEqual(choice.spared.map((p) => p.pid), [200]);
  });

  it("cgroup: the nearest service or scope, with every member of it and nothing else", () => {
    const { choice } = unit(machine(), { kind: "cgroup" });
    assert.ok(choice.kind === "cgroup");
    assert.equal(choice.cgroup, APP);
    assert.equal(choice.whole, true);
    assert.deepEqual(choice.others.map((p) => p.pid).sort(), [300, 302]);
  });

  it("cgroup: a process of a login session's scope goes alone, with the reason", () => {
    const processes = [proc(200, "bash", 5, { pgid: 200, sid: 200, cgroup: SESSION }), proc(201, "hog", 600, { pgid: 201, sid: 200, cgroup: SESSION })];
    const { choice } = unit(processes, { kind: "cgroup" });
    assert.equal(choice.kind, "process");
    assert.ok(choice.kind === "process");
    assert.match(choice.note ?? "", /no cgroup of .*session-2\.scope.* matches .* outside a login session or a user's slice: the process alone/);
    // Unless configured.
    const allowed = unit(processes, { kind: "cgroup", allowSessions: true }).choice;
    assert.ok(allowed.kind === "cgroup");
    assert.equal(allowed.cgroup, SESSION);
  });

  it("never a user's slice or manager, whatever the pattern", () => {
    assert.equal(unitCgroup("/user.slice/user-1000.slice/user@1000.service", { cgroupPattern: /./, allowSessions: false }), null);
    assert.equal(unitCgroup("/user.slice/user-1000.slice/user@1000.service/app.slice/x.service", { cgroupPattern: /\.service$/, allowSessions: false }), "/user.slice/user-1000.slice/user@1000.service/app.slice/x.service");
    assert.ok(isSessionCgroup("/user.slice") && isSessionCgroup(SESSION) && isSessionCgroup("/init.scope") && !isSessionCgroup("/system.slice/nginx.service"));
  });

  it("a protected member is spared, and the unit then goes member by member", () => {
    const processes = machine();
    processes[3] = proc(302, "cc1", 300, { pgid: 300, sid: 200, cgroup: APP }, { oomScoreAdj: -1000 });
    const { choice } = unit(processes, { kind: "cgroup" });
    assert.ok(choice.kind === "cgroup");
    assert.equal(choice.whole, false);
    assert.deepEqual(choice.spared.map((p) => p.pid), [302]);
    assert.deepEqual(choice.others.map((p) => p.pid), [300]);
    // A protect rule spares too.
    const rules = compileVictimRules([{ name: "keep-make", comm: "^make$", action: "protect" }], { linearFallback: false });
    const ruled = unit(machine(), { kind: "process-group" }, null, rules).choice;
    assert.ok(ruled.kind === "process-group");
    assert.deepEqual(ruled.spared.map((p) => p.pid), [300]);
  });

  it("memory.oom.group on the victim's cgroup takes it as a unit, as the kernel does, whatever the kind", () => {
    const { choice } = unit(machine(), {}, APP);
    assert.ok(choice.kind === "cgroup");
    assert.equal(choice.cgroup, APP);
    assert.match(choice.reason, /memory\.oom\.group is set on/);
    // Not on a session's cgroup.
    const session = [proc(201, "hog", 600, { pgid: 201, sid: 200, cgroup: SESSION })];
    assert.equal(unit(session, {}, SESSION).choice.kind, "process");
  });
});
