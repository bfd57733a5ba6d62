// Growth-aware ranking, pure: the per-process history from successive listings, its rates, and the
// ranking on badness projected over a horizon (a growing 200 MiB process against an idle 500 MiB one).

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decide } from "../../src/core/decide.js";
import { DEFAULT_GROWTH_CONFIG, DEFAULT_GROWTH_HORIZON_MS, ProcessGrowth, projectedGrowthPages } from "../../src/core/process-growth.js";
import { rankCandidates } from "../../src/core/rank.js";
import type { CgroupSample, ProcessSample, Snapshot } from "../../src/core/types.js";
import { compileVictimRules } from "../../src/core/victim-rules.js";
import { processSample } from "../fixtures/process-sample.js";
import { machineScope } from "../support/machine-samples.js";

const PAGE = 4096;
const MIB = 1024 * 1024;
const MACHINE_PAGES = 2_097_152;

const machine: CgroupSample = machineScope();

function snapshot(processes: ProcessSample[], takenAtMs = 0): Snapshot {
  return { takenAtMs, cgroup: machine, processes, selfPid: 700, pageSizeBytes: PAGE };
}

function mib(pid: number, comm: string, sizeMiB: number): ProcessSample {
  return processSample({ pid, comm, rssBytes: Math.round(sizeMiB * MIB), pageTablesBytes: 0 });
}

/**
 * Listings every 250 ms over the 4 s up to `untilMs`: an idle 500 MiB cache, and a hog that
 * reaches 200 MiB at the end growing `hogMiBPerSec` (from 40 MiB at 40 MiB/s).
 */
function hogAndIdle(growth: ProcessGrowth, hogMiBPerSec: number, untilMs = 10_000): ProcessSample[] {
  let last: ProcessSample[] = [];
  for (let t = untilMs - 4000; t <= untilMs; t += 250) {
    last = [mib(100, "cache", 500), mib(200, "hog", 200 - (hogMiBPerSec * (untilMs - t)) / 1000), mib(300, "shell", 5)];
    assert.ok(growth.record(t, last));
  }
  return last;
}

