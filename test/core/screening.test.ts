// Which screened processes a decision reads in full: literal listings, and the property that the
// ranking over what was read in full starts exactly as the ranking over every process would.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { oomBadness } from "../../src/core/badness.js";
import { badnessBoundsOf, oomScoreOf, type BadnessBounds } from "../../src/core/oom-score.js";
import type { GrowthProjection } from "../../src/core/process-growth.js";
import { rankCandidates } from "../../src/core/rank.js";
import { chooseFullReads, type ScreenedListing, type ScreeningOptions } from "../../src/core/screening.js";
import type { ProcessSample } from "../../src/core/types.js";
import { compileVictimRules } from "../../src/core/victim-rules.js";
import { processSample } from "../fixtures/process-sample.js";
import { machineScope } from "../support/machine-samples.js";

const PAGE = 4096;
const MIB = 1024 * 1024;
/** A 1 GiB machine, no swap: a band of oom_score is about 1.5 MiB of badness. */
const TOTAL_PAGES = 262_144;
const SELF = 9999;

function listing(processes: ProcessSample[], options: { fullPids?: number[]; total?: number } = {}): ScreenedListing {
  const total = options.total ?? TOTAL_PAGES;
  const bounds = new Map<number, BadnessBounds>();
  for (const proc of processes) {
    if (options.fullPids?.includes(proc.pid)) continue;
    bounds.set(proc.pid, badnessBoundsOf(oomScoreOf(oomBadness(proc, -1, total, PAGE).points, total), total));
  }
  return { processes, bounds, kernelTotalPages: total };
}

function screening(o: Partial<ScreeningOptions> = {}): ScreeningOptions {
  return { maxCandidates: 2, totalPages: TOTAL_PAGES, pageSizeBytes: PAGE, selfPid: SELF, rules: [], aliveVictims: [], killedElsewhere: [], ...o };
}

function growthOf(rates: Record<number, number>): GrowthProjection {
  return { rates: { bytesPerSec: (p) => rates[p.pid] ?? null, peakBytesBefore: () => null }, horizonMs: 10_000 };
}

const proc = (pid: number, rssMiB: number, o: Partial<ProcessSample> = {}): ProcessSample => processSample({ pid, rssBytes: rssMiB * MIB, ...o });

