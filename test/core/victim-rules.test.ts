// Victim rules and the oomd/systemd-oomd cgroup xattrs, as pure functions over literal snapshots:
// who is protected, who goes first and who last, which rule wins, and that the order stays total.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { decide } from "../../src/core/decide.js";
import { compareCandidates, rankCandidates } from "../../src/core/rank.js";
import type { CgroupPreference, CgroupSample, ProcessDetails, ProcessSample, Snapshot } from "../../src/core/types.js";
import { compileVictimRules, matchVictimRule, MAX_PATTERN_CHARS, rulesReadCommandLines, type VictimRule, type VictimRuleSpec } from "../../src/core/victim-rules.js";
import { linearRegexFallback } from "../../src/daemon/linear-regex.js";
import { processSample } from "../fixtures/process-sample.js";
import { machineScope } from "../support/machine-samples.js";

const PAGE = 4096;
const MIB = 1024 * 1024;
const SELF = 700;
const MACHINE_PAGES = 2_097_152;

const machine = machineScope;

function snapshot(processes: ProcessSample[], cgroup: CgroupSample = machine()): Snapshot {
  return { takenAtMs: 0, cgroup, processes, selfPid: SELF, pageSizeBytes: PAGE };
}

function details(fields: Partial<ProcessDetails> = {}): ProcessDetails {
  return { uid: 1000, pgid: 1, sid: 1, cmdline: "", exe: null, cgroup: "/user.slice", cgroupPreference: null, ...fields };
}

/** A process of `mib` MiB, with details unless `details` is null. */
function proc(pid: number, comm: string, mib: number, more: Partial<ProcessDetails> | null = {}): ProcessSample {
  const sample = processSample({ pid, comm, rssBytes: mib * MIB });
  return more === null ? sample : { ...sample, details: details(more) };
}

function preference(kind: CgroupPreference["kind"], xattr: string, cgroup = "/system.slice/app.service"): CgroupPreference {
  return { kind, xattr, cgroup };
}

function rules(specs: VictimRuleSpec[]): VictimRule[] {
  const compiled = compileVictimRules(specs, { linearFallback: false });
  assert.ok(compiled.ok, compiled.ok ? "" : compiled.message);
  return compiled.rules;
}

function order(processes: ProcessSample[], ruleSpecs: VictimRuleSpec[]): string[] {
  return rankCandidates(snapshot(processes), { maxCandidates: 10, totalMemoryPages: MACHINE_PAGES, rules: rules(ruleSpecs) }).candidates.map((c) => c.comm);
}

