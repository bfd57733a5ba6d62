// The `policies` section: built-in names, built-ins with overrides (`base`, proposal parameters,
// user-space side), and custom policies (`name`, `kernel`, `proposals`, `userspace`).
// Left out, the scenario compares DEFAULT_POLICY_NAMES.

import { isScalar, type Node } from "yaml";
import type { KernelProposal, KernelVersion, PolicySpec, UserspaceSpec } from "../scenario.js";
import { builtin, BUILTIN_POLICIES, DEFAULT_POLICY_NAMES, fromBuiltin, PROPOSAL_PARAMS, unknownPolicy } from "./builtin-policies.js";
import { readCgroupRefs } from "./cgroups.js";
import type { Diagnostics, NumberRule } from "./diagnostics.js";
import type { Fields } from "./fields.js";
import type { Known } from "./known.js";
import { joinPath, quoted, shownName } from "./messages.js";
import { TIME } from "./units.js";
import { readHandler, readOomwardenOptions, readUserspace } from "./userspace.js";

export function readPolicies(top: Fields, known: Known): PolicySpec[] {
  const d = top.d;
  const node = top.get("policies");
  const entries: Node[] | null = node === undefined ? null : d.list(node, "policies");
  const policies: PolicySpec[] = [];
  const seen = new Set<string>();
  const add = (policy: PolicySpec | null, at: Node | null | undefined, path: string): void => {
    if (!policy) return;
    if (seen.has(policy.name)) {
      d.report(at, path, `policy ${quoted(policy.name)} is listed twice (give the second one its own name and base: ${shownName(policy.name)})`);
      return;
    }
    seen.add(policy.name);
    policies.push(policy);
  };
  if (entries === null) {
    if (node === undefined) for (const name of DEFAULT_POLICY_NAMES) add(fromBuiltin(builtin(name)!, known.cgroups.values()), top.node, "policies");
    return policies;
  }
  if (entries.length === 0) d.report(node, "policies", "list at least one policy");
  entries.forEach((entry, i) => {
    const path = `policies[${i}]`;
    if (isScalar(entry) && typeof entry.value === "string") {
      const b = builtin(entry.value);
      if (!b) d.report(entry, path, unknownPolicy(entry.value));
      else add(fromBuiltin(b, known.cgroups.values()), entry, path);
      return;
    }
    const f = d.map(entry, path);
    if (!f) return;
    add(readPolicyMapping(f, known), f.lineNode("name"), f.at("name"));
    f.done();
  });
  return policies;
}

/**
 * A policy written as a mapping: a built-in with overrides (`name` a built-in, or `base`), or a
 * custom policy (`name` and `kernel`, optional `proposals` and `userspace`).
 */
