// The `high…` key of a cgroup (v2 memory.high) in scenario files: read like `limit…`, v2 only,
// absent by default, and it reaches the simulated kernel.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { simulateSync } from "../../src/sim/kernel/simulate.js";
import { parsedScenario, scenarioErrors } from "../support/scenario-text.js";

const BASE = ["durationS: 10", "memory:", "  totalGiB: 1", "tasks:", "  - name: hog", "    cgroup: /job", "    program: [ { loop: forever, steps: [ { allocMiB: 16, rateMiBPerS: 400 } ] } ]", "cgroups:"];

describe("scenario files: memory.high", () => {
  it("highMiB (and the other size spellings) becomes highPages; without it the spec has no high", () => {
    const s = parsedScenario([...BASE, "  - { path: /job, limitMiB: 128, highMiB: 120 }"].join("\n"));
    assert.deepEqual(s.cgroups[0], { path: "/job", limitPages: 32_768, highPages: 30_720, version: 2, oomKillDisable: false, oomGroup: false, chargeFailure: "enomem" });
    assert.equal(parsedScenario([...BASE, "  - { path: /job, highPages: 100 }"].join("\n")).cgroups[0]!.highPages, 100, "a high without a limit");
    assert.ok(!("highPages" in parsedScenario([...BASE, "  - { path: /job, limitMiB: 128 }"].join("\n")).cgroups[0]!));
  });

  it("is checked like limitMiB, and only on cgroup v2", () => {
    const cases: [string, RegExp][] = [
      ["{ path: /job, version: 1, highMiB: 120 }", /^file\.yaml:9: cgroups\[0\]\.highMiB: a high limit exists only in cgroup v2 \(memory\.high\); set version: 2$/],
      ["{ path: /job, highMiB: 0 }", /^file\.yaml:9: cgroups\[0\]\.highMiB: expected a number > 0, got 0$/],
      ["{ path: /job, highKiB: 1 }", /^file\.yaml:9: cgroups\[0\]\.highKiB: 1 is less than half a page/],
      ["{ path: /job, highMiB: lots }", /^file\.yaml:9: cgroups\[0\]\.highMiB: expected a number > 0, got "lots"$/],
      ["{ path: /job, highMiB: 1, highPages: 256 }", /^file\.yaml:9: cgroups\[0\]\.highPages: give only one of highMiB, highPages$/],
      ["{ path: /job, hihgMiB: 1 }", /^file\.yaml:9: cgroups\[0\]\.hihgMiB: unknown key \(did you mean "high\w+"\?\) \(known keys here: path, limit\{GiB,MiB,KiB,Pages\}, high\{GiB,MiB,KiB,Pages\}, version/],
    ];
    for (const [line, expected] of cases) {
      const errors = scenarioErrors([...BASE, `  - ${line}`].join("\n"));
      assert.equal(errors.length, 1, errors.join("\n"));
      assert.match(errors[0]!, expected);
    }
  });

  it("the kernel throttles at the file's high: the hog is still alive at the end, and not without it", () => {
    const withHigh = parsedScenario([...BASE, "  - { path: /job, limitMiB: 128, highMiB: 112 }", "policies: [kernel-today]"].join("\n"));
    const without = parsedScenario([...BASE, "  - { path: /job, limitMiB: 128 }", "policies: [kernel-today]"].join("\n"));
    assert.deepEqual(simulateSync(withHigh, withHigh.policies[0]!).result.killed, []);
    assert.deepEqual(simulateSync(without, without.policies[0]!).result.killed, ["hog"]);
  });
});
