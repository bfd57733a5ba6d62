import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { badnessPoints, bytesToPages, computeTotalPages, oomBadness, unkillableReason } from "../../src/core/badness.js";
import type { CgroupSample, ProcessSample } from "../../src/core/types.js";
import { processSample } from "../fixtures/process-sample.js";

const PAGE = 4096;
const MIB = 1024 * 1024;
const SELF = 777;

const proc = processSample;

function cgroup(limitBytes: number | null): CgroupSample {
  return {
    path: "/sys/fs/cgroup/memory/test",
    version: 1,
    usageBytes: 0,
    limitBytes,
    highBytes: null,
    underOom: true,
    oomKillDisabled: true,
    events: { low: 0, high: 0, max: 0, oom: 0, oomKill: 0, oomGroupKill: 0 },
    oomGroup: false,
  };
}

describe("badnessPoints: the kernel's arithmetic", () => {
  // [name, rss pages, swap pages, pgtable bytes, oom_score_adj, totalPages, expected points, expected adjPages]
  const cases: [string, number, number, number, number, number, number, number][] = [
    ["plain sum", 16000, 0, 384 * PAGE, 0, 262144, 16384, 0],
    ["swap counts as much as rss", 1000, 3000, 0, 0, 262144, 4000, 0],
    ["adj 500 in a 32 MiB cgroup: 500 x (8192 / 1000 = 8)", 1000, 0, 0, 500, 8192, 5000, 4000],
    ["adj 1000 in 1 GiB: + 262 pages per unit", 1000, 0, 0, 1000, 262144, 263000, 262000],
    ["negative adj drives points below zero", 1000, 0, 0, -500, 262144, -130000, -131000],
    ["adj -999 is killable, just unlikely", 10, 0, 0, -999, 262144, -261728, -261738],
    ["division comes first: 1999 pages / 1000 = 1 per unit", 0, 0, PAGE, 1000, 1999, 1001, 1000],
    ["tiny cgroup (< 1000 pages): adj is worth nothing", 50, 0, 0, 1000, 999, 50, 0],
    ["tiny cgroup, negative adj: 0, not -0", 50, 0, 0, -1, 500, 50, 0],
  ];
  for (const [name, rssPages, swapPages, pageTablesBytes, oomScoreAdj, totalPages, points, adjPages] of cases) {
    it(name, () => {
      const b = badnessPoints(proc({ pid: 10, rssBytes: rssPages * PAGE, swapBytes: swapPages * PAGE, pageTablesBytes, oomScoreAdj }), totalPages, PAGE);
      assert.equal(b.points, points);
      assert.ok(Object.is(b.adjPages, adjPages), `adjPages ${b.adjPages} is not ${adjPages}`);
    });
  }

  it("partial pages round down, like the kernel's byte-to-page shifts", () => {
    const b = badnessPoints(proc({ pid: 10, rssBytes: PAGE - 1, swapBytes: 2 * PAGE + 5, pageTablesBytes: 6000 }), 262144, PAGE);
    assert.deepEqual([b.rssPages, b.swapPages, b.pageTablePages, b.points], [0, 2, 1, 3]);
  });

  it("explains the points in words", () => {
    const plain = badnessPoints(proc({ pid: 10, rssBytes: 16000 * PAGE, pageTablesBytes: 384 * PAGE }), 262144, PAGE);
    assert.equal(plain.reason, "badness 16384 pages = rss 16000 + swap 0 + pgtables 384; oom_score_adj 0");
    const adjusted = badnessPoints(proc({ pid: 10, rssBytes: 1000 * PAGE, pageTablesBytes: 0, oomScoreAdj: -500 }), 262144, PAGE);
    assert.equal(
      adjusted.reason,
      "badness -130000 pages = rss 1000 + swap 0 + pgtables 0 - adj 131000; oom_score_adj -500 x 262 pages (scope 262144 pages / 1000)",
    );
    const tiny = badnessPoints(proc({ pid: 10, rssBytes: 50 * PAGE, pageTablesBytes: 0, oomScoreAdj: 1000 }), 999, PAGE);
    assert.equal(tiny.reason, "badness 50 pages = rss 50 + swap 0 + pgtables 0; oom_score_adj 1000 adds 0 (scope 999 pages < 1000)");
  });
});

