// Run one scenario under one policy. Async only so that a user-space agent driven by promises
// (oomwarden's engine over src/host/sim) can run inside the virtual time: after each virtual
// instant its microtasks are settled, deterministically. Without an agent nothing is awaited.

import type { PolicySpec, Scenario, SimulationRun } from "../scenario.js";
import type { UserspaceAgent, UserspaceApi } from "../userspace-api.js";
import { SimUserspaceApi } from "./api.js";
import { Kernel, type KernelOptions } from "./kernel.js";
import { buildRun } from "./results.js";

/** Microtask turns granted to the agent after each instant: enough for a few promise hops (reap → then → journal). */
const AGENT_SETTLE_TURNS = 20;

export interface SimulateOptions extends KernelOptions {
  agent?: (api: UserspaceApi) => UserspaceAgent;
  /** Called after every virtual instant with the kernel (tests check invariants with it). */
  observe?: (kernel: Kernel) => void;
}

export async function simulate(scenario: Scenario, policy: PolicySpec, options: SimulateOptions = {}): Promise<SimulationRun> {
  if (policy.userspace.kind === "oomwarden" && options.agent === undefined) {
    throw new Error(`policy ${policy.name}: user space "oomwarden" needs an agent (pass options.agent)`);
  }
  const kernel = new Kernel(scenario, policy, options);
  const observe = options.observe;
  if (options.agent === undefined) {
    while (kernel.stepInstant()) observe?.(kernel);
    kernel.finish();
    return buildRun(kernel);
  }
  const api = new SimUserspaceApi(kernel);
  const agent = options.agent(api);
  agent.start();
  await settle();
  try {
    while (kernel.stepInstant()) {
      await settle();
      observe?.(kernel);
    }
  } finally {
    agent.stop();
    api.cancelAll();
  }
  kernel.finish();
  return buildRun(kernel);
}

/** Synchronous run without an agent (benchmarks and property tests). */
export function simulateSync(scenario: Scenario, policy: PolicySpec, options: Omit<SimulateOptions, "agent"> = {}): SimulationRun {
  if (policy.userspace.kind === "oomwarden") throw new Error(`policy ${policy.name}: user space "oomwarden" needs simulate() with an agent`);
  const kernel = new Kernel(scenario, policy, options);
  while (kernel.stepInstant()) options.observe?.(kernel);
  kernel.finish();
  return buildRun(kernel);
}

async function settle(): Promise<void> {
  for (let i = 0; i < AGENT_SETTLE_TURNS; i++) await Promise.resolve();
}
