// The machine guard's screening listing: the bands from the kernel's oom_score are checked against
// what is read in full, allowing for what a process allocated between the reads.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ProcessGrowth } from "../../src/core/process-growth.js";
import { badnessBoundsOf, oomScoreOf } from "../../src/core/oom-score.js";
import { ok } from "../../src/core/result.js";
import type { ProcessSample } from "../../src/core/types.js";
import { listForDecision } from "../../src/engine/decision-listing.js";
import type { Host } from "../../src/engine/host.js";
import { value } from "../support/result-assert.js";

const PAGE = 4096;
const TOTAL_PAGES = 262_144; // 1 GiB, no swap
const MIB_PAGES = 256;

function proc(pid: number, comm: string, rssPages: number): ProcessSample {
  return { pid, comm, startTimeTicks: pid, state: "R", rssBytes: rssPages * PAGE, swapBytes: 0, pageTablesBytes: 0, oomScoreAdj: 0, isKernelThread: false, threads: 1, exiting: false };
}

/**
 * A host whose screening saw the processes as `screened` with oom_scores the kernel computed over
 * `kernelScalePages` when each had `atOomScorePages`, and whose full reads find them as `full`.
 */
function screeningHost(o: { screened: ProcessSample[]; atOomScorePages: Map<number, number>; full: ProcessSample[]; kernelScalePages: number }): Host & { fullReads: number[][] } {
  const fullReads: number[][] = [];
  const bounds = new Map(o.screened.map((p) => [p.pid, badnessBoundsOf(oomScoreOf(o.atOomScorePages.get(p.pid) ?? 0, o.kernelScalePages), TOTAL_PAGES)]));
  const host = {
    fullReads,
    pageSizeBytes: () => PAGE,
    selfPid: () => 1,
    screenAllProcesses: () => ok({ processes: o.screened, bounds, kernelTotalPages: TOTAL_PAGES }),
    readInFull: (pids: readonly number[]) => {
      fullReads.push([...pids]);
      return ok(o.full.filter((p) => pids.includes(p.pid)));
    },
    listAllProcesses: () => ok(o.full),
  };
  return host as unknown as Host & { fullReads: number[][] };
}

const ranking = { maxCandidates: 5, aliveVictims: [], killedElsewhere: [], minInFlightBytes: 16 * 1024 * 1024, rules: [] };

function list(host: Host) {
  return value(listForDecision({ host, growth: new ProcessGrowth(), horizonMs: 10_000, takenAtMs: 0, ranking, totalPages: TOTAL_PAGES, screen: true }));
}

describe("listForDecision: the screening's bands", () => {
  const others = [proc(10, "idle", 100 * MIB_PAGES), proc(11, "sh", 1 * MIB_PAGES)];

  it("a hog that grew 12 MiB between the screening and its full read still fits its band: the screening holds", () => {
    // stat at 556 MiB, oom_score 4 MiB later, the full read 8 MiB after that (a GiB a second, 12 ms).
    const hog = proc(20, "hog", 556 * MIB_PAGES);
    const atOomScore = new Map([[20, 560 * MIB_PAGES], [10, 100 * MIB_PAGES], [11, 1 * MIB_PAGES]]);
    const host = screeningHost({ screened: [hog, ...others], atOomScorePages: atOomScore, full: [proc(20, "hog", 568 * MIB_PAGES), ...others], kernelScalePages: TOTAL_PAGES });
    const listed = list(host);
    assert.equal(listed.bandsFailed, undefined);
    assert.ok(listed.screening !== undefined, "a screened decision");
    assert.deepEqual(host.fullReads, [[20]], "only the hog read in full");
  });

  it("before that allowance, the same hog read as a kernel scaling oom_score otherwise: the check would have failed", () => {
    // The band alone (with one band's slack) does not reach 568 MiB from an oom_score at 560 MiB.
    const band = badnessBoundsOf(oomScoreOf(560 * MIB_PAGES, TOTAL_PAGES), TOTAL_PAGES);
    assert.ok(568 * MIB_PAGES > band.highPages + (band.highPages - band.lowPages + 1));
  });

  it("a kernel that scales oom_score over another total (lxcfs' /proc/meminfo) fails the check with nothing moving, and everything is read in full", () => {
    const hog = proc(20, "hog", 560 * MIB_PAGES);
    const atOomScore = new Map([[20, 560 * MIB_PAGES], [10, 100 * MIB_PAGES], [11, 1 * MIB_PAGES]]);
    const host = screeningHost({ screened: [hog, ...others], atOomScorePages: atOomScore, full: [hog, ...others], kernelScalePages: 4 * TOTAL_PAGES });
    const listed = list(host);
    assert.match(listed.bandsFailed ?? "", /hog\[20\] has a badness of 143360 pages, its oom_score said/);
    assert.equal(listed.screening, undefined);
    assert.equal(listed.processes.length, 3, "every process read in full");
  });

  it("a process that shrank between the reads fits too, and the words say how much it moved when the check fails", () => {
    const hog = proc(20, "hog", 560 * MIB_PAGES);
    const shrunk = proc(20, "hog", 300 * MIB_PAGES);
    const fits = screeningHost({ screened: [hog, ...others], atOomScorePages: new Map([[20, 400 * MIB_PAGES]]), full: [shrunk, ...others], kernelScalePages: TOTAL_PAGES });
    assert.equal(list(fits).bandsFailed, undefined);
    const off = screeningHost({ screened: [hog, ...others], atOomScorePages: new Map([[20, 200 * MIB_PAGES]]), full: [proc(20, "hog", 561 * MIB_PAGES), ...others], kernelScalePages: TOTAL_PAGES });
    assert.match(list(off).bandsFailed ?? "", /its rss grew by 256 pages between the reads/);
  });
});
