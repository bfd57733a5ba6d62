// Fuzzing the pure kernel-file parsers (src/host/linux/parse-*.ts) with random text and with the
// captured files mutated: a number made huge, negative, past 2^53 or given leading zeros, text
// inserted, lines dropped, doubled or cut. Every parser gets every input. None throws, every
// number in a result is finite, and every counter or id is a non-negative safe integer.

import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import type { Result } from "../../src/core/result.js";
import * as cgroup from "../../src/host/linux/parse-cgroup.js";
import { parsePressure } from "../../src/host/linux/parse-pressure.js";
import { parseProcLocks } from "../../src/host/linux/parse-proc-locks.js";
import * as proc from "../../src/host/linux/parse-proc.js";
import { allocStallsTotal, parseVmstat, reclaimedPagesTotal } from "../../src/host/linux/parse-vmstat.js";
import { parseZoneinfo, sumWatermarks } from "../../src/host/linux/parse-zoneinfo.js";
import { captured } from "../fixtures/captured.js";
import { applyLineEdit, lineEdit, type LineEdit } from "../support/line-edits.js";

// Tests run from dist/test/host: the captured files stay in the source tree.
const CAPTURED = join(resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", ".."), "test", "fixtures", "captured");
const FIXTURES = readdirSync(CAPTURED).filter((f) => f.endsWith(".txt")).map(captured);

/** A counter or an id: what a kernel prints for it is always a non-negative safe integer. */
function assertCount(value: unknown, what: string): void {
  assert.ok(Number.isSafeInteger(value) && (value as number) >= 0, `${what} is ${String(value)}, not a count`);
}

/** Every number anywhere in the value is finite (bigints are exact by nature). */
function assertFinite(value: unknown, path = "result"): void {
  if (typeof value === "number") assert.ok(Number.isFinite(value), `${path} is ${value}`);
  else if (value instanceof Map) for (const [k, v] of value) assertFinite(v, `${path}.${String(k)}`);
  else if (Array.isArray(value)) value.forEach((v, i) => assertFinite(v, `${path}[${i}]`));
  else if (value !== null && typeof value === "object") for (const [k, v] of Object.entries(value)) assertFinite(v, `${path}.${k}`);
}

/** Each parser with the fields of its result that are counters or ids. */
const PARSERS: { name: string; run: (text: string) => unknown }[] = [
  { name: "stat", run: (t) => okThen(proc.parseProcStat(t), (s) => ["pid", "ppid", "flags", "numThreads", "startTimeTicks", "rssPages"].forEach((k) => assertCount(s[k as keyof typeof s], k))) },
  {
    name: "status",
    run: (t) =>
      okThen(proc.parseProcStatus(t), (s) => {
        for (const k of ["tgid", "pid", "ppid"] as const) assertCount(s[k], k);
        if (s.threads !== null) assertCount(s.threads, "threads");
        if (s.memory !== null) for (const [k, v] of Object.entries(s.memory)) if (v !== null) assert.ok(v >= 0, `${k} ${v}`);
      }),
  },
  { name: "oom_score_adj", run: (t) => proc.parseOomScoreAdj(t) },
  { name: "meminfo", run: (t) => okThen(proc.parseMeminfo(t), (m) => m.byKey.forEach((v, k) => assert.ok(v >= 0, `${k} ${v}`))) },
  { name: "mountinfo", run: (t) => okThen(proc.parseMountinfo(t), (ms) => ms.forEach((m) => (assertCount(m.mountId, "mountId"), assertCount(m.parentId, "parentId")))) },
  { name: "cgroup", run: (t) => okThen(proc.parseProcCgroup(t), (es) => es.forEach((e) => assertCount(e.hierarchyId, "hierarchyId"))) },
  { name: "wchan", run: (t) => proc.parseWchan(t) },
  { name: "oom_control", run: (t) => okThen(cgroup.parseOomControl(t), (c) => assertCount(c.oomKillCount, "oom_kill")) },
  { name: "flat-keyed", run: (t) => cgroup.parseFlatKeyed(t) },
  { name: "memory.events", run: (t) => okThen(cgroup.parseMemoryEvents(t), (e) => Object.entries(e).forEach(([k, v]) => assertCount(v, k))) },
  { name: "limit", run: (t) => okThen(cgroup.parseLimit(t), (v) => v === null || assert.ok(v >= 0)) },
  { name: "bytes", run: (t) => okThen(cgroup.parseBytes(t), (v) => assert.ok(v >= 0)) },
  { name: "flag", run: (t) => cgroup.parseFlag(t) },
  { name: "pid list", run: (t) => okThen(cgroup.parsePidList(t), (ps) => ps.forEach((p) => assertCount(p, "pid"))) },
  { name: "controllers", run: (t) => cgroup.parseControllerList(t) },
  { name: "pressure", run: (t) => okThen(parsePressure(t), (p) => [p.some, p.full].forEach((l) => l === null || assertCount(l.totalUs, "total"))) },
  {
    name: "vmstat",
    run: (t) =>
      okThen(parseVmstat(t), (v) => {
        v.forEach((n, k) => assertCount(n, k));
        assertCount(reclaimedPagesTotal(v), "reclaimed pages");
        assertFinite(allocStallsTotal(v));
      }),
  },
  {
    name: "zoneinfo",
    run: (t) =>
      okThen(parseZoneinfo(t), (z) => {
        for (const zone of z.zones) for (const [k, v] of Object.entries(zone)) if (typeof v === "number") assertCount(v, k);
        assertFinite(sumWatermarks(z));
      }),
  },
  { name: "locks", run: (t) => parseProcLocks(t).forEach((l) => (assert.ok(Number.isSafeInteger(l.pid), `pid ${l.pid}`), assertCount(l.deviceMajor, "major"), assertCount(l.deviceMinor, "minor"))) },
];

function okThen<T>(result: Result<T>, check: (value: T) => void): Result<T> {
  if (result.ok) check(result.value);
  return result;
}

function feed(text: string): void {
  for (const parser of PARSERS) {
    let result: unknown;
    try {
      result = parser.run(text);
    } catch (error) {
      if (error instanceof assert.AssertionError) throw new assert.AssertionError({ message: `${parser.name}: ${error.message} on ${JSON.stringify(text.slice(0, 300))}` });
      assert.fail(`${parser.name} threw ${String(error)} on ${JSON.stringify(text.slice(0, 300))}`);
    }
    assertFinite(result, parser.name);
  }
}

const numberText = fc.oneof(
  fc.constantFrom("-1", "-0", "9".repeat(400), `-${"9".repeat(400)}`, "9007199254740993", "18446744073709551616", "18446744073709551615", "0".repeat(300) + "7", "1.5", "1e400", "0x1f"),
  fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map(String),
);

type Edit = { kind: "number"; at: number; text: string } | { kind: "insert"; at: number; text: string } | LineEdit;
const edit: fc.Arbitrary<Edit> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant("number" as const), at: fc.nat(), text: numberText }), weight: 4 },
  fc.record({ kind: fc.constant("insert" as const), at: fc.nat(), text: fc.string({ maxLength: 20 }) }),
  lineEdit,
);

