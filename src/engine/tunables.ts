// The engine's tunables as flat keys, shared by the daemon's config file and the simulator's
// oomwarden policies (scenario `options`), so both accept the same names with the same checks.

import { copyEngineOptions, MIN_OBSERVE_INTERVAL_MS, type EngineOptions } from "./engine-options.js";

export type TunableKind = "boolean" | "ms>=1" | "positive-integer" | "integer>=0" | "percent";

export interface Tunable {
  kind: TunableKind;
  help: string;
  apply: (options: EngineOptions, value: unknown) => void;
}

const n = (v: unknown): number => v as number;

export const TUNABLES: Record<string, Tunable> = {
  dryRun: { kind: "boolean", help: "journal decisions, kill nothing", apply: (o, v) => (o.dryRun = v as boolean) },
  journalCandidates: { kind: "positive-integer", help: "top candidates listed per decision", apply: (o, v) => (o.journalCandidates = n(v)) },
  observeIntervalMs: { kind: "ms>=1", help: "interval between progress observations of a victim", apply: (o, v) => (o.observeIntervalMs = n(v)) },
  maxObservationsWithoutProgress: {
    kind: "positive-integer",
    help: "observations without progress before the next victim",
    apply: (o, v) => (o.maxObservationsWithoutProgress = n(v)),
  },
  minProgressBytes: { kind: "integer>=0", help: "memory decrease that counts as progress", apply: (o, v) => (o.minProgressBytes = n(v)) },
  machineGuard: { kind: "boolean", help: "guard the whole machine (low memory, watermark starvation, PSI)", apply: (o, v) => (o.machineGuard.enabled = v as boolean) },
  lowAvailablePct: { kind: "percent", help: "machine: kill below this % of RAM available (0: off)", apply: (o, v) => (o.machineGuard.lowAvailablePct = n(v)) },
  lowSwapFreePct: { kind: "percent", help: "machine: ... and below this % of swap free", apply: (o, v) => (o.machineGuard.lowSwapFreePct = n(v)) },
  criticalAvailablePct: {
    kind: "percent",
    help: "machine: a second victim while the first is alive only below this % available",
    apply: (o, v) => (o.machineGuard.criticalAvailablePct = n(v)),
  },
  starvationWindowMs: {
    kind: "integer>=0",
    help: "machine: free below the min watermark this long, reclaim running, is starvation (0: off)",
    apply: (o, v) => (o.machineGuard.starvationWindowMs = n(v)),
  },
  starvationKillIntervalMs: {
    kind: "integer>=0",
    help: "machine: at most one starvation kill per this interval",
    apply: (o, v) => (o.machineGuard.starvationKillIntervalMs = n(v)),
  },
  psiFullPct: { kind: "percent", help: "machine: PSI memory full share of the window that is pressure (0: off)", apply: (o, v) => (o.machineGuard.psiFullPct = n(v)) },
  psiWindowMs: { kind: "ms>=1", help: "machine: PSI window", apply: (o, v) => (o.machineGuard.psiWindowMs = n(v)) },
  machineSampleIntervalMs: {
    kind: "ms>=1",
    help: "machine: sample interval near a threshold (1 s otherwise)",
    apply: (o, v) => (o.machineGuard.sampleIntervalMs = n(v)),
  },
  softLimit: {
    kind: "boolean",
    help: "soft-limit mode for the managed cgroups: raise the hard limit, enforce the old one (seed 002)",
    apply: (o, v) => (o.softLimit.enabled = v as boolean),
  },
  softLimitHeadroomPct: { kind: "percent", help: "soft-limit: headroom above the logical limit, % of it", apply: (o, v) => (o.softLimit.headroomPct = n(v)) },
  softLimitGraceMs: { kind: "integer>=0", help: "soft-limit: time above the logical limit before a victim", apply: (o, v) => (o.softLimit.graceMs = n(v)) },
  softLimitIntervalMs: { kind: "ms>=1", help: "soft-limit: usage check interval", apply: (o, v) => (o.softLimit.intervalMs = n(v)) },
};

/** Whether a value passes its tunable's check; the message says what was expected. */
export function checkTunable(kind: TunableKind, v: unknown): { ok: true } | { ok: false; expected: string } {
  const isNumber = typeof v === "number" && Number.isFinite(v);
  switch (kind) {
    case "boolean":
      return typeof v === "boolean" ? { ok: true } : { ok: false, expected: "true or false" };
    case "ms>=1":
      return isNumber && v >= MIN_OBSERVE_INTERVAL_MS ? { ok: true } : { ok: false, expected: `a number of ms >= ${MIN_OBSERVE_INTERVAL_MS}` };
    case "positive-integer":
      return isNumber && Number.isInteger(v) && v > 0 ? { ok: true } : { ok: false, expected: "a positive integer" };
    case "integer>=0":
      return isNumber && Number.isInteger(v) && v >= 0 ? { ok: true } : { ok: false, expected: "an integer >= 0" };
    case "percent":
      return isNumber && v >= 0 && v <= 100 ? { ok: true } : { ok: false, expected: "a percentage from 0 to 100" };
  }
}

/** Applies already-checked flat values onto a copy of the options. */
export function applyTunables(base: EngineOptions, values: Record<string, unknown>): EngineOptions {
  const options = copyEngineOptions(base);
  for (const [key, value] of Object.entries(values)) {
    const tunable = TUNABLES[key];
    if (tunable === undefined) throw new Error(`unknown oomwarden option "${key}"`);
    const checked = checkTunable(tunable.kind, value);
    if (!checked.ok) throw new Error(`oomwarden option ${key} must be ${checked.expected}, got ${JSON.stringify(value)}`);
    tunable.apply(options, value);
  }
  const crossed = crossCheck(options);
  if (crossed !== null) throw new Error(`oomwarden options: ${crossed}`);
  return options;
}

/** Checks across keys; the message names both. Critical above low would allow a kill after every kill. */
export function crossCheck(options: EngineOptions): string | null {
  const guard = options.machineGuard;
  if (guard.lowAvailablePct > 0 && guard.criticalAvailablePct > guard.lowAvailablePct) {
    return `criticalAvailablePct (${guard.criticalAvailablePct}) must not be above lowAvailablePct (${guard.lowAvailablePct})`;
  }
  return null;
}
