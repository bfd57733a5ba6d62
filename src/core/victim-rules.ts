// Victim rules: what an operator says about who should die first, last or never, and what the cgroup
// xattrs of oomd and systemd-oomd already say about it. Pure: patterns are compiled once, when the
// rules are loaded; a decision only tests them against what the host read about each process.
//
// A rule matches a process when every field it gives matches (comm, cmdline, exe, cgroup: regular
// expressions searched anywhere in the text, as earlyoom's and nohang's are; uid: one of the
// numbers). The first rule that matches decides; an explicit rule that matches wins over the
// cgroup's xattr; nothing matching leaves the process to the kernel's badness alone.

import { quoted, suggest } from "./shown-text.js";
import type { CgroupPreference, ProcessSample } from "./types.js";

export type RuleAction = "prefer" | "avoid" | "protect";
export const RULE_ACTIONS: readonly RuleAction[] = ["prefer", "avoid", "protect"];
/** "prefer, avoid or protect", for messages. */
export const ACTIONS_TEXT = "prefer, avoid or protect";

/** The fields a rule matches on, in the order a reason lists them. */
export const RULE_PATTERN_FIELDS = ["comm", "cmdline", "exe", "cgroup"] as const;
export type RulePatternField = (typeof RULE_PATTERN_FIELDS)[number];
export const RULE_MATCH_FIELDS: readonly string[] = [...RULE_PATTERN_FIELDS, "uid"];

/**
 * Longest pattern accepted. A process pattern is a few dozen characters (earlyoom's default avoid
 * list is about 150); the cap keeps what a typo or a generated file can hand the regex engine small:
 * the linear-time engine's cost per character of text grows with the pattern, and so does the
 * backtracking engine's worst case where the linear one is not available.
 */
export const MAX_PATTERN_CHARS = 1000;
/** Longest rule name: it is repeated in every decision record whose candidates it matched. */
export const MAX_RULE_NAME_CHARS = 100;
/** The largest uid: (uid_t)-1 is "no uid" to the kernel. */
export const MAX_UID = 4_294_967_294;

/** A rule as written (config file, tests): patterns as text. */
export interface VictimRuleSpec {
  name?: string;
  comm?: string;
  cmdline?: string;
  exe?: string;
  cgroup?: string;
  uid?: number | readonly number[];
  /** prefer, avoid or protect; checked here, so a caller may pass what it read. */
  action?: string;
}

/** A rule ready to match: patterns compiled. */
export interface VictimRule {
  readonly name: string;
  readonly action: RuleAction;
  readonly patterns: readonly { readonly field: RulePatternField; readonly regex: RegExp }[];
  /** null: any uid. */
  readonly uids: ReadonlySet<number> | null;
}

export interface RuleCompileOptions {
  /**
   * Accept only patterns V8's linear-time engine can run (no lookaround, no backreferences, counted
   * repeats up to 16), so that the daemon's V8, which hands a match to that engine once it has
   * backtracked too long, bounds what any pattern costs (src/daemon/linear-regex.ts). Without it,
   * `.*a.*b` took 9 s against a 4096-character command line here, and any user can give their own
   * process such a command line. Needs the "l" flag enabled (the daemon does it).
   */
  linearFallback: boolean;
}

export type RulesCompileResult =
  | { ok: true; rules: VictimRule[] }
  /** index: the rule; field: the key of the rule at fault (null: the rule as a whole). */
  | { ok: false; index: number; field: keyof VictimRuleSpec | null; message: string };

/** "rules[N]": the name of a rule written without one, and how messages name a rule's keys. */
export function defaultRuleName(index: number): string {
  return `rules[${index}]`;
}

/** Compiles rules in order; the first problem found is the answer. */
export function compileVictimRules(specs: readonly VictimRuleSpec[], options: RuleCompileOptions): RulesCompileResult {
  const rules: VictimRule[] = [];
  const indexOfName = new Map<string, number>();
  for (const [index, spec] of specs.entries()) {
    const compiled = compileRule(spec, index, options);
    if (!compiled.ok) return { ok: false, index, field: compiled.field, message: compiled.message };
    const first = indexOfName.get(compiled.rule.name);
    if (first !== undefined) {
      return { ok: false, index, field: spec.name !== undefined ? "name" : null, message: `the name ${quoted(compiled.rule.name)} is already the name of ${defaultRuleName(first)}: each rule needs its own, the journal names the rule that matched` };
    }
    indexOfName.set(compiled.rule.name, index);
    rules.push(compiled.rule);
  }
  return { ok: true, rules };
}

type RuleCompiled = { ok: true; rule: VictimRule } | { ok: false; field: keyof VictimRuleSpec | null; message: string };

function compileRule(spec: VictimRuleSpec, index: number, options: RuleCompileOptions): RuleCompiled {
  if (spec.name !== undefined) {
    const problem = nameProblem(spec.name);
    if (problem !== null) return { ok: false, field: "name", message: problem };
  }
  const patterns: { field: RulePatternField; regex: RegExp }[] = [];
  for (const field of RULE_PATTERN_FIELDS) {
    const source = spec[field];
    if (source === undefined) continue;
    const compiled = compilePattern(source, options);
    if ("error" in compiled) return { ok: false, field, message: compiled.error };
    patterns.push({ field, regex: compiled.regex });
  }
  let uids: Set<number> | null = null;
  if (spec.uid !== undefined) {
    const list: readonly number[] = typeof spec.uid === "number" ? [spec.uid] : spec.uid;
    if (list.length === 0) return { ok: false, field: "uid", message: "an empty list of uids matches nobody: give at least one, or leave uid out" };
    const bad = list.find((uid) => !Number.isInteger(uid) || uid < 0 || uid > MAX_UID);
    if (bad !== undefined) return { ok: false, field: "uid", message: `expected a uid, an integer from 0 to ${MAX_UID}, got ${String(bad)}` };
    uids = new Set(list);
  }
  if (patterns.length === 0 && uids === null) {
    return { ok: false, field: null, message: `the rule matches on nothing: give at least one of ${RULE_MATCH_FIELDS.join(", ")} (a rule without one would match every process)` };
  }
  if (spec.action === undefined) return { ok: false, field: null, message: `the rule has no action (${ACTIONS_TEXT})` };
  if (!(RULE_ACTIONS as readonly string[]).includes(spec.action)) {
    return { ok: false, field: "action", message: `expected ${ACTIONS_TEXT}, got ${quoted(spec.action)}${suggest(spec.action, [...RULE_ACTIONS])}` };
  }
  return { ok: true, rule: { name: spec.name ?? defaultRuleName(index), action: spec.action as RuleAction, patterns, uids } };
}

