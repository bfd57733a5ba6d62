// oomwarden as a user-space agent inside the simulator: the same Engine as the daemon, over the
// simulator's Host adapter, guarding the machine and managing the cgroups the scenario's policy names.

import { DEFAULT_ENGINE_OPTIONS, type EngineOptions } from "../../engine/engine-options.js";
import { Engine } from "../../engine/engine.js";
import type { JournalRecord } from "../../engine/journal-record.js";
import { MACHINE_SCOPE } from "../../engine/machine-guard.js";
import { applyTunables } from "../../engine/tunables.js";
import { SimHost } from "./sim-host.js";
import type { UserspaceSpec } from "../../sim/scenario.js";
import type { UserspaceAgent, UserspaceApi } from "../../sim/userspace-api.js";

type OomwardenSpec = Extract<UserspaceSpec, { kind: "oomwarden" }>;

/**
 * The engine options of a scenario's oomwarden policy: the daemon's defaults with the policy's
 * `options` applied (same keys and checks as the config file). The scenario parser has checked
 * them already, with their lines; a refusal here is a caller that built options by hand.
 */
export function engineOptionsFrom(options: Record<string, unknown>): EngineOptions {
  const applied = applyTunables(DEFAULT_ENGINE_OPTIONS, options);
  if (!applied.ok) throw new Error(applied.message);
  return applied.options;
}

export function oomwardenAgentFactory(
  spec: OomwardenSpec,
  onRecord: (record: JournalRecord) => void = () => {},
): (api: UserspaceApi) => UserspaceAgent {
  return (api) => {
    const options = engineOptionsFrom(spec.options);
    const engine = new Engine(new SimHost(api), { append: onRecord }, options);
    return {
      start(): void {
        // "/" names the whole machine: the machine guard's scope (the root cgroup's killer cannot be taken over).
        if (options.machineGuard.enabled) engine.guardMachine();
        for (const path of spec.managedCgroups) {
          if (path === MACHINE_SCOPE) continue;
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
