// Numbers in kernel files: a value a kernel cannot print in a field is a parse error, never
// Infinity and never a negative count; a size may be up to 2^64 - 1 (the v1 "no limit" sentinel).

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseBytes, parseFlatKeyed, parseLimit, parseMemoryEvents, parseOomControl, parsePidList } from "../../src/host/linux/parse-cgroup.js";
import { parseCount, parseInteger, parseUnsigned } from "../../src/host/linux/parse-number.js";
import { parsePressure } from "../../src/host/linux/parse-pressure.js";
import { parseProcLocks } from "../../src/host/linux/parse-proc-locks.js";
import { parseMeminfo, parseMountinfo, parseProcCgroup, parseProcStat, parseProcStatus } from "../../src/host/linux/parse-proc.js";
import { parseVmstat } from "../../src/host/linux/parse-vmstat.js";
import { parseZoneinfo } from "../../src/host/linux/parse-zoneinfo.js";
import { captured } from "../fixtures/captured.js";
import { errorOf, value } from "../support/result-assert.js";

const HUGE = "9".repeat(400);

describe("parse-number", () => {
  it("parseUnsigned: sizes up to 2^64 - 1, rounded beyond 2^53; longer numbers are not sizes", () => {
    assert.equal(parseUnsigned(HUGE), null);
    assert.equal(parseUnsigned("18446744073709551616"), null, "2^64");
    assert.equal(parseUnsigned("18446744073709551615"), 2 ** 64);
    assert.equal(parseUnsigned("9223372036854771712"), 9223372036854771712);
    assert.equal(parseUnsigned(`${"0".repeat(400)}42`), 42, "leading zeros are still a small number");
    assert.equal(parseUnsigned("-1"), null);
    // The short path (up to 15 digits, no BigInt) and the long one agree at the edge.
    assert.equal(parseUnsigned("999999999999999"), 999999999999999);
    assert.equal(parseUnsigned("0999999999999999"), 999999999999999);
    assert.equal(parseUnsigned("9007199254740993"), 9007199254740992, "past 2^53: rounded");
    assert.equal(parseUnsigned("000000000000042"), 42);
    assert.equal(parseUnsigned("0"), 0);
  });

  it("parseCount: non-negative safe integers only", () => {
    assert.equal(parseCount("0"), 0);
    assert.equal(parseCount(String(Number.MAX_SAFE_INTEGER)), Number.MAX_SAFE_INTEGER);
    assert.equal(parseCount("9007199254740993"), null);
    assert.equal(parseCount("-1"), null);
    assert.equal(parseCount(HUGE), null);
    assert.equal(parseInteger("-1"), -1, "signed fields keep their sign");
  });
});

describe("counters in cgroup files are non-negative safe integers", () => {
  it("memory.events: a negative or huge counter is a parse error", () => {
    assert.equal(value(parseMemoryEvents("low 0\nhigh 0\nmax 3\noom 2\noom_kill 1\n")).oomKill, 1);
    assert.match(errorOf(parseMemoryEvents("low 0\nhigh 0\nmax 0\noom -1\noom_kill 0\n")).message, /memory\.events: oom -1 is not a count/);
    assert.match(errorOf(parseMemoryEvents(`low 0\noom_kill ${HUGE}\n`)).message, /flat-keyed file: cannot read line "oom_kill 9{50,}"…/);
    assert.match(errorOf(parseMemoryEvents("oom_kill 9007199254740993\n")).message, /oom_kill 9007199254740992 is not a count/);
  });

  it("memory.oom_control: oom_kill is a count, the flags are 0 or 1", () => {
    assert.equal(value(parseOomControl(captured("v1-memory.oom_control.after-kill.txt"))).oomKillCount, 1);
    assert.match(errorOf(parseOomControl("oom_kill_disable 0\nunder_oom 0\noom_kill -3\n")).message, /oom_kill -3 is not a count/);
    assert.match(errorOf(parseOomControl("oom_kill_disable -1\nunder_oom 0\noom_kill 0\n")).message, /are 0 or 1/);
  });

  it("flat-keyed files keep signed values and the v1 sentinel, and refuse a number that is no value", () => {
    const stat = value(parseFlatKeyed("hierarchical_memory_limit 9223372036854771712\nworkingset_refault -2\n"));
    assert.equal(stat.get("hierarchical_memory_limit"), 9223372036854771712);
    assert.equal(stat.get("workingset_refault"), -2);
    errorOf(parseFlatKeyed(`cache ${HUGE}\n`));
    errorOf(parseFlatKeyed(`cache -${HUGE}\n`));
  });

  it("limits and byte counts: never Infinity", () => {
    assert.equal(value(parseLimit("9223372036854771712\n")), null, "the v1 sentinel is no limit");
    errorOf(parseLimit(`${HUGE}\n`));
    errorOf(parseBytes(`${HUGE}\n`));
    errorOf(parsePidList(`${HUGE}\n`));
  });
});

describe("procfs numbers", () => {
  const stat = captured("proc-pid-stat.memcg-oom-victim.txt");
  const fields = stat.trimEnd().split(" ");
  const withField = (n: number, text: string): string => fields.map((f, i) => (i === n - 1 ? text : f)).join(" ");

  it("stat: a negative rss, thread count or ppid is a parse error", () => {
    value(parseProcStat(stat));
    for (const n of [4, 20, 24]) errorOf(parseProcStat(withField(n, "-1")));
    errorOf(parseProcStat(withField(23, HUGE)));
    errorOf(parseProcStat(withField(22, "9007199254740993")));
  });

  it("status: counts are non-negative and kB fields never Infinity", () => {
    const status = captured("proc-pid-status.memcg-oom-victim.txt");
    value(parseProcStatus(status));
    errorOf(parseProcStatus(status.replace(/^Threads:\t\d+$/m, "Threads:\t-4").replace(/^Tgid:\t\d+$/m, "Tgid:\t-1")));
    errorOf(parseProcStatus(status.replace(/^VmRSS:\s+\d+ kB$/m, `VmRSS:\t${HUGE} kB`)));
  });

  it("meminfo, vmstat, zoneinfo, pressure, mountinfo, cgroup and locks: a 400-digit number is not read as Infinity", () => {
    errorOf(parseMeminfo(captured("proc-meminfo.txt").replace(/^MemFree:\s+\d+ kB$/m, `MemFree: ${HUGE} kB`)));
    errorOf(parseVmstat(captured("proc-vmstat.txt").replace(/^pgsteal_kswapd \d+$/m, `pgsteal_kswapd ${HUGE}`)));
    errorOf(parseZoneinfo(captured("proc-zoneinfo.txt").replace(/^Node 0, zone +DMA$/m, `Node ${HUGE}, zone DMA`)));
    errorOf(parseZoneinfo(captured("proc-zoneinfo.txt").replace(/^(\s+min\s+)\d+$/m, `$1${HUGE}`)));
    errorOf(parsePressure(`some avg10=${HUGE}.00 avg60=0.00 avg300=0.00 total=1\n`));
    errorOf(parsePressure(`some avg10=0.00 avg60=0.00 avg300=0.00 total=${HUGE}\n`));
    errorOf(parseMountinfo(captured("proc-self-mountinfo.txt").replace(/^\d+/, "-1")));
    errorOf(parseProcCgroup("-1::/\n"));
    assert.deepEqual(parseProcLocks(`1: FLOCK  ADVISORY  WRITE ${HUGE} 00:20:4391 0 EOF\n`), []);
    assert.deepEqual(parseProcLocks(`1: FLOCK  ADVISORY  WRITE 12 ${"f".repeat(300)}:20:4391 0 EOF\n`), []);
  });
});
