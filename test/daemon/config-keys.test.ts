// Config keys and values an adversary would try: prototype names, values no timer can hold, byte
// counts past exact integers, a rule across keys, and keys and values that would break a message.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseConfig, type ConfigResult } from "../../src/daemon/config.js";
import { engineOptionsFrom } from "../../src/host/sim/oomwarden-agent.js";

function refusal(result: ConfigResult): string {
  assert.equal(result.ok, false, "expected the config to be refused");
  return result.ok ? "" : result.message;
}

function accepted(result: ConfigResult): void {
  assert.ok(result.ok, result.ok ? "" : result.message);
}

const PROTOTYPE_NAMES = ["constructor", "__proto__", "toString", "hasOwnProperty", "valueOf", "isPrototypeOf", "propertyIsEnumerable", "toLocaleString", "__defineGetter__", "__lookupSetter__"];

describe("keys named like Object.prototype members are unknown keys", () => {
  for (const name of PROTOTYPE_NAMES) {
    it(`config key ${name}`, () => {
      const message = refusal(parseConfig(`dryRun: true\n${name}: 1\n`, "c.yaml"));
      assert.match(message, new RegExp(`^c\\.yaml:2: unknown key "${name}" \\(`));
      assert.ok(!message.includes("\n"));
    });
  }

  it("engine options given by a caller (the simulator's agent)", () => {
    for (const name of PROTOTYPE_NAMES) {
      // JSON.parse makes "__proto__" an own key, as a hand-built options object could.
      const options = JSON.parse(`{${JSON.stringify(name)}: 1}`) as Record<string, unknown>;
      assert.throws(() => engineOptionsFrom(options), new RegExp(`unknown oomwarden option "${name}"`), name);
    }
  });
});

describe("values beyond what a timer can hold are refused, naming the key", () => {
  // Node runs a setTimeout delay above 2^31-1 ms after 1 ms: such an interval was a busy loop.
  const timerKeys = ["observeIntervalMs", "machineSampleIntervalMs", "softLimitIntervalMs"];
  const durationKeys = ["softLimitGraceMs", "starvationKillIntervalMs"];
  const windowKeys = ["psiWindowMs", "starvationWindowMs"];

  for (const key of [...timerKeys, ...durationKeys]) {
    it(key, () => {
      accepted(parseConfig(`${key}: 2147483647\n`, "c.yaml"));
      for (const value of ["2147483648", "1e10", "1e308"]) {
        const message = refusal(parseConfig(`\n${key}: ${value}\n`, "c.yaml"));
        assert.match(message, new RegExp(`^c\\.yaml:2: key "${key}": expected an? (number|integer) of ms from [01] to 2147483647 \\(the longest a timer can wait, about 24\\.8 days\\), got `));
      }
    });
  }

  for (const key of windowKeys) {
    it(`${key}: at most an hour, the samples of the window are kept`, () => {
      accepted(parseConfig(`${key}: 3600000\n`, "c.yaml"));
      const message = refusal(parseConfig(`${key}: 3600001\n`, "c.yaml"));
      assert.match(message, new RegExp(`^c\\.yaml:1: key "${key}": expected an? (number|integer) of ms from [01] to 3600000 \\(an hour: .*\\), got 3600001$`));
    });
  }

  it("minProgressBytes: exact integers only", () => {
    accepted(parseConfig(`minProgressBytes: ${Number.MAX_SAFE_INTEGER}\n`, "c.yaml"));
    assert.match(refusal(parseConfig("minProgressBytes: 9007199254740993\n", "c.yaml")), /^c\.yaml:1: key "minProgressBytes": expected an integer of bytes from 0 to 9007199254740991 /);
    assert.match(refusal(parseConfig("minProgressBytes: 1e308\n", "c.yaml")), /key "minProgressBytes": .*got 1e\+308$/);
  });

  it("counts: bounded too (the observations are planned ahead)", () => {
    assert.match(refusal(parseConfig("maxObservationsWithoutProgress: 1e300\n", "c.yaml")), /^c\.yaml:1: key "maxObservationsWithoutProgress": expected an integer from 1 to 100000/);
    assert.match(refusal(parseConfig("journalCandidates: 1e300\n", "c.yaml")), /^c\.yaml:1: key "journalCandidates": expected an integer from 1 to 4194304/);
  });

  it("the simulator's agent applies the same bounds", () => {
    assert.throws(() => engineOptionsFrom({ softLimitIntervalMs: 1e10 }), /oomwarden option softLimitIntervalMs must be a number of ms from 1 to 2147483647/);
    assert.equal(engineOptionsFrom({ softLimitIntervalMs: 2147483647 }).softLimit.intervalMs, 2147483647);
  });
});