function readPolicyMapping(f: Fields, known: Known): PolicySpec | null {
  const d = f.d;
  const name = f.requiredString("name");
  const baseName = f.string("base");
  const version = readKernelVersion(f);
  const base = builtin(baseName ?? name ?? "");
  if (baseName !== undefined && !base) d.report(f.lineNode("base"), f.at("base"), unknownPolicy(baseName));
  if (name !== undefined && /\s/.test(name)) d.report(f.lineNode("name"), f.at("name"), "policy names have no spaces (they are typed after --policy)");

  // Parameters of the base's proposal, e.g. timeoutMs for proposal-victim-timeout.
  let paramMs: number | undefined;
  for (const param of PROPOSAL_PARAMS) {
    const v = f.quantity(param, TIME, proposalParamRule(param));
    if (v === undefined) continue;
    const p = base?.proposal;
    if (p && "param" in p && p.param === param) paramMs = v;
    else {
      const owner = BUILTIN_POLICIES.find((b) => b.proposal && "param" in b.proposal && b.proposal.param === param)!;
      const at = f.spelled(param, TIME);
      d.report(at.node, at.path, `applies only to ${owner.name} (or a policy with base: ${owner.name})`);
    }
  }

  const proposalsNode = f.get("proposals");
  const userspaceNode = f.get("userspace");
  const handlerNode = f.get("handler");
  const managedNode = f.get("managedCgroups");
  const optionsNode = f.get("options");

  if (!base && baseName === undefined && name !== undefined && version === undefined && !f.has("kernel")) {
    d.report(f.node, f.path, `${quoted(name)} is not a built-in policy: a custom policy needs kernel: 2018 or kernel: today (built-in policies: ${BUILTIN_POLICIES.map((b) => b.name).join(", ")})`);
  }
  const spec = base ? fromBuiltin(base, known.cgroups.values(), paramMs) : { name: name ?? "", kernel: { version: version ?? "today", proposals: [] }, userspace: { kind: "none" } as UserspaceSpec };
  if (name !== undefined) spec.name = name;
  if (version !== undefined) spec.kernel.version = version;
  if (proposalsNode !== undefined) spec.kernel.proposals = readProposals(d, proposalsNode, f.at("proposals"));

  const shorthandCount = [userspaceNode, handlerNode].filter((n) => n !== undefined).length + (managedNode !== undefined || optionsNode !== undefined ? 1 : 0);
  if (shorthandCount > 1) d.report(f.node, f.path, "give the user-space side once: userspace, handler, or managedCgroups/options");
  if (userspaceNode !== undefined) {
    const u = readUserspace(d, userspaceNode, f.at("userspace"), known);
    if (u) spec.userspace = u;
  } else if (handlerNode !== undefined) {
    const h = d.map(handlerNode, f.at("handler"));
    if (h) {
      const u = readHandler(h, known);
      h.done();
      if (u) spec.userspace = u;
    }
  } else if (managedNode !== undefined || optionsNode !== undefined) {
    if (spec.userspace.kind !== "oomwarden") {
      d.report(f.lineNode(managedNode !== undefined ? "managedCgroups" : "options"), f.path, "managedCgroups and options apply to oomwarden policies only (base: kernel-today+oomwarden, or userspace: {kind: oomwarden})");
    } else {
      if (managedNode !== undefined) {
        const cgroups = readCgroupRefs(d, managedNode, f.at("managedCgroups"), known, true);
        if (cgroups) spec.userspace.managedCgroups = cgroups;
      }
      if (optionsNode !== undefined) spec.userspace.options = readOomwardenOptions(d, optionsNode, f.at("options"), known);
    }
  }
  return name === undefined ? null : spec;
}

/**
 * A proposal's time parameter: >= 0 ms, and the overcharge reconcile > 0, because it repeats while
 * the memcg stays over its limit: at 0 ms it would repeat at one instant for ever.
 */
function proposalParamRule(param: (typeof PROPOSAL_PARAMS)[number]): NumberRule {
  return param === "reconcile" ? { min: 0, above: true } : { min: 0 };
}

function readKernelVersion(f: Fields): KernelVersion | undefined {
  const node = f.get("kernel");
  if (node === undefined) return undefined;
  const v = f.d.oneOf(node, f.at("kernel"), ["2018", "today"] as const);
  return v;
}

function readProposals(d: Diagnostics, node: Node | null, path: string): KernelProposal[] {
  const items = d.list(node, path);
  if (!items) return [];
  const out: KernelProposal[] = [];
  items.forEach((item, i) => {
    const f = d.map(item, joinPath(path, i));
    if (!f) return;
    const kind = f.oneOf("kind", ["victim-timeout", "victim-reserves", "overcharge-reconcile", "kill-below-half-min", "oom-delay"] as const);
    if (!f.has("kind")) f.missing('"kind"');
    const withParam = (param: (typeof PROPOSAL_PARAMS)[number]): number | undefined => f.requiredQuantity(param, TIME, proposalParamRule(param));
    if (kind === "victim-timeout") {
      const timeoutMs = withParam("timeout");
      if (timeoutMs !== undefined) out.push({ kind, timeoutMs });
    } else if (kind === "overcharge-reconcile") {
      const reconcileMs = withParam("reconcile");
      if (reconcileMs !== undefined) out.push({ kind, reconcileMs });
    } else if (kind === "oom-delay") {
      const delayMs = withParam("delay");
      if (delayMs !== undefined) out.push({ kind, delayMs });
    } else if (kind !== undefined) out.push({ kind });
    f.done();
  });
  return out;
}
