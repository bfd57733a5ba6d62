// The user-space side of a policy: none, oomwarden (managed cgroups and engine options), or a
// user's own handler task (seed 004).

import type { Node } from "yaml";
import type { UserspaceSpec } from "../scenario.js";
import { defaultManagedCgroups, OOMWARDEN_OPTIONS } from "./builtin-policies.js";
import { readCgroupRefs } from "./cgroups.js";
import { SCENARIO_DEFAULTS } from "./defaults.js";
import type { Diagnostics } from "./diagnostics.js";
import type { Fields } from "./fields.js";
import type { Known } from "./known.js";
import { listOrNone, suggest } from "./messages.js";
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
    const options = optionsNode === undefined ? {} : readOomwardenOptions(d, optionsNode, f.at("options"));
    if (managedCgroups) spec = { kind, managedCgroups, options };
  } else if (kind === "handler") spec = readHandler(f, known);
  f.done();
  return spec;
}

/** A user's own OOM handler task (seed 004): `task`, `cgroups`, `reactMs`, `actionSteps`. */
export function readHandler(f: Fields, known: Known): UserspaceSpec | null {
  const d = f.d;
  const task = f.requiredString("task");
  if (task !== undefined && !known.tasks.has(task)) {
    d.report(f.lineNode("task"), f.at("task"), `unknown task "${task}"${suggest(task, [...known.tasks.keys()])} (tasks: ${listOrNone([...known.tasks.keys()])})`);
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

/** The engine options of OOMWARDEN_OPTIONS, each checked by its kind. */
export function readOomwardenOptions(d: Diagnostics, node: Node | null, path: string): Record<string, unknown> {
  const f = d.map(node, path);
  if (!f) return {};
  const out: Record<string, unknown> = {};
  for (const [key, kind] of Object.entries(OOMWARDEN_OPTIONS)) {
    const v =
      kind === "boolean"
        ? f.boolean(key)
        : f.number(
            key,
            kind === "ms>=1" ? { min: 1 } : kind === "percent" ? { min: 0, max: 100 } : kind === "positive-integer" ? { integer: true, min: 1 } : { integer: true, min: 0 },
          );
    if (v !== undefined) out[key] = v;
  }
  f.done();
  return out;
}