describe("a rule across keys names the line of the later key", () => {
  const cases: [string, number][] = [
    ["lowAvailablePct: 2\ndryRun: true\ncriticalAvailablePct: 3\n", 3],
    ["criticalAvailablePct: 3\ndryRun: true\nlowAvailablePct: 2\n", 3],
    // Only one of the two set: the other is at its default (low 5, critical 1.5).
    ["dryRun: true\n\ncriticalAvailablePct: 6\n", 3],
    ["dryRun: true\nlowAvailablePct: 1\n", 2],
  ];
  for (const [text, line] of cases) {
    it(JSON.stringify(text), () => {
      assert.match(refusal(parseConfig(text, "c.yaml")), new RegExp(`^c\\.yaml:${line}: criticalAvailablePct \\([\\d.]+\\) must not be above lowAvailablePct \\([\\d.]+\\)$`));
    });
  }

  it("a window the guard would keep too many samples of is refused at the later key's line", () => {
    assert.match(refusal(parseConfig("machineSampleIntervalMs: 1\ndryRun: true\npsiWindowMs: 3600000\n", "c.yaml")), /^c\.yaml:3: psiWindowMs \(3600000 ms\) sampled every machineSampleIntervalMs \(1 ms\) keeps over 100000 samples in memory/);
    accepted(parseConfig("machineSampleIntervalMs: 1\n", "c.yaml"));
  });

  it("low memory off (0) lifts the rule", () => {
    accepted(parseConfig("lowAvailablePct: 0\ncriticalAvailablePct: 50\n", "c.yaml"));
  });
});

describe("keys and values are shown escaped and cut", () => {
  it("a quoted key with a newline stays on one line", () => {
    const message = refusal(parseConfig('dryRun: true\n"a\\nb": 1\n', "c.yaml"));
    assert.equal(message, 'c.yaml:2: unknown key "a\\nb" (oomwarden help lists the config keys)');
  });

  it("a long key is cut", () => {
    const message = refusal(parseConfig(`? ${"k".repeat(5000)}\n: 1\n`, "c.yaml"));
    assert.match(message, /^c\.yaml:1: unknown key "k{60}"… \(oomwarden help/);
  });

  it("a long value is cut, with an ellipsis", () => {
    const long = "y".repeat(5000);
    const message = refusal(parseConfig(`dryRun: ${long}\n`, "c.yaml"));
    assert.match(message, /^c\.yaml:1: key "dryRun": expected true or false, got "y{60}"…$/);
    assert.ok(message.length < 150, message);
  });

  it("a value with newlines and control characters is escaped", () => {
    const message = refusal(parseConfig('journal: 3\ndryRun: "x\\ny\\u0000"\n', "c.yaml"));
    assert.match(message, /^c\.yaml:1: key "journal": expected a path, got 3$/);
    assert.equal(refusal(parseConfig('dryRun: "x\\ny\\u0001"\n', "c.yaml")), 'c.yaml:1: key "dryRun": expected true or false, got "x\\ny\\u0001"');
  });

  it("NaN and infinities are shown as such, not as null", () => {
    assert.match(refusal(parseConfig("observeIntervalMs: .nan\n", "c.yaml")), /, got NaN$/);
    assert.match(refusal(parseConfig("observeIntervalMs: .inf\n", "c.yaml")), /, got Infinity$/);
  });

  it("a key that is not a plain name", () => {
    assert.equal(refusal(parseConfig("dryRun: true\n? [a, b]\n: 1\n", "c.yaml")), "c.yaml:2: keys must be plain names");
  });
});

describe("a file of many keys", () => {
  it("is refused in time linear in its keys (duplicates are found with a Map, not pair by pair)", () => {
    // 40,000 keys, about 0.5 MB: comparing every key with every other took ~20 s here; a Map, ~0.5 s.
    const text = Array.from({ length: 40_000 }, (_, i) => `k${i}: 1`).join("\n");
    const started = performance.now();
    const message = refusal(parseConfig(text, "c.yaml"));
    const elapsedMs = performance.now() - started;
    assert.equal(message, 'c.yaml:1: unknown key "k0" (oomwarden help lists the config keys)');
    assert.ok(elapsedMs < 8000, `${Math.round(elapsedMs)} ms`);
  });

  it("a key given twice names both lines", () => {
    assert.equal(refusal(parseConfig("psiFullPct: 1\ndryRun: true\n\npsiFullPct: 2\n", "c.yaml")), 'c.yaml:4: key "psiFullPct" is given twice (first on line 1)');
  });
});
