// Errors of a scenario file stay one short line whatever the file holds: keys and values are shown
// escaped and cut, lists of declared names are cut, one mistake is one error.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseScenario } from "../../src/sim/scenario-file.js";

function errorsOf(text: string): string[] {
  const r = parseScenario(text, "file.yaml");
  assert.ok(!r.ok, "expected the file to be refused");
  return r.errors;
}

const HEAD = ["durationS: 1", "memory: { totalGiB: 1 }", "tasks:", "  - name: a"];

describe("scenario messages show what the file holds escaped and cut", () => {
  it("a quoted key with a newline is shown escaped, on one line", () => {
    const errors = errorsOf([...HEAD, '    "bad\\nkey": 1'].join("\n"));
    assert.equal(errors.length, 1);
    assert.ok(!errors[0]!.includes("\n"), errors[0]);
    assert.match(errors[0]!, /^file\.yaml:5: tasks\[0\]\["bad\\nkey"\]: unknown key /);
  });

  it("a long key is cut in the key path", () => {
    // YAML allows implicit keys of up to 1024 characters.
    const key = "k".repeat(1000);
    const errors = errorsOf([...HEAD, `    ${key}: 1`].join("\n"));
    assert.ok(errors[0]!.length < 300, `${errors[0]!.length} characters`);
    assert.match(errors[0]!, /tasks\[0\]\["k{40}"…\]: unknown key/);
  });

  it("a 5 KB value is cut to 60 characters and an ellipsis", () => {
    const errors = errorsOf([...HEAD, "    program:", `      - sleepMs: "${"x".repeat(5000)}"`].join("\n"));
    assert.match(errors[0]!, /^file\.yaml:6: tasks\[0\]\.program\[0\]\.sleepMs: expected a number >= 0, got "x{60}"…$/);
  });

  it("a value with control characters is shown escaped", () => {
    const errors = errorsOf([...HEAD, '    cgroup: "/a\\u0007\\r"'].join("\n"));
    assert.match(errors[0]!, /unknown cgroup "\/a\\u0007\\r"/);
    assert.ok(!/[\r\u0007]/.test(errors[0]!));
  });

  it("NaN and infinity are shown as such, not as null", () => {
    assert.match(errorsOf([...HEAD, "    oomScoreAdj: .nan"].join("\n"))[0]!, /got NaN$/);
    assert.match(errorsOf([...HEAD, "    oomScoreAdj: -.inf"].join("\n"))[0]!, /got -Infinity$/);
  });

  it("the list of declared names is cut after ten", () => {
    const cgroups = Array.from({ length: 50 }, (_, i) => `{ path: /c${i} }`).join(", ");
    const errors = errorsOf(["durationS: 1", "memory: { totalGiB: 1 }", `cgroups: [ ${cgroups} ]`, "tasks:", "  - name: a", "    cgroup: /nope"].join("\n"));
    assert.match(errors[0]!, /unknown cgroup "\/nope" \(declared: \/, \/c0, .*, \/c8 and 41 more\)$/);
  });

  it("a long unknown word is quoted cut, without a search for a suggestion", () => {
    const name = "p".repeat(100_000);
    const errors = errorsOf([...HEAD, "policies:", `  - ${name}`].join("\n"));
    assert.ok(errors[0]!.length < 1000, `${errors[0]!.length} characters`);
  });

  it("one duplicate thread name among 10,000 counted threads is one error", () => {
    const errors = errorsOf([...HEAD, "    threads:", "      - { name: t, count: 5000 }", "      - { name: t, count: 5000 }"].join("\n"));
    assert.equal(errors.length, 1);
    assert.match(errors[0]!, /^file\.yaml:7: tasks\[0\]\.threads\[1\]\.name: task "a" has two threads named "t-1"$/);
  });
});
