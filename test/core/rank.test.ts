import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { unkillableReason } from "../../src/core/badness.js";
import { ALIVE_VICTIM_REASON, compareCandidates, IN_FLIGHT_REASON, rankCandidates, SMALL_EXIT_REASON, topCandidates } from "../../src/core/rank.js";
import type { CgroupSample, ProcessSample, Snapshot } from "../../src/core/types.js";
import { compileVictimRules } from "../../src/core/victim-rules.js";
import { processSample } from "../fixtures/process-sample.js";

const PAGE = 4096;
const MIB = 1024 * 1024;
const SELF = 700;
/** 8 GiB of RAM + swap, in pages. */
const MACHINE_PAGES = 2_097_152;

/** One row per process, systemd-oomd style: [pid, comm, state, rss pages, swap pages, pgtable pages, oom_score_adj, kernel thread]. */
type Row = [number, string, string, number, number, number, number, boolean];

function fromRows(rows: Row[]): ProcessSample[] {
  return rows.map(([pid, comm, state, rssPages, swapPages, ptPages, oomScoreAdj, isKernelThread]) => ({
    pid,
    comm,
    startTimeTicks: 5000 + pid,
    state,
    rssBytes: rssPages * PAGE,
    swapBytes: swapPages * PAGE,
    pageTablesBytes: ptPages * PAGE,
    oomScoreAdj,
    isKernelThread,
    threads: 1,
    exiting: false,
  }));
}

function memcg(limitBytes: number | null): CgroupSample {
  return {
    path: "/sys/fs/cgroup/memory/oomwarden-test",
    version: 1,
    usageBytes: limitBytes ?? 0,
    limitBytes,
    highBytes: null,
    underOom: true,
    oomKillDisabled: true,
    events: { low: 0, high: 0, max: 0, oom: 1, oomKill: 0, oomGroupKill: 0 },
    oomGroup: false,
  };
}

function snapshot(processes: ProcessSample[], limitBytes: number | null = 256 * MIB): Snapshot {
  return { takenAtMs: 1234.5, cgroup: memcg(limitBytes), processes, selfPid: SELF, pageSizeBytes: PAGE };
}

// A 256 MiB memcg = 65536 pages: oom_score_adj moves a score by 65 pages per unit.
const ROWS: Row[] = [
  [1, "systemd", "S", 3000, 0, 20, 0, false],
  [2, "kthreadd", "S", 0, 0, 0, 0, true],
  [SELF, "node", "S", 11000, 0, 40, -1000, false],
  [310, "hog", "R", 40000, 2000, 90, 0, false],
  [311, "hog-child", "Z", 0, 0, 0, 0, false],
  [320, "sshd", "S", 1500, 0, 10, -1000, false],
  [330, "worker", "D", 16000, 0, 384, 0, false],
  [331, "batch", "S", 1000, 0, 10, 500, false],
  [340, "db", "S", 30000, 0, 100, -300, false],
  [350, "twin-b", "S", 2000, 0, 0, 0, false],
  [349, "twin-a", "S", 2000, 0, 0, 0, false],
  [345, "swapped", "S", 1000, 1000, 0, 0, false],
];

describe("rankCandidates on a literal snapshot", () => {
  const ranking = rankCandidates(snapshot(fromRows(ROWS)), { maxCandidates: 3, totalMemoryPages: MACHINE_PAGES });

  it("scales oom_score_adj by the memcg limit", () => {
    assert.equal(ranking.totalPages, 65536);
  });

  it("orders candidates by score, then rss, then pid", () => {
    assert.deepEqual(
      ranking.candidates.map((c) => [c.pid, c.comm, c.score]),
      [
        [310, "hog", 42090],
        [331, "batch", 33510], // 1010 + 500 x 65
        [330, "worker", 16384],
        [340, "db", 10600], // 30100 - 300 x 65
        [349, "twin-a", 2000], // equal score and rss: lower pid first
        [350, "twin-b", 2000],
        [345, "swapped", 2000], // same score as the twins and a lower pid, but less rss
      ],
    );
  });

  it("explains every score", () => {
    const byPid = new Map(ranking.candidates.map((c) => [c.pid, c.reason]));
    assert.equal(byPid.get(330), "badness 16384 pages = rss 16000 + swap 0 + pgtables 384; oom_score_adj 0");
    assert.equal(
      byPid.get(331),
      "badness 33510 pages = rss 1000 + swap 0 + pgtables 10 + adj 32500; oom_score_adj 500 x 65 pages (scope 65536 pages / 1000)",
    );
  });

  it("excludes with a reason, pid ascending", () => {
    assert.deepEqual(ranking.excluded, [
      { pid: 1, comm: "systemd", reason: "pid 1" },
      { pid: 2, comm: "kthreadd", reason: "kernel thread" },
      { pid: 311, comm: "hog-child", reason: "zombie" },
      { pid: 320, comm: "sshd", reason: "oom_score_adj -1000" },
      { pid: SELF, comm: "node", reason: "oomwarden itself" },
    ]);
  });

  it("keeps the full order in candidates and the journal's share in top", () => {
    assert.equal(ranking.candidates.length, 7);
    assert.deepEqual(ranking.top, ranking.candidates.slice(0, 3));
    assert.deepEqual(topCandidates(ranking, 2), ranking.candidates.slice(0, 2));
    assert.deepEqual(topCandidates(ranking, -1), []);
    assert.deepEqual(topCandidates(ranking, Number.NaN), []);
    assert.equal(topCandidates(ranking, Number.MAX_SAFE_INTEGER).length, 7);
  });

  it("carries pid, start time and rss for a race-free kill", () => {
    assert.deepEqual(ranking.candidates[0], {
      pid: 310,
      comm: "hog",
      startTimeTicks: 5310,
      rssBytes: 40000 * PAGE,
      score: 42090,
      reason: "badness 42090 pages = rss 40000 + swap 2000 + pgtables 90; oom_score_adj 0",
    });
  });
});

