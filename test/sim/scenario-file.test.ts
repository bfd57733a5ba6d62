import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { simulate } from "../../src/sim/kernel/simulate.js";
import { checkExpectation } from "../../src/sim/result-table.js";
import { BUILTIN_POLICIES, DEFAULT_POLICY_NAMES, defaultWatermarks, parseScenario, SCENARIO_DEFAULTS, type Expectation } from "../../src/sim/scenario-file.js";
import type { Scenario } from "../../src/sim/scenario.js";
import { parsedScenario, scenarioErrors } from "../support/scenario-text.js";

/** dist/test/sim/x.test.js -> the repository root. */
const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const SCENARIOS = join(REPO_ROOT, "scenarios");

const parse = (text: string): Scenario => parsedScenario(text, "s.yaml");
const errorsOf = (text: string): string[] => scenarioErrors(text);

/** The smallest valid scenario, one line per array item so tests can count lines. */
const MINIMAL = ["durationS: 10", "memory:", "  totalGiB: 4", "tasks:", "  - name: hog"];

describe("shipped scenarios", () => {
  const files = readdirSync(SCENARIOS).filter((f) => f.endsWith(".yaml")).sort();

  it("include one file per seed, named after its number, and the desktop freeze", () => {
    for (const seed of ["000", "001", "002", "003", "004"]) {
      assert.ok(files.some((f) => f.startsWith(`${seed}-`)), `no scenarios/${seed}-*.yaml`);
    }
    assert.ok(files.includes("desktop-freeze.yaml"));
  });

  for (const file of files) {
    it(`${file} parses, names its seed, and expects something of its policies`, () => {
      const r = parseScenario(readFileSync(join(SCENARIOS, file), "utf8"), `scenarios/${file}`);
      if (!r.ok) assert.fail(r.errors.join("\n"));
      const s = r.scenario;
      const seedInName = /^(\d{3})-/.exec(file)?.[1] ?? null;
      assert.equal(s.seed, seedInName, "the seed: key matches the file name");
      assert.ok(s.description.length > 0, "has a description");
      assert.ok(s.policies.length >= 2, "compares at least two policies");
      const expectations = Object.keys(s.expectations);
      assert.ok(expectations.length >= 2, "states a bad and a good outcome");
      for (const name of expectations) assert.ok(s.policies.some((p) => p.name === name));
      assert.ok(s.tasks.some((t) => t.innocent), "has an innocent task to protect");
    });

    // The kernel's and the proposals' outcomes are the seeds' documented ones; oomwarden's
    // expectations need its agent and are checked in test/sim/oomwarden-in-sim.test.ts.
    it(`${file}: the kernel baselines and the proposals meet their expectations`, async () => {
      const r = parseScenario(readFileSync(join(SCENARIOS, file), "utf8"), `scenarios/${file}`);
      if (!r.ok) assert.fail(r.errors.join("\n"));
      const expectations = r.scenario.expectations as Record<string, Expectation>;
      for (const policy of r.scenario.policies) {
        const e = expectations[policy.name];
        if (e === undefined || policy.userspace.kind === "oomwarden") continue;
        const run = await simulate(r.scenario, policy);
        assert.deepEqual(checkExpectation(e, run.result, run.events), [], `${policy.name}: ${JSON.stringify(run.result)}`);
      }
    });
  }
});

describe("docs/scenario-format.md", () => {
  it("has an annotated example that parses", () => {
    const doc = readFileSync(join(REPO_ROOT, "docs", "scenario-format.md"), "utf8");
    const example = /```yaml\n([\s\S]*?)```/.exec(doc)?.[1];
    assert.ok(example, "a yaml block");
    const s = parse(example);
    assert.deepEqual(
      s.policies.map((p) => p.name),
      ["kernel-2018", "proposal-victim-timeout", "kernel-today+oomwarden"],
    );
    assert.equal(s.tasks[1]!.threads.length, 4);
  });

  it("names every built-in policy", () => {
    const doc = readFileSync(join(REPO_ROOT, "docs", "scenario-format.md"), "utf8");
    for (const b of BUILTIN_POLICIES) assert.ok(doc.includes(`| \`${b.name}\` |`), b.name);
  });
});

