// The `expectations` section: what the scenario expects of each listed policy (Expectation in
// src/sim/scenario.ts); src/sim/result-table.ts checks results against it.

import { isScalar, type Node, type Pair } from "yaml";
import type { Expectation, PolicyResult, PolicySpec } from "../scenario.js";
import type { Fields } from "./fields.js";
import type { Known } from "./known.js";
import { joinPath, listOrNone, quoted, suggest } from "./messages.js";
import { GFP_CONTEXTS } from "./programs.js";
import { TIME } from "./units.js";

const FAILURE_KEYS = [...GFP_CONTEXTS, "memcg-syscall-enomem"] as const;

export function readExpectations(top: Fields, policies: PolicySpec[], known: Known): Record<string, Expectation> {
  const d = top.d;
  const node = top.get("expectations");
  const out: Record<string, Expectation> = {};
  if (node === undefined || (isScalar(node) && node.value === null)) return out;
  const f = d.map(node, "expectations");
  if (!f) return out;
  const names = policies.map((p) => p.name);
  for (const pair of f.node.items as Pair<Node, Node | null>[]) {
    const policy = isScalar(pair.key) ? String(pair.key.value) : "";
    f.get(policy);
    const path = f.at(policy);
    if (!names.includes(policy)) {
      d.report(pair.key, path, `no policy named ${quoted(policy)} in policies${suggest(policy, names)} (listed: ${listOrNone(names)})`);
      continue;
    }
    const e = d.map(pair.value, path);
    if (!e) continue;
    // Defined, not assigned: a policy named "__proto__" gets its own key, not a new prototype.
    Object.defineProperty(out, policy, { value: readExpectation(e, known), enumerable: true, writable: true, configurable: true });
    e.done();
  }
  f.done();
  return out;
}

function readExpectation(f: Fields, known: Known): Expectation {
  const count = { integer: true, min: 0 };
  const e: Expectation = {};
  const set = <K extends keyof Expectation>(key: K, value: Expectation[K] | undefined): void => {
    if (value !== undefined) e[key] = value;
  };
  set("maxKilled", f.number("maxKilled", count));
  set("minKilled", f.number("minKilled", count));
  set("innocentKilled", f.number("innocentKilled", count));
  set("minInnocentKilled", f.number("minInnocentKilled", count));
  set("livelock", f.boolean("livelock"));
  set("panic", f.boolean("panic"));
  set("recovered", f.boolean("recovered"));
  set("recoveredWithinMs", f.quantity("recoveredWithin", TIME, { min: 0 }));
  set("minStallMs", f.quantity("minStall", TIME, { min: 0 }));
  set("maxStallMs", f.quantity("maxStall", TIME, { min: 0 }));
  set("minPressureFullMs", f.quantity("minPressureFull", TIME, { min: 0 }));
  set("maxPressureFullMs", f.quantity("maxPressureFull", TIME, { min: 0 }));
  set("firstKillByMs", f.quantity("firstKillBy", TIME, { min: 0 }));
  set("firstKillAfterMs", f.quantity("firstKillAfter", TIME, { min: 0 }));
  const killedNode = f.get("killed");
  if (killedNode !== undefined) {
    const killed = f.d.stringList(killedNode, f.at("killed"));
    killed?.forEach((t, i) => {
      if (!known.tasks.has(t)) f.d.report(killedNode, joinPath(f.at("killed"), i), `unknown task ${quoted(t)}${suggest(t, [...known.tasks.keys()])}`);
    });
    set("killed", killed);
  }
  for (const key of ["minAllocFailures", "maxAllocFailures"] as const) {
    const node = f.get(key);
    if (node === undefined) continue;
    const m = f.d.map(node, f.at(key));
    if (!m) continue;
    const counts: PolicyResult["allocFailures"] = {};
    for (const ctx of FAILURE_KEYS) {
      const v = m.number(ctx, count);
      if (v !== undefined) counts[ctx] = v;
    }
    m.done();
    set(key, counts);
  }
  if (e.minKilled !== undefined && e.maxKilled !== undefined && e.minKilled > e.maxKilled) {
    f.d.report(f.lineNode("minKilled"), f.at("minKilled"), `is more than maxKilled (${e.maxKilled})`);
  }
  return e;
}