describe("victim rules in the ranking", () => {
  const desktop = [proc(10, "Xwayland", 900), proc(20, "chrome", 120, { cmdline: "/opt/chrome/chrome --type=renderer" }), proc(30, "editor", 300), proc(40, "sshd", 40)];

  it("no rules: today's order, the biggest first", () => {
    assert.deepEqual(order(desktop, []), ["Xwayland", "editor", "chrome", "sshd"]);
  });

  it("protect beats being the biggest: excluded, with the rule's name and a reason naming it", () => {
    const ranking = rankCandidates(snapshot(desktop), { maxCandidates: 10, totalMemoryPages: MACHINE_PAGES, rules: rules([{ name: "compositor", comm: "^Xwayland$", action: "protect" }]) });
    assert.deepEqual(ranking.candidates.map((c) => c.comm), ["editor", "chrome", "sshd"]);
    const excluded = ranking.excluded.find((e) => e.pid === 10);
    assert.deepEqual(excluded, { pid: 10, comm: "Xwayland", reason: 'protected by rule "compositor"', rule: "compositor" });
  });

  it("prefer picks a small one before every bigger process", () => {
    const ranking = rankCandidates(snapshot(desktop), { maxCandidates: 10, totalMemoryPages: MACHINE_PAGES, rules: rules([{ name: "renderers", cmdline: "--type=renderer", action: "prefer" }]) });
    assert.deepEqual(ranking.candidates.map((c) => c.comm), ["chrome", "Xwayland", "editor", "sshd"]);
    const first = ranking.candidates[0]!;
    assert.equal(first.rule, "renderers");
    assert.equal(first.ruleAction, "prefer");
    assert.match(first.reason, /^badness \d+ pages = .*; rule "renderers": prefer$/);
  });

  it("avoid falls behind every other, and is still chosen when it is all there is", () => {
    assert.deepEqual(order(desktop, [{ comm: "^Xwayland$", action: "avoid" }]), ["editor", "chrome", "sshd", "Xwayland"]);
    const alone = decide(snapshot([proc(10, "Xwayland", 900)]), { maxCandidates: 5, totalMemoryPages: MACHINE_PAGES, rules: rules([{ comm: "^Xwayland$", action: "avoid" }]) });
    assert.equal(alone.action.kind, "kill");
    assert.equal(alone.action.kind === "kill" ? alone.action.candidates[0]?.comm : null, "Xwayland");
  });

  it("within a class, today's order: score, then rss, then pid", () => {
    const processes = [proc(50, "b", 100), proc(40, "a", 100), proc(30, "big", 200), proc(20, "small", 10)];
    assert.deepEqual(order(processes, [{ comm: "^(a|b|big|small)$", action: "prefer" }]), ["big", "a", "b", "small"]);
  });

  it("the first rule that matches wins", () => {
    const ranking = rankCandidates(snapshot(desktop), {
      maxCandidates: 10,
      totalMemoryPages: MACHINE_PAGES,
      rules: rules([{ name: "keep", comm: "^chrome$", action: "avoid" }, { name: "kill", cmdline: "renderer", action: "prefer" }]),
    });
    const chrome = ranking.candidates.find((c) => c.comm === "chrome")!;
    assert.equal(chrome.rule, "keep");
    assert.equal(ranking.candidates.at(-1)?.comm, "chrome");
  });

  it("a rule without a name is named after its place in the list", () => {
    const ranking = rankCandidates(snapshot(desktop), { maxCandidates: 10, totalMemoryPages: MACHINE_PAGES, rules: rules([{ comm: "^nothing$", action: "avoid" }, { comm: "^sshd$", action: "prefer" }]) });
    assert.equal(ranking.candidates[0]?.rule, "rules[1]");
  });

  it("a rule with several fields matches only when all of them match", () => {
    const processes = [proc(1000, "python3", 50, { uid: 1000, cmdline: "python3 train.py" }), proc(1001, "python3", 60, { uid: 0, cmdline: "python3 train.py" }), proc(1002, "python3", 70, { uid: 1000, cmdline: "python3 serve.py" })];
    const ranking = rankCandidates(snapshot(processes), { maxCandidates: 10, totalMemoryPages: MACHINE_PAGES, rules: rules([{ comm: "^python3$", cmdline: "train", uid: 1000, action: "prefer" }]) });
    assert.deepEqual(ranking.candidates.map((c) => [c.pid, c.rule ?? null]), [[1000, "rules[0]"], [1002, null], [1001, null]]);
  });

  it("uid: one number or a list of numbers", () => {
    const processes = [proc(1, "a", 10, { uid: 0 }), proc(2, "b", 10, { uid: 1000 }), proc(3, "c", 10, { uid: 1001 }), proc(4, "d", 10, { uid: 1002 })];
    const one = rules([{ uid: 1000, action: "protect" }]);
    const list = rules([{ uid: [1000, 1002], action: "protect" }]);
    assert.deepEqual(processes.map((p) => matchVictimRule(p, one)?.action ?? null), [null, "protect", null, null]);
    assert.deepEqual(processes.map((p) => matchVictimRule(p, list)?.action ?? null), [null, "protect", null, "protect"]);
  });

  it("fields a process lacks do not match; comm is always there", () => {
    const bare = proc(5, "worker", 10, null);
    assert.equal(matchVictimRule(bare, rules([{ cmdline: ".", action: "prefer" }])), null);
    assert.equal(matchVictimRule(bare, rules([{ uid: 1000, action: "prefer" }])), null);
    assert.equal(matchVictimRule(bare, rules([{ cgroup: "/", action: "prefer" }])), null);
    assert.equal(matchVictimRule(bare, rules([{ comm: "^worker$", action: "prefer" }]))?.action, "prefer");
    // exe null: /proc/PID/exe could not be read.
    assert.equal(matchVictimRule(proc(6, "w", 10, { exe: null }), rules([{ exe: ".", action: "prefer" }])), null);
    assert.equal(matchVictimRule(proc(6, "w", 10, { exe: "/usr/bin/w" }), rules([{ exe: "^/usr/bin/", action: "prefer" }]))?.action, "prefer");
  });

  it("patterns are found anywhere in the text (as earlyoom's and nohang's): anchor them to match the whole", () => {
    const session = proc(7, "sshd-session", 10);
    assert.equal(matchVictimRule(session, rules([{ comm: "sshd", action: "protect" }]))?.action, "protect");
    assert.equal(matchVictimRule(session, rules([{ comm: "^sshd$", action: "protect" }])), null);
    // earlyoom's own form works as it does there.
    const chrome = proc(8, "chrome", 10, { exe: "/opt/google/chrome/chrome" });
    assert.equal(matchVictimRule(chrome, rules([{ exe: "(^|/)(chrome|firefox)$", action: "prefer" }]))?.action, "prefer");
    assert.equal(matchVictimRule(proc(9, "chrome_crashpad", 10), rules([{ comm: "(^|/)(chrome)$", action: "prefer" }])), null);
  });

  it("with the daemon's linear-time fallback: the same matches, and a hostile command line costs milliseconds", () => {
    assert.ok(linearRegexFallback(), "this Node has V8's linear-time engine");
    const compiled = compileVictimRules([{ comm: "^(chrome|firefox)$", cmdline: "--type=(renderer|gpu)", action: "prefer" }, { cmdline: ".*a.*a.*b", action: "avoid" }], { linearFallback: true });
    assert.ok(compiled.ok);
    const renderer = proc(11, "chrome", 10, { cmdline: "/opt/chrome --type=renderer --lang=en" });
    assert.equal(matchVictimRule(renderer, compiled.rules)?.action, "prefer");
    assert.equal(matchVictimRule({ ...renderer, comm: "chromium" }, compiled.rules), null);
    // The backtracking engine alone takes seconds over this one (9 s for .*a.*b here).
    const hostile = proc(12, "x", 10, { cmdline: "a".repeat(4096) });
    const startedMs = performance.now();
    assert.equal(matchVictimRule(hostile, compiled.rules), null);
    const tookMs = performance.now() - startedMs;
    assert.ok(tookMs < 1000, `took ${tookMs.toFixed(1)} ms`);
  });
});

