// The config parser against generated YAML: known keys, prototype names, odd keys (newlines,
// long ones), values of every type (huge and negative numbers, NaN-ish text, lists, nested
// mappings, long strings, aliases, tags) and raw junk. It never throws, every refusal is one short
// line with a line number, and whatever it accepts passes the key table's checks.

import assert from "node:assert/strict";
import test from "node:test";
import fc from "fast-check";
import { checkTunable, TUNABLE_NAMES, tunableKey, type TunableName } from "../../src/core/tunable-keys.js";
import { parseConfig } from "../../src/daemon/config.js";
import { readTunable } from "../../src/engine/tunables.js";

const PROTOTYPE_NAMES = ["constructor", "__proto__", "toString", "hasOwnProperty", "valueOf", "isPrototypeOf", "prototype", "__defineSetter__"];
const DAEMON_KEYS = ["cgroups", "journal", "stateDir"];

const key: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...TUNABLE_NAMES, ...DAEMON_KEYS) },
  { weight: 3, arbitrary: fc.constantFrom(...PROTOTYPE_NAMES) },
  { weight: 1, arbitrary: fc.string({ maxLength: 20 }) },
  { weight: 1, arbitrary: fc.constantFrom("a\nb", "x\u0000y", "\u2028", "k\ttab", "\"quoted\"", "") },
  { weight: 1, arbitrary: fc.integer({ min: 100, max: 900 }).map((n) => "k".repeat(n)) },
);

/** A key as YAML text: plain when it can be, otherwise JSON-quoted (JSON strings are YAML double-quoted scalars). */
const keyText = key.map((k) => (/^[A-Za-z_][A-Za-z0-9_]*$/.test(k) ? k : JSON.stringify(k)));

const scalarText: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom("1e308", "-1e308", "1e10", "2147483647", "2147483648", "9007199254740993", "-1", "0", "0.5", "1", "100", "101", "3600001"),
  fc.constantFrom(".nan", ".inf", "-.inf", "NaN", "Infinity", "0x7fffffff", "0o17", "1_000", "~", "null", "true", "false", "yes", "no", "''", '""'),
  fc.double().map(String),
  fc.integer().map(String),
  fc.string({ maxLength: 30 }).map((s) => JSON.stringify(s)),
  fc.integer({ min: 1000, max: 6000 }).map((n) => JSON.stringify("v".repeat(n))),
  fc.constantFrom("!!float 1", "!!str 5", "!!binary aGVsbG8=", "!custom x", "&anchor 5", "*anchor", "*missing"),
);

const valueText: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: scalarText },
  { weight: 1, arbitrary: fc.array(scalarText, { maxLength: 4 }).map((items) => `[${items.join(", ")}]`) },
  { weight: 1, arbitrary: fc.array(fc.tuple(keyText, scalarText), { maxLength: 3 }).map((pairs) => `{${pairs.map(([k, v]) => `${k}: ${v}`).join(", ")}}`) },
  { weight: 1, arbitrary: fc.array(fc.tuple(keyText, scalarText), { minLength: 1, maxLength: 3 }).map((pairs) => `\n${pairs.map(([k, v]) => `  ${k}: ${v}`).join("\n")}`) },
  { weight: 1, arbitrary: fc.array(scalarText, { minLength: 1, maxLength: 3 }).map((items) => `\n${items.map((v) => `  - ${v}`).join("\n")}`) },
);

/** Values at and just past the edges of a key's rule, so accepted configs and off-by-one refusals both occur. */
function edgeValues(name: TunableName): string[] {
  const rule = tunableKey(name).rule;
  if (rule.type === "boolean") return ["true", "false", "1"];
  const middle = Math.floor((rule.min + rule.max) / 2);
  return [rule.min, rule.max, middle, middle, rule.max + 1, rule.min - 1, rule.integer ? rule.min + 0.5 : rule.min].map(String);
}

const nearlyValidPair: fc.Arbitrary<string> = fc.constantFrom(...TUNABLE_NAMES).chain((name) => fc.constantFrom(...edgeValues(name)).map((v) => `${name}: ${v}`));

const configText: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.array(nearlyValidPair, { maxLength: 4 }).map((lines) => lines.join("\n") + "\n") },
  { weight: 8, arbitrary: fc.array(fc.tuple(keyText, valueText), { maxLength: 8 }).map((pairs) => pairs.map(([k, v]) => `${k}: ${v}`).join("\n") + "\n") },
  // Raw junk, and valid-looking text with junk spliced in, for the syntax errors.
  { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.array(fc.tuple(keyText, valueText), { maxLength: 4 }), fc.string({ maxLength: 10 }), fc.nat())
      .map(([pairs, junk, at]) => {
        const text = pairs.map(([k, v]) => `${k}: ${v}`).join("\n");
        const cut = text.length === 0 ? 0 : at % text.length;
        return text.slice(0, cut) + junk + text.slice(cut);
      }),
  },
);

test("fuzz: parseConfig never throws; refusals are one short line with a line number; what it accepts passes the checks", () => {
  let refused = 0;
  let acceptedWithTunables = 0;
  fc.assert(
    fc.property(configText, (text) => {
      const result = parseConfig(text, "c.yaml");
      if (!result.ok) {
        refused++;
        assert.ok(!/[\n\r\u2028\u2029]/.test(result.message), `more than one line: ${JSON.stringify(result.message)}`);
        assert.ok(result.message.length < 300, `${result.message.length} characters: ${result.message.slice(0, 400)}`);
        assert.match(result.message, /^c\.yaml:\d+: /, "every refusal names a line");
        return;
      }
      for (const name of TUNABLE_NAMES) {
        const checked = checkTunable(name, readTunable(result.config.engine, name));
        assert.ok(checked.ok, `accepted ${name} = ${String(readTunable(result.config.engine, name))} that its check refuses`);
      }
      if (/^[a-zA-Z]+: /m.test(text)) acceptedWithTunables++;
    }),
    { seed: 42, numRuns: 1500 },
  );
  // The generator reaches both sides: not every config is refused for the same reason.
  assert.ok(refused > 500, `only ${refused} refusals`);
  assert.ok(acceptedWithTunables > 10, `only ${acceptedWithTunables} accepted configs with keys`);
});
