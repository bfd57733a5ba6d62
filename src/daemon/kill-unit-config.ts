// The config file's `killUnit:` key: what the machine guard kills with its victim.
//
//   killUnit: process                 # the default: the victim alone
//   killUnit: process-group           # the victim's process group (a job of a shell, a tool's workers)
//   killUnit:                         # the victim's cgroup as a unit
//     kind: cgroup
//     cgroupPattern: '\.service$'     # the nearest cgroup of the victim's whose last part matches
//     allowSessions: false            # true: a login session or a user's slice may be the unit
//
// Every error names the key (`killUnit.cgroupPattern`) and its line.

import { isMap, isScalar, type Node, type Pair } from "yaml";
import { DEFAULT_KILL_UNIT, KILL_UNIT_KINDS, type KillUnitConfig, type KillUnitKind } from "../core/kill-unit.js";
import { quoted, suggest } from "../core/shown-text.js";
import { compilePattern } from "../core/victim-rules.js";
import { linearRegexFallback } from "./linear-regex.js";
import { shownNode as show } from "./shown-node.js";

export const KILL_UNIT_HELP = `what dies with the machine guard's victim: ${KILL_UNIT_KINDS.join(", ")}, or {kind: cgroup, cgroupPattern, allowSessions} (docs/victim-rules.md)`;

const FIELDS = ["kind", "cgroupPattern", "allowSessions"];

export type KillUnitChecked = { value: KillUnitConfig } | { error: string; key: string; line: number };

function isKind(value: unknown): value is KillUnitKind {
  return typeof value === "string" && (KILL_UNIT_KINDS as readonly string[]).includes(value);
}

function kindError(node: Node | null, key: string, line: number): KillUnitChecked {
  return { error: `expected one of ${KILL_UNIT_KINDS.join(", ")}, got ${show(node)}`, key, line };
}

export function parseKillUnitNode(node: Node | null, lineOf: (offset: number | undefined) => number, keyLine: number): KillUnitChecked {
  if (isScalar(node)) return isKind(node.value) ? { value: { ...DEFAULT_KILL_UNIT, kind: node.value } } : kindError(node, "killUnit", keyLine);
  if (!isMap(node)) return { error: `expected ${KILL_UNIT_KINDS.join(", ")} or a mapping, got ${show(node)}`, key: "killUnit", line: keyLine };
  const unit: KillUnitConfig = { ...DEFAULT_KILL_UNIT };
  let kindGiven = false;
  const seen = new Set<string>();
  for (const pair of node.items as Pair<Node | null, Node | null>[]) {
    const line = lineOf(pair.key?.range?.[0] ?? pair.value?.range?.[0]);
    const field = isScalar(pair.key) ? String(pair.key.value) : "";
    const key = `killUnit.${field}`;
    if (!FIELDS.includes(field)) return { error: `unknown field ${quoted(field)}${suggest(field, FIELDS) || ` (the fields: ${FIELDS.join(", ")})`}`, key, line };
    if (seen.has(field)) return { error: "given twice", key, line };
    seen.add(field);
    const value = isScalar(pair.value) ? pair.value.value : undefined;
    if (field === "kind") {
      if (!isKind(value)) return kindError(pair.value, key, line);
      unit.kind = value;
      kindGiven = true;
    } else if (field === "allowSessions") {
      if (typeof value !== "boolean") return { error: `expected true or false, got ${show(pair.value)}`, key, line };
      unit.allowSessions = value;
    } else {
      if (typeof value !== "string") return { error: `expected a regular expression, got ${show(pair.value)}`, key, line };
      const compiled = compilePattern(value, { linearFallback: linearRegexFallback() });
      if ("error" in compiled) return { error: compiled.error, key, line };
      unit.cgroupPattern = compiled.regex;
    }
  }
  if (!kindGiven) return { error: `a mapping needs kind: ${KILL_UNIT_KINDS.join(", ")}`, key: "killUnit.kind", line: keyLine };
  if (unit.kind !== "cgroup" && seen.has("cgroupPattern")) return { error: "cgroupPattern is for kind: cgroup", key: "killUnit.cgroupPattern", line: keyLine };
  return { value: unit };
}