describe("cgroup xattr preferences (oomd, systemd-oomd)", () => {
  const biggest = (pref: CgroupPreference | null): ProcessSample => proc(10, "service", 900, { cgroup: "/system.slice/app.service", cgroupPreference: pref });
  const others = [proc(20, "other", 300), proc(30, "small", 20)];
  const rank = (processes: ProcessSample[], ruleSpecs: VictimRuleSpec[] = []) => rankCandidates(snapshot(processes), { maxCandidates: 10, totalMemoryPages: MACHINE_PAGES, rules: rules(ruleSpecs) });

  it("systemd-oomd's user.oomd_omit: never chosen, the exclusion names the xattr and its cgroup", () => {
    const ranking = rank([biggest(preference("omit", "user.oomd_omit")), ...others]);
    assert.deepEqual(ranking.candidates.map((c) => c.pid), [20, 30]);
    assert.deepEqual(ranking.excluded.find((e) => e.pid === 10), {
      pid: 10,
      comm: "service",
      reason: 'protected by cgroup xattr user.oomd_omit on "/system.slice/app.service"',
      rule: "user.oomd_omit",
    });
  });

  it("systemd-oomd's user.oomd_avoid and oomd's trusted.oomd_avoid: chosen last", () => {
    for (const xattr of ["user.oomd_avoid", "trusted.oomd_avoid"]) {
      const ranking = rank([biggest(preference("avoid", xattr)), ...others]);
      assert.deepEqual(ranking.candidates.map((c) => c.pid), [20, 30, 10], xattr);
      assert.equal(ranking.candidates[2]?.rule, xattr);
      assert.match(ranking.candidates[2]!.reason, new RegExp(`; cgroup xattr ${xattr.replace(".", "\\.")} on "/system.slice/app.service": avoid$`));
    }
  });

  it("oomd's trusted.oomd_prefer: chosen first, however small", () => {
    const small = proc(30, "small", 20, { cgroupPreference: preference("prefer", "trusted.oomd_prefer", "/workload.slice") });
    const ranking = rank([biggest(null), others[0]!, small]);
    assert.deepEqual(ranking.candidates.map((c) => c.pid), [30, 10, 20]);
    assert.equal(ranking.candidates[0]?.ruleAction, "prefer");
  });

  it("an explicit rule that matches wins over the xattr; one that does not leaves it in force", () => {
    const omitted = biggest(preference("omit", "user.oomd_omit"));
    const overridden = rank([omitted, ...others], [{ name: "app-first", comm: "^service$", action: "prefer" }]);
    assert.deepEqual(overridden.candidates.map((c) => [c.pid, c.rule ?? null]), [[10, "app-first"], [20, null], [30, null]]);
    const untouched = rank([omitted, ...others], [{ comm: "^nothing$", action: "prefer" }]);
    assert.equal(untouched.excluded.find((e) => e.pid === 10)?.rule, "user.oomd_omit");
  });

  it("memory.oom.group is not used while a member is protected by a rule: cgroup.kill would take it too", () => {
    const group: CgroupSample = { ...machine(), path: "/sys/fs/cgroup/job", oomGroup: true, limitBytes: 2048 * MIB };
    const members = [proc(10, "db", 900), proc(20, "worker", 300)];
    const plain = decide(snapshot(members, group), { maxCandidates: 5, totalMemoryPages: MACHINE_PAGES });
    assert.equal(plain.action.kind, "kill-group");
    const guarded = decide(snapshot(members, group), { maxCandidates: 5, totalMemoryPages: MACHINE_PAGES, rules: rules([{ comm: "^db$", action: "protect" }]) });
    assert.equal(guarded.action.kind, "kill");
    assert.deepEqual(guarded.action.kind === "kill" ? guarded.action.candidates.map((c) => c.pid) : [], [20]);
    const omitted = decide(snapshot([proc(10, "db", 900, { cgroupPreference: preference("omit", "user.oomd_omit") }), members[1]!], group), { maxCandidates: 5, totalMemoryPages: MACHINE_PAGES });
    assert.equal(omitted.action.kind, "kill");
  });
});