describe("chooseFullReads", () => {
  it("reads the few that could be among the first candidates, and leaves the small ones out", () => {
    const processes = [proc(10, 300), proc(11, 200), proc(12, 199.5), ...Array.from({ length: 20 }, (_, i) => proc(20 + i, 5))];
    const choice = chooseFullReads(listing(processes), screening());
    // 12 is within a band of 11: it could be second.
    assert.deepEqual(choice.readInFull, [10, 11, 12]);
    assert.equal(choice.screenedOut, 20);
    assert.ok(choice.screenedOutAtMostPages !== null && choice.screenedOutAtMostPages < 200 * 256);
  });

  it("a process growing fast is read though smaller than idle ones; an idle big one ranks after every grower", () => {
    const processes = [proc(10, 400), proc(11, 300), proc(12, 20), proc(13, 10), proc(14, 5)];
    const choice = chooseFullReads(listing(processes), screening({ maxCandidates: 1, growth: growthOf({ 10: 0, 11: 0, 12: 0, 13: 30 * MIB, 14: 1 * MIB }) }));
    // 13 projects 10 + 300 MiB; 14 only 5 + 10 MiB, and the idle ones go after every grower.
    assert.deepEqual(choice.readInFull, [13]);
  });

  it("always reads what a rule names, what is on its way out and a victim still dying, and init and itself (so the journal says why they are never candidates)", () => {
    const compiled = compileVictimRules([{ name: "spare-db", comm: "^db$", action: "protect" }], { linearFallback: false });
    assert.ok(compiled.ok);
    const processes = [proc(1, 500), proc(SELF, 500), proc(10, 400), proc(11, 1, { comm: "db" }), proc(12, 1, { exiting: true }), proc(13, 1), proc(14, 1)];
    const choice = chooseFullReads(listing(processes), screening({ maxCandidates: 1, rules: compiled.rules, aliveVictims: [{ pid: 13, startTimeTicks: 1013 }] }));
    assert.deepEqual(choice.readInFull, [1, 10, 11, 12, 13, SELF].sort((a, b) => a - b));
    assert.equal(choice.screenedOut, 1);
  });

  it("one the kernel will not kill, as big as a candidate, is read so the journal says why it was passed over", () => {
    const processes = [proc(10, 400, { oomScoreAdj: -1000 }), proc(11, 100), proc(12, 2)];
    assert.deepEqual(chooseFullReads(listing(processes), screening({ maxCandidates: 1 })).readInFull, [10, 11]);
  });

  it("fewer processes than candidates wanted, or a scope that scales oom_score_adj otherwise: everything is read", () => {
    const processes = [proc(10, 50), proc(11, 40)];
    assert.deepEqual(chooseFullReads(listing(processes), screening({ maxCandidates: 5 })).readInFull, [10, 11]);
    const many = Array.from({ length: 10 }, (_, i) => proc(10 + i, i + 1));
    const standIn = chooseFullReads(listing(many), screening({ maxCandidates: 1, totalPages: TOTAL_PAGES / 2 }));
    assert.equal(standIn.readInFull.length, 10);
    assert.equal(standIn.screenedOut, 0);
  });

  it("processes already read in full count as sure ranks and are not asked for again", () => {
    const processes = [proc(10, 300), proc(11, 250), proc(12, 10)];
    const choice = chooseFullReads(listing(processes, { fullPids: [10, 11] }), screening());
    assert.deepEqual(choice.readInFull, []);
    assert.equal(choice.screenedOut, 1);
  });

  it("property: the first candidates ranked from what was read in full are those ranked from everything", () => {
    const arbitraryProcess = fc.record({
      rssMiB: fc.integer({ min: 0, max: 300 }),
      swapMiB: fc.integer({ min: 0, max: 50 }),
      adj: fc.constantFrom(0, 0, 0, 100, -500, -1000, 500),
      growthMiBs: fc.option(fc.constantFrom(0, 0.1, 1, 5, 30), { nil: null }),
      exiting: fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
      full: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(arbitraryProcess, { minLength: 1, maxLength: 40 }), fc.integer({ min: 1, max: 6 }), fc.boolean(), (specs, maxCandidates, withGrowth) => {
        const processes = specs.map((s, i) =>
          processSample({ pid: 100 + i, rssBytes: s.rssMiB * MIB, swapBytes: s.swapMiB * MIB, pageTablesBytes: PAGE, oomScoreAdj: s.adj, exiting: s.exiting }),
        );
        const rates: Record<number, number> = {};
        specs.forEach((s, i) => {
          if (s.growthMiBs !== null) rates[100 + i] = s.growthMiBs * MIB;
        });
        const growth = withGrowth ? growthOf(rates) : undefined;
        const fullPids = specs.flatMap((s, i) => (s.full ? [100 + i] : []));
        const screened = listing(processes, { fullPids });
        const choice = chooseFullReads(screened, screening({ maxCandidates, ...(growth !== undefined ? { growth } : {}) }));
        const kept = new Set([...choice.readInFull, ...fullPids]);
        const rankOptions = { maxCandidates, totalMemoryPages: TOTAL_PAGES, ...(growth !== undefined ? { growth } : {}) };
        const snapshotOf = (list: ProcessSample[]) => ({ takenAtMs: 0, cgroup: machineScope(), processes: list, selfPid: SELF, pageSizeBytes: PAGE });
        const everything = rankCandidates(snapshotOf(processes), rankOptions);
        const readOnly = rankCandidates(snapshotOf(processes.filter((p) => kept.has(p.pid))), rankOptions);
        assert.deepEqual(readOnly.top.map((c) => c.pid), everything.top.map((c) => c.pid));
        assert.deepEqual(readOnly.inFlight, everything.inFlight);
      }),
      { numRuns: 1500 },
    );
  });
});
