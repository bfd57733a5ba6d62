// The `cgroups` section (every level of the hierarchy listed, `/` implicit) and references to
// cgroups from policies (`managedCgroups`, a handler's `cgroups`).

import type { Node } from "yaml";
import type { CgroupSpec } from "../scenario.js";
import { SCENARIO_DEFAULTS } from "./defaults.js";
import type { Diagnostics } from "./diagnostics.js";
import type { Fields } from "./fields.js";
import type { Known } from "./known.js";
import { joinPath, listOrNone, quoted, suggest } from "./messages.js";
import { SIZE } from "./units.js";

export function readCgroup(f: Fields, known: Known): CgroupSpec | null {
  const d = f.d;
  const path = f.requiredString("path");
  if (path !== undefined) {
    if (path === "/") d.report(f.lineNode("path"), f.at("path"), `the root cgroup "/" is implicit and has no limit; do not list it`);
    else if (!/^(\/[^/\s]+)+$/.test(path)) d.report(f.lineNode("path"), f.at("path"), `expected an absolute cgroup path like "/jobs/a", got ${quoted(path)}`);
    else if (known.cgroups.has(path)) d.report(f.lineNode("path"), f.at("path"), `cgroup ${quoted(path)} is listed twice`);
  }
  const limitPages = f.quantity("limit", SIZE, { min: 0, above: true }) ?? null;
  const highPages = f.quantity("high", SIZE, { min: 0, above: true });
  const version = f.oneOf("version", [1, 2] as const) ?? SCENARIO_DEFAULTS.cgroupVersion;
  const oomKillDisable = f.boolean("oomKillDisable") ?? false;
  const oomGroup = f.boolean("oomGroup") ?? false;
  const chargeFailure = f.oneOf("chargeFailure", ["enomem", "overcharge"] as const) ?? SCENARIO_DEFAULTS.chargeFailure;
  if (oomKillDisable && version !== 1) d.report(f.lineNode("oomKillDisable"), f.at("oomKillDisable"), "oomKillDisable exists only in cgroup v1 (memory.oom_control); set version: 1");
  if (oomGroup && version !== 2) d.report(f.lineNode("oomGroup"), f.at("oomGroup"), "oomGroup exists only in cgroup v2 (memory.oom.group); set version: 2");
  if (highPages !== undefined && version !== 2) {
    const high = f.spelled("high", SIZE);
    d.report(high.node, high.path, "a high limit exists only in cgroup v2 (memory.high); set version: 2");
  }
  if (path === undefined) return null;
  // Without a high limit the spec carries no highPages key at all (memory.high "max").
  const spec: CgroupSpec = { path, limitPages, version, oomKillDisable, oomGroup, chargeFailure, ...(highPages !== undefined ? { highPages } : {}) };
  if (!known.cgroups.has(path)) {
    known.cgroups.set(path, spec);
    known.declaredAt.set(`cgroup:${path}`, { node: f.lineNode("path"), path: f.at("path") });
  }
  return spec;
}

export function checkCgroupParents(d: Diagnostics, cgroups: CgroupSpec[], known: Known): void {
  for (const c of cgroups) {
    const parent = c.path.slice(0, c.path.lastIndexOf("/"));
    if (parent === "" || known.cgroups.has(parent)) continue;
    const at = known.declaredAt.get(`cgroup:${c.path}`);
    d.report(at?.node, at?.path ?? "cgroups", `parent cgroup ${quoted(parent)} is not listed; list every level of the hierarchy`);
  }
}

/** A list of declared cgroup paths; "/" too when `rootAllowed`. */
export function readCgroupRefs(d: Diagnostics, node: Node | null, path: string, known: Known, rootAllowed: boolean): string[] | undefined {
  const items = d.list(node, path);
  if (!items) return undefined;
  const out: string[] = [];
  items.forEach((item, i) => {
    const p = d.string(item, joinPath(path, i));
    if (p === undefined) return;
    if (p === "/" && rootAllowed) out.push(p);
    else if (!known.cgroups.has(p)) d.report(item, joinPath(path, i), `unknown cgroup ${quoted(p)}${suggest(p, [...known.cgroups.keys()])} (declared: ${listOrNone([...(rootAllowed ? ["/"] : []), ...known.cgroups.keys()])})`);
    else out.push(p);
  });
  return out;
}