function apply(text: string, e: Edit): string {
  if (e.kind === "number") {
    const runs = [...text.matchAll(/\d+/g)];
    if (runs.length === 0) return text;
    const m = runs[e.at % runs.length]!;
    return text.slice(0, m.index) + e.text + text.slice(m.index! + m[0].length);
  }
  if (e.kind === "insert") {
    const at = e.at % (text.length + 1);
    return text.slice(0, at) + e.text + text.slice(at);
  }
  return applyLineEdit(text, e);
}

describe("kernel-file parser fuzz", () => {
  it("captured files with their numbers and lines mutated", () => {
    const mutated = fc.tuple(fc.constantFrom(...FIXTURES), fc.array(edit, { minLength: 1, maxLength: 5 })).map(([text, edits]) => edits.reduce(apply, text));
    fc.assert(fc.property(mutated, feed), { seed: 42, numRuns: 2000 });
  });

  it("random text, and random lines of the kernel's shapes", () => {
    const line = fc.oneof(
      fc.string({ maxLength: 60 }),
      fc.tuple(fc.constantFrom("oom_kill", "under_oom", "oom_kill_disable", "low", "max", "pgsteal_kswapd", "MemFree:", "Node 0, zone", "some avg10=0.00 avg60=0.00 avg300=0.00 total=", "  min"), numberText).map(([k, n]) => `${k} ${n}`),
    );
    const text = fc.oneof(fc.string({ maxLength: 200 }), fc.array(line, { maxLength: 12 }).map((ls) => ls.join("\n")));
    fc.assert(fc.property(text, feed), { seed: 42, numRuns: 3000 });
  });

  it("every captured file is read by some parser, so the mutations start from real text", () => {
    assert.ok(FIXTURES.length >= 20, `${FIXTURES.length} captured files`);
    for (const text of FIXTURES) feed(text);
  });
});
