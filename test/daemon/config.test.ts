import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test from "node:test";
import { parseRunArgs } from "../../src/cli/args.js";
import { CONFIG_KEYS_HELP, DEFAULT_CONFIG, loadConfigFile, parseConfig } from "../../src/daemon/config.js";
import { DEFAULT_ENGINE_OPTIONS } from "../../src/engine/engine-options.js";
import { mergeConfig } from "../../src/daemon/daemon.js";
import { FileJournal } from "../../src/daemon/journal.js";
import { defaultStateDir, journalPathIn, ledgerPathIn } from "../../src/daemon/paths.js";

test("a full config is read into engine options", () => {
  const result = parseConfig(
    ["cgroups:", "  - /sys/fs/cgroup/memory/a", "  - /sys/fs/cgroup/memory/b", "journal: /tmp/j.jsonl", "dryRun: true", "observeIntervalMs: 50", "maxObservationsWithoutProgress: 3", "minProgressBytes: 0", "journalCandidates: 2"].join("\n"),
    "c.yaml",
  );
  assert.ok(result.ok, !result.ok ? result.message : "");
  assert.deepEqual(result.config.cgroups, ["/sys/fs/cgroup/memory/a", "/sys/fs/cgroup/memory/b"]);
  assert.equal(result.config.journal, "/tmp/j.jsonl");
  assert.equal(result.config.engine.dryRun, true);
  assert.equal(result.config.engine.observeIntervalMs, 50);
  assert.equal(result.config.engine.maxObservationsWithoutProgress, 3);
  assert.equal(result.config.engine.minProgressBytes, 0);
  assert.equal(result.config.engine.journalCandidates, 2);
  // Defaults are not mutated by parsing.
  assert.equal(DEFAULT_CONFIG.engine.dryRun, false);
});

test("an empty config gives the defaults", () => {
  const result = parseConfig("", "empty.yaml");
  assert.ok(result.ok);
  assert.deepEqual(result.config.cgroups, []);
  assert.equal(result.config.engine.observeIntervalMs, DEFAULT_CONFIG.engine.observeIntervalMs);
});

test("malformed configs name the key and the line", () => {
  const cases: [string, RegExp][] = [
    ["dryRun: false\nobserveIntervalMs: fast\n", /^c\.yaml:2: key "observeIntervalMs": expected a number of ms from 1 to 2147483647 \(the longest a timer can wait, about 24\.8 days\), got "fast"$/],
    ["observeIntervalMs: 0.5\n", /^c\.yaml:1: key "observeIntervalMs": expected a number of ms from 1 to 2147483647 .*, got 0.5$/],
    ["cgroups: /sys/fs/cgroup/memory/a\n", /^c\.yaml:1: key "cgroups": expected a list of paths/],
    ["\n\nobserveInterval: 10\n", /^c\.yaml:3: unknown key "observeInterval" \(did you mean "observeIntervalMs"\?\)$/],
    ["\nbogus: 10\n", /^c\.yaml:2: unknown key "bogus" \(oomwarden help lists the config keys\)$/],
    ["maxObservationsWithoutProgress: 0\n", /^c\.yaml:1: key "maxObservationsWithoutProgress": expected an integer from 1 to 100000 \(.*\), got 0$/],
    ["dryRun: yes please\n", /^c\.yaml:1: key "dryRun": expected true or false/],
    ["cgroups:\n  - /a\n  - 3\n", /^c\.yaml:1: key "cgroups": every item must be a path, got 3$/],
    ["journal: [a\n", /^c\.yaml:\d+: YAML syntax error/],
    ["- a\n- b\n", /^c\.yaml:1: expected a mapping of keys at the top level$/],
    ["dryRun: true\ndryRun: false\n", /^c\.yaml:2: key "dryRun" is given twice \(first on line 1\)$/],
  ];
  for (const [text, expected] of cases) {
    const result = parseConfig(text, "c.yaml");
    assert.equal(result.ok, false, text);
    if (!result.ok) assert.match(result.message, expected, text);
  }
});

