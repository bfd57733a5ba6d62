// The work budget: every shipped scenario fits with a wide margin, the estimate bounds what a run
// really does, and files asking for too much are refused with the key that asks for it.

import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { simulateSync } from "../../src/sim/kernel/simulate.js";
import { parseScenario } from "../../src/sim/scenario-file.js";
import { estimateRunWork } from "../../src/sim/scenario-file/work.js";
import { WORK_BUDGET_UNITS } from "../../src/sim/scenario-file/work-budget.js";
import type { Scenario } from "../../src/sim/scenario.js";
import { parsedScenario, scenarioErrors } from "../support/scenario-text.js";

const SCENARIOS = join(resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", ".."), "scenarios");

const parsed = (text: string): Scenario => parsedScenario(text);
const errorsOf = (text: string): string[] => scenarioErrors(text);

function totalUnits(s: Scenario): number {
  return s.policies.reduce((sum, p) => sum + estimateRunWork(s, p).units, 0);
}

/** One task of `threads` threads looping over `steps` (YAML flow lines), for `durationS`. */
function loopFile(o: { durationS: number; threads: number; steps: string; policies?: string }): string {
  return [
    `durationS: ${o.durationS}`,
    "memory: { totalGiB: 64 }",
    "tasks:",
    "  - name: busy",
    "    threads:",
    `      - { name: t, count: ${o.threads}, program: [ { loop: forever, steps: ${o.steps} } ] }`,
    `policies: ${o.policies ?? "[kernel-today]"}`,
  ].join("\n");
}

describe("work budget: shipped scenarios", () => {
  const files = readdirSync(SCENARIOS).filter((f) => f.endsWith(".yaml"));
  for (const file of files) {
    it(`${file} needs at most a tenth of the budget`, () => {
      const s = parsed(readFileSync(join(SCENARIOS, file), "utf8"));
      assert.ok(totalUnits(s) <= WORK_BUDGET_UNITS / 10, `${totalUnits(s)} units`);
    });
  }

  it("the estimate bounds the events the simulator really processes", () => {
    for (const file of files) {
      const s = parsed(readFileSync(join(SCENARIOS, file), "utf8"));
      for (const p of s.policies.filter((p) => p.userspace.kind !== "oomwarden")) {
        const run = simulateSync(s, p);
        const bound = estimateRunWork(s, p).events;
        assert.ok(run.simulatedEvents <= bound, `${file} ${p.name}: ${run.simulatedEvents} events, estimated at most ${bound}`);
      }
    }
  });
});

describe("work budget: files asking for too much are refused with the key that asks", () => {
  it("a sleep shorter than the tick, on many threads (the busy loop)", () => {
    const errors = errorsOf(loopFile({ durationS: 60, threads: 100, steps: "[ { sleepMs: 0.01 } ]" }));
    assert.equal(errors.length, 1);
    assert.match(errors[0]!, /^file\.yaml:6: tasks\[0\]\.threads\[0\]\.program\[0\]\.steps\[0\]\.sleepMs: the simulation would cost about .* units of work, more than the 1 billion a file may ask for/);
    assert.match(errors[0]!, /this sleep of 0\.01 ms, shorter than the tick \(10 ms\), which wakes 100 threads up to 100,000 times per virtual second/);
  });

  it("a long run with many allocating threads names the duration", () => {
    const file = loopFile({ durationS: 7 * 24 * 3600, threads: 100, steps: "[ { allocKiB: 4, ratePagesPerMs: 0.001 }, { freeKiB: 4 } ]" });
    const errors = errorsOf(file);
    assert.match(errors[0]!, /^file\.yaml:1: durationS: the simulation would cost about .* ticks of 10 ms, each serving up to 100 allocating threads/);
  });

  it("seven days at the default tick are refused at the duration; at a tick of a minute they fit", () => {
    const week = (tick: string): string => ["durationS: 604800", ...(tick === "" ? [] : [tick]), "memory: { totalGiB: 1 }", "tasks:", "  - name: idle", "policies: [kernel-today]"].join("\n");
    assert.match(errorsOf(week(""))[0]!, /^file\.yaml:1: durationS: the simulation would cost about .*: 100% of a run is 60 million ticks of 10 ms/);
    assert.ok(totalUnits(parsed(week("tickS: 60"))) < WORK_BUDGET_UNITS / 100);
  });

  it("many policies that each fit name the policies", () => {
    const one = loopFile({ durationS: 600, threads: 20, steps: "[ { allocKiB: 4 }, { sleepMs: 10 }, { freeKiB: 4 } ]" });
    const perRun = totalUnits(parsed(one));
    const count = Math.ceil(WORK_BUDGET_UNITS / perRun) + 1;
    const names = Array.from({ length: count }, (_, i) => `{ name: p${i}, kernel: today }`).join(", ");
    const errors = errorsOf(one.replace("policies: [kernel-today]", `policies: [ ${names} ]`));
    assert.match(errors[0]!, new RegExp(`^file\\.yaml:7: policies: the simulation would cost .*: ${count} policies at up to .* units each; list fewer policies`));
  });

  it("an overcharge reconcile of 0 ms (it would repeat at one instant for ever)", () => {
    const errors = errorsOf(loopFile({ durationS: 1, threads: 1, steps: "[ { sleepMs: 10 } ]", policies: "[ { name: r, kernel: today, proposals: [ { kind: overcharge-reconcile, reconcileMs: 0 } ] } ]" }));
    assert.match(errors[0]!, /policies\[0\]\.proposals\[0\]\.reconcileMs: expected a number > 0, got 0$/);
  });
});

describe("work budget: the most expensive accepted file runs within its estimate", () => {
  it("the busy loop at the longest duration the budget accepts", () => {
    // The shape the tester timed at 15 s per policy: a sleep far shorter than the tick.
    const file = (durationS: number): string => loopFile({ durationS, threads: 4, steps: "[ { sleepMs: 0.01 } ]" });
    let accepted = 0;
    let refused = 1;
    while (parseScenario(file(refused), "f").ok) refused *= 2;
    // Binary search for the longest accepted run, to a second.
    while (refused - accepted > 1) {
      const mid = Math.floor((accepted + refused) / 2);
      if (parseScenario(file(mid), "f").ok) accepted = mid;
      else refused = mid;
    }
    assert.ok(accepted >= 1, "some duration is accepted");
    const s = parsed(file(accepted));
    const estimate = estimateRunWork(s, s.policies[0]!);
    const run = simulateSync(s, s.policies[0]!);
    assert.ok(run.simulatedEvents <= estimate.events, `${run.simulatedEvents} events, estimated at most ${estimate.events}`);
    // Each event is worth at least 30 units of the budget: the run stays within a fixed count.
    assert.ok(run.simulatedEvents <= WORK_BUDGET_UNITS / 30, `${run.simulatedEvents} events`);
  });
});