describe("ProcessGrowth: the history and its rates", () => {
  it("measures the rate over the window, in bytes per second", () => {
    const growth = new ProcessGrowth();
    hogAndIdle(growth, 40);
    const rate = growth.growthBytesPerSec({ pid: 200, startTimeTicks: 1200 });
    assert.ok(rate !== null && Math.abs(rate - 40 * MIB) < 0.01 * MIB, String(rate));
    assert.equal(growth.growthBytesPerSec({ pid: 100, startTimeTicks: 1100 }), 0);
  });

  it("no history, or too short a one: not known", () => {
    const growth = new ProcessGrowth();
    assert.equal(growth.growthBytesPerSec({ pid: 1, startTimeTicks: 1 }), null);
    growth.record(0, [mib(200, "hog", 100)]);
    assert.equal(growth.growthBytesPerSec({ pid: 200, startTimeTicks: 1200 }), null);
    growth.record(DEFAULT_GROWTH_CONFIG.minSpanMs - 1, [mib(200, "hog", 150)]);
    assert.equal(growth.growthBytesPerSec({ pid: 200, startTimeTicks: 1200 }), null, "two samples closer than minSpanMs");
    growth.record(DEFAULT_GROWTH_CONFIG.minSpanMs, [mib(200, "hog", 150)]);
    assert.ok((growth.growthBytesPerSec({ pid: 200, startTimeTicks: 1200 }) ?? 0) > 0);
  });

  it("only the window counts: growth that stopped long ago is no growth", () => {
    const growth = new ProcessGrowth();
    for (let t = 0; t <= 5000; t += 250) growth.record(t, [mib(200, "was-growing", 10 + t / 25)]);
    for (let t = 5250; t <= 20_000; t += 250) growth.record(t, [mib(200, "was-growing", 210)]);
    assert.equal(growth.growthBytesPerSec({ pid: 200, startTimeTicks: 1200 }), 0);
  });

  it("a process gone from a listing is dropped; a reused pid starts afresh", () => {
    const growth = new ProcessGrowth();
    growth.record(0, [mib(200, "hog", 100), mib(300, "other", 10)]);
    growth.record(1000, [mib(200, "hog", 140)]);
    assert.equal(growth.size, 1);
    assert.equal(growth.growthBytesPerSec({ pid: 300, startTimeTicks: 1300 }), null);
    // Same pid, another start time: another process, no history.
    growth.record(2000, [{ ...mib(200, "new", 10), startTimeTicks: 9999 }]);
    assert.equal(growth.growthBytesPerSec({ pid: 200, startTimeTicks: 9999 }), null);
    assert.equal(growth.growthBytesPerSec({ pid: 200, startTimeTicks: 1200 }), null);
  });

  it("growth is of rss + swap + page tables: swapping out is not shrinking", () => {
    const growth = new ProcessGrowth();
    growth.record(0, [processSample({ pid: 5, rssBytes: 100 * MIB, swapBytes: 0 })]);
    growth.record(1000, [processSample({ pid: 5, rssBytes: 40 * MIB, swapBytes: 60 * MIB })]);
    assert.equal(growth.growthBytesPerSec({ pid: 5, startTimeTicks: 1005 }), 0);
  });

  it("kernel threads are not followed; a listing older than the last is ignored", () => {
    const growth = new ProcessGrowth();
    growth.record(1000, [processSample({ pid: 2, isKernelThread: true, rssBytes: 0 }), mib(10, "a", 1)]);
    assert.equal(growth.size, 1);
    assert.equal(growth.record(999, [mib(10, "a", 50)]), false);
    assert.equal(growth.record(Number.NaN, [mib(10, "a", 50)]), false);
    growth.record(2000, [mib(10, "a", 2)]);
    assert.equal(growth.growthBytesPerSec({ pid: 10, startTimeTicks: 1010 }), MIB);
  });

  it("memory stays bounded: a listing every millisecond for three windows keeps a few samples per process", () => {
    const growth = new ProcessGrowth();
    const processes = (t: number) => Array.from({ length: 20 }, (_, i) => mib(100 + i, `p${i}`, 10 + (i * t) / 60_000));
    for (let t = 0; t <= 30_000; t += 1) growth.record(t, processes(t));
    assert.equal(growth.size, 20);
    assert.ok(growth.sampleCount <= 20 * (DEFAULT_GROWTH_CONFIG.maxSamplesPerProcess + 1), `${growth.sampleCount} samples`);
    // The rate is still right: p10 grows 10 MiB a minute.
    const rate = growth.growthBytesPerSec({ pid: 110, startTimeTicks: 1110 });
    assert.ok(rate !== null && Math.abs(rate - (10 * MIB) / 60) < 0.02 * MIB, String(rate));
  });

  it("beyond maxProcesses the largest are followed", () => {
    const growth = new ProcessGrowth({ ...DEFAULT_GROWTH_CONFIG, maxProcesses: 3 });
    growth.record(0, Array.from({ length: 10 }, (_, i) => mib(100 + i, `p${i}`, i + 1)));
    assert.equal(growth.size, 3);
    growth.record(1000, Array.from({ length: 10 }, (_, i) => mib(100 + i, `p${i}`, i + 2)));
    assert.ok(growth.growthBytesPerSec({ pid: 109, startTimeTicks: 1109 }) !== null);
    assert.equal(growth.growthBytesPerSec({ pid: 100, startTimeTicks: 1100 }), null);
  });

  it("rates() is fixed at its instant: later listings do not change a decision's numbers", () => {
    const growth = new ProcessGrowth();
    hogAndIdle(growth, 40);
    const rates = growth.rates();
    const before = rates.bytesPerSec({ pid: 200, startTimeTicks: 1200 });
    growth.record(20_000, [mib(100, "cache", 500)]);
    assert.equal(rates.bytesPerSec({ pid: 200, startTimeTicks: 1200 }), before);
    assert.equal(growth.rates().bytesPerSec({ pid: 200, startTimeTicks: 1200 }), null);
  });

  it("projected pages: rate x horizon, never negative", () => {
    assert.equal(projectedGrowthPages(40 * MIB, 10_000, PAGE), 102_400);
    assert.equal(projectedGrowthPages(-40 * MIB, 10_000, PAGE), 0);
    assert.equal(projectedGrowthPages(null, 10_000, PAGE), 0);
    assert.equal(projectedGrowthPages(Number.NaN, 10_000, PAGE), 0);
    assert.equal(projectedGrowthPages(Infinity, 10_000, PAGE), 0);
  });
});

