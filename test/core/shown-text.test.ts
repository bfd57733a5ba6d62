import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { cutLine, quoted } from "../../src/core/shown-text.js";

describe("text shown in messages", () => {
  it("quoted: JSON escapes, plus the separators and marks JSON leaves alone", () => {
    assert.equal(quoted("observeIntervalMs"), '"observeIntervalMs"');
    assert.equal(quoted("a\nb\t\"c\"\\"), '"a\\nb\\t\\"c\\"\\\\"');
    assert.equal(quoted("a\u2028b\u0085c\u202ed"), '"a\\u2028b\\u0085c\\u202ed"');
  });

  it("quoted: cut after the limit with an ellipsis, never inside an escape or a surrogate pair", () => {
    assert.equal(quoted("x".repeat(61)), `"${"x".repeat(60)}"…`);
    assert.equal(quoted("x".repeat(60)), `"${"x".repeat(60)}"`);
    // 59 characters, then an escape of two that would pass the limit: cut before it.
    assert.equal(quoted(`${"x".repeat(59)}\nyy`), `"${"x".repeat(59)}"…`);
    assert.equal(quoted("😀".repeat(40), 5), '"😀😀"…');
    assert.ok(quoted("\u0000".repeat(5000)).length <= 64);
  });

  it("cutLine: the first line, controls escaped, cut", () => {
    assert.equal(cutLine("first\nsecond", 100), "first");
    assert.equal(cutLine("a\u2028b", 100), "a");
    assert.equal(cutLine("tab\there", 100), "tab\\u0009here");
    assert.equal(cutLine("abcdef", 3), "abc…");
  });
});
