// Fuzzing the scenario parser with what a file from elsewhere may hold: the shipped scenarios
// mutated (numbers made huge, tiny or negative, keys renamed to prototype names or given newlines,
// lines dropped, doubled or cut), and generated structures (huge counts, tiny sleeps, long runs,
// deep loops). The parser never throws, every error is one short line, an accepted file is within
// the work budget, and a sample of accepted files really runs within its estimate.

import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { stringify } from "yaml";
import { simulateSync } from "../../src/sim/kernel/simulate.js";
import { parseScenario } from "../../src/sim/scenario-file.js";
import { estimateRunWork } from "../../src/sim/scenario-file/work.js";
import { WORK_BUDGET_UNITS } from "../../src/sim/scenario-file/work-budget.js";
import type { Scenario } from "../../src/sim/scenario.js";
import { applyLineEdit, lineEdit, type LineEdit } from "../support/line-edits.js";

const SCENARIOS = join(resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", ".."), "scenarios");
const SHIPPED = readdirSync(SCENARIOS)
  .filter((f) => f.endsWith(".yaml"))
  .map((f) => readFileSync(join(SCENARIOS, f), "utf8"));

/** Longest error line allowed: the file name, the line, a key path and a message with its hints. */
const MAX_ERROR_CHARS = 800;
/** Accepted files whose estimate is below this are run, to check the estimate against the simulator. */
const RUN_BELOW_UNITS = 10_000_000;

const numbers = fc.oneof(
  fc.constantFrom("0", "-1", "1e308", "1e-300", "0.0001", "9".repeat(400), "1e6", "100000", ".nan", ".inf", "-.inf", "0x10", "5000000000"),
  fc.double({ noNaN: true }).map(String),
  fc.integer({ min: 0, max: 1_000_000 }).map(String),
);
const weirdKeys = fc.constantFrom("__proto__", "constructor", "toString", "hasOwnProperty", '"a\\nb"', '"x\\u0000y"', "k".repeat(300), "'sp ace'");

type Edit = { kind: "number"; at: number; text: string } | { kind: "key"; at: number; key: string } | LineEdit;
const edit: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({ kind: fc.constant("number" as const), at: fc.nat(), text: numbers }),
  fc.record({ kind: fc.constant("key" as const), at: fc.nat(), key: weirdKeys }),
  lineEdit,
);

/** Applies one edit to the text: the at-th number or key (modulo their count), or a line. */
function apply(text: string, e: Edit): string {
  if (e.kind === "number" || e.kind === "key") {
    const pattern = e.kind === "number" ? /-?\d+(\.\d+)?/g : /^(\s*-?\s*)([A-Za-z][\w{}]*):/gm;
    const matches = [...text.matchAll(pattern)];
    if (matches.length === 0) return text;
    const m = matches[e.at % matches.length]!;
    const replacement = e.kind === "number" ? e.text : `${m[1]}${e.key}:`;
    return text.slice(0, m.index) + replacement + text.slice(m.index! + m[0].length);
  }
  return applyLineEdit(text, e);
}

const mutatedShipped = fc.tuple(fc.constantFrom(...SHIPPED), fc.array(edit, { minLength: 1, maxLength: 6 })).map(([text, edits]) => edits.reduce(apply, text));

/** Mostly ordinary values, sometimes the extreme ones a hostile file would use. */
function mostly<T>(usual: fc.Arbitrary<T>, extreme: fc.Arbitrary<T>): fc.Arbitrary<T> {
  return fc.oneof({ arbitrary: usual, weight: 4 }, { arbitrary: extreme, weight: 1 });
}

const step: fc.Arbitrary<unknown> = fc.letrec<{ step: unknown }>((tie) => ({
  step: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.record({ sleepMs: mostly(fc.constantFrom(0, 10, 50, 1000), fc.oneof(fc.constantFrom(0.001, 0.5, 1e9), fc.double({ min: 0, max: 1e6, noNaN: true }))) }),
    fc.record({ allocKiB: mostly(fc.constantFrom(4, 64, 1024), fc.constant(1e9)), ratePagesPerMs: fc.constantFrom(1e-6, 1, 1e6) }, { requiredKeys: ["allocKiB"] }),
    fc.record({ freeKiB: fc.constantFrom(4, 1024) }),
    fc.record({ lock: mostly(fc.constantFrom("L"), fc.constantFrom("mmap_sem:t0", "nope")) }),
    fc.record({ unlock: fc.constantFrom("L", "mmap_sem") }),
    fc.constant("exit"),
    fc.record({ loop: mostly(fc.constantFrom("forever", 1, 2, 10), fc.constantFrom(1000, 1e12)), steps: fc.array(tie("step"), { minLength: 1, maxLength: 4 }) }),
  ),
})).step;

