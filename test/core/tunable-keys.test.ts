import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { checkTunable, crossKeyProblem, CROSS_KEY_DEFAULTS, expectedText, isTunableName, MAX_TIMER_MS, MAX_WINDOW_SAMPLES, TUNABLE_NAMES, tunableKey } from "../../src/core/tunable-keys.js";
import { DEFAULT_ENGINE_OPTIONS } from "../../src/engine/engine-options.js";
import { readTunable } from "../../src/engine/tunables.js";

describe("the tunable key table", () => {
  it("knows its own keys and nothing of Object.prototype", () => {
    assert.ok(isTunableName("observeIntervalMs"));
    for (const name of ["constructor", "__proto__", "toString", "hasOwnProperty", "valueOf", ""]) assert.equal(isTunableName(name), false, name);
  });

  it("every key has help, and every number rule an upper bound a timer or an exact integer can hold", () => {
    for (const name of TUNABLE_NAMES) {
      const { rule, help } = tunableKey(name);
      assert.ok(help.length > 0, name);
      if (rule.type !== "number") continue;
      assert.ok(Number.isFinite(rule.max) && rule.max <= Number.MAX_SAFE_INTEGER, name);
      if (name.endsWith("Ms")) assert.ok(rule.max <= MAX_TIMER_MS, `${name} may exceed what a timer holds`);
      assert.match(expectedText(rule), new RegExp(`from ${rule.min} to ${rule.max}`), name);
    }
  });

  it("the engine's defaults pass every check and the rule across keys", () => {
    for (const name of TUNABLE_NAMES) assert.ok(checkTunable(name, readTunable(DEFAULT_ENGINE_OPTIONS, name)).ok, name);
    assert.equal(crossKeyProblem((name) => CROSS_KEY_DEFAULTS[name]), null);
    assert.equal(DEFAULT_ENGINE_OPTIONS.machineGuard.lowAvailablePct, CROSS_KEY_DEFAULTS.lowAvailablePct);
    assert.equal(DEFAULT_ENGINE_OPTIONS.machineGuard.criticalAvailablePct, CROSS_KEY_DEFAULTS.criticalAvailablePct);
    assert.equal(DEFAULT_ENGINE_OPTIONS.machineGuard.psiWindowMs, CROSS_KEY_DEFAULTS.psiWindowMs);
    assert.equal(DEFAULT_ENGINE_OPTIONS.machineGuard.starvationWindowMs, CROSS_KEY_DEFAULTS.starvationWindowMs);
    assert.equal(DEFAULT_ENGINE_OPTIONS.machineGuard.sampleIntervalMs, CROSS_KEY_DEFAULTS.machineSampleIntervalMs);
  });

  it("the machine guard's window may hold at most MAX_WINDOW_SAMPLES samples at its interval", () => {
    const values = (o: Partial<typeof CROSS_KEY_DEFAULTS>) => (name: keyof typeof CROSS_KEY_DEFAULTS) => ({ ...CROSS_KEY_DEFAULTS, ...o })[name];
    assert.equal(crossKeyProblem(values({ machineSampleIntervalMs: 1 })), null, "30 s at 1 ms: 30,000 samples");
    assert.equal(crossKeyProblem(values({ psiWindowMs: MAX_WINDOW_SAMPLES, machineSampleIntervalMs: 1 })), null, "exactly the cap");
    const over = crossKeyProblem(values({ psiWindowMs: 3_600_000, machineSampleIntervalMs: 1 }));
    assert.deepEqual(over?.keys, ["psiWindowMs", "machineSampleIntervalMs"]);
    assert.match(over?.message ?? "", /keeps over 100000 samples in memory/);
    assert.deepEqual(crossKeyProblem(values({ psiWindowMs: 1000, starvationWindowMs: 200_000, machineSampleIntervalMs: 1 }))?.keys, ["starvationWindowMs", "machineSampleIntervalMs"]);
  });

  it("checks: type, finiteness, integer-ness and both bounds", () => {
    assert.ok(checkTunable("observeIntervalMs", 1.5).ok);
    assert.ok(checkTunable("observeIntervalMs", MAX_TIMER_MS).ok);
    for (const bad of [MAX_TIMER_MS + 1, 0.5, Number.NaN, Infinity, "5", null, true]) assert.equal(checkTunable("observeIntervalMs", bad).ok, false, String(bad));
    assert.equal(checkTunable("softLimitGraceMs", 1.5).ok, false);
    assert.equal(checkTunable("dryRun", 1).ok, false);
    assert.ok(checkTunable("dryRun", false).ok);
  });
});