describe("the order stays total and stable with rules", () => {
  const RULES = rules([
    { name: "p", comm: "^(a|b)$", action: "prefer" },
    { name: "v", cmdline: "avoid-me", action: "avoid" },
    { name: "x", uid: 0, action: "protect" },
  ]);
  const prefArb = fc.constantFrom<CgroupPreference | null>(null, preference("omit", "user.oomd_omit"), preference("avoid", "user.oomd_avoid"), preference("prefer", "trusted.oomd_prefer"));
  const processArb = fc.record({
    pid: fc.integer({ min: 2, max: 60 }),
    comm: fc.constantFrom("a", "b", "c", "d"),
    rssPages: fc.integer({ min: 1, max: 6 }),
    oomScoreAdj: fc.constantFrom(-500, 0, 0, 500),
    withDetails: fc.boolean(),
    uid: fc.constantFrom(0, 1000),
    cmdline: fc.constantFrom("", "run", "avoid-me"),
    pref: prefArb,
  });
  type Row = typeof processArb extends fc.Arbitrary<infer T> ? T : never;
  const toSample = (p: Row): ProcessSample => {
    const sample = processSample({ pid: p.pid, comm: p.comm, rssBytes: p.rssPages * PAGE, oomScoreAdj: p.oomScoreAdj });
    return p.withDetails ? { ...sample, details: details({ uid: p.uid, cmdline: p.cmdline, cgroupPreference: p.pref }) } : sample;
  };

  it("the same ranking whatever order the processes are listed in, classes in order", () => {
    fc.assert(
      fc.property(fc.array(processArb, { maxLength: 25 }), fc.infiniteStream(fc.nat()), (rows, randoms) => {
        const processes = rows.map(toSample);
        const shuffled = [...processes].map((p) => [randoms.next().value, p] as const).sort((x, y) => x[0] - y[0]).map(([, p]) => p);
        const options = { maxCandidates: 5, totalMemoryPages: MACHINE_PAGES, rules: RULES };
        const a = rankCandidates(snapshot(processes), options);
        const b = rankCandidates(snapshot(shuffled), options);
        assert.deepEqual(b.candidates, a.candidates);
        assert.deepEqual(b.excluded, a.excluded);
        const classes = a.candidates.map((c) => (c.ruleAction === "prefer" ? 0 : c.ruleAction === "avoid" ? 2 : 1));
        assert.deepEqual(classes, [...classes].sort((x, y) => x - y));
        for (let i = 1; i < a.candidates.length; i++) assert.ok(compareCandidates(a.candidates[i - 1]!, a.candidates[i]!) <= 0);
        // Nothing protected is ever a candidate.
        for (const c of a.candidates) assert.notEqual(c.rule, "x");
        for (const c of a.candidates) assert.notEqual(c.rule, "user.oomd_omit");
      }),
      { numRuns: 300 },
    );
  });
});