test("machine guard keys are read into engine.machineGuard", () => {
  const result = parseConfig(
    [
      "machineGuard: false",
      "lowAvailablePct: 10",
      "lowSwapFreePct: 20",
      "criticalAvailablePct: 2.5",
      "starvationWindowMs: 2000",
      "starvationKillIntervalMs: 0",
      "psiFullPct: 100",
      "psiWindowMs: 10000",
      "machineSampleIntervalMs: 100",
    ].join("\n"),
    "c.yaml",
  );
  assert.ok(result.ok, !result.ok ? result.message : "");
  assert.deepEqual(result.config.engine.machineGuard, {
    ...DEFAULT_ENGINE_OPTIONS.machineGuard,
    enabled: false,
    lowAvailablePct: 10,
    lowSwapFreePct: 20,
    criticalAvailablePct: 2.5,
    starvationWindowMs: 2000,
    starvationKillIntervalMs: 0,
    psiFullPct: 100,
    psiWindowMs: 10_000,
    sampleIntervalMs: 100,
  });
  // The rest of the engine options keep their defaults.
  assert.equal(result.config.engine.observeIntervalMs, DEFAULT_ENGINE_OPTIONS.observeIntervalMs);
  for (const key of ["machineGuard", "lowAvailablePct", "starvationWindowMs", "psiFullPct", "psiWindowMs"]) {
    assert.ok(CONFIG_KEYS_HELP.some(([k, help]) => k === key && help.length > 0), `${key} is documented in the help`);
  }
});

test("a config that sets machine guard keys leaves the defaults untouched", () => {
  const before = structuredClone(DEFAULT_ENGINE_OPTIONS);
  const first = parseConfig("lowAvailablePct: 10\nmachineGuard: false\nsoftLimitGraceMs: 7\n", "a.yaml");
  assert.ok(first.ok);
  assert.equal(first.config.engine.machineGuard.lowAvailablePct, 10);
  assert.notEqual(first.config.engine.machineGuard, DEFAULT_ENGINE_OPTIONS.machineGuard, "a copy, not the shared defaults");
  assert.deepEqual(DEFAULT_ENGINE_OPTIONS, before);
  assert.equal(DEFAULT_ENGINE_OPTIONS.machineGuard.lowAvailablePct, 5);
  assert.equal(DEFAULT_ENGINE_OPTIONS.machineGuard.enabled, true);
  assert.deepEqual(DEFAULT_CONFIG.engine, before);
  // A config without the keys gets the defaults, not what the previous config set.
  const second = parseConfig("dryRun: true\n", "b.yaml");
  assert.ok(second.ok);
  assert.deepEqual(second.config.engine.machineGuard, before.machineGuard);
  assert.deepEqual(second.config.engine.softLimit, before.softLimit);
});

test("malformed machine guard keys name the key and the line", () => {
  const cases: [string, RegExp][] = [
    ["dryRun: true\npsiFullPct: 101\n", /^c\.yaml:2: key "psiFullPct": expected a percentage from 0 to 100, got 101$/],
    ["lowAvailablePct: -1\n", /^c\.yaml:1: key "lowAvailablePct": expected a percentage from 0 to 100, got -1$/],
    ["\nstarvationWindowMs: -1\n", /^c\.yaml:2: key "starvationWindowMs": expected an integer of ms from 0 to 3600000 \(an hour: .*\), got -1$/],
    ["starvationWindowMs: 1.5\n", /^c\.yaml:1: key "starvationWindowMs": expected an integer of ms from 0 to 3600000 .*, got 1.5$/],
    ["machineGuard: maybe\n", /^c\.yaml:1: key "machineGuard": expected true or false, got "maybe"$/],
    ["psiWindowMs: 0\n", /^c\.yaml:1: key "psiWindowMs": expected a number of ms from 1 to 3600000 .*, got 0$/],
    ["lowAvailablePct: [5]\n", /^c\.yaml:1: key "lowAvailablePct": expected a percentage from 0 to 100, got a list$/],
    ["lowAvailablePercent: 5\n", /^c\.yaml:1: unknown key "lowAvailablePercent" \(did you mean "lowAvailablePct"\?\)$/],
  ];
  for (const [text, expected] of cases) {
    const result = parseConfig(text, "c.yaml");
    assert.equal(result.ok, false, text);
    if (!result.ok) assert.match(result.message, expected, text);
  }
});