describe("rankCandidates details", () => {
  it("never changes the snapshot it reads", () => {
    const snap = snapshot(fromRows(ROWS));
    const before = structuredClone(snap);
    deepFreeze(snap);
    rankCandidates(snap, { maxCandidates: 5, totalMemoryPages: MACHINE_PAGES });
    assert.deepEqual(snap, before);
  });

  it("excludes victims still dying, matched on pid and start time (a reused pid stays a candidate)", () => {
    const processes = fromRows(ROWS);
    const ranking = rankCandidates(snapshot(processes), {
      maxCandidates: 5,
      totalMemoryPages: MACHINE_PAGES,
      aliveVictims: [
        { pid: 310, startTimeTicks: 5310 },
        { pid: 330, startTimeTicks: 1 }, // pid 330 was reused since that kill
      ],
    });
    assert.equal(ranking.candidates[0]?.pid, 331);
    assert.ok(ranking.candidates.some((c) => c.pid === 330));
    assert.deepEqual(
      ranking.excluded.find((e) => e.pid === 310),
      { pid: 310, comm: "hog", reason: ALIVE_VICTIM_REASON },
    );
  });

  it("without a cgroup limit, scales adj by the machine's pages", () => {
    const ranking = rankCandidates(snapshot(fromRows([[400, "a", "S", 100, 0, 0, 10, false]]), null), {
      maxCandidates: 1,
      totalMemoryPages: MACHINE_PAGES,
    });
    assert.equal(ranking.totalPages, MACHINE_PAGES);
    assert.equal(ranking.candidates[0]?.score, 100 + 10 * 2097);
  });

  it("in a tiny cgroup oom_score_adj cannot reorder anything", () => {
    // 2 MiB = 512 pages < 1000: floor(512 / 1000) = 0 pages per unit.
    const rows: Row[] = [
      [500, "small-preferred", "S", 100, 0, 0, 1000, false],
      [501, "big-protected", "S", 300, 0, 0, -999, false],
    ];
    const ranking = rankCandidates(snapshot(fromRows(rows), 2 * MIB), { maxCandidates: 2, totalMemoryPages: MACHINE_PAGES });
    assert.deepEqual(ranking.candidates.map((c) => [c.pid, c.score]), [[501, 300], [500, 100]]);
  });

  it("an empty or all-excluded snapshot gives no candidates", () => {
    assert.deepEqual(rankCandidates(snapshot([]), { maxCandidates: 5, totalMemoryPages: 1 }).candidates, []);
    const onlyInit = rankCandidates(snapshot(fromRows([ROWS[0]!])), { maxCandidates: 5, totalMemoryPages: 1 });
    assert.deepEqual([onlyInit.candidates, onlyInit.excluded.length], [[], 1]);
  });
});

