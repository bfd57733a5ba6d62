// A scenario's oomwarden `options` are checked when the file is read, with the daemon config's
// table: the same bounds, and the rule across keys with the key and its line (it used to fail only
// when the scenario ran, thrown from the agent, without a line).

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseScenario } from "../../src/sim/scenario-file.js";

const HEAD = ["durationS: 10", "memory:", "  totalGiB: 4", "tasks:", "  - name: hog", "policies:", "  - name: kernel-today+oomwarden", "    options:"];

function errorsOf(optionLines: string[]): string[] {
  const result = parseScenario([...HEAD, ...optionLines.map((l) => `      ${l}`)].join("\n"), "s.yaml");
  return result.ok ? [] : result.errors;
}

describe("scenario oomwarden options", () => {
  it("the rule across keys fails at parse time, at the later key's line", () => {
    // Lines: 9 and 10 hold the options.
    assert.deepEqual(errorsOf(["lowAvailablePct: 2", "criticalAvailablePct: 3"]), ["s.yaml:10: policies[0].options.criticalAvailablePct: criticalAvailablePct (3) must not be above lowAvailablePct (2)"]);
    assert.deepEqual(errorsOf(["criticalAvailablePct: 3", "lowAvailablePct: 2"]), ["s.yaml:10: policies[0].options.lowAvailablePct: criticalAvailablePct (3) must not be above lowAvailablePct (2)"]);
  });

  it("a window the guard would keep too many samples of fails at parse time too", () => {
    const [error, ...more] = errorsOf(["machineSampleIntervalMs: 1", "psiWindowMs: 3600000"]);
    assert.equal(more.length, 0);
    assert.match(error ?? "", /^s\.yaml:10: policies\[0\]\.options\.psiWindowMs: psiWindowMs \(3600000 ms\) sampled every machineSampleIntervalMs \(1 ms\) keeps over 100000 samples/);
  });

  it("one key set is judged against the other's default", () => {
    assert.deepEqual(errorsOf(["dryRun: true", "lowAvailablePct: 1"]), ["s.yaml:10: policies[0].options.lowAvailablePct: criticalAvailablePct (1.5) must not be above lowAvailablePct (1)"]);
    assert.deepEqual(errorsOf(["criticalAvailablePct: 6"]), ["s.yaml:9: policies[0].options.criticalAvailablePct: criticalAvailablePct (6) must not be above lowAvailablePct (5)"]);
    assert.deepEqual(errorsOf(["lowAvailablePct: 0", "criticalAvailablePct: 6"]), []);
  });

  it("a refused value is not judged again by the rule across keys", () => {
    const errors = errorsOf(["lowAvailablePct: 1", "criticalAvailablePct: 500"]);
    assert.equal(errors.length, 1, errors.join("\n"));
    assert.match(errors[0]!, /^s\.yaml:10: policies\[0\]\.options\.criticalAvailablePct: expected a percentage from 0 to 100, got 500$/);
  });

  it("values beyond what a timer can hold are refused, naming the key", () => {
    assert.deepEqual(errorsOf(["softLimitIntervalMs: 1e10"]), [
      "s.yaml:9: policies[0].options.softLimitIntervalMs: expected a number of ms from 1 to 2147483647 (the longest a timer can wait, about 24.8 days), got 10000000000",
    ]);
    assert.deepEqual(errorsOf(["softLimitGraceMs: 2147483647", "observeIntervalMs: 2147483647"]), []);
  });

  it("prototype names are unknown keys", () => {
    for (const name of ["constructor", "__proto__", "toString"]) {
      const errors = errorsOf([`${name}: 1`]);
      assert.equal(errors.length, 1, errors.join("\n"));
      assert.match(errors[0]!, new RegExp(`^s\\.yaml:9: policies\\[0\\]\\.options\\.${name}: unknown key`));
    }
  });

  it("accepted options reach the policy as checked values", () => {
    const result = parseScenario([...HEAD, "      observeIntervalMs: 50", "      criticalAvailablePct: 2"].join("\n"), "s.yaml");
    assert.ok(result.ok, result.ok ? "" : result.errors.join("\n"));
    const policy = result.scenario.policies[0]!;
    assert.ok(policy.userspace.kind === "oomwarden");
    assert.deepEqual(policy.userspace.options, { observeIntervalMs: 50, criticalAvailablePct: 2 });
  });
});
