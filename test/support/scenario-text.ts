// Scenario text in, a Scenario or its errors out, failing the test when the file goes the other way.

import assert from "node:assert/strict";
import { parseScenario } from "../../src/sim/scenario-file.js";
import type { Scenario } from "../../src/sim/scenario.js";

export function parsedScenario(text: string, source = "file.yaml"): Scenario {
  const r = parseScenario(text, source);
  if (!r.ok) assert.fail(`expected a valid scenario, got:\n${r.errors.join("\n")}`);
  return r.scenario;
}

export function scenarioErrors(text: string, source = "file.yaml"): string[] {
  const r = parseScenario(text, source);
  if (r.ok) assert.fail("expected errors, the scenario was accepted");
  return r.errors;
}
