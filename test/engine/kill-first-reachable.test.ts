// The last steps before a signal: a rehearsal runs them all and sends nothing, whatever the last look says.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Candidate } from "../../src/core/types.js";
import { killFirstReachable } from "../../src/engine/kill-first-reachable.js";
import { FakeHost } from "./fake-host.js";

const MIB = 1024 * 1024;

function candidateOf(host: FakeHost, pid: number): Candidate {
  const sample = host.readProcess(pid);
  assert.ok(sample.ok);
  return { pid, comm: sample.value.comm, startTimeTicks: sample.value.startTimeTicks, rssBytes: sample.value.rssBytes, score: 1, reason: "the test's victim" };
}

describe("killFirstReachable", () => {
  it("signals the victim once the last look says a kill is still needed, after beforeSignal", () => {
    const host = new FakeHost(1);
    host.add({ pid: 200, comm: "hog", rssBytes: 60 * MIB });
    const steps: string[] = [];
    const attempt = killFirstReachable(host, [candidateOf(host, 200)], [], {
      stillNeeded: () => (steps.push("look"), true),
      beforeSignal: () => steps.push(`before signal, killed so far ${host.killed.length}`),
    });
    assert.equal(attempt.kind, "killed");
    assert.deepEqual(steps, ["look", "before signal, killed so far 0"]);
    assert.deepEqual(host.killed, [200]);
  });

  it("a last look that says no: nothing sent, beforeSignal skipped, the pidfd closed", () => {
    const host = new FakeHost(1);
    host.add({ pid: 200, comm: "hog", rssBytes: 60 * MIB });
    let before = 0;
    const attempt = killFirstReachable(host, [candidateOf(host, 200)], [], { stillNeeded: () => false, beforeSignal: () => before++ });
    assert.equal(attempt.kind, "no-longer-needed");
    assert.equal(before, 0);
    assert.deepEqual(host.killed, []);
    assert.equal(host.victimsReleased, host.victimsOpened);
  });

  for (const stillNeeded of [true, false]) {
    it(`a rehearsal runs the last look and beforeSignal and sends nothing (the look says ${stillNeeded ? "needed" : "not needed"})`, () => {
      const host = new FakeHost(1);
      host.add({ pid: 200, comm: "hog", rssBytes: 60 * MIB });
      const steps: string[] = [];
      for (const sigterm of [false, true]) {
        const attempt = killFirstReachable(host, [candidateOf(host, 200)], [], {
          stillNeeded: () => (steps.push("look"), stillNeeded),
          beforeSignal: () => steps.push("before signal"),
          rehearsal: true,
          sigterm,
        });
        assert.equal(attempt.kind, "no-longer-needed");
      }
      assert.deepEqual(steps, ["look", "before signal", "look", "before signal"]);
      assert.deepEqual(host.killed, []);
      assert.deepEqual(host.terminated, []);
      assert.deepEqual(host.signalZero, [200, 200], "signal 0 is all a rehearsal sends");
      assert.equal(host.victimsReleased, host.victimsOpened);
    });
  }
});
