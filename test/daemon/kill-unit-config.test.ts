// The config file's killUnit key: the three kinds, the cgroup form with its pattern, and every
// error naming the key and its line.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseConfig } from "../../src/daemon/config.js";

function unitOf(text: string) {
  const parsed = parseConfig(text, "oomwarden.yaml");
  assert.ok(parsed.ok, parsed.ok ? "" : parsed.message);
  return parsed.config.engine.machineGuard.killUnit;
}

function errorOf(text: string): string {
  const parsed = parseConfig(text, "oomwarden.yaml");
  assert.ok(!parsed.ok, "refused");
  return parsed.message;
}

describe("config: killUnit", () => {
  it("defaults to the process alone", () => {
    assert.equal(unitOf("journalCandidates: 5\n").kind, "process");
  });

  it("takes a kind by name, or a mapping for the cgroup unit", () => {
    assert.equal(unitOf("killUnit: process-group\n").kind, "process-group");
    const unit = unitOf("killUnit:\n  kind: cgroup\n  cgroupPattern: '\\.service$'\n  allowSessions: true\n");
    assert.equal(unit.kind, "cgroup");
    assert.ok(unit.cgroupPattern.test("nginx.service") && !unit.cgroupPattern.test("docker-1.scope"));
    assert.equal(unit.allowSessions, true);
    // Beside the flat tunables, which must not drop it.
    assert.equal(unitOf("lowAvailablePct: 4\nkillUnit: cgroup\n").kind, "cgroup");
  });

  it("errors name the key and the line", () => {
    assert.match(errorOf("journalCandidates: 5\nkillUnit: session\n"), /^oomwarden\.yaml:2: key "killUnit": expected one of process, process-group, cgroup, got "session"/);
    assert.match(errorOf("killUnit:\n  kind: cgroup\n  cgroupPatern: x\n"), /^oomwarden\.yaml:3: key "killUnit\.cgroupPatern": unknown field "cgroupPatern" \(did you mean "cgroupPattern"\?\)/);
    assert.match(errorOf("killUnit:\n  kind: cgroup\n  cgroupPattern: '(a'\n"), /^oomwarden\.yaml:3: key "killUnit\.cgroupPattern": invalid regular expression/);
    assert.match(errorOf("killUnit:\n  cgroupPattern: x\n"), /^oomwarden\.yaml:1: key "killUnit\.kind": a mapping needs kind/);
    assert.match(errorOf("killUnit:\n  kind: cgroup\n  allowSessions: yes please\n"), /^oomwarden\.yaml:3: key "killUnit\.allowSessions": expected true or false/);
    assert.match(errorOf("killUnit:\n  kind: process\n  cgroupPattern: x\n"), /key "killUnit\.cgroupPattern": cgroupPattern is for kind: cgroup/);
  });
});