describe("compiling rules", () => {
  const refusal = (specs: VictimRuleSpec[], linearFallback = false): { index: number; field: string | null; message: string } => {
    const compiled = compileVictimRules(specs, { linearFallback });
    assert.equal(compiled.ok, false, JSON.stringify(specs));
    return compiled.ok ? { index: -1, field: null, message: "" } : { index: compiled.index, field: compiled.field, message: compiled.message };
  };

  it("names the rule and the field at fault", () => {
    assert.deepEqual(refusal([{ comm: "a", action: "avoid" }, { comm: "(", action: "avoid" }]), { index: 1, field: "comm", message: "invalid regular expression: unterminated group" });
    assert.deepEqual(refusal([{ cmdline: "", action: "avoid" }]), { index: 0, field: "cmdline", message: "an empty pattern matches every process: leave the field out (^$ matches an empty value)" });
    assert.match(refusal([{ exe: "x".repeat(MAX_PATTERN_CHARS + 1), action: "avoid" }]).message, /^a pattern is at most 1000 characters \(so that matching stays cheap\), got 1001$/);
    assert.deepEqual(refusal([{ uid: -1, action: "avoid" }]), { index: 0, field: "uid", message: "expected a uid, an integer from 0 to 4294967294, got -1" });
    assert.deepEqual(refusal([{ uid: [0, 1.5], action: "avoid" }]), { index: 0, field: "uid", message: "expected a uid, an integer from 0 to 4294967294, got 1.5" });
    assert.equal(refusal([{ uid: [], action: "avoid" }]).field, "uid");
    assert.deepEqual(refusal([{ action: "avoid" }]), { index: 0, field: null, message: "the rule matches on nothing: give at least one of comm, cmdline, exe, cgroup, uid (a rule without one would match every process)" });
    assert.deepEqual(refusal([{ comm: "a" }]), { index: 0, field: null, message: "the rule has no action (prefer, avoid or protect)" });
    assert.deepEqual(refusal([{ comm: "a", action: "prefr" }]), { index: 0, field: "action", message: 'expected prefer, avoid or protect, got "prefr" (did you mean "prefer"?)' });
    assert.deepEqual(refusal([{ comm: "a", action: "kill" }]), { index: 0, field: "action", message: 'expected prefer, avoid or protect, got "kill"' });
  });

  it("each name once, the names rules get by default included", () => {
    assert.deepEqual(refusal([{ name: "x", comm: "a", action: "avoid" }, { name: "x", comm: "b", action: "avoid" }]), {
      index: 1,
      field: "name",
      message: 'the name "x" is already the name of rules[0]: each rule needs its own, the journal names the rule that matched',
    });
    assert.equal(refusal([{ comm: "a", action: "avoid" }, { name: "rules[0]", comm: "b", action: "avoid" }]).index, 1);
    assert.equal(refusal([{ name: "", comm: "a", action: "avoid" }]).field, "name");
    assert.equal(refusal([{ name: "a\nb", comm: "a", action: "avoid" }]).field, "name");
  });

  it("the linear-time engine refuses what it cannot run in linear time, saying so", () => {
    assert.ok(linearRegexFallback());
    for (const source of ["(a)\\1", "foo(?=bar)", "(?<!x)y", "a{17}"]) {
      assert.deepEqual(refusal([{ cmdline: source, action: "avoid" }], true), {
        index: 0,
        field: "cmdline",
        message: "invalid regular expression: cannot be matched in linear time (lookahead, lookbehind, backreferences and counted repeats above 16, such as a{17}, are not supported)",
      }, source);
    }
    // A syntax error is a syntax error with either engine.
    assert.equal(refusal([{ cmdline: "[", action: "avoid" }], true).message, "invalid regular expression: unterminated character class");
  });
});

describe("rulesReadCommandLines: a command line is read only for a rule that matches on one", () => {
  it("true when any rule has a cmdline pattern, false for rules on other fields and for no rules", () => {
    const compiled = (specs: VictimRuleSpec[]): VictimRule[] => {
      const result = compileVictimRules(specs, { linearFallback: false });
      assert.ok(result.ok);
      return result.rules;
    };
    assert.equal(rulesReadCommandLines([]), false);
    assert.equal(rulesReadCommandLines(compiled([{ comm: "^db$", exe: "postgres", cgroup: "db", uid: 70, action: "protect" }])), false);
    assert.equal(rulesReadCommandLines(compiled([{ comm: "^db$", action: "avoid" }, { name: "jobs", cmdline: "--batch", action: "prefer" }])), true);
  });
});
