import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { allocStallsTotal, parseVmstat, reclaimedPagesTotal } from "../../src/host/linux/parse-vmstat.js";
import { captured } from "../fixtures/captured.js";
import { errorOf, value } from "../support/result-assert.js";

const VMSTAT = captured("proc-vmstat.txt");

/** A counter of the captured text, found by a regex rather than the parser. */
function counterByRegex(name: string): number {
  const match = new RegExp(`^${name} (\\d+)$`, "m").exec(VMSTAT);
  if (match === null) throw new Error(`captured vmstat has no ${name}`);
  return Number(match[1]);
}

describe("parseVmstat", () => {
  it("reads every counter of this machine's /proc/vmstat", () => {
    const vmstat = value(parseVmstat(VMSTAT));
    // 192 lines, one counter each (wc -l on the captured file).
    assert.equal(vmstat.size, 192);
    // Values checked by hand with grep on test/fixtures/captured/proc-vmstat.txt.
    assert.equal(vmstat.get("nr_free_pages"), 1897833);
    assert.equal(vmstat.get("pgfault"), 165415538);
    assert.equal(vmstat.get("oom_kill"), 556);
    assert.equal(vmstat.get("pgsteal_file"), 5830);
  });

  it("the reclaim and stall sums of the captured text match a regex count", () => {
    const vmstat = value(parseVmstat(VMSTAT));
    const expectedReclaimed = counterByRegex("pgsteal_kswapd") + counterByRegex("pgsteal_direct") + counterByRegex("pgsteal_khugepaged");
    let expectedStalls = 0;
    for (const match of VMSTAT.matchAll(/^allocstall_\w+ (\d+)$/gm)) expectedStalls += Number(match[1]);
    assert.equal(reclaimedPagesTotal(vmstat), expectedReclaimed);
    assert.equal(allocStallsTotal(vmstat), expectedStalls);
    // Both are 0 here although pgsteal_file is 5830: that reclaim came from memcg limits (the
    // OOM tests' scratch cgroups), which the kernel leaves out of the global pgsteal_* and allocstall_*.
    assert.equal(expectedReclaimed, 0);
    assert.equal(expectedStalls, 0);
  });

  it("sums kswapd, direct and khugepaged reclaim, and every allocstall_ zone", () => {
    const vmstat = value(
      parseVmstat(
        [
          "pgsteal_kswapd 10",
          "pgsteal_direct 5",
          "pgsteal_khugepaged 2",
          "pgsteal_proactive 100",
          "pgsteal_anon 7",
          "pgsteal_file 10",
          "allocstall_dma 0",
          "allocstall_dma32 3",
          "allocstall_normal 4",
          "allocstall_movable 1",
          "allocstall_device 0",
          "",
        ].join("\n"),
      ),
    );
    assert.equal(reclaimedPagesTotal(vmstat), 17, "proactive and anon/file are not counted");
    assert.equal(allocStallsTotal(vmstat), 8);
  });

  it("missing counters count 0", () => {
    const vmstat = value(parseVmstat("pgsteal_direct 5\nnr_free_pages 1\n"));
    assert.equal(reclaimedPagesTotal(vmstat), 5);
    assert.equal(allocStallsTotal(vmstat), 0);
  });

  describe("malformed text is a failure with a message", () => {
    const cases: Array<[string, string, RegExp]> = [
      ["empty text", "", /no counters/],
      ["a truncated number", VMSTAT.replace(/^pgfault 165415538$/m, "pgfault 1654155x"), /cannot read "pgfault 1654155x"/],
      ["a name without a value", "nr_free_pages 1\npgfault\n", /line 2: cannot read "pgfault"/],
      ["a negative value", "nr_free_pages -1\n", /cannot read "nr_free_pages -1"/],
      ["two values", "nr_free_pages 1 2\n", /cannot read/],
      ["a counter twice", "oom_kill 1\noom_kill 2\n", /"oom_kill" appears twice/],
    ];
    for (const [name, text, message] of cases) {
      it(name, () => {
        const error = errorOf(parseVmstat(text));
        assert.equal(error.code, "PARSE_ERROR");
        assert.match(error.message, message);
      });
    }
  });
});