describe("defaults", () => {
  it("fill in everything a minimal scenario leaves out", () => {
    const s = parse(MINIMAL.join("\n"));
    assert.equal(s.name, "s");
    assert.equal(s.seed, null);
    assert.equal(s.description, "");
    assert.equal(s.randomSeed, 1);
    assert.equal(s.tickMs, 10);
    assert.equal(s.durationMs, 10_000);
    assert.deepEqual(s.cgroups, []);
    assert.deepEqual(s.locks, []);
    assert.deepEqual(s.expectations, {});
    const t = s.tasks[0]!;
    assert.deepEqual(t, {
      name: "hog",
      cgroup: "/",
      oomScoreAdj: 0,
      mm: { anonPages: 0, mlockedPages: 0, sharedPages: 0, pageTablePages: 0, blockableMmuNotifier: false, fileWorkingSetPages: 0 },
      // One thread, idle past the end of the run: it holds its memory and does nothing else.
      threads: [{ name: "main", program: [{ op: "sleep", ms: 20_000 }] }],
      innocent: false,
      startMs: 0,
    });
    assert.deepEqual(
      s.policies.map((p) => p.name),
      DEFAULT_POLICY_NAMES,
    );
    const m = s.memory;
    assert.equal(m.swapPages, 0);
    assert.equal(m.fileCachePages, 0);
    assert.equal(m.kswapdPagesPerMs, SCENARIO_DEFAULTS.kswapdPagesPerMs);
    assert.equal(m.directReclaimPagesPerMs, SCENARIO_DEFAULTS.directReclaimPagesPerMs);
    assert.equal(m.exitMmapMsPerKiPage, 64 / 256);
    assert.equal(m.refaultPagesPerMs, SCENARIO_DEFAULTS.refaultPagesPerMs);
  });

  it("gives one zone the kernel's watermarks for its size", () => {
    const s = parse(MINIMAL.join("\n"));
    // 4 GiB: min_free_kbytes = sqrt(4 GiB in KiB x 16) = 8192 KiB = 2048 pages;
    // low/high: + max(min/4, 0.1% of the zone) = + 1048 pages, twice for high.
    assert.deepEqual(s.memory.zones, [{ name: "Normal", pages: 1_048_576, minPages: 2048, lowPages: 3096, highPages: 4144 }]);
    assert.deepEqual(defaultWatermarks(1_048_576, 1_048_576), { minPages: 2048, lowPages: 3096, highPages: 4144 });
  });

  it("defaults cgroups, lock kinds, steps and the oomwarden policy's cgroups", () => {
    const s = parse(
      [
        "durationS: 5",
        "memory: { totalGiB: 1 }",
        "cgroups:",
        "  - path: /job",
        "    limitMiB: 256",
        "  - path: /free",
        "locks:",
        "  - name: inode_lock",
        "tasks:",
        "  - name: a",
        "    cgroup: /job",
        "    program:",
        "      - lock: inode_lock",
        "      - allocMiB: 1",
        "      - unlock: inode_lock",
        "      - exit",
      ].join("\n"),
    );
    assert.deepEqual(s.cgroups[0], { path: "/job", limitPages: 65_536, version: 2, oomKillDisable: false, oomGroup: false, chargeFailure: "enomem" });
    assert.equal(s.cgroups[1]!.limitPages, null);
    assert.deepEqual(s.locks, [{ name: "inode_lock", kind: "mutex" }]);
    assert.deepEqual(s.tasks[0]!.threads[0]!.program, [
      { op: "lock", lock: "inode_lock", mode: "exclusive" },
      { op: "alloc", pages: 256, pagesPerMs: SCENARIO_DEFAULTS.allocPagesPerMs, context: "GFP_KERNEL", charge: "fault" },
      { op: "unlock", lock: "inode_lock" },
      { op: "exit" },
    ]);
    const oomwarden = s.policies.find((p) => p.name === "kernel-today+oomwarden")!;
    assert.deepEqual(oomwarden.userspace, { kind: "oomwarden", managedCgroups: ["/job"], options: {} });
    // Without a limited cgroup, oomwarden watches the whole machine.
    const machine = parse(MINIMAL.join("\n")).policies.find((p) => p.name === "kernel-today+oomwarden")!;
    assert.deepEqual(machine.userspace, { kind: "oomwarden", managedCgroups: ["/"], options: {} });
  });
});

