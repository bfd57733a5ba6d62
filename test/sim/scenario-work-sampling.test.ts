// The work budget's term for an oomwarden policy's own sampling: its engine wakes at the
// intervals of its `options`, and a file asking for a sample every millisecond for hours is
// refused with the option's key and line; the shipped scenarios still fit, and under oomwarden
// the engine really wakes and the simulator really processes no more than the estimate says.

import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { oomwardenAgentFactory } from "../../src/host/sim/oomwarden-agent.js";
import { DEFAULT_ENGINE_OPTIONS } from "../../src/engine/engine-options.js";
import { simulate } from "../../src/sim/kernel/simulate.js";
import { parseScenario } from "../../src/sim/scenario-file.js";
import { BELOW_LOW_SAMPLE_INTERVAL_MS } from "../../src/core/machine-pressure.js";
import { agentSampling, ENGINE_INTERVAL_FLOOR_MS, MACHINE_GUARD_FLOOR_MS, type AgentSampling } from "../../src/sim/scenario-file/agent-sampling.js";
import { estimateRunWork } from "../../src/sim/scenario-file/work.js";
import { WORK_BUDGET_UNITS } from "../../src/sim/scenario-file/work-budget.js";
import type { PolicySpec, Scenario } from "../../src/sim/scenario.js";
import { parsedScenario, scenarioErrors } from "../support/scenario-text.js";