describe("processes a screening left out", () => {
  // Read in full: the hog and sshd (protected by oom_score_adj -1000); screened: four others.
  const [hog, sshd, ...rest] = fromRows([
    [310, "hog", "R", 40000, 0, 90, 0, false],
    [320, "sshd", "S", 1500, 0, 10, -1000, false],
    [330, "worker", "S", 16000, 0, 40, 0, false],
    [331, "cache", "S", 30000, 0, 60, 0, false],
    [332, "unkillable", "S", 50000, 0, 10, -1000, false],
    [333, "tiny", "S", 10, 0, 0, 0, false],
  ]);
  const screenedOut = rest;
  const shot: Snapshot = { ...snapshot([hog!, sshd!]), screenedOut };

  it("fill the journal's list after the candidates, best first and marked screened; never candidates to kill", () => {
    const ranking = rankCandidates(shot, { maxCandidates: 4, totalMemoryPages: MACHINE_PAGES });
    assert.deepEqual(ranking.candidates.map((c) => c.comm), ["hog"]);
    assert.deepEqual(
      ranking.top.map((c) => [c.comm, c.screened ?? false]),
      [
        ["hog", false],
        ["cache", true],
        ["worker", true],
        ["tiny", true],
      ],
    );
    // Ranked as the candidates are: the same badness, with the reason saying where it came from.
    const cache = ranking.top[1]!;
    assert.equal(cache.score, 30060);
    assert.match(cache.reason, /screened: rss from stat/);
    // A process the kernel will not kill is never listed as a runner-up, nor is it an exclusion (it was not read in full).
    assert.ok(!ranking.top.some((c) => c.comm === "unkillable"));
    assert.ok(!ranking.excluded.some((e) => e.comm === "unkillable"));
  });

  it("only as many as the list has room for, and none when the candidates fill it", () => {
    assert.deepEqual(
      rankCandidates(shot, { maxCandidates: 2, totalMemoryPages: MACHINE_PAGES }).top.map((c) => c.comm),
      ["hog", "cache"],
    );
    const full = rankCandidates({ ...snapshot(fromRows(ROWS)), screenedOut }, { maxCandidates: 3, totalMemoryPages: MACHINE_PAGES });
    assert.ok(full.top.length === 3 && full.top.every((c) => c.screened === undefined));
  });

  it("a screened process a protect rule names is not listed; one a prefer rule names keeps its class", () => {
    const compiled = compileVictimRules(
      [
        { name: "keep-cache", comm: "^cache$", action: "protect" },
        { name: "tiny-first", comm: "^tiny$", action: "prefer" },
      ],
      { linearFallback: false },
    );
    assert.ok(compiled.ok);
    const ranking = rankCandidates(shot, { maxCandidates: 4, totalMemoryPages: MACHINE_PAGES, rules: compiled.rules });
    assert.deepEqual(ranking.top.map((c) => c.comm), ["hog", "tiny", "worker"]);
    assert.equal(ranking.top[1]?.ruleAction, "prefer");
  });
});

describe("processes on their way out", () => {
  const base = (fields: Partial<ProcessSample> & { pid: number }): ProcessSample => processSample({ state: "R", rssBytes: 100 * MIB, ...fields });
  const rank = (processes: ProcessSample[], extra: Partial<Parameters<typeof rankCandidates>[1]> = {}) =>
    rankCandidates(snapshot(processes), { maxCandidates: 5, totalMemoryPages: MACHINE_PAGES, minInFlightBytes: MIB, ...extra });

  it("an exiting process is in flight, even past exit_mm when it shows no memory; never a candidate", () => {
    const r = rank([base({ pid: 400, exiting: true }), base({ pid: 401, exiting: true, rssBytes: 0, pageTablesBytes: 0 }), base({ pid: 402 })]);
    assert.deepEqual(r.inFlight.map((p) => p.pid), [400, 401], "most memory first");
    assert.deepEqual(r.candidates.map((c) => c.pid), [402]);
    assert.ok(r.excluded.every((e) => e.reason === IN_FLIGHT_REASON));
  });

  it("a zombie leader is in flight only while other threads hold its memory", () => {
    const r = rank([base({ pid: 410, state: "Z", threads: 2, exiting: true, rssBytes: 0 }), base({ pid: 411, state: "Z", threads: 1, exiting: true, rssBytes: 0 })]);
    assert.deepEqual(r.inFlight.map((p) => p.pid), [410]);
    assert.deepEqual(r.excluded.find((e) => e.pid === 411)?.reason, "zombie");
  });

  it("an exiting process showing less than minInFlightBytes is excluded, not waited for", () => {
    const r = rank([base({ pid: 420, exiting: true, rssBytes: 512 * 1024 })]);
    assert.deepEqual(r.inFlight, []);
    assert.equal(r.excluded[0]?.reason, SMALL_EXIT_REASON);
  });

  it("a process another scope killed is in flight whatever its flags show; our own victim stays only excluded", () => {
    const other = base({ pid: 430 });
    const ours = base({ pid: 431, exiting: true });
    const r = rank([other, ours], { killedElsewhere: [other], aliveVictims: [ours] });
    assert.deepEqual(r.inFlight.map((p) => p.pid), [430]);
    assert.equal(r.excluded.find((e) => e.pid === 431)?.reason, ALIVE_VICTIM_REASON);
    assert.deepEqual(r.candidates, []);
  });

  it("init, kernel threads and oomwarden itself are never in flight", () => {
    const r = rank([base({ pid: 1, exiting: true }), base({ pid: 2, isKernelThread: true, exiting: true }), base({ pid: SELF, exiting: true })]);
    assert.deepEqual(r.inFlight, []);
  });
});