describe("units", () => {
  it("convert sizes to pages, times to ms, rates to pages per ms", () => {
    const s = parse(
      [
        "durationS: 2.5",
        "tickMs: 5",
        "memory:",
        "  totalMiB: 2048",
        "  minMiB: 16",
        "  lowKiB: 24576",
        "  highPages: 8192",
        "  swapGiB: 1",
        "  fileCacheMiB: 100",
        "  kswapdMiBPerS: 500",
        "  directReclaimPagesPerMs: 3",
        "  exitMmapMsPerGiB: 128",
        "  refaultMiBPerS: 32",
        "tasks:",
        "  - name: hog",
        "    startS: 1",
        "    mm: { anonMiB: 900, mlockedKiB: 8, sharedGiB: 0.5, pageTablePages: 7, blockableMmuNotifier: true, fileWorkingSetMiB: 3 }",
        "    program:",
        "      - allocMiB: 64",
        "        rateMiBPerS: 50",
        "        context: GFP_NOFS_NOFAIL",
        "        charge: syscall",
        "        mlocked: true",
        "      - sleepS: 1.5",
        "      - freeKiB: 4",
        "      - loop: 3",
        "        steps: [ { sleepMs: 1 } ]",
        "      - loop: forever",
        "        steps: [ { allocPages: 1, rateGiBPerS: 1, context: GFP_ATOMIC } ]",
      ].join("\n"),
    );
    assert.equal(s.durationMs, 2500);
    assert.equal(s.tickMs, 5);
    assert.deepEqual(s.memory.zones[0], { name: "Normal", pages: 524_288, minPages: 4096, lowPages: 6144, highPages: 8192 });
    assert.equal(s.memory.swapPages, 262_144);
    assert.equal(s.memory.fileCachePages, 25_600);
    assert.equal(s.memory.kswapdPagesPerMs, 128);
    assert.equal(s.memory.directReclaimPagesPerMs, 3);
    assert.equal(s.memory.exitMmapMsPerKiPage, 0.5);
    assert.equal(s.memory.refaultPagesPerMs, 8.192);
    const t = s.tasks[0]!;
    assert.equal(t.startMs, 1000);
    assert.deepEqual(t.mm, { anonPages: 230_400, mlockedPages: 2, sharedPages: 131_072, pageTablePages: 7, blockableMmuNotifier: true, fileWorkingSetPages: 768 });
    assert.deepEqual(t.threads[0]!.program, [
      { op: "alloc", pages: 16_384, pagesPerMs: 12.8, context: "GFP_NOFS_NOFAIL", charge: "syscall", mlocked: true },
      { op: "sleep", ms: 1500 },
      { op: "free", pages: 1 },
      { op: "loop", times: 3, steps: [{ op: "sleep", ms: 1 }] },
      { op: "loop", times: null, steps: [{ op: "alloc", pages: 1, pagesPerMs: 262.144, context: "GFP_ATOMIC", charge: "fault" }] },
    ]);
  });

  it("expand `count` into numbered threads sharing one program", () => {
    const s = parse([...MINIMAL, "    threads:", "      - name: faulter", "        count: 3", "        program: [ { allocMiB: 1 } ]", "      - name: mmapper"].join("\n"));
    assert.deepEqual(
      s.tasks[0]!.threads.map((t) => t.name),
      ["faulter-1", "faulter-2", "faulter-3", "mmapper"],
    );
  });

  it("reuse anchored values, also from x- keys", () => {
    const s = parse(["x-burst: &burst [ { allocMiB: 1 }, { sleepMs: 10 } ]", ...MINIMAL, "    program: [ { loop: 2, steps: *burst } ]", "  - name: b", "    program: *burst"].join("\n"));
    const burst = [
      { op: "alloc", pages: 256, pagesPerMs: SCENARIO_DEFAULTS.allocPagesPerMs, context: "GFP_KERNEL", charge: "fault" },
      { op: "sleep", ms: 10 },
    ];
    assert.deepEqual(s.tasks[0]!.threads[0]!.program, [{ op: "loop", times: 2, steps: burst }]);
    assert.deepEqual(s.tasks[1]!.threads[0]!.program, burst);
  });

  it("read an unquoted seed number as the seed's three digits", () => {
    assert.equal(parse(["seed: 003", ...MINIMAL].join("\n")).seed, "003");
    assert.equal(parse(['seed: "004"', ...MINIMAL].join("\n")).seed, "004");
  });
});

