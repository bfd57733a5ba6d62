import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { checkExpectation, formatResultTable, resultRow } from "../../src/sim/result-table.js";
import type { SimulationRun, TimelineSample } from "../../src/sim/scenario.js";
import { escapeXml, renderTimelineSvg } from "../../src/sim/svg-timeline.js";

const MIB = 256;

function sample(tMs: number, freeMiB: number, cgroups: TimelineSample["cgroups"] = {}): TimelineSample {
  return { tMs, freePages: freeMiB * MIB, minPages: 8 * MIB, lowPages: 12 * MIB, highPages: 16 * MIB, cgroups };
}

/** A kernel-2018 run of seed 000: the hog is killed, the reaper gives up, then two innocents die. */
const BASELINE: SimulationRun = {
  result: {
    policy: "kernel-2018",
    killed: ["hog", "unittest", "harness"],
    innocentKilled: 2,
    recoveredMs: 1800,
    allocFailures: { GFP_ATOMIC: 3 },
    maxStallMs: 1500,
    pressureFullMs: 0,
    livelock: false,
    panic: false,
  },
  events: [
    { tMs: 1000, kind: "oom", subject: "/", detail: "global OOM" },
    { tMs: 1000, kind: "kill", subject: "hog", detail: "badness 700" },
    ...Array.from({ length: 10 }, (_, i) => ({ tMs: 1000 + i * 100, kind: "reaper-attempt" as const, subject: "hog", detail: `try ${i + 1}` })),
    { tMs: 2000, kind: "reaper-gave-up", subject: "hog", detail: "mmap_sem contended" },
    { tMs: 2000, kind: "mmf-oom-skip", subject: "hog", detail: "" },
    { tMs: 2050, kind: "kill", subject: "unittest", detail: "" },
    { tMs: 2100, kind: "kill", subject: "harness", detail: "" },
    { tMs: 2300, kind: "exit", subject: "hog", detail: "" },
    { tMs: 2500, kind: "alloc-fail", subject: "net-rx", detail: "GFP_ATOMIC <b>&</b>" },
  ],
  samples: Array.from({ length: 301 }, (_, i) => sample(i * 10, i < 100 ? 400 - i * 4 : i < 230 ? 6 : 900)),
  simulatedEvents: 1234,
};

/** A memcg run with a handler and a panic, to see the other markers. */
const MEMCG: SimulationRun = {
  result: { policy: "proposal-oom-delay", killed: ["batch"], innocentKilled: 0, recoveredMs: null, allocFailures: {}, maxStallMs: 20_000, pressureFullMs: 0, livelock: true, panic: true },
  events: [
    { tMs: 500, kind: "oom", subject: "/users/alice", detail: "" },
    { tMs: 500, kind: "handler-notified", subject: "alice-oomd", detail: "" },
    { tMs: 1500, kind: "watchdog", subject: "/users/alice", detail: "delay ran out" },
    { tMs: 1500, kind: "userspace-kill", subject: "batch", detail: "" },
    { tMs: 1600, kind: "handler-acted", subject: "alice-oomd", detail: "" },
    { tMs: 2900, kind: "panic", subject: "/", detail: "no killable task" },
  ],
  samples: [0, 1000, 2000, 3000].map((t) => sample(t, 4000, { "/users/alice": { usagePages: (t / 3) * MIB * 0.3, limitPages: 1024 * MIB }, "/users": { usagePages: 10, limitPages: null } })),
  simulatedEvents: 10,
};

/** Checks that every tag opened is closed, in order; returns the element names seen. */
function balancedTags(svg: string): string[] {
  const stack: string[] = [];
  const seen: string[] = [];
  for (const m of svg.matchAll(/<(\/?)([a-zA-Z][\w-]*)([^>]*?)(\/?)>/g)) {
    const [, closing, name, , selfClosing] = m;
    if (closing) assert.equal(stack.pop(), name, `</${name}> closes the wrong element`);
    else if (!selfClosing) stack.push(name!);
    seen.push(name!);
  }
  assert.deepEqual(stack, [], "every element is closed");
  return seen;
}