describe("ranking properties", () => {
  const processArb = fc.record({
    pid: fc.integer({ min: 1, max: 400 }),
    comm: fc.constantFrom("a", "b", "hog", "db"),
    startTimeTicks: fc.integer({ min: 0, max: 50 }),
    state: fc.constantFrom("R", "S", "S", "D", "Z", "X"),
    // Small ranges make ties common.
    rssBytes: fc.integer({ min: 0, max: 8 }).map((pages) => pages * PAGE),
    swapBytes: fc.integer({ min: 0, max: 3 }).map((pages) => pages * PAGE),
    pageTablesBytes: fc.integer({ min: 0, max: 2 }).map((pages) => pages * PAGE),
    oomScoreAdj: fc.oneof(fc.constantFrom(-1000, -1, 0, 1, 1000), fc.integer({ min: -1000, max: 1000 })),
    isKernelThread: fc.integer({ min: 0, max: 4 }).map((n) => n === 0),
    threads: fc.integer({ min: 1, max: 3 }),
    exiting: fc.integer({ min: 0, max: 5 }).map((n) => n === 0),
  });
  const scenarioArb = fc.record({
    processes: fc.uniqueArray(processArb, { selector: (p) => p.pid, maxLength: 40 }),
    selfPid: fc.integer({ min: 1, max: 400 }),
    limitBytes: fc.option(fc.integer({ min: 0, max: 64 * MIB }), { nil: null }),
    totalMemoryPages: fc.integer({ min: 0, max: 1 << 22 }),
    maxCandidates: fc.integer({ min: 0, max: 10 }),
  });
  const snap = (s: { processes: ProcessSample[]; selfPid: number; limitBytes: number | null }): Snapshot => ({
    ...snapshot(s.processes, s.limitBytes),
    selfPid: s.selfPid,
  });

  it("(a) is permutation invariant: any input order gives the same ranking", () => {
    fc.assert(
      fc.property(
        scenarioArb.chain((s) => fc.tuple(fc.constant(s), fc.shuffledSubarray(s.processes, { minLength: s.processes.length }))),
        ([s, shuffled]) => {
          const options = { maxCandidates: s.maxCandidates, totalMemoryPages: s.totalMemoryPages };
          assert.deepEqual(rankCandidates(snap({ ...s, processes: shuffled }), options), rankCandidates(snap(s), options));
        },
      ),
    );
  });

  it("(a) is a strict total order on fixed keys: score desc, rss desc, pid asc", () => {
    fc.assert(
      fc.property(scenarioArb, (s) => {
        const { candidates } = rankCandidates(snap(s), { maxCandidates: s.maxCandidates, totalMemoryPages: s.totalMemoryPages });
        for (let i = 1; i < candidates.length; i++) {
          const [a, b] = [candidates[i - 1]!, candidates[i]!];
          const keyOrder = a.score > b.score || (a.score === b.score && (a.rssBytes > b.rssBytes || (a.rssBytes === b.rssBytes && a.pid < b.pid)));
          assert.ok(keyOrder, `pid ${a.pid} before pid ${b.pid} breaks the key order`);
          assert.ok(compareCandidates(a, b) < 0 && compareCandidates(b, a) > 0);
        }
      }),
    );
  });

  it("(b) excluded processes never appear as candidates, and every process lands in exactly one list", () => {
    fc.assert(
      fc.property(scenarioArb, (s) => {
        const ranking = rankCandidates(snap(s), { maxCandidates: s.maxCandidates, totalMemoryPages: s.totalMemoryPages });
        const candidatePids = new Set(ranking.candidates.map((c) => c.pid));
        for (const e of ranking.excluded) assert.ok(!candidatePids.has(e.pid), `excluded pid ${e.pid} is a candidate`);
        for (const p of s.processes) {
          if (unkillableReason(p, s.selfPid) !== null) assert.ok(!candidatePids.has(p.pid), `unkillable pid ${p.pid} is a candidate`);
        }
        assert.ok(!candidatePids.has(1) && !candidatePids.has(s.selfPid));
        assert.equal(ranking.candidates.length + ranking.excluded.length, s.processes.length);
        assert.deepEqual(ranking.top, ranking.candidates.slice(0, s.maxCandidates));
      }),
    );
  });
});

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object") {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
