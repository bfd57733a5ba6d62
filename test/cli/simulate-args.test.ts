import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseSimulateArgs, type SimulateArgs } from "../../src/cli/args.js";
import { runSimulate, selectPolicies, type SimulateIo } from "../../src/cli/simulate-command.js";
import { parseScenario } from "../../src/sim/scenario-file.js";
import type { PolicySpec, Scenario, SimulationRun } from "../../src/sim/scenario.js";

describe("parseSimulateArgs", () => {
  it("reads the file, repeated policies, --json, --svg and --seed", () => {
    assert.deepEqual(parseSimulateArgs(["s.yaml", "--policy", "kernel-2018", "--policy=kernel-today", "--json", "--svg", "out.svg", "--seed", "42"]), {
      file: "s.yaml",
      policies: ["kernel-2018", "kernel-today"],
      json: true,
      svg: "out.svg",
      seed: 42,
    });
  });

  it("defaults to every policy, a table, no SVG and the file's seed", () => {
    assert.deepEqual(parseSimulateArgs(["s.yaml"]), { file: "s.yaml", policies: [], json: false, svg: null, seed: null });
  });

  it("rejects what it cannot use, with a reason", () => {
    const cases: [string[], RegExp][] = [
      [[], /missing the scenario FILE/],
      [["a.yaml", "b.yaml"], /unexpected argument "b\.yaml"/],
      [["a.yaml", "--seed=-1"], /--seed expects an integer >= 0, got "-1"/],
      [["a.yaml", "--seed", "1.5"], /--seed expects an integer >= 0/],
      [["a.yaml", "--seed", "lots"], /--seed expects an integer >= 0/],
      [["a.yaml", "--svg"], /--svg/],
      [["a.yaml", "--policy", ""], /--policy expects a policy name/],
      [["a.yaml", "--verbose"], /Unknown option '--verbose'/],
    ];
    for (const [args, expected] of cases) {
      const parsed = parseSimulateArgs(args);
      assert.ok("error" in parsed, `accepted ${args.join(" ")}`);
      assert.match(parsed.error, expected);
    }
  });
});

const SCENARIO = [
  "name: tiny",
  "durationS: 1",
  "memory: { totalGiB: 1 }",
  "cgroups: [ { path: /job, limitMiB: 64 } ]",
  "tasks: [ { name: hog, cgroup: /job }, { name: bystander, innocent: true } ]",
  "policies: [kernel-2018, kernel-today+oomwarden]",
  "expectations:",
  "  kernel-2018: { killed: [hog] }",
  "  kernel-today+oomwarden: { innocentKilled: 0 }",
].join("\n");

function fakeRun(policy: PolicySpec): SimulationRun {
  return {
    result: { policy: policy.name, killed: ["hog"], innocentKilled: 0, recoveredMs: 120, allocFailures: {}, maxStallMs: 40, pressureFullMs: 0, livelock: false, panic: false },
    events: [{ tMs: 100, kind: "kill", subject: "hog", detail: "" }],
    samples: [{ tMs: 0, freePages: 1000, minPages: 10, lowPages: 20, highPages: 30, cgroups: { "/job": { usagePages: 100, limitPages: 16_384 } } }],
    simulatedEvents: 3,
  };
}

/** Files and streams in memory; the simulator records what it was asked to run. */
function fakeIo(files: Record<string, string>, simulate?: SimulateIo["simulate"]) {
  const out = { stdout: "", stderr: "", written: {} as Record<string, string>, runs: [] as { scenario: Scenario; policy: PolicySpec; agent: boolean }[] };
  const io: SimulateIo = {
    readFile: (path) => {
      const text = files[path];
      if (text === undefined) throw new Error(`ENOENT: no such file or directory, open '${path}'`);
      return text;
    },
    writeFile: (path, text) => {
      if (path.startsWith("/nonexistent/")) throw new Error(`ENOENT: no such file or directory, open '${path}'`);
      out.written[path] = text;
    },
    stdout: (t) => void (out.stdout += t),
    stderr: (t) => void (out.stderr += t),
    simulate:
      simulate ??
      (async (scenario, policy, options) => {
        out.runs.push({ scenario, policy, agent: options?.agent !== undefined });
        return fakeRun(policy);
      }),
    oomwardenAgent: () => () => ({ start() {}, stop() {} }),
  };
  return { io, out };
}

const args = (over: Partial<SimulateArgs>): SimulateArgs => ({ file: "s.yaml", policies: [], json: false, svg: null, seed: null, ...over });