describe("SVG timeline", () => {
  const svg = renderTimelineSvg([BASELINE, MEMCG], { title: "reaper-gives-up <seed 000>", subtitle: "a & b" });

  it("is one well-formed svg element", () => {
    assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" /);
    assert.match(svg, /<\/svg>\n$/);
    const names = balancedTags(svg);
    assert.equal(names.filter((n) => n === "svg").length, 2, "one open and one close tag");
    // Text is escaped: no raw & or < outside markup.
    const text = svg.replace(/<[^>]*>/g, "");
    assert.doesNotMatch(text, /&(?!amp;|lt;|gt;|quot;|apos;)/);
    assert.ok(svg.includes("reaper-gives-up &lt;seed 000&gt;"));
  });

  it("has one panel per policy, with its summary", () => {
    assert.equal((svg.match(/<g class="panel"/g) ?? []).length, 2);
    assert.ok(svg.includes('data-policy="kernel-2018"'));
    assert.ok(svg.includes('data-policy="proposal-oom-delay"'));
    assert.ok(svg.includes("killed 3 (hog, unittest, harness)"));
    assert.ok(svg.includes("recovered never"));
    assert.ok(svg.includes("LIVELOCK"));
  });

  it("labels the axes with their units", () => {
    assert.ok(svg.includes("virtual time (s)"));
    assert.match(svg, /cgroup usage \(MiB\)/, "memcg runs plot cgroup usage against the limit");
    assert.ok(svg.includes("/users/alice limit"));
    const free = renderTimelineSvg([BASELINE]);
    assert.match(free, /free memory \(MiB\)/);
    for (const w of ["min", "low", "high", "min/2 (GFP_ATOMIC floor)"]) assert.ok(free.includes(`>${w}</text>`), `legend names the ${w} watermark`);
  });

  it("marks kills, reaper attempts and give-ups, OOMs, handler events and panic", () => {
    for (const kind of ["oom", "kill", "reaper-attempt", "reaper-gave-up", "mmf-oom-skip", "exit", "alloc-fail", "handler-notified", "handler-acted", "watchdog", "userspace-kill", "panic"]) {
      assert.ok(svg.includes(`class="event ${kind}"`), `a ${kind} marker`);
    }
    assert.ok(svg.includes(">PANIC</text>"));
    assert.ok(svg.includes(">unittest</text>"), "kills are labelled with the victim");
    assert.ok(svg.includes("GFP_ATOMIC &lt;b&gt;&amp;&lt;/b&gt;"), "event details are escaped in tooltips");
  });

  it("is byte-identical for identical runs, and small for long ones", () => {
    assert.equal(renderTimelineSvg([BASELINE, MEMCG], { title: "reaper-gives-up <seed 000>", subtitle: "a & b" }), svg);
    const long: SimulationRun = {
      ...BASELINE,
      samples: Array.from({ length: 100_000 }, (_, i) => sample(i * 10, 100 + (i % 50))),
      events: Array.from({ length: 20_000 }, (_, i) => ({ tMs: i * 50, kind: "alloc-fail" as const, subject: "x", detail: "" })),
    };
    const big = renderTimelineSvg([long]);
    balancedTags(big);
    assert.ok(big.length < 400_000, `SVG of ${big.length} bytes`);
  });

  it("draws an empty run without failing", () => {
    const empty: SimulationRun = { ...BASELINE, samples: [], events: [] };
    balancedTags(renderTimelineSvg([empty]));
    balancedTags(renderTimelineSvg([]));
    assert.equal(escapeXml(`<'&">`), "&lt;&apos;&amp;&quot;&gt;");
  });
});

describe("result table", () => {
  it("has one row per policy with the columns the CLI promises", () => {
    const table = formatResultTable([BASELINE.result, MEMCG.result]);
    const lines = table.trimEnd().split("\n");
    assert.equal(lines.length, 4);
    assert.match(lines[0]!, /^policy\s+killed\s+innocent\s+recovered\s+alloc failures\s+max stall\s+full stall\s+livelock\s+panic$/);
    assert.match(lines[2]!, /^kernel-2018\s+3 \(hog, unittest, harness\)\s+2\s+1800 ms\s+GFP_ATOMIC 3\s+1500 ms\s+0 ms\s+no\s+no$/);
    assert.match(lines[3]!, /^proposal-oom-delay\s+1 \(batch\)\s+0\s+never\s+0\s+20 s\s+0 ms\s+YES\s+YES$/);
  });

  it("checks expectations, saying what was missed", () => {
    assert.deepEqual(checkExpectation({ minKilled: 2, minInnocentKilled: 1 }, BASELINE.result), []);
    assert.deepEqual(checkExpectation({ killed: ["hog"], innocentKilled: 0, recoveredWithinMs: 1000 }, BASELINE.result), [
      "killed [hog, unittest, harness], expected [hog]",
      "innocent killed 2, expected 0",
      "recovered after 1800 ms, expected within 1000 ms",
    ]);
    assert.deepEqual(checkExpectation({ maxAllocFailures: { GFP_ATOMIC: 0 }, minAllocFailures: { "memcg-syscall-enomem": 1 } }, BASELINE.result), [
      "memcg-syscall-enomem failures 0, expected at least 1",
      "GFP_ATOMIC failures 3, expected at most 0",
    ]);
    assert.deepEqual(checkExpectation({ recovered: false, livelock: true, panic: false }, MEMCG.result), ["panic, expected none"]);
    const row = resultRow(MEMCG.result, { recovered: true });
    assert.deepEqual(row.expectation, { met: false, failures: ["never recovered, expected to"] });
    assert.equal(resultRow(MEMCG.result, undefined).expectation, null);
  });
});
