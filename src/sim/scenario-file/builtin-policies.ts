// The built-in policies a scenario compares (`policies: [kernel-2018, proposal-oom-delay]`, or
// `--policy NAME`) and the default list. The oomwarden engine options a policy may set are the
// daemon config's tunables (src/core/tunable-keys.ts).

import type { CgroupSpec, KernelProposal, KernelVersion, PolicySpec, UserspaceSpec } from "../scenario.js";
import { quoted, suggest } from "./messages.js";

/** The policies a file compares when it lists none. */
export const DEFAULT_POLICY_NAMES = ["kernel-2018", "kernel-today", "kernel-today+oomwarden"];

export interface BuiltinPolicy {
  name: string;
  summary: string;
  version: KernelVersion;
  userspace: "none" | "oomwarden";
  proposal?:
    | { kind: "victim-timeout"; param: "timeout"; defaultMs: number }
    | { kind: "overcharge-reconcile"; param: "reconcile"; defaultMs: number }
    | { kind: "oom-delay"; param: "delay"; defaultMs: number }
    | { kind: "victim-reserves" | "kill-below-half-min" };
}

/** The keys (with a time unit: `timeoutMs`, `delayS`) that set a proposal's parameter. */
export const PROPOSAL_PARAMS = ["timeout", "reconcile", "delay"] as const;

// The proposals are applied to the 2018 kernel by default: they were made against kernels of
// 2013-2020 and 2018 is the oldest we model. `kernel: today` applies one to today's kernel.
export const BUILTIN_POLICIES: readonly BuiltinPolicy[] = [
  { name: "kernel-2018", summary: "2018 kernel: reaper at once, 10 x 100 ms, skips mlocked memory", version: "2018", userspace: "none" },
  { name: "kernel-today", summary: "today's kernel: reaper after 2 s, 10 tries, reaps mlocked memory", version: "today", userspace: "none" },
  {
    name: "kernel-today+oomwarden",
    summary: "today's kernel + oomwarden guarding the machine and managing the limited cgroups",
    version: "today",
    userspace: "oomwarden",
  },
  {
    name: "proposal-victim-timeout",
    summary: "000: a victim blocks new kills for timeoutMs (10 s)",
    version: "2018",
    userspace: "none",
    // Long enough for a victim behind queued mmap_sem readers to reach exit_mmap, short enough
    // that a truly stuck victim does not hold the machine for minutes.
    proposal: { kind: "victim-timeout", param: "timeout", defaultMs: 10_000 },
  },
  {
    name: "proposal-victim-reserves",
    summary: "001: the OOM victim may use reserves, also in NOFAIL loops",
    version: "2018",
    userspace: "none",
    proposal: { kind: "victim-reserves" },
  },
  {
    name: "proposal-overcharge",
    summary: "002: memcg overcharge, reconciled after reconcileMs (10 ms)",
    version: "2018",
    userspace: "none",
    // The thread reconciles in mem_cgroup_oom_synchronize() on return to user space: about a tick.
    proposal: { kind: "overcharge-reconcile", param: "reconcile", defaultMs: 10 },
  },
  {
    name: "proposal-kill-below-half-min",
    summary: "003: OOM-kill instead of looping while free < min/2",
    version: "2018",
    userspace: "none",
    proposal: { kind: "kill-below-half-min" },
  },
  {
    name: "proposal-oom-delay",
    summary: "004: memcg OOM waits delayMs (1 s) for a user handler",
    version: "2018",
    userspace: "none",
    // An example value: the patch left it to the administrator (0 = no delay).
    proposal: { kind: "oom-delay", param: "delay", defaultMs: 1000 },
  },
];

export function builtin(name: string): BuiltinPolicy | undefined {
  return BUILTIN_POLICIES.find((b) => b.name === name);
}

export function unknownPolicy(name: string): string {
  const names = BUILTIN_POLICIES.map((b) => b.name);
  return `unknown policy ${quoted(name)}${suggest(name, names)}; built-in policies: ${names.join(", ")} (a custom policy is a mapping with name and kernel)`;
}

/** Managed by the oomwarden policies when not said: the limited cgroups, or the whole machine. */
export function defaultManagedCgroups(cgroups: Iterable<CgroupSpec>): string[] {
  const limited = [...cgroups].filter((c) => c.limitPages !== null).map((c) => c.path);
  return limited.length > 0 ? limited : ["/"];
}

/** A built-in policy with its defaults for a scenario's cgroups (for `--policy NAME` not in the file); null if unknown. */
export function builtinPolicySpec(name: string, cgroups: CgroupSpec[]): PolicySpec | null {
  const b = builtin(name);
  return b ? fromBuiltin(b, cgroups) : null;
}

/** The PolicySpec of a built-in policy; `paramMs` overrides its proposal's parameter. */
export function fromBuiltin(b: BuiltinPolicy, cgroups: Iterable<CgroupSpec>, paramMs?: number): PolicySpec {
  const proposals: KernelProposal[] = [];
  const p = b.proposal;
  if (p) {
    if (p.kind === "victim-timeout") proposals.push({ kind: p.kind, timeoutMs: paramMs ?? p.defaultMs });
    else if (p.kind === "overcharge-reconcile") proposals.push({ kind: p.kind, reconcileMs: paramMs ?? p.defaultMs });
    else if (p.kind === "oom-delay") proposals.push({ kind: p.kind, delayMs: paramMs ?? p.defaultMs });
    else proposals.push({ kind: p.kind });
  }
  const userspace: UserspaceSpec = b.userspace === "oomwarden" ? { kind: "oomwarden", managedCgroups: defaultManagedCgroups(cgroups), options: {} } : { kind: "none" };
  return { name: b.name, kernel: { version: b.version, proposals }, userspace };
}