describe("oomwarden simulate", () => {
  it("runs every listed policy, passing oomwarden as the agent, and prints a row each", async () => {
    const { io, out } = fakeIo({ "s.yaml": SCENARIO });
    assert.equal(await runSimulate(args({}), io), 0);
    assert.deepEqual(
      out.runs.map((r) => [r.policy.name, r.agent]),
      [
        ["kernel-2018", false],
        ["kernel-today+oomwarden", true],
      ],
    );
    assert.match(out.stdout, /^tiny: 1 s of virtual time, random seed 1\n/);
    assert.match(out.stdout, /\nkernel-2018\s+1 \(hog\)\s+0\s+120 ms/);
    assert.match(out.stdout, /expectations:\n {2}kernel-2018: as expected\n {2}kernel-today\+oomwarden: as expected\n/);
    assert.equal(out.stderr, "");
  });

  it("prints JSON objects with the promised fields, and honours --policy and --seed", async () => {
    const { io, out } = fakeIo({ "s.yaml": SCENARIO });
    assert.equal(await runSimulate(args({ json: true, policies: ["kernel-today+oomwarden"], seed: 7 }), io), 0);
    assert.equal(out.runs[0]!.scenario.randomSeed, 7);
    const rows = JSON.parse(out.stdout) as Record<string, unknown>[];
    assert.equal(rows.length, 1);
    assert.deepEqual(Object.keys(rows[0]!), ["policy", "killed", "innocentKilled", "recoveredMs", "allocFailures", "maxStallMs", "pressureFullMs", "livelock", "panic", "expectation"]);
    assert.equal(rows[0]!.policy, "kernel-today+oomwarden");
  });

  it("runs a built-in policy the file does not list, and refuses an unknown one", async () => {
    const s = parseScenario(SCENARIO, "s.yaml");
    assert.ok(s.ok);
    const picked = selectPolicies(s.scenario, ["proposal-oom-delay", "kernel-2018"]);
    assert.ok("value" in picked);
    assert.deepEqual(
      picked.value.map((p) => p.name),
      ["proposal-oom-delay", "kernel-2018"],
    );
    const { io, out } = fakeIo({ "s.yaml": SCENARIO });
    assert.equal(await runSimulate(args({ policies: ["kernel-2019"] }), io), 2);
    assert.match(out.stderr, /unknown policy "kernel-2019": the scenario lists kernel-2018, kernel-today\+oomwarden/);
    assert.deepEqual(out.runs, []);
  });

  it("rejects an invalid scenario with exit code 2, every error on stderr", async () => {
    const { io, out } = fakeIo({ "bad.yaml": "durationS: soon\nmemory: { totalGiB: 1 }\ntasks: [ { name: a, cgroup: /x } ]\n" });
    assert.equal(await runSimulate(args({ file: "bad.yaml" }), io), 2);
    assert.match(out.stderr, /^bad\.yaml:1: durationS: expected a number > 0, got "soon"\nbad\.yaml:3: tasks\[0\]\.cgroup: unknown cgroup "\/x"/);
    assert.match(out.stderr, /bad\.yaml is not a valid scenario \(2 errors\)/);
    assert.equal(out.stdout, "");
  });

  it("turns an exception while parsing into one line and exit code 2, no stack trace", async () => {
    // Text the parser cannot take (not a string) makes it throw, as an unforeseen input would.
    const { io, out } = fakeIo({ "odd.yaml": {} as unknown as string });
    assert.equal(await runSimulate(args({ file: "odd.yaml" }), io), 2);
    assert.match(out.stderr, /^oomwarden simulate: odd\.yaml: [^\n]+\n$/);
    assert.doesNotMatch(out.stderr, /\n\s+at /);
    assert.deepEqual(out.runs, []);
  });

  it("rejects the malformed scenarios of the input-validation review with exit code 2, in one line each", async () => {
    const files: Record<string, string> = {
      "tick.yaml": "durationS: 5\ntickMs: 0.3\nmemory: { totalGiB: 1 }\ntasks: [ { name: a } ]\n",
      "dur.yaml": "durationS: 1e306\nmemory: { totalGiB: 1 }\ntasks: [ { name: a } ]\n",
      "count.yaml": "durationS: 5\nmemory: { totalGiB: 1 }\ntasks:\n  - name: a\n    threads: [ { name: t, count: 5000000000 } ]\n",
      "self.yaml": "durationS: 5\nmemory: { totalGiB: 1 }\ntasks:\n  - name: a\n    program: &p\n      - loop: forever\n        steps: *p\n",
      "rate.yaml": "durationS: 5\nmemory: { totalGiB: 1 }\ntasks: [ { name: a, program: [ { allocMiB: 10, rateMiBPerS: 5e-324 } ] } ]\n",
    };
    for (const file of Object.keys(files)) {
      const { io, out } = fakeIo(files);
      assert.equal(await runSimulate(args({ file }), io), 2, file);
      assert.match(out.stderr, new RegExp(`^${file.replace(".", "\\.")}:\\d+: [\\w.\\[\\]]+: `), out.stderr);
      assert.doesNotMatch(out.stderr, /\n\s+at |RangeError|TypeError/);
      assert.deepEqual(out.runs, [], file);
    }
  });

  it("reports an unreadable file with exit code 2", async () => {
    const { io, out } = fakeIo({});
    assert.equal(await runSimulate(args({ file: "missing.yaml" }), io), 2);
    assert.match(out.stderr, /^oomwarden simulate: cannot read missing\.yaml: ENOENT/);
  });

  it("writes the SVG timeline, and says so on stderr so stdout stays clean", async () => {
    const { io, out } = fakeIo({ "s.yaml": SCENARIO });
    assert.equal(await runSimulate(args({ json: true, svg: "t.svg" }), io), 0);
    assert.match(out.written["t.svg"]!, /^<svg /);
    assert.match(out.stderr, /timeline written to t\.svg/);
    JSON.parse(out.stdout);
    const failing = fakeIo({ "s.yaml": SCENARIO });
    assert.equal(await runSimulate(args({ svg: "/nonexistent/t.svg" }), failing.io), 1);
    assert.match(failing.out.stderr, /cannot write \/nonexistent\/t\.svg: ENOENT/);
  });

  it("reports a failing run in one line, no stack, and still runs the others", async () => {
    const { io, out } = fakeIo({ "s.yaml": SCENARIO }, async (_scenario, policy) => {
      if (policy.userspace.kind === "oomwarden") throw new Error("oomwarden in the simulator is not wired yet");
      return fakeRun(policy);
    });
    assert.equal(await runSimulate(args({}), io), 1);
    assert.match(out.stdout, /kernel-2018/);
    assert.equal(out.stderr, "oomwarden simulate: policy kernel-today+oomwarden: oomwarden in the simulator is not wired yet\n");
  });
});
