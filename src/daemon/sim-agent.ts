// oomwarden as a user-space agent inside the simulator: the same Engine as the daemon, over the
// simulator's Host adapter, managing the cgroups the scenario's policy names.

import { DEFAULT_ENGINE_OPTIONS, MIN_OBSERVE_INTERVAL_MS, type EngineOptions } from "../engine/engine-options.js";
import { Engine } from "../engine/engine.js";
import type { JournalRecord } from "../engine/journal-record.js";
import { SimHost } from "../host/sim/sim-host.js";
import type { UserspaceSpec } from "../sim/scenario.js";
import type { UserspaceAgent, UserspaceApi } from "../sim/userspace-api.js";

type OomwardenSpec = Extract<UserspaceSpec, { kind: "oomwarden" }>;

/** Engine options a scenario may set (the numeric and boolean ones of the daemon config). */
const SETTABLE: (keyof EngineOptions)[] = ["dryRun", "journalCandidates", "observeIntervalMs", "maxObservationsWithoutProgress", "minProgressBytes"];

export function engineOptionsFrom(options: Record<string, unknown>): Partial<EngineOptions> {
  const picked: Partial<Record<keyof EngineOptions, unknown>> = {};
  for (const key of SETTABLE) {
    const value = options[key];
    if (value !== undefined && typeof value === typeof DEFAULT_ENGINE_OPTIONS[key]) picked[key] = value;
  }
  // Below a millisecond virtual time would not advance between observations: escalation at once.
  if (typeof picked.observeIntervalMs === "number" && !(picked.observeIntervalMs >= MIN_OBSERVE_INTERVAL_MS)) {
    throw new Error(`oomwarden option observeIntervalMs must be at least ${MIN_OBSERVE_INTERVAL_MS} ms, got ${picked.observeIntervalMs}`);
  }
  return picked as Partial<EngineOptions>;
}

export function oomwardenAgentFactory(
  spec: OomwardenSpec,
  onRecord: (record: JournalRecord) => void = () => {},
): (api: UserspaceApi) => UserspaceAgent {
  return (api) => {
    const engine = new Engine(new SimHost(api), { append: onRecord }, engineOptionsFrom(spec.options));
    return {
      start(): void {
        for (const path of spec.managedCgroups) {
          const managed = engine.manage(path);
          if (!managed.ok) onRecord({ type: "error", cgroup: path, message: managed.error.message });
        }
      },
      stop(): void {
        engine.stop();
      },
    };
  };
}
