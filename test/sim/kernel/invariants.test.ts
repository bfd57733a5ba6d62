// Properties over random small workloads: pages are conserved, nothing goes negative, a killed
// task never starts another allocation, every kill is in the event log.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import type { Kernel } from "../../../src/sim/kernel/kernel.js";
import { simulateSync } from "../../../src/sim/kernel/simulate.js";
import { checkMemory, KilledTaskWatch } from "./kernel-invariants.js";
import { isPlacementError, workloadArb } from "./random-workload.js";

describe("simulator invariants (fast-check)", () => {
  it("conserves pages, never goes negative, killed tasks never allocate again, every kill is logged", () => {
    fc.assert(
      fc.property(workloadArb, ({ scenario, policy }) => {
        const watch = new KilledTaskWatch();
        let kernel: Kernel | null = null;
        let run;
        try {
          run = simulateSync(scenario, policy, {
            observe: (k) => {
              kernel = k;
              checkMemory(k);
              watch.check(k);
            },
          });
        } catch (e) {
          if (isPlacementError(e)) return fc.pre(false);
          throw e;
        }
        if (kernel !== null) checkMemory(kernel);
        const killEvents = run.events.filter((e) => e.kind === "kill" || e.kind === "userspace-kill").map((e) => e.subject);
        for (const name of run.result.killed) assert.ok(killEvents.includes(name), `kill of ${name} missing from the events`);
        assert.deepEqual([...new Set(killEvents)].sort(), [...new Set(run.result.killed)].sort(), "every kill event is a kill in the result");
        assert.equal(run.result.innocentKilled, run.result.killed.filter((n) => scenario.tasks.find((t) => t.name === n)?.innocent).length);
        for (const [a, b] of run.events.slice(1).map((e, i) => [run.events[i], e] as const)) assert.ok((a?.tMs ?? 0) <= b.tMs, "events in time order");
        assert.ok(run.result.maxStallMs >= 0 && run.result.maxStallMs <= scenario.durationMs);
        return true;
      }),
      { numRuns: 300, seed: 20260101 },
    );
  });
});
