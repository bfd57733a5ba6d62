// The daemon's decision path, compiled at start, must still be compiled when it runs an hour later.
// A child Node runs a function once, then allocates until V8 has gone through many major
// collections, with V8's trace of the bytecode it discards: without keepCompiledCode the function
// is discarded (the control: the trace sees what it must), with it nothing is.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import test from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";

const MODULE = pathToFileURL(join(dirname(fileURLToPath(import.meta.url)), "..", "..", "src", "daemon", "compiled-code.js")).href;

// CommonJS at the top (a function at the top of an ES module is never discarded); a function run
// once in the interpreter, as most of a rarely taken path is (code that ran often enough for V8's
// baseline compiler is not discarded in Node 20 either way).
function childScript(keep: boolean): string {
  return `
    function rarelyRunDecision(n) { return [1, 2, n].map((x) => x * 2).reduce((a, b) => a + b); }
    function churn() { let kept = []; for (let round = 0; round < 60; round++) { kept = []; for (let i = 0; i < 200000; i++) kept.push({ i, s: "x" + i }); } return kept.length; }
    import(${JSON.stringify(MODULE)}).then(({ keepCompiledCode }) => {
      ${keep ? "console.log('note: ' + keepCompiledCode());" : ""}
      rarelyRunDecision(3);
      churn();
    });
  `;
}

function run(keep: boolean): { out: string; majorCollections: number; discarded: number; decisionDiscarded: boolean } {
  const child = spawnSync(process.execPath, ["--trace-flush-bytecode", "--trace-gc", "-e", childScript(keep)], { encoding: "utf8", timeout: 60_000 });
  assert.equal(child.status, 0, child.stderr);
  const out = child.stdout;
  return {
    out,
    majorCollections: (out.match(/Mark-Compact/g) ?? []).length,
    discarded: (out.match(/discarding compiled metadata/g) ?? []).length,
    decisionDiscarded: out.includes("<SharedFunctionInfo rarelyRunDecision>"),
  };
}

test("V8 discards a function not run for a while: the control that shows the trace sees it", { timeout: 90_000 }, () => {
  const control = run(false);
  assert.ok(control.majorCollections >= 6, `enough major collections to age a function (${control.majorCollections})`);
  assert.ok(control.decisionDiscarded, "without keepCompiledCode the function run once is discarded");
});

test("keepCompiledCode: nothing compiled is discarded through many major collections", { timeout: 90_000 }, () => {
  const kept = run(true);
  assert.match(kept.out, /note: compiled code kept/);
  assert.ok(kept.majorCollections >= 6, `enough major collections to age a function (${kept.majorCollections})`);
  assert.equal(kept.discarded, 0, "no bytecode discarded");
  assert.equal(kept.decisionDiscarded, false);
});