test("a missing config file is an error naming the path", () => {
  const result = loadConfigFile("/nonexistent/oomwarden.yaml");
  assert.equal(result.ok, false);
  if (!result.ok) assert.match(result.message, /\/nonexistent\/oomwarden\.yaml/);
});

test("run arguments: repeatable --cgroup, errors for unknown options", () => {
  const args = parseRunArgs(["--cgroup", "/a", "--cgroup", "/b", "--journal", "/j", "--dry-run", "--config", "/c"]);
  assert.deepEqual(args, { config: "/c", cgroups: ["/a", "/b"], journal: "/j", stateDir: null, dryRun: true });
  assert.deepEqual(parseRunArgs(["--state-dir", "/s"]), { config: null, cgroups: [], journal: null, stateDir: "/s", dryRun: false });
  const bad = parseRunArgs(["--cgroups", "/a"]);
  assert.ok("error" in bad && /--cgroups/.test(bad.error));
  const stray = parseRunArgs(["/a"]);
  assert.ok("error" in stray && /"\/a"/.test(stray.error));
});

test("command-line options add to the config file", () => {
  const base = parseConfig("cgroups: [/a]\njournal: /x\n", "c.yaml");
  assert.ok(base.ok);
  const merged = mergeConfig(base.config, { config: "c.yaml", cgroups: ["/a", "/b"], journal: null, stateDir: "/st", dryRun: true });
  assert.deepEqual(merged.cgroups, ["/a", "/b"]);
  assert.equal(merged.journal, "/x");
  assert.equal(merged.engine.dryRun, true);
  assert.equal(merged.stateDir, "/st");
});

test("the default state directory follows systemd, root and XDG conventions", () => {
  assert.equal(defaultStateDir({ STATE_DIRECTORY: "/var/lib/ow" }, 0), "/var/lib/ow");
  assert.equal(defaultStateDir({}, 0), "/var/lib/oomwarden");
  assert.equal(defaultStateDir({ XDG_STATE_HOME: "/home/u/.st" }, 1000), "/home/u/.st/oomwarden");
  assert.equal(journalPathIn("/s"), "/s/journal.jsonl");
  assert.equal(ledgerPathIn("/s"), "/s/takeover.json");
});

test("the file journal appends one JSON line per record with a timestamp", () => {
  const dir = mkdtempSync(join(tmpdir(), "oomwarden-journal-"));
  try {
    const path = join(dir, "sub", "journal.jsonl");
    const opened = FileJournal.open(path, () => assert.fail("no write error expected"));
    assert.ok(opened.ok);
    opened.journal.append({ type: "daemon", message: "one" });
    opened.journal.append({ type: "manage", cgroup: "/x", message: "two" });
    opened.journal.close();
    const lines = readFileSync(path, "utf8").trimEnd().split("\n").map((l) => JSON.parse(l));
    assert.equal(lines.length, 2);
    assert.equal(lines[0].message, "one");
    assert.equal(lines[1].cgroup, "/x");
    assert.ok(!Number.isNaN(Date.parse(lines[0].time)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a journal that cannot be opened is an error naming the path", () => {
  const opened = FileJournal.open("/proc/oomwarden/journal.jsonl", () => {});
  assert.equal(opened.ok, false);
  if (!opened.ok) assert.match(opened.message, /\/proc\/oomwarden\/journal\.jsonl/);
});

test("a critical level above the low-memory level is refused: it would allow a kill after every kill", () => {
  const r = parseConfig("lowAvailablePct: 2\ncriticalAvailablePct: 3\n", "c.yaml");
  assert.equal(r.ok, false);
  assert.match(r.ok ? "" : r.message, /^c\.yaml:2: criticalAvailablePct \(3\) must not be above lowAvailablePct \(2\)$/);
  assert.ok(parseConfig("lowAvailablePct: 2\ncriticalAvailablePct: 1\n", "c.yaml").ok);
});
