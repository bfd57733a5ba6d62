// The config file's `rules:` key: a valid list read back exactly, and every error naming the key
// (`rules[N].field`) and the line it is on.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import { CONFIG_KEYS_HELP, DEFAULT_CONFIG, parseConfig, type ConfigResult } from "../../src/daemon/config.js";
import { MAX_RULES } from "../../src/daemon/rules-config.js";
import type { VictimRule, VictimRuleSpec } from "../../src/core/victim-rules.js";
import { matchVictimRule } from "../../src/core/victim-rules.js";
import { processSample } from "../fixtures/process-sample.js";

function refusal(result: ConfigResult): string {
  assert.equal(result.ok, false, "expected the config to be refused");
  return result.ok ? "" : result.message;
}

function rulesOf(text: string): VictimRule[] {
  const result = parseConfig(text, "c.yaml");
  assert.ok(result.ok, result.ok ? "" : result.message);
  return [...result.config.engine.victimRules];
}

/** A compiled rule written back as the mapping it came from. */
function asSpec(rule: VictimRule): VictimRuleSpec {
  const spec: VictimRuleSpec = { name: rule.name };
  for (const { field, regex } of rule.patterns) spec[field] = regex.source;
  if (rule.uids !== null) spec.uid = rule.uids.size === 1 ? [...rule.uids][0]! : [...rule.uids];
  spec.action = rule.action;
  return spec;
}

const DESKTOP = `# a desktop
dryRun: true
rules:
  - name: compositor
    comm: ^(gnome-shell|kwin_wayland|Xwayland|sway)$
    action: protect
  - name: sshd
    exe: (^|/)sshd$
    action: protect
  - name: renderers
    comm: ^(chrome|chromium)$
    cmdline: --type=renderer
    action: prefer
  - cgroup: /app-flatpak-.*\\.scope$
    uid: [1000, 1001]
    action: avoid
`;

describe("rules: a valid list", () => {
  it("is read into the engine options, in order, with names given or by place", () => {
    const rules = rulesOf(DESKTOP);
    assert.deepEqual(rules.map(asSpec), [
      { name: "compositor", comm: "^(gnome-shell|kwin_wayland|Xwayland|sway)$", action: "protect" },
      { name: "sshd", exe: "(^|\\/)sshd$", action: "protect" },
      { name: "renderers", comm: "^(chrome|chromium)$", cmdline: "--type=renderer", action: "prefer" },
      { name: "rules[3]", cgroup: "\\/app-flatpak-.*\\.scope$", uid: [1000, 1001], action: "avoid" },
    ]);
    const result = parseConfig(DESKTOP, "c.yaml");
    assert.ok(result.ok);
    assert.equal(result.config.engine.dryRun, true, "the other keys are still read");
    assert.deepEqual(DEFAULT_CONFIG.engine.victimRules, [], "the defaults are untouched");
  });

  it("round-trips: the rules written back as YAML read the same again, and match the same", () => {
    const rules = rulesOf(DESKTOP);
    // RegExp.source escapes "/" as "\/", which means the same pattern.
    const again = rulesOf(stringify({ rules: rules.map(asSpec) }));
    assert.deepEqual(again.map(asSpec), rules.map(asSpec));
    const renderer = { ...processSample({ pid: 10, comm: "chrome" }), details: { uid: 1000, pgid: 1, sid: 1, cmdline: "/opt/chrome/chrome --type=renderer", exe: "/opt/chrome/chrome", cgroup: "/user.slice/app.scope", cgroupPreference: null } };
    const sshd = { ...processSample({ pid: 11, comm: "sshd" }), details: { ...renderer.details, cmdline: "sshd: /usr/sbin/sshd -D", exe: "/usr/sbin/sshd" } };
    const flatpak = { ...processSample({ pid: 12, comm: "app" }), details: { ...renderer.details, cmdline: "app", exe: "/app/bin/app", cgroup: "/user.slice/user-1000.slice/app-flatpak-org.x.App-12.scope" } };
    for (const set of [rules, again]) {
      assert.deepEqual([renderer, sshd, flatpak].map((p) => matchVictimRule(p, set)?.name ?? null), ["renderers", "sshd", "rules[3]"]);
    }
  });

  it("the examples of docs/victim-rules.md and the README's config file are valid, with the names they show", () => {
    // dist/test/daemon/x.test.js -> the repository's root
    const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
    const yamlBlocks = (text: string) => text.split("```yaml").slice(1).map((block) => block.split("```")[0] ?? "");
    const doc = yamlBlocks(readFileSync(join(root, "docs", "victim-rules.md"), "utf8"));
    assert.deepEqual(doc.map((block) => rulesOf(block).map((r) => r.name)), [
      ["compositor", "sshd", "chrome-renderers", "firefox-content", "ide"],
      ["sshd", "operators", "batch", "database"],
    ]);
    const readme = readFileSync(join(root, "README.md"), "utf8").split("### Config file")[1] ?? "";
    assert.deepEqual(rulesOf(yamlBlocks(readme)[0] ?? "").map((r) => [r.name, r.action]), [["sshd", "protect"], ["chrome-renderers", "prefer"]]);
  });

  it("an empty list is no rules; the help lists the key", () => {
    assert.deepEqual(rulesOf("rules: []\n"), []);
    assert.ok(CONFIG_KEYS_HELP.some(([key, help]) => key === "rules" && /first match wins/.test(help)));
  });
});

