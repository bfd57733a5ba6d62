// `oomwarden simulate` on files from elsewhere: a file over 1 MiB (or not a file) is not read,
// --policy cannot run past the work budget, a file with thousands of errors prints the first ones,
// and policy names such as "constructor" are plain names.

import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { SimulateArgs } from "../../src/cli/args.js";
import { MAX_SCENARIO_BYTES, processIo, runSimulate, type SimulateIo } from "../../src/cli/simulate-command.js";
import { parseScenario, WORK_BUDGET_UNITS } from "../../src/sim/scenario-file.js";
import { estimateRunWork } from "../../src/sim/scenario-file/work.js";
import type { PolicySpec, SimulationRun } from "../../src/sim/scenario.js";

function fakeRun(policy: PolicySpec): SimulationRun {
  return {
    result: { policy: policy.name, killed: [], innocentKilled: 0, recoveredMs: 0, allocFailures: {}, maxStallMs: 0, pressureFullMs: 0, livelock: false, panic: false },
    events: [],
    samples: [],
    simulatedEvents: 1,
  };
}

function fakeIo(files: Record<string, string>) {
  const out = { stdout: "", stderr: "", runs: [] as string[] };
  const io: SimulateIo = {
    readFile: (path) => files[path] ?? "",
    writeFile: () => {},
    stdout: (t) => void (out.stdout += t),
    stderr: (t) => void (out.stderr += t),
    simulate: async (_scenario, policy) => {
      out.runs.push(policy.name);
      return fakeRun(policy);
    },
    oomwardenAgent: () => () => ({ start() {}, stop() {} }),
  };
  return { io, out };
}

const args = (over: Partial<SimulateArgs>): SimulateArgs => ({ file: "s.yaml", policies: [], json: false, svg: null, seed: null, ...over });

/** A file of one policy whose run needs more than half the budget. */
function halfBudgetFile(): string {
  const file = (durationS: number): string =>
    [`durationS: ${durationS}`, "memory: { totalGiB: 64 }", "tasks:", "  - name: busy", "    program: [ { loop: forever, steps: [ { sleepMs: 0.01 } ] } ]", "policies: [kernel-today]"].join("\n");
  let durationS = 1;
  for (;;) {
    const r = parseScenario(file(durationS), "s.yaml");
    assert.ok(r.ok, "the file fits while one run needs at most half the budget");
    if (estimateRunWork(r.scenario, r.scenario.policies[0]!).units > WORK_BUDGET_UNITS / 2) return file(durationS);
    durationS *= 2;
  }
}

describe("oomwarden simulate within the work budget", () => {
  it("refuses --policy naming more runs than the budget allows, in one line, running nothing", async () => {
    const { io, out } = fakeIo({ "s.yaml": halfBudgetFile() });
    assert.equal(await runSimulate(args({ policies: ["kernel-today"] }), io), 0);
    assert.deepEqual(out.runs, ["kernel-today"]);
    const second = fakeIo({ "s.yaml": halfBudgetFile() });
    assert.equal(await runSimulate(args({ policies: ["kernel-today", "kernel-2018", "proposal-victim-timeout"] }), second.io), 2);
    assert.match(second.out.stderr, /^oomwarden simulate: s\.yaml: with --policy kernel-today, kernel-2018, proposal-victim-timeout: the simulation would cost about .*: 3 policies at up to .* units each; list fewer policies/);
    assert.equal(second.out.stderr.split("\n").length, 2, "one line");
    assert.deepEqual(second.out.runs, []);
  });

  it("prints the first 20 errors of a file with many, then how many more", async () => {
    const tasks = Array.from({ length: 50 }, (_, i) => `  - { name: t${i}, cgroup: /nowhere }`);
    const { io, out } = fakeIo({ "s.yaml": ["durationS: 1", "memory: { totalGiB: 1 }", "tasks:", ...tasks].join("\n") });
    assert.equal(await runSimulate(args({}), io), 2);
    const lines = out.stderr.trimEnd().split("\n");
    assert.equal(lines.filter((l) => /^s\.yaml:\d+: tasks\[\d+\]\.cgroup: unknown cgroup/.test(l)).length, 20);
    assert.equal(lines[20], "... and 30 more errors");
    assert.match(lines[21]!, /s\.yaml is not a valid scenario \(50 errors\)/);
  });

  it("policy names such as constructor and __proto__ are plain names, with their own expectations only", async () => {
    const file = [
      "durationS: 1",
      "memory: { totalGiB: 1 }",
      "tasks: [ { name: a } ]",
      "policies: [ { name: constructor, kernel: today }, { name: __proto__, kernel: today } ]",
      "expectations:",
      "  __proto__: { minKilled: 1 }",
    ].join("\n");
    const { io, out } = fakeIo({ "s.yaml": file });
    assert.equal(await runSimulate(args({}), io), 0);
    // constructor has no expectation; __proto__'s is its own and is not met (nothing was killed).
    assert.doesNotMatch(out.stdout, /constructor: as expected/);
    assert.match(out.stdout, /__proto__: NOT as expected/);
  });

  it("does not read a file over the size limit, nor a device", async () => {
    const dir = mkdtempSync(join(tmpdir(), "oomwarden-simulate-"));
    try {
      const big = join(dir, "big.yaml");
      writeFileSync(big, `# ${"x".repeat(MAX_SCENARIO_BYTES)}\n`);
      const io = await processIo();
      assert.throws(() => io.readFile(big), /^Error: it is 1048579 bytes: a scenario file is at most 1048576 bytes$/);
      assert.throws(() => io.readFile("/dev/zero"), /not a regular file/);
      const small = join(dir, "small.yaml");
      writeFileSync(small, "durationS: 1\n");
      assert.equal(io.readFile(small), "durationS: 1\n");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