describe("policies", () => {
  it("take built-ins by name, with parameters and base kernels overridden", () => {
    const s = parse(
      [
        ...MINIMAL,
        "policies:",
        "  - kernel-2018",
        "  - name: proposal-victim-timeout",
        "    timeoutS: 5",
        "  - name: timeout-today",
        "    base: proposal-victim-timeout",
        "    kernel: today",
        "  - proposal-overcharge",
        "  - name: custom",
        "    kernel: 2018",
        "    proposals:",
        "      - kind: oom-delay",
        "        delayMs: 250",
        "      - kind: victim-reserves",
        "  - name: warden-tuned",
        "    base: kernel-today+oomwarden",
        "    options: { observeIntervalMs: 50, dryRun: true }",
      ].join("\n"),
    );
    assert.deepEqual(s.policies, [
      { name: "kernel-2018", kernel: { version: "2018", proposals: [] }, userspace: { kind: "none" } },
      { name: "proposal-victim-timeout", kernel: { version: "2018", proposals: [{ kind: "victim-timeout", timeoutMs: 5000 }] }, userspace: { kind: "none" } },
      { name: "timeout-today", kernel: { version: "today", proposals: [{ kind: "victim-timeout", timeoutMs: 10_000 }] }, userspace: { kind: "none" } },
      { name: "proposal-overcharge", kernel: { version: "2018", proposals: [{ kind: "overcharge-reconcile", reconcileMs: 10 }] }, userspace: { kind: "none" } },
      { name: "custom", kernel: { version: "2018", proposals: [{ kind: "oom-delay", delayMs: 250 }, { kind: "victim-reserves" }] }, userspace: { kind: "none" } },
      { name: "warden-tuned", kernel: { version: "today", proposals: [] }, userspace: { kind: "oomwarden", managedCgroups: ["/"], options: { observeIntervalMs: 50, dryRun: true } } },
    ]);
  });

  it("give every proposal a built-in policy", () => {
    const kinds = BUILTIN_POLICIES.flatMap((b) => (b.proposal ? [b.proposal.kind] : []));
    assert.deepEqual(kinds.sort(), ["kill-below-half-min", "oom-delay", "overcharge-reconcile", "victim-reserves", "victim-timeout"]);
  });

  it("attach a user's handler, defaulting to the cgroups whose kernel killer is disabled", () => {
    const s = parse(
      [
        "durationS: 5",
        "memory: { totalGiB: 1 }",
        "cgroups:",
        "  - { path: /u, limitMiB: 64, version: 1, oomKillDisable: true }",
        "tasks:",
        "  - { name: h, cgroup: /u }",
        "policies:",
        "  - name: kernel-2018",
        "    handler: { task: h }",
        "  - name: kernel-today",
        "    handler:",
        "      task: h",
        "      reactS: 0.1",
        "      actionSteps: [ { lock: mmap_sem:h, mode: read }, { unlock: mmap_sem:h }, { allocKiB: 256 } ]",
      ].join("\n"),
    );
    assert.deepEqual(s.policies[0]!.userspace, { kind: "handler", task: "h", cgroups: ["/u"], reactMs: SCENARIO_DEFAULTS.handlerReactMs });
    assert.deepEqual(s.policies[1]!.userspace, {
      kind: "handler",
      task: "h",
      cgroups: ["/u"],
      reactMs: 100,
      actionSteps: [
        { op: "lock", lock: "mmap_sem:h", mode: "read" },
        { op: "unlock", lock: "mmap_sem:h" },
        { op: "alloc", pages: 64, pagesPerMs: SCENARIO_DEFAULTS.allocPagesPerMs, context: "GFP_KERNEL", charge: "fault" },
      ],
    });
  });

  it("carry expectations, the contract's keys and the lower bounds", () => {
    const s = parse(
      [
        ...MINIMAL,
        "policies: [kernel-2018, kernel-today]",
        "expectations:",
        "  kernel-2018: { minKilled: 2, minInnocentKilled: 1, livelock: false, minAllocFailures: { memcg-syscall-enomem: 1 }, minStallS: 5 }",
        "  kernel-today: { killed: [hog], innocentKilled: 0, recoveredWithinS: 1.5, recovered: true, maxKilled: 1 }",
      ].join("\n"),
    );
    const e = s.expectations as Record<string, Expectation>;
    assert.deepEqual(e["kernel-2018"], { minKilled: 2, minInnocentKilled: 1, livelock: false, minAllocFailures: { "memcg-syscall-enomem": 1 }, minStallMs: 5000 });
    assert.deepEqual(e["kernel-today"], { killed: ["hog"], innocentKilled: 0, recoveredWithinMs: 1500, recovered: true, maxKilled: 1 });
  });
});

