// The config file's `rules:` key: a list of victim rules, each a mapping of
// {name?, comm?, cmdline?, exe?, cgroup?, uid?, action}. The YAML's shape is checked here (a list
// of mappings, known fields, text where text is due); what a rule means (patterns, uids, actions,
// names) is checked where rules are compiled, in src/core/victim-rules.ts. Every error names the
// key (`rules[2].comm`) and the line it is on.

import { isMap, isScalar, isSeq, type Node, type Pair } from "yaml";
import { cutLine, quoted, SHOWN_TEXT_MAX_CHARS, suggest } from "../core/shown-text.js";
import { ACTIONS_TEXT, compileVictimRules, defaultRuleName, type VictimRule, type VictimRuleSpec } from "../core/victim-rules.js";
import { linearRegexFallback } from "./linear-regex.js";
import { shownNode as show } from "./shown-node.js";

/** What a rule may hold, in the order the help lists them. */
export const RULE_FIELDS = ["name", "comm", "cmdline", "exe", "cgroup", "uid", "action"] as const;
type RuleField = (typeof RULE_FIELDS)[number];
const PATTERN_FIELDS: ReadonlySet<string> = new Set(["comm", "cmdline", "exe", "cgroup"]);

/**
 * At most this many rules: every process of every decision is tested against each rule until one
 * matches, and a list this long is already far more than a machine's services call for.
 */
export const MAX_RULES = 256;

export const RULES_HELP = `victim rules, first match wins: a list of {name?, comm?, cmdline?, exe?, cgroup?, uid?, action: ${ACTIONS_TEXT}}; patterns are regular expressions found anywhere in the text (docs/victim-rules.md)`;

export type RulesChecked = { value: VictimRule[] } | { error: string; key: string; line: number };

/**
 * The rules of a `rules:` value. `lineOf` turns a node's offset into its line; `keyLine` is the
 * line of the `rules:` key itself, for errors about the list as a whole.
 */
export function parseRulesNode(node: Node | null, lineOf: (offset: number | undefined) => number, keyLine: number): RulesChecked {
  if (!isSeq(node)) return { error: `expected a list of rules, got ${show(node)}`, key: "rules", line: keyLine };
  if (node.items.length > MAX_RULES) {
    return { error: `at most ${MAX_RULES} rules (each decision tests every process against them), got ${node.items.length}`, key: "rules", line: keyLine };
  }
  const specs: VictimRuleSpec[] = [];
  /** Per rule: the line of the rule, and of each field it gives. */
  const lines: { rule: number; fields: Map<string, number> }[] = [];
  for (const [index, item] of node.items.entries()) {
    const itemNode = item as Node | null;
    const ruleLine = itemNode?.range ? lineOf(itemNode.range[0]) : keyLine;
    const parsed = parseRule(itemNode, index, ruleLine, lineOf);
    if ("error" in parsed) return parsed;
    specs.push(parsed.spec);
    lines.push({ rule: ruleLine, fields: parsed.fieldLines });
  }
  const compiled = compileVictimRules(specs, { linearFallback: linearRegexFallback() });
  if (compiled.ok) return { value: compiled.rules };
  const at = lines[compiled.index];
  const fieldLine = compiled.field === null ? undefined : at?.fields.get(compiled.field);
  return {
    error: compiled.message,
    key: compiled.field === null || fieldLine === undefined ? defaultRuleName(compiled.index) : `${defaultRuleName(compiled.index)}.${compiled.field}`,
    line: fieldLine ?? at?.rule ?? keyLine,
  };
}

type RuleParsed = { spec: VictimRuleSpec; fieldLines: Map<string, number> } | { error: string; key: string; line: number };

function parseRule(node: Node | null, index: number, ruleLine: number, lineOf: (offset: number | undefined) => number): RuleParsed {
  const ruleKey = defaultRuleName(index);
  if (!isMap(node)) return { error: `expected a rule, a mapping of ${RULE_FIELDS.join(", ")}; got ${show(node)}`, key: ruleKey, line: ruleLine };
  const spec: VictimRuleSpec = {};
  const fieldLines = new Map<string, number>();
  for (const pair of node.items as Pair<Node | null, Node | null>[]) {
    const line = lineOf(pair.key?.range?.[0] ?? pair.value?.range?.[0]) || ruleLine;
    if (!isScalar(pair.key)) return { error: "a rule's fields must be plain names", key: ruleKey, line };
    const field = String(pair.key.value);
    const firstLine = fieldLines.get(field);
    if (firstLine !== undefined) return { error: `${quoted(field)} is given twice (first on line ${firstLine})`, key: ruleKey, line };
    if (!isRuleField(field)) {
      const hint = suggest(field, [...RULE_FIELDS]);
      return { error: `unknown field ${quoted(field)}${hint !== "" ? hint : `; a rule has ${RULE_FIELDS.join(", ")}`}`, key: ruleKey, line };
    }
    fieldLines.set(field, line);
    const fieldKey = `${ruleKey}.${field}`;
    const value = readField(field, pair.value);
    if ("error" in value) return { error: value.error, key: fieldKey, line };
    assign(spec, field, value.value);
  }
  return { spec, fieldLines };
}

function isRuleField(field: string): field is RuleField {
  return (RULE_FIELDS as readonly string[]).includes(field);
}

function readField(field: RuleField, node: Node | null): { value: string | number | number[] } | { error: string } {
  if (field === "uid") return readUids(node);
  const v = isScalar(node) ? node.value : undefined;
  if (typeof v === "string") return { value: v };
  if (field === "action") return { error: `expected ${ACTIONS_TEXT}, got ${show(node)}` };
  const what = PATTERN_FIELDS.has(field) ? "a regular expression" : "a name";
  // A number or true is text the YAML read as something else: quoting it says what was meant.
  const hint = isScalar(node) && (typeof v === "number" || typeof v === "boolean") ? ` (quote it to mean the text: '${cutLine(String(node.source ?? v), SHOWN_TEXT_MAX_CHARS)}')` : "";
  return { error: `expected ${what} as text, got ${show(node)}${hint}` };
}

function readUids(node: Node | null): { value: number | number[] } | { error: string } {
  const one = (item: unknown): number | null => {
    const v = isScalar(item) ? item.value : undefined;
    return typeof v === "number" ? v : null;
  };
  if (isSeq(node)) {
    const uids: number[] = [];
    for (const item of node.items) {
      const uid = one(item);
      if (uid === null) return { error: `expected a uid or a list of uids (numbers), got a list holding ${show(item as Node)}` };
      uids.push(uid);
    }
    return { value: uids };
  }
  const uid = one(node);
  return uid === null ? { error: `expected a uid or a list of uids (numbers), got ${show(node)}` } : { value: uid };
}

function assign(spec: VictimRuleSpec, field: RuleField, value: string | number | number[]): void {
  if (field === "uid") spec.uid = value as number | number[];
  else spec[field] = value as string;
}
