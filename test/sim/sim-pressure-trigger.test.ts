// The simulator's machine PSI trigger, in virtual time over a scripted PSI total: it fires when the
// stall time grew by the trigger's stall within a window, at most once per window, stops when
// unwatched; and through SimHost over a real simulation whose memory runs out.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { SimHost } from "../../src/host/sim/sim-host.js";
import { clampTrigger, watchSimPressure } from "../../src/host/sim/sim-pressure-trigger.js";
import { simulate } from "../../src/sim/kernel/simulate.js";
import { builtinPolicySpec, parseScenario } from "../../src/sim/scenario-file.js";
import { projectRoot } from "../fixtures/captured.js";
import type { UserspaceApi } from "../../src/sim/userspace-api.js";

/** Virtual time, timers, and a PSI "some" total that grows at stallPerMs µs per ms from stallFromMs on. */
function fakeApi(psiTotalUsAt: (ms: number) => number): UserspaceApi & { run(untilMs: number): void } {
  let nowMs = 0;
  let nextId = 1;
  const timers = new Map<number, { atMs: number; cb: () => void }>();
  const api = {
    nowMs: () => nowMs,
    setTimer(delayMs: number, cb: () => void): number {
      const id = nextId++;
      timers.set(id, { atMs: nowMs + delayMs, cb });
      return id;
    },
    clearTimer(id: number): void {
      timers.delete(id);
    },
    machine: () => ({ psiSomeTotalUs: psiTotalUsAt(nowMs) }),
    run(untilMs: number): void {
      for (;;) {
        const next = [...timers.entries()].sort((a, b) => a[1].atMs - b[1].atMs || a[0] - b[0])[0];
        if (next === undefined || next[1].atMs > untilMs) break;
        timers.delete(next[0]);
        nowMs = next[1].atMs;
        next[1].cb();
      }
      nowMs = untilMs;
    },
  };
  return api as unknown as UserspaceApi & { run(untilMs: number): void };
}

describe("watchSimPressure", () => {
  it("fires once the stall in the last window reaches the trigger's, and at most once per window", () => {
    // No stall for 3 s, then 20% of the time stalled (200 µs per ms).
    const api = fakeApi((ms) => Math.max(0, ms - 3000) * 200);
    const fired: number[] = [];
    const watch = watchSimPressure(api, { stallUs: 100_000, windowUs: 1_000_000 }, () => fired.push(api.nowMs()));
    assert.equal(watch.note, null, "the simulation's agent may use any window");
    api.run(3000);
    assert.deepEqual(fired, [], "no stall, no event");
    api.run(6000);
    // 100 ms of stall within a window takes 500 ms at 20%; seen at the next tenth of the window.
    assert.equal(fired[0], 3500);
    assert.deepEqual(fired, [3500, 4500, 5500], "then once per window while it lasts");
    watch.unwatch();
    api.run(9000);
    assert.equal(fired.length, 3, "nothing after unwatch");
  });
  it("stall spread thinner than the trigger asks never fires", () => {
    const api = fakeApi((ms) => ms * 50); // 5%: 50 ms per second
    let fired = 0;
    watchSimPressure(api, { stallUs: 100_000, windowUs: 1_000_000 }, () => fired++);
    api.run(10_000);
    assert.equal(fired, 0);
  });
  it("takes the window within the kernel's bounds, the stall within the window", () => {
    assert.deepEqual(clampTrigger({ stallUs: 10, windowUs: 100_000 }), { stallUs: 10, windowUs: 500_000 });
    assert.deepEqual(clampTrigger({ stallUs: 20_000_000, windowUs: 60_000_000 }), { stallUs: 10_000_000, windowUs: 10_000_000 });
  });
});

describe("SimHost.watchMachinePressure in a simulation that thrashes", () => {
  it("fires where the stall time of the last second first reaches 100 ms, and once a second at most after", async () => {
    const text = readFileSync(join(projectRoot(), "scenarios", "desktop-freeze.yaml"), "utf8");
    const parsed = parseScenario(text, "desktop-freeze.yaml");
    if (!parsed.ok) assert.fail(parsed.errors.join("\n"));
    const scenario = { ...parsed.scenario, durationMs: 200_000 };
    const spec = builtinPolicySpec("kernel-today", scenario.cgroups);
    assert.ok(spec);
    const events: number[] = [];
    const totals = new Map<number, number>();
    await simulate(scenario, spec, {
      agent: (api) => ({
        start() {
          const host = new SimHost(api);
          const watch = host.watchMachinePressure({ stallUs: 100_000, windowUs: 1_000_000 }, () => events.push(api.nowMs()));
          assert.ok(watch.ok && watch.value.note === null);
          const sample = (): void => {
            totals.set(api.nowMs(), api.machine().psiSomeTotalUs);
            api.setTimer(100, sample);
          };
          sample();
        },
        stop() {},
      }),
    });
    assert.ok(events.length > 0, "the desktop's stalls reach the trigger");
    const grewEnough = (ms: number): boolean => (totals.get(ms) ?? 0) - (totals.get(Math.max(0, ms - 1000)) ?? 0) >= 100_000;
    const firstMs = [...totals.keys()].sort((a, b) => a - b).find(grewEnough);
    assert.equal(events[0], firstMs, "the first event at the first look where the last window's stall reached 100 ms");
    for (let i = 1; i < events.length; i++) assert.ok((events[i] as number) - (events[i - 1] as number) >= 1000, `events ${events[i - 1]} and ${events[i]} less than a window apart`);
    for (const ms of events) assert.ok(grewEnough(ms), `an event at ${ms} ms without 100 ms of stall in the second before`);
  });
});