const SCENARIOS = join(resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", ".."), "scenarios");

const parsed = (text: string): Scenario => parsedScenario(text);
const errorsOf = (text: string): string[] => scenarioErrors(text);

/** A 1 GiB machine held near the low-memory threshold (where the machine guard samples densely), one policy. */
function denseFile(o: { durationS: number; policy: string; tickS?: number }): string {
  return [
    `durationS: ${o.durationS}`,
    ...(o.tickS === undefined ? [] : [`tickS: ${o.tickS}`]),
    "memory: { totalGiB: 1, fileCacheMiB: 16 }",
    "tasks:",
    "  - { name: big, mm: { anonMiB: 860 } }",
    "  - name: ticker",
    "    mm: { anonMiB: 16 }",
    "    program: [ { loop: forever, steps: [ { allocKiB: 256 }, { sleepMs: 100 }, { freeKiB: 256 } ] } ]",
    "policies:",
    `  - ${o.policy}`,
  ].join("\n");
}

function samplingOf(s: Scenario, policy: PolicySpec): AgentSampling {
  const sampling = agentSampling(policy.userspace, s.durationMs);
  assert.ok(sampling !== null, `${policy.name} is an oomwarden policy`);
  return sampling;
}

/** Runs an oomwarden policy with its engine, counting the engine's timers that fire. */
async function runCounted(s: Scenario, policy: PolicySpec): Promise<{ wakeUps: number; events: number }> {
  assert.ok(policy.userspace.kind === "oomwarden");
  const factory = oomwardenAgentFactory(policy.userspace);
  let wakeUps = 0;
  const run = await simulate(s, policy, {
    agent: (api) => {
      const setTimer = api.setTimer.bind(api);
      api.setTimer = (delayMs, cb) => setTimer(delayMs, () => (wakeUps++, cb()));
      return factory(api);
    },
  });
  return { wakeUps, events: run.simulatedEvents };
}

describe("work budget: an oomwarden policy's own sampling", () => {
  it("the engine's intervals of its own are never shorter than the floors the estimate charges", () => {
    const o = DEFAULT_ENGINE_OPTIONS;
    for (const [name, ms] of Object.entries({
      machineSampleIntervalMs: o.machineGuard.sampleIntervalMs,
      idleSampleIntervalMs: o.machineGuard.idleSampleIntervalMs,
      belowLowSampleIntervalMs: BELOW_LOW_SAMPLE_INTERVAL_MS,
    })) {
      assert.ok(ms >= MACHINE_GUARD_FLOOR_MS, `the machine guard's ${name} ${ms} ms is below the ${MACHINE_GUARD_FLOOR_MS} ms the work budget charges`);
    }
    for (const [name, ms] of Object.entries({ observeIntervalMs: o.observeIntervalMs, softLimitIntervalMs: o.softLimit.intervalMs })) {
      assert.ok(ms >= ENGINE_INTERVAL_FLOOR_MS, `${name} ${ms} ms is below the ${ENGINE_INTERVAL_FLOOR_MS} ms the work budget charges`);
    }
  });

  it("a sample every millisecond for an hour is refused at the option, with its line", () => {
    const file = denseFile({ durationS: 3600, policy: "{ name: dense, base: kernel-today+oomwarden, options: { machineSampleIntervalMs: 1 } }" });
    const errors = errorsOf(file);
    assert.equal(errors.length, 1, errors.join("\n"));
    assert.match(
      errors[0]!,
      /^file\.yaml:9: policies\[0\]\.options\.machineSampleIntervalMs: the simulation would cost about .* units of work, more than the 1 billion a file may ask for \(see "Work budget" in docs\/scenario-format\.md\): \d+% of a run is policy dense's oomwarden engine waking up to 3\.6 million times \(the machine guard every 1 ms \(options\.machineSampleIntervalMs\) and 1 other loop every 100 ms \(its shortest interval of its own\)\); set machineSampleIntervalMs to 40 ms or more, or shorten the run$/,
    );
    // The same run sampling at the engine's own pace, or without oomwarden, fits.
    assert.ok(parseScenario(denseFile({ durationS: 3600, policy: "{ name: dense, base: kernel-today+oomwarden, options: { machineSampleIntervalMs: 100 } }" }), "f").ok);
    assert.ok(parseScenario(denseFile({ durationS: 3600, policy: "kernel-today" }), "f").ok);
  });

  it("names the smallest interval, in the userspace form too, on the line of its key", () => {
    const policy = ["name: watched", "    kernel: today", "    userspace:", "      kind: oomwarden", "      options:", "        machineSampleIntervalMs: 5", "        observeIntervalMs: 2"].join("\n");
    const errors = errorsOf(denseFile({ durationS: 3600, policy }));
    assert.match(
      errors[0]!,
      /^file\.yaml:15: policies\[0\]\.userspace\.options\.observeIntervalMs: .*waking up to 2\.5 million times \(the machine guard every 5 ms \(options\.machineSampleIntervalMs\) and 1 other loop every 2 ms \(options\.observeIntervalMs\)\); set observeIntervalMs to 100 ms or more/,
    );
  });

  it("soft-limit mode checks every managed cgroup: each is a loop of its own", () => {
    const cgroups = Array.from({ length: 8 }, (_, i) => `  - { path: /c${i}, limitMiB: 64 }`).join("\n");
    const file = (softLimit: boolean): string =>
      denseFile({ durationS: 60, policy: `{ name: soft, base: kernel-today+oomwarden, options: { softLimit: ${softLimit}, softLimitIntervalMs: 10 } }` }).replace("tasks:", `cgroups:\n${cgroups}\ntasks:`);
    const on = parsed(file(true));
    const off = parsed(file(false));
    assert.equal(samplingOf(on, on.policies[0]!).others.loops, 1 + 8);
    assert.equal(samplingOf(off, off.policies[0]!).others.loops, 1);
    // The machine guard at its own 40 ms, a victim's observation and eight usage checks at 10 ms.
    assert.equal(samplingOf(on, on.policies[0]!).wakeUps, 60_000 / 40 + 1 + 9 * (60_000 / 10 + 1));
  });

  it("a long run at the engine's own intervals is refused at the duration", () => {
    // Seven days at a tick of a minute fit the kernel; oomwarden waking every 100 ms does not.
    const file = denseFile({ durationS: 604_800, tickS: 60, policy: "kernel-today+oomwarden" });
    const errors = errorsOf(file);
    assert.match(
      errors[0]!,
      /^file\.yaml:1: durationS: .*oomwarden engine waking up to 21 million times \(the machine guard every 40 ms \(its shortest interval of its own\) and 1 other loop every 100 ms \(its shortest interval of its own\)\); shorten the run$/,
    );
    assert.ok(parseScenario(denseFile({ durationS: 604_800, tickS: 60, policy: "kernel-today" }), "f").ok);
  });

  it("--policy runs are checked too: an oomwarden policy named there counts its sampling", async () => {
    const { checkWorkBudget } = await import("../../src/sim/scenario-file/work-budget.js");
    const s = parsed(denseFile({ durationS: 604_800, tickS: 60, policy: "kernel-today" }));
    const oomwarden: PolicySpec = { name: "kernel-today+oomwarden", kernel: { version: "today", proposals: [] }, userspace: { kind: "oomwarden", managedCgroups: ["/"], options: {} } };
    assert.equal(checkWorkBudget(s, s.policies), null);
    assert.match(checkWorkBudget(s, [oomwarden])?.message ?? "", /oomwarden engine waking up to 21 million times \(the machine guard every 40 ms/);
  });
});

describe("work budget: oomwarden runs within their estimate", () => {
  it("every shipped scenario with oomwarden needs at most a tenth of the budget, and its engine wakes and the simulator works within the estimate", async () => {
    const files = readdirSync(SCENARIOS).filter((f) => f.endsWith(".yaml"));
    let runs = 0;
    for (const file of files) {
      const s = parsed(readFileSync(join(SCENARIOS, file), "utf8"));
      const total = s.policies.reduce((sum, p) => sum + estimateRunWork(s, p).units, 0);
      assert.ok(total <= WORK_BUDGET_UNITS / 10, `${file}: ${total} units`);
      for (const policy of s.policies.filter((p) => p.userspace.kind === "oomwarden")) {
        const { wakeUps, events } = await runCounted(s, policy);
        const estimate = estimateRunWork(s, policy);
        assert.ok(wakeUps <= samplingOf(s, policy).wakeUps, `${file} ${policy.name}: the engine woke ${wakeUps} times, estimated at most ${samplingOf(s, policy).wakeUps}`);
        assert.ok(events <= estimate.events, `${file} ${policy.name}: ${events} events, estimated at most ${estimate.events}`);
        runs++;
      }
    }
    assert.ok(runs >= 9, `${runs} oomwarden runs`);
  });

  it("a sample every millisecond, for as long as the budget allows", async () => {
    const file = (durationS: number): string => denseFile({ durationS, policy: "{ name: dense, base: kernel-today+oomwarden, options: { machineSampleIntervalMs: 1 } }" });
    assert.ok(!parseScenario(file(3600), "f").ok);
    // Binary search for the longest accepted run, to a second.
    let accepted = 0;
    let refused = 3600;
    while (refused - accepted > 1) {
      const mid = Math.floor((accepted + refused) / 2);
      if (parseScenario(file(mid), "f").ok) accepted = mid;
      else refused = mid;
    }
    assert.ok(accepted >= 60, `${accepted} s accepted: a minute at 1 ms fits`);
    // Run a tenth of it (the whole would take seconds): the engine samples about every millisecond.
    const s = parsed(file(Math.ceil(accepted / 10)));
    const policy = s.policies[0]!;
    const { wakeUps, events } = await runCounted(s, policy);
    // Sampling adapts to the headroom above the next level (here ~30 MiB above the terminate line,
    // about 15 ms at the assumed 2 GiB/s fill rate): dense, though not every millisecond.
    assert.ok(wakeUps >= s.durationMs / 20, `the engine woke ${wakeUps} times in ${s.durationMs} ms: it sampled densely`);
    assert.ok(wakeUps <= samplingOf(s, policy).wakeUps, `${wakeUps} wake-ups`);
    assert.ok(events <= estimate(s, policy), `${events} events`);
  });
});

function estimate(s: Scenario, policy: PolicySpec): number {
  return estimateRunWork(s, policy).events;
}
