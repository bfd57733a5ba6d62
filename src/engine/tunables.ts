// Where each flat tunable key (src/core/tunable-keys.ts: names, checks, the rule across keys) lives
// in the engine's options, and applying a set of checked values onto a copy of them.

import { checkTunable, crossKeyProblem, isTunableName, type TunableName } from "../core/tunable-keys.js";
import { quoted } from "../core/shown-text.js";
import { copyEngineOptions, type EngineOptions, type MachineGuardOptions, type SoftLimitOptions } from "./engine-options.js";

interface TunableField {
  read: (options: EngineOptions) => unknown;
  write: (options: EngineOptions, value: unknown) => void;
}

function topLevel<K extends keyof EngineOptions>(key: K): TunableField {
  return {
    read: (o) => o[key],
    write: (o, v) => {
      o[key] = v as EngineOptions[K];
    },
  };
}

function inMachineGuard<K extends keyof MachineGuardOptions>(key: K): TunableField {
  return {
    read: (o) => o.machineGuard[key],
    write: (o, v) => {
      o.machineGuard[key] = v as MachineGuardOptions[K];
    },
  };
}

function inSoftLimit<K extends keyof SoftLimitOptions>(key: K): TunableField {
  return {
    read: (o) => o.softLimit[key],
    write: (o, v) => {
      o.softLimit[key] = v as SoftLimitOptions[K];
    },
  };
}

/** Every key of the table has a place: the Record type makes a missing one a compile error. */
const FIELDS: Readonly<Record<TunableName, TunableField>> = {
  dryRun: topLevel("dryRun"),
  journalCandidates: topLevel("journalCandidates"),
  observeIntervalMs: topLevel("observeIntervalMs"),
  maxObservationsWithoutProgress: topLevel("maxObservationsWithoutProgress"),
  minProgressBytes: topLevel("minProgressBytes"),
  guardBandPct: topLevel("guardBandPct"),
  machineGuard: inMachineGuard("enabled"),
  warnAvailablePct: inMachineGuard("warnAvailablePct"),
  warnSwapFreePct: inMachineGuard("warnSwapFreePct"),
  terminateAvailablePct: inMachineGuard("terminateAvailablePct"),
  terminateSwapFreePct: inMachineGuard("terminateSwapFreePct"),
  terminateGraceMs: inMachineGuard("terminateGraceMs"),
  lowAvailablePct: inMachineGuard("lowAvailablePct"),
  lowSwapFreePct: inMachineGuard("lowSwapFreePct"),
  criticalAvailablePct: inMachineGuard("criticalAvailablePct"),
  starvationWindowMs: inMachineGuard("starvationWindowMs"),
  starvationKillIntervalMs: inMachineGuard("starvationKillIntervalMs"),
  psiFullPct: inMachineGuard("psiFullPct"),
  psiWindowMs: inMachineGuard("psiWindowMs"),
  machineSampleIntervalMs: inMachineGuard("sampleIntervalMs"),
  softLimit: inSoftLimit("enabled"),
  softLimitHeadroomPct: inSoftLimit("headroomPct"),
  softLimitGraceMs: inSoftLimit("graceMs"),
  softLimitIntervalMs: inSoftLimit("intervalMs"),
};

/** A tunable's value in the options (for tests and tools that show the options in effect). */
export function readTunable(options: EngineOptions, name: TunableName): unknown {
  return FIELDS[name].read(options);
}

export type TunablesResult =
  | { ok: true; options: EngineOptions }
  /** `keys`: the keys concerned (one, or the two a rule across keys relates), for the caller to give a line. */
  | { ok: false; keys: readonly string[]; message: string };

/**
 * Checks flat values (a key to its value) and applies them onto a copy of the options; then the
 * rule across keys over the result. Unknown keys and values that fail their check are refused.
 */
export function applyTunables(base: EngineOptions, values: ReadonlyMap<string, unknown> | Readonly<Record<string, unknown>>): TunablesResult {
  const options = copyEngineOptions(base);
  const entries = values instanceof Map ? [...values.entries()] : Object.entries(values);
  for (const [key, value] of entries) {
    if (!isTunableName(key)) return { ok: false, keys: [key], message: `unknown oomwarden option ${quoted(key)}` };
    const checked = checkTunable(key, value);
    if (!checked.ok) return { ok: false, keys: [key], message: `oomwarden option ${key} must be ${checked.expected}, got ${shownValue(value)}` };
    FIELDS[key].write(options, value);
  }
  const problem = crossKeyProblem((name) => FIELDS[name].read(options) as number);
  if (problem !== null) return { ok: false, keys: problem.keys, message: problem.message };
  return { ok: true, options };
}

function shownValue(value: unknown): string {
  if (typeof value === "string") return quoted(value);
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") return String(value);
  if (value === null || value === undefined) return "nothing";
  return Array.isArray(value) ? "a list" : "an object";
}