const task = fc.record(
  {
    mm: fc.record({ anonMiB: fc.constantFrom(0, 1, 64) }),
    startMs: fc.constantFrom(0, 5, 500),
    threads: fc.array(fc.record({ count: mostly(fc.constantFrom(1, 2, 10), fc.constantFrom(5000, 20000)), program: fc.array(step, { minLength: 1, maxLength: 3 }) }), { minLength: 1, maxLength: 3 }),
  },
  { requiredKeys: ["threads"] },
);

const generated = fc
  .record({
    durationS: mostly(fc.constantFrom(0.001, 0.5, 1, 5), fc.oneof(fc.constantFrom(60, 3600, 604800, 1e9), fc.double({ min: 0, max: 1e6, noNaN: true }))),
    tickMs: fc.option(mostly(fc.constantFrom(1, 10, 100), fc.constantFrom(0.5, 1e9)), { nil: undefined }),
    locks: fc.constant([{ name: "L" }]),
    tasks: fc.array(task, { minLength: 1, maxLength: 4 }),
    // Names by position, one sometimes replaced by a prototype member's name.
    oddName: fc.option(fc.constantFrom("__proto__", "constructor", "toString"), { nil: undefined }),
    policies: fc.option(fc.array(mostly(fc.constantFrom("kernel-2018", "kernel-today", "proposal-overcharge"), fc.oneof(fc.constant("__proto__"), fc.record({ name: fc.constantFrom("constructor", "__proto__"), kernel: fc.constant("today") }))), { minLength: 1, maxLength: 4 }), { nil: undefined }),
  })
  .map(({ oddName, tasks, ...s }) => {
    const named = tasks.map((t, i) => ({ name: i === 0 && oddName !== undefined ? oddName : `t${i}`, ...t, threads: t.threads.map((th, j) => ({ name: `th${j}`, ...th })) }));
    return stringify({ ...s, memory: { totalGiB: 16 }, tasks: named });
  });

/** Loops nested thousands deep, in flow and block style. */
const deep = fc.integer({ min: 50, max: 3000 }).map((depth) => {
  const program = "[{loop: 2, steps: ".repeat(depth) + "[{sleepMs: 10}]" + "}]".repeat(depth);
  return `durationS: 1\nmemory: { totalGiB: 1 }\ntasks: [ { name: a, program: ${program} } ]\n`;
});

function checkResult(text: string, sampled: { runs: number }): void {
  let result: ReturnType<typeof parseScenario>;
  try {
    result = parseScenario(text, "f.yaml");
  } catch (error) {
    assert.fail(`the parser threw ${String(error)} on:\n${text.slice(0, 2000)}`);
  }
  if (!result.ok) {
    for (const e of result.errors) {
      assert.ok(!/[\n\r\u2028\u2029]/.test(e), `a message spans lines: ${JSON.stringify(e)}`);
      assert.ok(e.length <= MAX_ERROR_CHARS, `a message of ${e.length} characters: ${e.slice(0, 300)}…`);
    }
    return;
  }
  const s = result.scenario;
  const runs = s.policies.map((p) => ({ policy: p, work: estimateRunWork(s, p) }));
  const total = runs.reduce((sum, r) => sum + r.work.units, 0);
  assert.ok(total <= WORK_BUDGET_UNITS, `accepted with ${total} units of work`);
  if (total <= RUN_BELOW_UNITS) {
    for (const { policy, work } of runs) {
      if (policy.userspace.kind === "oomwarden") continue;
      const run = simulateSync(s, policy);
      sampled.runs++;
      assert.ok(run.simulatedEvents <= work.events, `${policy.name}: ${run.simulatedEvents} events, estimated at most ${work.events}\n${text.slice(0, 2000)}`);
    }
  }
}

function scenarioOf(text: string): Scenario | null {
  const r = parseScenario(text, "f.yaml");
  return r.ok ? r.scenario : null;
}

describe("scenario parser fuzz", () => {
  it("mutated shipped scenarios", () => {
    const sampled = { runs: 0 };
    fc.assert(fc.property(mutatedShipped, (text) => checkResult(text, sampled)), { seed: 42, numRuns: 300 });
    assert.ok(sampled.runs > 0, "some mutated files were run");
  });

  it("generated structures: huge counts, tiny sleeps, long runs, prototype names", () => {
    const sampled = { runs: 0 };
    fc.assert(fc.property(generated, (text) => checkResult(text, sampled)), { seed: 42, numRuns: 300 });
    assert.ok(sampled.runs > 0, "some generated files were run");
  });

  it("loops nested thousands deep", () => {
    fc.assert(fc.property(deep, (text) => checkResult(text, { runs: 0 })), { seed: 42, numRuns: 20 });
  });

  it("the generators reach accepted files", () => {
    // Without accepted files the budget and run checks above would be vacuous.
    const accepted = fc.sample(generated, { seed: 7, numRuns: 100 }).filter((t) => scenarioOf(t) !== null).length;
    assert.ok(accepted >= 5, `${accepted} of 100 generated files accepted`);
  });
});