describe("ranking on projected badness", () => {
  const options = { maxCandidates: 5, totalMemoryPages: MACHINE_PAGES };

  it("badness alone picks the idle 500 MiB process; growth picks the 200 MiB one growing 40 MiB/s", () => {
    const growth = new ProcessGrowth();
    const listing = hogAndIdle(growth, 40);
    const alone = rankCandidates(snapshot(listing, 10_000), options);
    assert.equal(alone.candidates[0]?.comm, "cache");
    const projected = rankCandidates(snapshot(listing, 10_000), { ...options, growth: { rates: growth.rates(10_000), horizonMs: DEFAULT_GROWTH_HORIZON_MS } });
    assert.deepEqual(projected.candidates.map((c) => c.comm), ["hog", "cache", "shell"]);
    const hog = projected.candidates[0]!;
    assert.equal(hog.score, 51_200, "the score stays the kernel's badness");
    assert.ok(hog.growthPages !== undefined && Math.abs(hog.growthPages - 102_400) <= 1, String(hog.growthPages));
    assert.match(hog.reason, /^badness 51200 pages = rss 51200 \+ swap 0 \+ pgtables 0; oom_score_adj 0; growing 40\.0 MiB\/s, \+10240[01] pages projected over 10 s$/);
    assert.equal(projected.candidates[1]?.growthPages, undefined, "an idle process gains nothing");
  });

  it("a slow grower goes before a much bigger idle one: the idle one is not what fills the memory", () => {
    const growth = new ProcessGrowth();
    const listing = hogAndIdle(growth, 5);
    const projected = rankCandidates(snapshot(listing), { ...options, growth: { rates: growth.rates(), horizonMs: DEFAULT_GROWTH_HORIZON_MS } });
    assert.equal(projected.candidates[0]?.comm, "hog");
    const cache = projected.candidates.find((c) => c.comm === "cache")!;
    assert.equal(cache.idle, true);
    assert.ok(cache.score > projected.candidates[0]!.score + (projected.candidates[0]!.growthPages ?? 0), "bigger even projected");
  });

  it("growth not known (a process too new for a rate) is not idle: a new hog goes before a big idle process", () => {
    const growth = new ProcessGrowth();
    const listing = hogAndIdle(growth, 0);
    const newcomer = mib(400, "newhog", 300);
    const projected = rankCandidates(snapshot([...listing, newcomer]), { ...options, growth: { rates: growth.rates(), horizonMs: DEFAULT_GROWTH_HORIZON_MS } });
    assert.deepEqual(projected.candidates.map((c) => c.comm).slice(0, 1), ["newhog"]);
    assert.equal(projected.candidates.find((c) => c.comm === "newhog")?.idle, undefined);
  });

  it("a shrinking process gains nothing and counts as idle; its badness is unchanged", () => {
    const growth = new ProcessGrowth();
    const listing = hogAndIdle(growth, -10);
    const projected = rankCandidates(snapshot(listing), { ...options, growth: { rates: growth.rates(), horizonMs: DEFAULT_GROWTH_HORIZON_MS } });
    const hog = projected.candidates.find((c) => c.comm === "hog")!;
    const plain = rankCandidates(snapshot(listing), options).candidates.find((c) => c.comm === "hog")!;
    assert.equal(hog.growthPages, undefined);
    assert.equal(hog.idle, true);
    assert.equal(hog.score, plain.score);
    assert.equal(hog.reason, `${plain.reason}; idle (not growing): after every growing process`);
  });

  it("no history: exactly today's ranking", () => {
    const listing = [mib(100, "cache", 500), mib(200, "hog", 200), mib(300, "shell", 5)];
    const empty = new ProcessGrowth();
    const withEmpty = decide(snapshot(listing), { ...options, growth: { rates: empty.rates(), horizonMs: DEFAULT_GROWTH_HORIZON_MS } });
    const without = decide(snapshot(listing), options);
    assert.deepEqual(withEmpty, without);
  });

  it("the class comes first: an avoided grower still goes after every other", () => {
    const growth = new ProcessGrowth();
    const listing = hogAndIdle(growth, 40);
    const compiled = compileVictimRules([{ name: "keep-hog", comm: "^hog$", action: "avoid" }], { linearFallback: false });
    assert.ok(compiled.ok);
    const ranked = rankCandidates(snapshot(listing), { ...options, rules: compiled.rules, growth: { rates: growth.rates(), horizonMs: DEFAULT_GROWTH_HORIZON_MS } });
    assert.deepEqual(ranked.candidates.map((c) => c.comm), ["cache", "shell", "hog"]);
    assert.match(ranked.candidates[2]!.reason, /; growing 40\.0 MiB\/s, .*; rule "keep-hog": avoid$/);
  });
});

describe("a process past exit_mm (no memory shown) on its way out", () => {
  const exiting = (pid: number, comm: string): ProcessSample => ({ ...mib(pid, comm, 0), exiting: true });
  const rankWith = (growth: ProcessGrowth, processes: ProcessSample[], atMs: number) =>
    rankCandidates(snapshot(processes, atMs), { maxCandidates: 5, totalMemoryPages: MACHINE_PAGES, minInFlightBytes: 1024 * 1024, growth: { rates: growth.rates(atMs), horizonMs: DEFAULT_GROWTH_HORIZON_MS } });

  it("is waited for when never listed before (a fast hog the kernel killed) or listed big", () => {
    const growth = new ProcessGrowth();
    growth.record(0, [mib(100, "cache", 500), mib(200, "hog", 400)]);
    const now = [mib(100, "cache", 500), exiting(200, "hog"), exiting(300, "newhog")];
    growth.record(1000, now);
    const ranked = rankWith(growth, now, 1000);
    assert.deepEqual(ranked.inFlight.map((p) => p.comm).sort(), ["hog", "newhog"]);
  });

  it("is not waited for when an earlier listing saw it small: a short-lived process must not hold up a decision", () => {
    const growth = new ProcessGrowth();
    growth.record(0, [mib(100, "cache", 500), mib(400, "sleep", 0.5)]);
    const now = [mib(100, "cache", 500), exiting(400, "sleep")];
    growth.record(1000, now);
    const ranked = rankWith(growth, now, 1000);
    assert.deepEqual(ranked.inFlight, []);
    assert.ok(ranked.excluded.some((e) => e.comm === "sleep" && /too small to wait for/.test(e.reason)));
  });
});
