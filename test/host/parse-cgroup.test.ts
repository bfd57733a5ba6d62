import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { limitOrNull, V1_UNLIMITED_THRESHOLD_BYTES } from "../../src/host/linux/control-files.js";
import {
  parseBytes,
  parseControllerList,
  parseFlag,
  parseFlatKeyed,
  parseLimit,
  parseMemoryEvents,
  parseOomControl,
  parsePidList,
} from "../../src/host/linux/parse-cgroup.js";
import { parsePressure } from "../../src/host/linux/parse-pressure.js";
import { captured } from "../fixtures/captured.js";
import { value } from "../support/result-assert.js";

describe("parseOomControl (v1)", () => {
  it("reads the real root cgroup: killer enabled, not under OOM", () => {
    assert.deepEqual(value(parseOomControl(captured("v1-root-memory.oom_control.txt"))), {
      oomKillDisabled: false,
      underOom: false,
      oomKillCount: 0,
    });
  });
  it("reads a real cgroup sitting under OOM with the killer disabled", () => {
    assert.deepEqual(value(parseOomControl(captured("v1-memory.oom_control.under-oom.txt"))), {
      oomKillDisabled: true,
      underOom: true,
      oomKillCount: 0,
    });
  });
  it("reads the kernel's kill count after it acted", () => {
    assert.equal(value(parseOomControl(captured("v1-memory.oom_control.after-kill.txt"))).oomKillCount, 1);
  });
  it("kernels before 4.13 print no oom_kill line: count 0", () => {
    assert.equal(value(parseOomControl("oom_kill_disable 1\nunder_oom 0\n")).oomKillCount, 0);
  });
  it("rejects text without under_oom", () => {
    const result = parseOomControl("oom_kill_disable 0\n");
    assert.equal(result.ok, false);
    if (!result.ok) assert.equal(result.error.code, "PARSE_ERROR");
  });
});

describe("parseFlatKeyed", () => {
  it("reads the real v1 root memory.stat", () => {
    const stat = value(parseFlatKeyed(captured("v1-root-memory.stat.txt")));
    assert.equal(stat.get("rss"), 6057984);
    assert.equal(stat.get("total_inactive_file"), 68816896);
    assert.equal(stat.size, 42);
    // The sentinel is above 2^53: it comes back rounded, still above the unlimited threshold.
    assert.ok((stat.get("hierarchical_memory_limit") ?? 0) >= V1_UNLIMITED_THRESHOLD_BYTES);
  });
  it("reads the real v2 root cgroup.stat", () => {
    const stat = value(parseFlatKeyed(captured("v2-root-cgroup.stat.txt")));
    assert.equal(stat.get("nr_descendants"), 0);
    assert.equal(stat.get("nr_subsys_hugetlb"), 1);
  });
  it("rejects a line that is not 'key number'", () => {
    assert.equal(parseFlatKeyed("oom 1\nbroken\n").ok, false);
    assert.equal(parseFlatKeyed("oom one\n").ok, false);
  });
});

describe("parseMemoryEvents (v2)", () => {
  // Format per Documentation/admin-guide/cgroup-v2.rst; memory is bound to v1 on our machines, so not captured.
  it("maps every counter", () => {
    const text = "low 1\nhigh 2\nmax 3\noom 4\noom_kill 5\noom_group_kill 6\n";
    assert.deepEqual(value(parseMemoryEvents(text)), { low: 1, high: 2, max: 3, oom: 4, oomKill: 5, oomGroupKill: 6 });
  });
  it("a kernel without oom_group_kill reads it as 0", () => {
    assert.equal(value(parseMemoryEvents("low 0\nhigh 0\nmax 9\noom 2\noom_kill 1\n")).oomGroupKill, 0);
  });
});

