// The random workloads of the invariants test with a memory.high on their v2 cgroups: pages are
// still conserved and killed tasks never allocate again, a thread sleeping its penalty is never
// served and never has SIGKILL pending, and the work estimate still bounds the events.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { simulateSync } from "../../../src/sim/kernel/simulate.js";
import type { Kernel } from "../../../src/sim/kernel/kernel.js";
import { estimateRunWork } from "../../../src/sim/scenario-file/work.js";
import type { PolicySpec, Scenario } from "../../../src/sim/scenario.js";
import { checkMemory, KilledTaskWatch } from "./kernel-invariants.js";
import { isPlacementError, workloadArb } from "./random-workload.js";

/** Each v2 cgroup gets a high: a share of its limit, or a fixed size where it has none. */
const withHighsArb: fc.Arbitrary<{ scenario: Scenario; policy: PolicySpec }> = fc
  .tuple(workloadArb, fc.array(fc.constantFrom(0.1, 0.5, 0.9, 1.5), { minLength: 3, maxLength: 3 }), fc.constantFrom(20, 200, 2000))
  .map(([{ scenario, policy }, shares, sizePages]) => ({
    policy,
    scenario: {
      ...scenario,
      cgroups: scenario.cgroups.map((c, i) => (c.version === 2 ? { ...c, highPages: Math.max(1, Math.floor((c.limitPages ?? sizePages) * (shares[i] ?? 1))) } : c)),
    },
  }));

describe("simulator invariants with memory.high (fast-check)", () => {
  it("conserve pages, never serve a sleeping thread, and stay within the work estimate", () => {
    let throttledSeen = 0;
    fc.assert(
      fc.property(withHighsArb, ({ scenario, policy }) => {
        const watch = new KilledTaskWatch();
        let run;
        try {
          run = simulateSync(scenario, policy, {
            observe: (k: Kernel) => {
              checkMemory(k);
              watch.check(k);
              for (const t of k.threads) {
                if (t.state !== "throttled") continue;
                throttledSeen++;
                assert.ok(!k.allocThreads.has(t), `${t.name} is served while it sleeps its penalty`);
                assert.ok(t.alloc !== null, "it sleeps inside its allocation");
                assert.ok(!t.task.fatalSignal, "SIGKILL ends the sleep, and a killed task never starts one");
              }
              for (const m of k.memcgs.values()) {
                if (m.version === 1) assert.equal(m.highPages, null, "v1 has no memory.high");
              }
            },
          });
        } catch (e) {
          if (isPlacementError(e)) return fc.pre(false);
          throw e;
        }
        const bound = estimateRunWork(scenario, policy).events;
        assert.ok(run.simulatedEvents <= bound, `${run.simulatedEvents} events, estimated at most ${bound}`);
        return true;
      }),
      { numRuns: 200, seed: 20260428 },
    );
    assert.ok(throttledSeen > 0, "some workloads were throttled");
  });
});
