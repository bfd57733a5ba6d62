// The user-space side of a policy: none, oomwarden (managed cgroups and engine options), or a
// user's own handler task (a user-space handler that can deadlock).

import { isScalar, type Node } from "yaml";
import { checkTunable, CROSS_KEY_DEFAULTS, crossKeyProblem, TUNABLE_NAMES, type CrossKeyName, type TunableName } from "../../core/tunable-keys.js";
import type { UserspaceSpec } from "../scenario.js";
import { defaultManagedCgroups } from "./builtin-policies.js";
import { readCgroupRefs } from "./cgroups.js";
import { SCENARIO_DEFAULTS } from "./defaults.js";
import type { Diagnostics } from "./diagnostics.js";
import type { Fields } from "./fields.js";
import type { Known, Written } from "./known.js";
import { listOrNone, quoted, show, suggest } from "./messages.js";
import { readProgram } from "./programs.js";
import { TIME } from "./units.js";

export function readUserspace(d: Diagnostics, node: Node | null, path: string, known: Known): UserspaceSpec | null {
  const f = d.map(node, path);
  if (!f) return null;
  const kind = f.oneOf("kind", ["none", "oomwarden", "handler"] as const);
  if (!f.has("kind")) f.missing('"kind" (none, oomwarden or handler)');
  let spec: UserspaceSpec | null = null;
  if (kind === "none") spec = { kind };
  else if (kind === "oomwarden") {
    const managedNode = f.get("managedCgroups");
    const managedCgroups = managedNode === undefined ? defaultManagedCgroups(known.cgroups.values()) : readCgroupRefs(d, managedNode, f.at("managedCgroups"), known, true);
    const optionsNode = f.get("options");
    const options = optionsNode === undefined ? {} : readOomwardenOptions(d, optionsNode, f.at("options"), known);
    if (managedCgroups) spec = { kind, managedCgroups, options };
  } else if (kind === "handler") spec = readHandler(f, known);
  f.done();
  return spec;
}

/** A user's own OOM handler task (one that can deadlock in its own OOM): `task`, `cgroups`, `reactMs`, `actionSteps`. */
export function readHandler(f: Fields, known: Known): UserspaceSpec | null {
  const d = f.d;
  const task = f.requiredString("task");
  if (task !== undefined && !known.tasks.has(task)) {
    d.report(f.lineNode("task"), f.at("task"), `unknown task ${quoted(task)}${suggest(task, [...known.tasks.keys()])} (tasks: ${listOrNone([...known.tasks.keys()])})`);
  }
  const cgroupsNode = f.get("cgroups");
  let cgroups: string[] | undefined;
  if (cgroupsNode !== undefined) cgroups = readCgroupRefs(d, cgroupsNode, f.at("cgroups"), known, false);
  else {
    // By default the handler manages the cgroups whose kernel killer is disabled for it.
    cgroups = [...known.cgroups.values()].filter((c) => c.oomKillDisable).map((c) => c.path);
    if (cgroups.length === 0) f.missing('"cgroups" (no cgroup has oomKillDisable: true to default to)');
  }
  const reactMs = f.quantity("react", TIME, { min: 0 }) ?? SCENARIO_DEFAULTS.handlerReactMs;
  // What the handler does before it can kill, in program steps (the kernel's default: fault in
  // one page, as reading a /proc file does).
  const actionNode = f.get("actionSteps");
  const actionSteps = actionNode === undefined ? undefined : readProgram(d, actionNode, f.at("actionSteps"), known);
  if (task === undefined || cgroups === undefined) return null;
  const spec: UserspaceSpec = { kind: "handler", task, cgroups, reactMs };
  if (actionSteps !== undefined) spec.actionSteps = actionSteps;
  return spec;
}

/**
 * The engine options of an oomwarden policy: the daemon config's tunables, each checked by the
 * table's rule, then the rule across keys over the values set and the defaults of the rest, so a
 * scenario that breaks it fails here, with its line, and not when it runs.
 */
export function readOomwardenOptions(d: Diagnostics, node: Node | null, path: string, known: Known): Record<string, unknown> {
  const f = d.map(node, path);
  if (!f) return {};
  const set = new Map<TunableName, unknown>();
  const written = new Map<string, Written>();
  let allValid = true;
  for (const key of TUNABLE_NAMES) {
    const valueNode = f.get(key);
    if (valueNode === undefined) continue;
    const resolved = d.deref(valueNode);
    const value = resolved && isScalar(resolved) ? resolved.value : undefined;
    const checked = checkTunable(key, value);
    if (checked.ok) {
      set.set(key, value);
      written.set(key, { node: f.lineNode(key), path: f.at(key) });
    } else {
      allValid = false;
      d.report(resolved ?? f.lineNode(key), f.at(key), `expected ${checked.expected}, got ${show(resolved)}`);
    }
  }
  f.done();
  // Only over valid values: a refused one would be judged at its default, a second error for one mistake.
  const problem = allValid ? crossKeyProblem((name) => (set.get(name) as number | undefined) ?? CROSS_KEY_DEFAULTS[name]) : null;
  if (problem !== null) {
    // At the later of the keys set: the earlier was fine until then.
    const lineOfKey = (k: CrossKeyName): number => d.lineOf(f.lineNode(k));
    const last = problem.keys.filter((k) => f.has(k)).reduce<CrossKeyName | null>((a, k) => (a === null || lineOfKey(k) >= lineOfKey(a) ? k : a), null);
    d.report(last === null ? f.node : f.lineNode(last), last === null ? path : f.at(last), problem.message);
  }
  const options = Object.fromEntries(set);
  known.optionsWritten.set(options, written);
  return options;
}