describe("unkillableReason", () => {
  // [name, process, expected reason or null]
  const cases: [string, ProcessSample, string | null][] = [
    ["init", proc({ pid: 1 }), "pid 1"],
    ["init with adj -1000 reports pid 1 first", proc({ pid: 1, oomScoreAdj: -1000 }), "pid 1"],
    ["kernel thread", proc({ pid: 2, isKernelThread: true, rssBytes: 0, pageTablesBytes: 0 }), "kernel thread"],
    ["the daemon", proc({ pid: SELF }), "oomwarden itself"],
    ["zombie", proc({ pid: 40, state: "Z", rssBytes: 0, pageTablesBytes: 0 }), "zombie"],
    ["dead", proc({ pid: 41, state: "X" }), "dead (state X)"],
    ["no mm", proc({ pid: 42, rssBytes: 0, swapBytes: 0, pageTablesBytes: 0 }), "no memory (no mm)"],
    ["fully swapped out is still killable", proc({ pid: 43, rssBytes: 0, swapBytes: PAGE, pageTablesBytes: 0 }), null],
    ["oom_score_adj -1000", proc({ pid: 44, oomScoreAdj: -1000 }), "oom_score_adj -1000"],
    ["oom_score_adj -999", proc({ pid: 45, oomScoreAdj: -999 }), null],
    ["D state is killable (seed 001: stuck, but still a process with memory)", proc({ pid: 46, state: "D" }), null],
  ];
  for (const [name, process, reason] of cases) {
    it(name, () => {
      assert.equal(unkillableReason(process, SELF)?.reason ?? null, reason);
      const b = oomBadness(process, SELF, 262144, PAGE);
      assert.equal(b.points === null, reason !== null);
    });
  }
});

describe("computeTotalPages", () => {
  const FALLBACK = 2_000_000;
  // [name, limitBytes, expected pages]
  const cases: [string, number | null, number][] = [
    ["no limit: the machine's pages", null, FALLBACK],
    ["64 MiB memcg", 64 * MIB, 16384],
    ["limit not page aligned rounds down", 64 * MIB + 100, 16384],
    ["limit 0 counts as 1 page (the kernel's ?: 1)", 0, 1],
    ["limit beyond the machine: the global OOM applies", 1e13, FALLBACK],
    ["v1 'unlimited' (PAGE_COUNTER_MAX)", 9223372036854771712, FALLBACK],
    ["Infinity", Number.POSITIVE_INFINITY, FALLBACK],
  ];
  for (const [name, limitBytes, pages] of cases) {
    it(name, () => assert.equal(computeTotalPages(cgroup(limitBytes), PAGE, FALLBACK), pages));
  }
  it("a missing fallback still gives at least 1 page", () => {
    assert.equal(computeTotalPages(cgroup(null), PAGE, 0), 1);
  });
});

describe("badness properties", () => {
  const processArb = fc.record({
    rssPages: fc.integer({ min: 0, max: 1 << 24 }),
    swapPages: fc.integer({ min: 0, max: 1 << 22 }),
    pageTablesBytes: fc.integer({ min: 0, max: 1 << 26 }),
    oomScoreAdj: fc.integer({ min: -999, max: 1000 }),
    totalPages: fc.integer({ min: 1, max: 1 << 28 }),
  });

  it("equals rss + swap + pgtables + adj * floor(total / 1000), an integer", () => {
    fc.assert(
      fc.property(processArb, (p) => {
        const b = badnessPoints(
          proc({ pid: 9, rssBytes: p.rssPages * PAGE, swapBytes: p.swapPages * PAGE, pageTablesBytes: p.pageTablesBytes, oomScoreAdj: p.oomScoreAdj }),
          p.totalPages,
          PAGE,
        );
        const expected = p.rssPages + p.swapPages + Math.floor(p.pageTablesBytes / PAGE) + p.oomScoreAdj * Math.floor(p.totalPages / 1000);
        return b.points === expected && Number.isSafeInteger(b.points);
      }),
    );
  });

  it("never falls when rss, swap or oom_score_adj rise", () => {
    fc.assert(
      fc.property(processArb, fc.nat(1 << 20), fc.nat(1000), (p, morePages, moreAdj) => {
        const base = proc({ pid: 9, rssBytes: p.rssPages * PAGE, swapBytes: p.swapPages * PAGE, oomScoreAdj: p.oomScoreAdj });
        const before = badnessPoints(base, p.totalPages, PAGE).points;
        const moreRss = badnessPoints({ ...base, rssBytes: base.rssBytes + morePages * PAGE }, p.totalPages, PAGE).points;
        const moreSwap = badnessPoints({ ...base, swapBytes: base.swapBytes + morePages * PAGE }, p.totalPages, PAGE).points;
        const higherAdj = badnessPoints({ ...base, oomScoreAdj: Math.min(1000, base.oomScoreAdj + moreAdj) }, p.totalPages, PAGE).points;
        return moreRss >= before && moreSwap >= before && higherAdj >= before;
      }),
    );
  });

  it("bytesToPages rounds down and treats negative sizes as 0", () => {
    assert.deepEqual([bytesToPages(-5, PAGE), bytesToPages(0, PAGE), bytesToPages(8191, PAGE), bytesToPages(8192, PAGE)], [0, 0, 1, 2]);
  });
});