describe("rules: every error names the key and the line", () => {
  const cases: [string, string, string][] = [
    [
      "an invalid regular expression",
      "dryRun: false\nrules:\n  - comm: ^a$\n    action: avoid\n  - comm: ^b$\n    action: avoid\n  - name: broken\n    comm: (chrome\n    action: prefer\n",
      'c.yaml:8: key "rules[2].comm": invalid regular expression: unterminated group',
    ],
    ["an unknown field, with a did-you-mean", "rules:\n  - commm: ^a$\n    action: avoid\n", 'c.yaml:2: key "rules[0]": unknown field "commm" (did you mean "comm"?)'],
    ["an unknown field, with the fields", "rules:\n  - comm: ^a$\n    colour: red\n    action: avoid\n", 'c.yaml:3: key "rules[0]": unknown field "colour"; a rule has name, comm, cmdline, exe, cgroup, uid, action'],
    ["a missing action, at the rule's line", "rules:\n  - comm: ^a$\n    action: avoid\n\n  - name: no-action\n    comm: ^b$\n", 'c.yaml:5: key "rules[1]": the rule has no action (prefer, avoid or protect)'],
    ["an unknown action", "rules:\n  - comm: ^a$\n    action: prefr\n", 'c.yaml:3: key "rules[0].action": expected prefer, avoid or protect, got "prefr" (did you mean "prefer"?)'],
    ["an action that is not text", "rules:\n  - comm: ^a$\n    action: [prefer]\n", 'c.yaml:3: key "rules[0].action": expected prefer, avoid or protect, got a list'],
    ["a rule with no match field", "rules:\n  - name: everyone\n    action: prefer\n", 'c.yaml:2: key "rules[0]": the rule matches on nothing: give at least one of comm, cmdline, exe, cgroup, uid (a rule without one would match every process)'],
    ["a negative uid", "rules:\n  - uid: -1\n    action: protect\n", 'c.yaml:2: key "rules[0].uid": expected a uid, an integer from 0 to 4294967294, got -1'],
    ["a fractional uid in a list", "rules:\n  - action: protect\n    uid: [0, 1.5]\n", 'c.yaml:3: key "rules[0].uid": expected a uid, an integer from 0 to 4294967294, got 1.5'],
    ["a uid as text", 'rules:\n  - uid: "1000"\n    action: protect\n', 'c.yaml:2: key "rules[0].uid": expected a uid or a list of uids (numbers), got "1000"'],
    ["a uid list holding text", "rules:\n  - uid: [0, root]\n    action: protect\n", 'c.yaml:2: key "rules[0].uid": expected a uid or a list of uids (numbers), got a list holding "root"'],
    ["an empty uid list", "rules:\n  - uid: []\n    action: protect\n", 'c.yaml:2: key "rules[0].uid": an empty list of uids matches nobody: give at least one, or leave uid out'],
    [
      "a duplicate name",
      "rules:\n  - name: browsers\n    comm: ^chrome$\n    action: prefer\n  - name: browsers\n    comm: ^firefox$\n    action: prefer\n",
      'c.yaml:5: key "rules[1].name": the name "browsers" is already the name of rules[0]: each rule needs its own, the journal names the rule that matched',
    ],
    ["a name a rule already has by its place", "rules:\n  - comm: ^a$\n    action: avoid\n  - name: rules[0]\n    comm: ^b$\n    action: avoid\n", 'c.yaml:4: key "rules[1].name": the name "rules[0]" is already the name of rules[0]: each rule needs its own, the journal names the rule that matched'],
    ["rules that are not a list", "\nrules: protect-sshd\n", 'c.yaml:2: key "rules": expected a list of rules, got "protect-sshd"'],
    ["a rule that is not a mapping", "rules:\n  - comm: ^a$\n    action: avoid\n  - sshd\n", 'c.yaml:4: key "rules[1]": expected a rule, a mapping of name, comm, cmdline, exe, cgroup, uid, action; got "sshd"'],
    ["a field given twice", "rules:\n  - comm: ^a$\n    action: avoid\n    comm: ^b$\n", 'c.yaml:4: key "rules[0]": "comm" is given twice (first on line 2)'],
    ["a pattern the YAML reads as a number", "rules:\n  - comm: 1234\n    action: avoid\n", `c.yaml:2: key "rules[0].comm": expected a regular expression as text, got 1234 (quote it to mean the text: '1234')`],
    ["an empty pattern", 'rules:\n  - cmdline: ""\n    action: avoid\n', 'c.yaml:2: key "rules[0].cmdline": an empty pattern matches every process: leave the field out (^$ matches an empty value)'],
    ["a pattern too long", `rules:\n  - exe: ${"a".repeat(1001)}\n    action: avoid\n`, 'c.yaml:2: key "rules[0].exe": a pattern is at most 1000 characters (so that matching stays cheap), got 1001'],
    [
      "a pattern the linear-time engine cannot run",
      "rules:\n  - cmdline: (a+)\\1\n    action: avoid\n",
      'c.yaml:2: key "rules[0].cmdline": invalid regular expression: cannot be matched in linear time (lookahead, lookbehind, backreferences and counted repeats above 16, such as a{17}, are not supported)',
    ],
    ["a name that is not text", "rules:\n  - name: 7\n    comm: ^a$\n    action: avoid\n", `c.yaml:2: key "rules[0].name": expected a name as text, got 7 (quote it to mean the text: '7')`],
    ["a name with a line break", 'rules:\n  - name: "a\\nb"\n    comm: ^a$\n    action: avoid\n', 'c.yaml:2: key "rules[0].name": a rule\'s name cannot hold control characters or line breaks (it is shown in one-line reasons)'],
    ["rules given twice", "rules: []\nrules: []\n", 'c.yaml:2: key "rules" is given twice (first on line 1)'],
  ];
  for (const [what, text, expected] of cases) {
    it(what, () => {
      const message = refusal(parseConfig(text, "c.yaml"));
      assert.equal(message, expected);
      assert.ok(!message.includes("\n"));
    });
  }

  it(`at most ${MAX_RULES} rules`, () => {
    const many = (n: number) => `rules:\n${Array.from({ length: n }, (_, i) => `  - comm: ^p${i}$\n    action: avoid\n`).join("")}`;
    assert.equal(rulesOf(many(MAX_RULES)).length, MAX_RULES);
    assert.equal(refusal(parseConfig(many(MAX_RULES + 1), "c.yaml")), `c.yaml:1: key "rules": at most ${MAX_RULES} rules (each decision tests every process against them), got ${MAX_RULES + 1}`);
  });
});
