// The run's outcome as the CLI, the tests and the benchmark read it.

import type { PolicyResult, SimulationRun } from "../scenario.js";
import type { Kernel } from "./kernel.js";

export function buildRun(k: Kernel): SimulationRun {
  const { maxStallMs, livelock } = k.stats.finish(k.nowMs, k.threads, k.scenario.durationMs);
  const allocFailures: PolicyResult["allocFailures"] = {};
  for (const key of Object.keys(k.stats.allocFailures).sort() as (keyof PolicyResult["allocFailures"])[]) {
    allocFailures[key] = k.stats.allocFailures[key];
  }
  const result: PolicyResult = {
    policy: k.policy.name,
    killed: k.killOrder.map((t) => t.name),
    innocentKilled: k.killOrder.filter((t) => t.innocent).length,
    recoveredMs: k.panicked ? null : k.stats.recoveredMs(),
    allocFailures,
    maxStallMs,
    pressureFullMs: Math.round(k.stats.pressureTotalsUs(k.nowMs).fullUs / 1000),
    livelock: !k.panicked && livelock,
    panic: k.panicked,
  };
  return { result, events: k.events, samples: k.samples, simulatedEvents: k.simulatedEvents };
}