function nameProblem(name: string): string | null {
  if (name.length === 0) return "a rule's name cannot be empty (leave it out: the rule is then named after its place in the list)";
  if (name.length > MAX_RULE_NAME_CHARS) return `a rule's name is at most ${MAX_RULE_NAME_CHARS} characters (it is repeated in every decision record it matched in), got ${name.length}`;
  // A name is shown inside one-line messages and reasons.
  if (/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(name)) return "a rule's name cannot hold control characters or line breaks (it is shown in one-line reasons)";
  return null;
}

export function compilePattern(source: string, options: RuleCompileOptions): { regex: RegExp } | { error: string } {
  if (source.length === 0) return { error: "an empty pattern matches every process: leave the field out (^$ matches an empty value)" };
  if (source.length > MAX_PATTERN_CHARS) return { error: `a pattern is at most ${MAX_PATTERN_CHARS} characters (so that matching stays cheap), got ${source.length}` };
  let regex: RegExp;
  try {
    regex = new RegExp(source);
  } catch (error) {
    return { error: `invalid regular expression: ${regexDetail(error, source, "")}` };
  }
  if (options.linearFallback) {
    try {
      // Only a check: the ordinary engine is faster on ordinary text; this one takes over where it is not.
      new RegExp(source, "l");
    } catch {
      return { error: "invalid regular expression: cannot be matched in linear time (lookahead, lookbehind, backreferences and counted repeats above 16, such as a{17}, are not supported)" };
    }
  }
  return { regex };
}

/** V8's "Invalid regular expression: /SOURCE/: Unterminated group" without the source repeated. */
function regexDetail(error: unknown, source: string, flags: string): string {
  const message = error instanceof Error ? error.message : String(error);
  const prefix = `Invalid regular expression: /${source}/${flags}: `;
  const detail = message.startsWith(prefix) ? message.slice(prefix.length) : message;
  const line = detail.split(/[\n\r\u2028\u2029]/)[0] ?? "";
  const lower = line.length > 0 ? line[0]!.toLowerCase() + line.slice(1) : line;
  return lower.length > 120 ? `${lower.slice(0, 120)}…` : lower;
}

/** What decided a process's place: an explicit rule, or its cgroup's xattr. */
export interface RuleMatch {
  /** The rule's name, or the xattr's ("user.oomd_avoid"). */
  name: string;
  action: RuleAction;
  /** For the journal: which rule it was (`rule "sshd"`, `cgroup xattr user.oomd_omit on /system.slice/x.service`). */
  source: string;
}

/**
 * Whether any rule matches on the command line: the only reason to read one. Reading
 * /proc/PID/cmdline takes the process's mmap lock (it copies from the process's memory), so a
 * listing under pressure can wait there behind a process that is faulting or mapping memory.
 */
export function rulesReadCommandLines(rules: readonly VictimRule[]): boolean {
  return rules.some((rule) => rule.patterns.some((pattern) => pattern.field === "cmdline"));
}

/** The first explicit rule that matches, else the cgroup's xattr preference, else null. */
export function matchVictimRule(proc: ProcessSample, rules: readonly VictimRule[]): RuleMatch | null {
  for (const rule of rules) {
    if (ruleMatches(rule, proc)) return { name: rule.name, action: rule.action, source: `rule ${quoted(rule.name, 2 * MAX_RULE_NAME_CHARS)}` };
  }
  const preference = proc.details?.cgroupPreference ?? null;
  return preference === null ? null : xattrMatch(preference);
}

/** Every field the rule gives matches; a field the process lacks (no details, no exe) does not. */
export function ruleMatches(rule: VictimRule, proc: ProcessSample): boolean {
  const details = proc.details;
  if (rule.uids !== null && (details === undefined || !rule.uids.has(details.uid))) return false;
  for (const { field, regex } of rule.patterns) {
    const text = field === "comm" ? proc.comm : details === undefined ? null : details[field];
    if (text === null || !regex.test(text)) return false;
  }
  return true;
}

/** A cgroup path is shown whole unless it is absurdly long. */
const MAX_SHOWN_CGROUP_CHARS = 300;

/** systemd-oomd's omit is never chosen, as protect; avoid and oomd's prefer are what they say. */
const ACTION_OF_PREFERENCE: Readonly<Record<CgroupPreference["kind"], RuleAction>> = { prefer: "prefer", avoid: "avoid", omit: "protect" };

function xattrMatch(preference: CgroupPreference): RuleMatch {
  const action = ACTION_OF_PREFERENCE[preference.kind];
  return { name: preference.xattr, action, source: `cgroup xattr ${preference.xattr} on ${quoted(preference.cgroup, MAX_SHOWN_CGROUP_CHARS)}` };
}