describe("errors name the file, the line and the key path", () => {
  const cases: [string, string[], RegExp][] = [
    [
      "wrong type",
      ["durationS: 10", "memory:", "  totalGiB: 4", "tasks:", "  - name: a", "  - name: b", "  - name: c", "    mm:", "      anonMiB: lots"],
      /^file\.yaml:9: tasks\[2\]\.mm\.anonMiB: expected a number >= 0, got "lots"$/,
    ],
    [
      "negative number in a step, deep in a thread",
      [...MINIMAL, "    threads:", "      - name: t", "        program:", "          - allocMiB: 1", "          - allocMiB: 2", "            rateMiBPerS: -5"],
      /^file\.yaml:11: tasks\[0\]\.threads\[0\]\.program\[1\]\.rateMiBPerS: expected a number > 0, got -5$/,
    ],
    ["unknown key", [...MINIMAL, "    mm: { anonMB: 5 }"], /^file\.yaml:6: tasks\[0\]\.mm\.anonMB: unknown key \(did you mean "anonMiB"\?\) \(known keys here: anon\{GiB,MiB,KiB,Pages\}, /],
    ["unknown top-level key", ["durationS: 10", "memroy: {}", "memory: { totalGiB: 1 }", "tasks: [ { name: a } ]"], /^file\.yaml:2: memroy: unknown key \(did you mean "memory"\?\)/],
    ["missing required key", ["memory: { totalGiB: 1 }", "tasks: [ { name: a } ]"], /^file\.yaml:1: missing required key "duration\{S,Ms\}"$/],
    ["missing task name", ["durationS: 1", "memory: { totalGiB: 1 }", "tasks:", "  - cgroup: /"], /^file\.yaml:4: tasks\[0\]: missing required key "name"$/],
    ["unknown lock", [...MINIMAL, "    program:", "      - lock: inode"], /^file\.yaml:7: tasks\[0\]\.program\[0\]\.lock: unknown lock "inode" \(declared in locks: none; every task also has "mmap_sem", and "mmap_sem:TASK" is another task's\)$/],
    ["unknown cgroup", [...MINIMAL, "    cgroup: /jbo", "cgroups: [ { path: /job } ]"], /^file\.yaml:6: tasks\[0\]\.cgroup: unknown cgroup "\/jbo" \(did you mean "\/job"\?\)/],
    ["undeclared parent cgroup", [...MINIMAL, "cgroups:", "  - path: /a/b"], /^file\.yaml:7: cgroups\[0\]\.path: parent cgroup "\/a" is not listed/],
    ["unknown task in a handler", [...MINIMAL, "cgroups: [ { path: /u, version: 1, oomKillDisable: true } ]", "policies:", "  - name: kernel-2018", "    handler: { task: hgo }"], /^file\.yaml:9: policies\[0\]\.handler\.task: unknown task "hgo"/],
    ["bad policy name", [...MINIMAL, "policies:", "  - kernel-2019"], /^file\.yaml:7: policies\[0\]: unknown policy "kernel-2019" \(did you mean "kernel-2018"\?\); built-in policies: /],
    ["custom policy without a kernel", [...MINIMAL, "policies:", "  - name: mine"], /^file\.yaml:7: policies\[0\]: "mine" is not a built-in policy: a custom policy needs kernel: 2018 or kernel: today/],
    ["parameter of another proposal", [...MINIMAL, "policies:", "  - name: proposal-oom-delay", "    timeoutMs: 5"], /^file\.yaml:8: policies\[0\]\.timeoutMs: applies only to proposal-victim-timeout/],
    ["expectation for an unlisted policy", [...MINIMAL, "policies: [kernel-2018]", "expectations:", "  kernel-today: { maxKilled: 1 }"], /^file\.yaml:8: expectations\.kernel-today: no policy named "kernel-today" in policies/],
    ["two units for one quantity", [...MINIMAL, "    mm: { anonMiB: 1, anonPages: 256 }"], /^file\.yaml:6: tasks\[0\]\.mm\.anonPages: give only one of anonMiB, anonPages$/],
    ["rwsem without a mode", [...MINIMAL, "    program:", "      - lock: mmap_sem"], /^file\.yaml:7: tasks\[0\]\.program\[0\]: lock "mmap_sem" is an rwsem: say mode: read or mode: write$/],
    ["another task's mmap_sem, task unknown", [...MINIMAL, "    program:", "      - { lock: mmap_sem:hgo, mode: read }"], /^file\.yaml:7: tasks\[0\]\.program\[0\]\.lock: unknown task "hgo" in "mmap_sem:hgo" \(did you mean "hog"\?\)/],
    ["more mlocked than anonymous memory", [...MINIMAL, "    mm: { anonMiB: 1, mlockedMiB: 2 }"], /^file\.yaml:6: tasks\[0\]\.mm\.mlockedMiB: mlocked memory is part of the anonymous memory: at most anon \(256 pages\), got 512 pages$/],
    ["initial memory larger than the machine", ["durationS: 1", "memory:", "  totalMiB: 64", "  fileCacheMiB: 16", "tasks: [ { name: a, mm: { anonMiB: 60 } } ]"], /^file\.yaml:2: memory: the tasks' memory at the start and the page cache \(76 MiB\) do not fit in memory \(64 MiB\)$/],
    ["initial memory over a cgroup's limit", [...MINIMAL, "    cgroup: /a", "    mm: { anonMiB: 8 }", "cgroups: [ { path: /a, limitMiB: 4 } ]"], /^file\.yaml:8: cgroups\[0\]\.path: the memory its tasks hold at the start \(8 MiB\) is over its limit \(4 MiB\)$/],
    ["declaring an mmap_sem", [...MINIMAL, "locks: [ { name: mmap_sem, kind: rwsem } ]"], /^file\.yaml:6: locks\[0\]\.name: every task has its own mmap_sem/],
    ["a step with two ops", [...MINIMAL, "    program:", "      - { sleepMs: 1, allocMiB: 1 }"], /^file\.yaml:7: tasks\[0\]\.program\[0\]: a step needs exactly one of .*; this one has alloc\{GiB,MiB,KiB,Pages\} and sleep\{S,Ms\}$/],
    ["oomKillDisable on v2", [...MINIMAL, "cgroups:", "  - path: /a", "    oomKillDisable: true"], /^file\.yaml:8: cgroups\[0\]\.oomKillDisable: oomKillDisable exists only in cgroup v1/],
    ["oom_score_adj out of range", [...MINIMAL, "    oomScoreAdj: -1001"], /^file\.yaml:6: tasks\[0\]\.oomScoreAdj: expected an integer from -1000 to 1000, got -1001$/],
    ["unknown GFP context", [...MINIMAL, "    program: [ { allocMiB: 1, context: GFP_NOFAIL } ]"], /^file\.yaml:6: tasks\[0\]\.program\[0\]\.context: expected one of "GFP_KERNEL", .*, got "GFP_NOFAIL"/],
    ["unknown oomwarden option", [...MINIMAL, "policies:", "  - name: kernel-today+oomwarden", "    options: { observeIntervalMS: 5 }"], /^file\.yaml:8: policies\[0\]\.options\.observeIntervalMS: unknown key \(did you mean "observeIntervalMs"\?\)/],
    ["bad oomwarden option value", [...MINIMAL, "policies:", "  - name: kernel-today+oomwarden", "    options: { maxObservationsWithoutProgress: 0 }"], /^file\.yaml:8: policies\[0\]\.options\.maxObservationsWithoutProgress: expected an integer from 1 to 100000 \(.*\), got 0$/],
    ["YAML syntax", [...MINIMAL, "    mm: { anonMiB: [1, 2 }"], /^file\.yaml:6: YAML syntax error: /],
    ["duplicate key", ["durationS: 1", "durationS: 2", "memory: { totalGiB: 1 }", "tasks: [ { name: a } ]"], /^file\.yaml:2: YAML syntax error: Map keys must be unique/],
    ["duplicate task", [...MINIMAL, "  - name: hog"], /^file\.yaml:6: tasks\[1\]\.name: task "hog" is listed twice$/],
    ["an empty file", [""], /^file\.yaml:1: the file is empty/],
    ["not a mapping", ["- a", "- b"], /^file\.yaml:1: expected a mapping of keys, got a list$/],
    // Input validation: limits and values checked after unit conversion.
    ["fractional tick", ["durationS: 5", "tickMs: 0.3", "memory: { totalGiB: 1 }", "tasks: [ { name: a } ]"], /^file\.yaml:2: tickMs: the tick must be a whole number of ms >= 1, got 0\.3 ms$/],
    ["tick in seconds, not whole ms", ["durationS: 5", "tickS: 0.0015", "memory: { totalGiB: 1 }", "tasks: [ { name: a } ]"], /^file\.yaml:2: tickS: the tick must be a whole number of ms >= 1, got 1\.5 ms$/],
    ["duration infinite once converted", ["durationS: 1e306", "memory: { totalGiB: 1 }", "tasks: [ { name: a } ]"], /^file\.yaml:1: durationS: 1e\+306 is too large: it does not fit in a number of ms$/],
    ["duration over 7 days", ["durationS: 1e9", "memory: { totalGiB: 1 }", "tasks: [ { name: a } ]"], /^file\.yaml:1: durationS: 1000000000000 ms is too long: at most 604800000 ms \(7 days\)/],
    ["too many ticks", ["durationS: 600000", "tickMs: 1", "memory: { totalGiB: 1 }", "tasks: [ { name: a } ]"], /^file\.yaml:1: durationS: 600000000 ms at a tick of 1 ms is 600000000 ticks: at most 100000000/],
    ["size infinite once converted", [...MINIMAL, "    program: [ { allocGiB: 1e306 } ]"], /^file\.yaml:6: tasks\[0\]\.program\[0\]\.allocGiB: 1e\+306 is too large/],
    ["swap infinite once converted", ["durationS: 1", "memory: { totalGiB: 1, swapGiB: 1e306 }", "tasks: [ { name: a } ]"], /^file\.yaml:2: memory\.swapGiB: 1e\+306 is too large/],
    ["sleep infinite once converted", [...MINIMAL, "    program: [ { sleepS: 1e308 } ]"], /^file\.yaml:6: tasks\[0\]\.program\[0\]\.sleepS: 1e\+308 is too large/],
    ["rate that is 0 once converted", [...MINIMAL, "    program: [ { allocMiB: 10, rateMiBPerS: 5e-324 } ]"], /^file\.yaml:6: tasks\[0\]\.program\[0\]\.rateMiBPerS: 5e-324 is too small: it is 0 pages per ms$/],
    ["allocation of less than half a page", [...MINIMAL, "    program: [ { allocKiB: 1 } ]"], /^file\.yaml:6: tasks\[0\]\.program\[0\]\.allocKiB: 1 is less than half a page \(4 KiB\); sizes are whole pages$/],
    ["cgroup limit of less than half a page", [...MINIMAL, "cgroups: [ { path: /a, limitKiB: 1 } ]"], /^file\.yaml:6: cgroups\[0\]\.limitKiB: 1 is less than half a page/],
    ["anonymous memory of less than half a page", [...MINIMAL, "    mm: { anonKiB: 1 }"], /^file\.yaml:6: tasks\[0\]\.mm\.anonKiB: 1 is less than half a page/],
    ["thread count too large", [...MINIMAL, "    threads:", "      - name: t", "        count: 5000000000"], /^file\.yaml:8: tasks\[0\]\.threads\[0\]\.count: expected an integer from 1 to 10000, got 5000000000$/],
    ["threads over 10000 in one task", [...MINIMAL, "    threads:", "      - { name: t, count: 10000 }", "      - { name: u, count: 1 }"], /^file\.yaml:8: tasks\[0\]\.threads\[1\]\.count: task "hog" would bring the threads of all tasks to 10001: at most 10000 in a scenario$/],
    [
      "threads over 10000 in all tasks",
      [...MINIMAL, "    threads: [ { name: t, count: 6000 } ]", "  - name: two", "    threads: [ { name: t, count: 6000 } ]"],
      /^file\.yaml:8: tasks\[1\]\.threads\[0\]\.count: task "two" would bring the threads of all tasks to 12000: at most 10000 in a scenario$/,
    ],
    ["alias cycle", [...MINIMAL, "    program: &p", "      - loop: forever", "        steps: *p"], /^file\.yaml:8: tasks\[0\]\.program\[0\]\.steps: the alias \*p makes this list of steps contain itself \(an alias cycle\)/],
    ["alias cycle through a step", [...MINIMAL, "    program:", "      - &s { loop: 2, steps: [ *s ] }"], /^file\.yaml:7: tasks\[0\]\.program\[0\]\.steps\[0\]\.steps: an alias makes this list of steps contain itself/],
    ["oomwarden observe interval under 1 ms", [...MINIMAL, "policies:", "  - name: kernel-today+oomwarden", "    options: { observeIntervalMs: 1e-300 }"], /^file\.yaml:8: policies\[0\]\.options\.observeIntervalMs: expected a number of ms from 1 to 2147483647 \(.*\), got 1e-300$/],
  ];
  for (const [name, lines, expected] of cases) {
    it(name, () => {
      const errors = errorsOf(lines.join("\n"));
      assert.match(errors[0]!, expected, errors.join("\n"));
      for (const e of errors) assert.doesNotMatch(e, /\n\s+at |Error:|TypeError/, "no stack traces, no exception names");
    });
  }

  it("caps the steps of nested aliases (a billion laughs) instead of expanding them", () => {
    const lines = ["durationS: 1", "memory: { totalGiB: 1 }", `x-0: &l0 [ ${Array(8).fill("{sleepMs: 1}").join(", ")} ]`];
    for (let n = 1; n <= 11; n++) lines.push(`x-${n}: &l${n} [ ${Array(8).fill(`{loop: 1, steps: *l${n - 1}}`).join(", ")} ]`);
    lines.push("tasks:", "  - name: a", "    program: *l11");
    const started = Date.now();
    const errors = errorsOf(lines.join("\n"));
    assert.ok(Date.now() - started < 5000, "rejected quickly");
    assert.equal(errors.length, 1, errors.join("\n"));
    assert.match(errors[0]!, /^file\.yaml:\d+: tasks\[0\]\.program\[0\]\.steps\[0\]\..*: too many steps: a scenario may have at most 100000 steps, counting every use of an alias anew$/);
  });

  it("accepts a reused anchor, tickS in whole ms and a few KiB rounded to a page", () => {
    const s = parse(["durationS: 10", "tickS: 0.007", "memory: { totalGiB: 1 }", "x-p: &p [ { allocKiB: 3 }, { sleepMs: 10 } ]", "tasks:", "  - { name: a, program: *p }", "  - { name: b, program: [ { loop: 2, steps: *p } ] }"].join("\n"));
    assert.equal(s.tickMs, 7);
    assert.deepEqual(s.tasks[0]!.threads[0]!.program[0], { op: "alloc", pages: 1, pagesPerMs: SCENARIO_DEFAULTS.allocPagesPerMs, context: "GFP_KERNEL", charge: "fault" });
    assert.equal(s.tasks[1]!.threads[0]!.program[0]!.op, "loop");
  });

  it("reports every error, in line order", () => {
    const errors = errorsOf(["durationS: soon", "memory: { totalGiB: 1 }", "tasks:", "  - name: a", "    oomScoreAdj: high", "    innocent: maybe"].join("\n"));
    assert.deepEqual(
      errors.map((e) => e.split(":")[1]),
      ["1", "5", "6"],
    );
  });
});