describe("parseLimit and the v1 sentinel", () => {
  it("the real v1 root's 9223372036854771712 means no limit", () => {
    assert.equal(value(parseLimit(captured("v1-root-memory.limit_in_bytes.txt"))), null);
    assert.equal(value(parseLimit(captured("v1-root-memory.memsw.limit_in_bytes.txt"))), null);
  });
  it('v2 "max" means no limit', () => {
    assert.equal(value(parseLimit("max\n")), null);
  });
  it("a real limit is bytes", () => {
    assert.equal(value(parseLimit("67108864\n")), 67108864);
  });
  it("the 64 KiB-page sentinel is also unlimited", () => {
    assert.equal(value(parseLimit("9223372036854710272\n")), null);
  });
  it("anything at or above 2^62 is unlimited; anything below is a limit", () => {
    assert.equal(limitOrNull(2 ** 62), null);
    assert.equal(limitOrNull(2 ** 62 - 2 ** 12), 2 ** 62 - 2 ** 12);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), (bytes) => {
        assert.equal(value(parseLimit(`${bytes}\n`)), bytes);
      }),
    );
  });
  it("rejects negative, empty and words other than max", () => {
    for (const bad of ["-1", "", "unlimited", "12 kB"]) assert.equal(parseLimit(bad).ok, false, bad);
  });
});

describe("parseBytes, parseFlag, parsePidList, parseControllerList", () => {
  it("reads the real root usage and the at-limit usage (no trailing newline)", () => {
    assert.equal(value(parseBytes(captured("v1-root-memory.usage_in_bytes.txt"))), 146604032);
    assert.equal(value(parseBytes(captured("v1-memory.usage_in_bytes.at-limit.txt"))), 67108864);
    assert.equal(parseBytes("").ok, false);
  });
  it("flags are 0 or 1 only", () => {
    assert.equal(value(parseFlag("1\n")), true);
    assert.equal(value(parseFlag("0\n")), false);
    assert.equal(parseFlag("2\n").ok, false);
  });
  it("pid lists keep the kernel's order and reject non-pids", () => {
    assert.deepEqual(value(parsePidList("3510\n3513\n")), [3510, 3513]);
    assert.deepEqual(value(parsePidList("")), []);
    assert.equal(parsePidList("12\nabc\n").ok, false);
    assert.equal(parsePidList("0\n").ok, false);
  });
  it("reads the real v2 root controllers (only hugetlb: memory is bound to v1)", () => {
    assert.deepEqual(parseControllerList(captured("v2-root-cgroup.controllers.txt")), ["hugetlb"]);
    assert.deepEqual(parseControllerList(captured("v2-root-cgroup.subtree_control.txt")), []);
  });
});

describe("parsePressure", () => {
  it("reads real /proc/pressure/memory", () => {
    assert.deepEqual(value(parsePressure(captured("proc-pressure-memory.txt"))), {
      some: { avg10Pct: 0, avg60Pct: 0, avg300Pct: 0, totalUs: 1312 },
      full: { avg10Pct: 0, avg60Pct: 0, avg300Pct: 0, totalUs: 1077 },
    });
  });
  it("reads the real v2 root memory.pressure: the root cgroup's PSI is the system-wide one", () => {
    // Captured right after a memcg OOM: the stall shows in both, with the same totals.
    assert.deepEqual(value(parsePressure(captured("v2-root-memory.pressure.txt"))), value(parsePressure(captured("proc-pressure-memory.txt"))));
    assert.equal(value(parsePressure(captured("v2-root-memory.pressure.txt"))).some.totalUs, 1312);
  });
  it("reads non-zero averages", () => {
    const pressure = value(parsePressure("some avg10=12.50 avg60=3.04 avg300=0.71 total=987654\n"));
    assert.equal(pressure.some.avg10Pct, 12.5);
    assert.equal(pressure.full, null);
  });
  it("rejects text without a some line", () => {
    assert.equal(parsePressure("").ok, false);
    assert.equal(parsePressure("some avg10=x\n").ok, false);
  });
});
