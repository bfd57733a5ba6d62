import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  cgroupOf,
  CMDLINE_MAX_CHARS,
  parseCmdline,
  parseOpenFilesSoftLimit,
  parseUptimeMs,
  parseMeminfo,
  parseMountinfo,
  parseOomScoreAdj,
  parseProcCgroup,
  parseProcStat,
  parseProcStatus,
  parseSchedstat,
  parseWchan,
  unescapeMountinfo,
} from "../../src/host/linux/parse-proc.js";
import { captured } from "../fixtures/captured.js";
import { value } from "../support/result-assert.js";

describe("parseProcStat", () => {
  it("reads a real /proc/self/stat", () => {
    const stat = value(parseProcStat(captured("proc-self-stat.txt")));
    assert.equal(stat.pid, 3628);
    assert.equal(stat.comm, "cat");
    assert.equal(stat.state, "R");
    assert.equal(stat.ppid, 3626);
    assert.equal(stat.flags, 4194304);
    assert.equal(stat.isKernelThread, false);
    assert.equal(stat.numThreads, 1);
    assert.equal(stat.startTimeTicks, 101072);
    assert.equal(stat.vsizeBytes, 3133440);
    assert.equal(stat.rssPages, 407);
    // Fields 5 and 6: the shell's process group and session.
    assert.equal(stat.pgid, 3626);
    assert.equal(stat.sid, 1775);
  });

  it("SIGKILL pending from field 31 (the task's own pending signals, decimal): bit 9, nothing else", () => {
    const line = (signals: number): string => {
      const fields: Array<string | number> = ["D", 1, 41, 41, 0, -1, 4194304, 100, 0, 0, 0, 1, 1, 0, 0, 20, 0, 1, 0, 1000, 3133440, 406];
      while (fields.length < 50) fields.push(0);
      fields[31 - 3] = signals;
      return `41 (hog) ${fields.join(" ")}\n`;
    };
    assert.equal(value(parseProcStat(line(256))).sigkillPending, true);
    assert.equal(value(parseProcStat(line(256 | 2 | 1 << 14))).sigkillPending, true);
    assert.equal(value(parseProcStat(line(2 | 1 << 14))).sigkillPending, false, "SIGINT and SIGTERM are not SIGKILL");
    assert.equal(value(parseProcStat("41 (old) S 1 41 41 0 -1 4194304 100 0 0 0 1 1 0 0 20 0 1 0 1000 3133440 406\n")).sigkillPending, false, "a stat cut before field 31");
  });

  it("marks kthreadd (PF_KTHREAD in field 9) as a kernel thread", () => {
    const stat = value(parseProcStat(captured("proc-kthreadd-stat.txt")));
    assert.equal(stat.pid, 2);
    assert.equal(stat.comm, "kthreadd");
    assert.equal(stat.ppid, 0);
    assert.equal(stat.isKernelThread, true);
    assert.equal(stat.startTimeTicks, 20);
  });

  it('splits at the last ")" for a real comm "a) (b c"', () => {
    const stat = value(parseProcStat(captured("proc-pid-stat.adversarial-comm.txt")));
    assert.equal(stat.pid, 4715);
    assert.equal(stat.comm, "a) (b c");
    assert.equal(stat.state, "S");
    assert.equal(stat.ppid, 4713);
    assert.equal(stat.startTimeTicks, 131624);
  });

  it("keeps a real newline and a fake state inside comm", () => {
    const stat = value(parseProcStat(captured("proc-pid-stat.newline-comm.txt")));
    assert.equal(stat.comm, "x)\n(y) Z 1");
    assert.equal(stat.state, "R");
    assert.equal(stat.isKernelThread, false);
  });

  it("reads a memcg OOM victim sleeping in D", () => {
    const stat = value(parseProcStat(captured("proc-pid-stat.memcg-oom-victim.txt")));
    assert.equal(stat.comm, "node");
    assert.equal(stat.state, "D");
    assert.equal(stat.numThreads, 7);
  });

  it("any comm the kernel can hold (15 bytes, no NUL) comes back intact with the fields after it", () => {
    const real = captured("proc-self-stat.txt");
    const afterComm = real.slice(real.lastIndexOf(")") + 1);
    fc.assert(
      fc.property(fc.string({ maxLength: 15, unit: fc.constantFrom("a", " ", "(", ")", "\n", "R", "1", "\t", "é") }), (comm) => {
        const stat = value(parseProcStat(`3628 (${comm})${afterComm}`));
        assert.equal(stat.comm, comm);
        assert.equal(stat.state, "R");
        assert.equal(stat.startTimeTicks, 101072);
      }),
    );
  });

  it("an empty comm is still a comm", () => {
    const line = captured("proc-self-stat.txt").replace("(cat)", "()");
    assert.equal(value(parseProcStat(line)).comm, "");
  });

  it("rejects truncated and garbled text with PARSE_ERROR instead of guessing", () => {
    const real = captured("proc-self-stat.txt");
    for (const bad of ["", "2953 cat R 1", real.slice(0, 40), real.replace(" R ", " 7 "), real.replace("101072", "10x072"), `x${real}`]) {
      const result = parseProcStat(bad);
      assert.equal(result.ok, false, `accepted ${JSON.stringify(bad)}`);
      if (!result.ok) assert.equal(result.error.code, "PARSE_ERROR");
    }
  });
});

describe("parseProcStatus", () => {
  it("reads a real /proc/self/status, kB to bytes", () => {
    const status = value(parseProcStatus(captured("proc-self-status.txt")));
    assert.equal(status.name, "cat");
    assert.equal(status.state, "R");
    assert.equal(status.tgid, 3629);
    assert.equal(status.pid, 3629);
    assert.equal(status.ppid, 3626);
    assert.equal(status.threads, 1);
    assert.equal(status.kthread, false);
    assert.deepEqual(status.memory, {
      rssBytes: 1768 * 1024,
      rssAnonBytes: 112 * 1024,
      rssFileBytes: 1656 * 1024,
      rssShmemBytes: 0,
      swapBytes: 0,
      pageTablesBytes: 40 * 1024,
    });
  });

  it("RssAnon + RssFile + RssShmem = VmRSS on the OOM victim", () => {
    const status = value(parseProcStatus(captured("proc-pid-status.memcg-oom-victim.txt")));
    assert.equal(status.state, "D");
    assert.equal(status.threads, 7);
    const memory = status.memory;
    assert.ok(memory);
    assert.equal(memory.rssBytes, 97856 * 1024);
    assert.equal((memory.rssAnonBytes ?? 0) + (memory.rssFileBytes ?? 0) + (memory.rssShmemBytes ?? 0), memory.rssBytes);
    assert.equal(memory.pageTablesBytes, 576 * 1024);
  });

  it("a kernel thread has no memory lines: memory is null", () => {
    const status = value(parseProcStatus(captured("proc-kthreadd-status.txt")));
    assert.equal(status.name, "kthreadd");
    assert.equal(status.kthread, true);
    assert.equal(status.memory, null);
  });

  it("keeps Name as printed: spaces and parentheses verbatim, a newline escaped", () => {
    assert.equal(value(parseProcStatus(captured("proc-pid-status.adversarial-comm.txt"))).name, "a) (b c");
    assert.equal(value(parseProcStatus(captured("proc-pid-status.newline-comm.txt"))).name, "x)\\n(y) Z 1");
  });

  it("rejects a VmRSS that is not '<n> kB' and a status without Pid", () => {
    const real = captured("proc-self-status.txt");
    const badRss = parseProcStatus(real.replace("VmRSS:\t    1768 kB", "VmRSS:\t    1768 MB"));
    assert.equal(badRss.ok, false);
    const noPid = parseProcStatus(real.replace(/^Pid:.*$/m, ""));
    assert.equal(noPid.ok, false);
    if (!noPid.ok) assert.equal(noPid.error.code, "PARSE_ERROR");
  });
});

describe("parseProcStatus: the keys it looks up", () => {
  it("reads the real uid, the first of Uid's four", () => {
    assert.equal(value(parseProcStatus(captured("proc-self-status.txt"))).uid, 0);
    const other = captured("proc-self-status.txt").replace(/^Uid:.*$/m, "Uid:\t1000\t0\t0\t0");
    assert.equal(value(parseProcStatus(other)).uid, 1000);
    assert.equal(value(parseProcStatus(captured("proc-self-status.txt").replace(/^Uid:.*\n/m, ""))).uid, null);
  });

  it("a key is found only where it starts a line: Pid: is not PPid: or NSpid:, whatever the order", () => {
    const lines = captured("proc-self-status.txt").split("\n").filter((line) => line !== "");
    const name = lines[0] as string;
    // NSpid, PPid, TracerPid and the like before Pid itself.
    const reordered = [name, ...lines.slice(1).sort((a, b) => (b.includes("Pid") ? 1 : 0) - (a.includes("Pid") ? 1 : 0))].join("\n");
    const status = value(parseProcStatus(`${reordered}\n`));
    assert.equal(status.pid, 3629);
    assert.equal(status.ppid, 3626);
    assert.equal(status.tgid, 3629);
    assert.deepEqual(status, value(parseProcStatus(captured("proc-self-status.txt"))));
  });

  it("a Name that looks like a key does not fake one (status escapes newlines in it)", () => {
    const status = value(parseProcStatus(captured("proc-self-status.txt").replace("Name:\tcat", "Name:\tPid: 1")));
    assert.equal(status.name, "Pid: 1");
    assert.equal(status.pid, 3629);
  });
});

describe("parseCmdline, cgroupOf, parseOpenFilesSoftLimit", () => {
  it("joins NUL-terminated arguments with single spaces; no arguments is empty", () => {
    assert.equal(parseCmdline("sleep\u0000600\u0000"), "sleep 600");
    assert.equal(parseCmdline("a\u0000\u0000b\u0000"), "a  b", "an empty argument stays");
    assert.equal(parseCmdline(""), "");
    // setproctitle: rewritten in place, spaces and no NUL.
    assert.equal(parseCmdline("nginx: worker process"), "nginx: worker process");
    assert.equal(parseCmdline(`${"x".repeat(CMDLINE_MAX_CHARS + 10)}\u0000`).length, CMDLINE_MAX_CHARS);
  });

  it("cgroupOf: the v2 line, or the v1 memory controller's", () => {
    const entries = value(parseProcCgroup("12:memory:/jobs/a\n3:cpu,cpuacct:/x\n1:name=systemd:/user.slice\n0::/user.slice/session-1.scope\n"));
    assert.equal(cgroupOf(entries, "v2"), "/user.slice/session-1.scope");
    assert.equal(cgroupOf(entries, "v1-memory"), "/jobs/a");
    assert.equal(cgroupOf(value(parseProcCgroup("0::/\n")), "v1-memory"), null);
  });

  it("parseUptimeMs: the first number of /proc/uptime, in ms", () => {
    assert.equal(parseUptimeMs("350735.47 234388.90\n"), 350_735_470);
    assert.equal(parseUptimeMs("garbage"), null);
  });

  it("parseOpenFilesSoftLimit: the soft column of Max open files", () => {
    const limits = "Limit                     Soft Limit           Hard Limit           Units     \nMax cpu time              unlimited            unlimited            seconds   \nMax open files            20000                20000                files     \n";
    assert.equal(parseOpenFilesSoftLimit(limits), 20000);
    assert.equal(parseOpenFilesSoftLimit(limits.replace("20000                20000", "unlimited            unlimited")), null);
    assert.equal(parseOpenFilesSoftLimit("garbage"), null);
  });
});

describe("parseOomScoreAdj", () => {
  it("reads the real value and the range ends", () => {
    assert.equal(value(parseOomScoreAdj(captured("proc-self-oom_score_adj.txt"))), 0);
    assert.equal(value(parseOomScoreAdj("-1000\n")), -1000);
    assert.equal(value(parseOomScoreAdj("1000\n")), 1000);
  });
  it("rejects out-of-range and non-numbers", () => {
    for (const bad of ["1001", "-1001", "", "abc", "1.5"]) assert.equal(parseOomScoreAdj(bad).ok, false, bad);
  });
});

describe("parseMeminfo", () => {
  it("reads real /proc/meminfo in bytes", () => {
    const meminfo = value(parseMeminfo(captured("proc-meminfo.txt")));
    assert.equal(meminfo.totalBytes, 24684092 * 1024);
    assert.equal(meminfo.freeBytes, 24452140 * 1024);
    assert.equal(meminfo.availableBytes, 24404088 * 1024);
    assert.equal(meminfo.swapTotalBytes, 0);
    assert.equal(meminfo.swapFreeBytes, 0);
    assert.equal(meminfo.byKey.get("Active(anon)"), 1528 * 1024);
    // Lines without a unit are counts, not kB.
    assert.equal(meminfo.byKey.get("HugePages_Total"), 0);
    assert.equal(meminfo.byKey.get("Hugepagesize"), 2048 * 1024);
    assert.ok(meminfo.availableBytes <= meminfo.totalBytes);
  });

  it("estimates MemAvailable on kernels that lack it", () => {
    const old = "MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 10 kB\nCached: 200 kB\n";
    assert.equal(value(parseMeminfo(old)).availableBytes, 310 * 1024);
  });

  it("rejects a garbled line and a missing MemTotal", () => {
    assert.equal(parseMeminfo("MemTotal: lots\n").ok, false);
    assert.equal(parseMeminfo("MemFree: 100 kB\n").ok, false);
  });
});

describe("parseMountinfo", () => {
  it("reads this machine's mountinfo: cgroup v1 controllers in super options", () => {
    const entries = value(parseMountinfo(captured("proc-self-mountinfo.txt")));
    assert.equal(entries.length, 20);
    const memory = entries.find((entry) => entry.mountPoint === "/sys/fs/cgroup/memory");
    assert.ok(memory);
    assert.equal(memory.fsType, "cgroup");
    assert.deepEqual(memory.superOptions, ["rw", "memory"]);
    assert.equal(memory.root, "/");
    assert.equal(memory.mountId, 35);
    assert.equal(memory.parentId, 31);
    const unified = entries.find((entry) => entry.fsType === "cgroup2");
    assert.equal(unified?.mountPoint, "/sys/fs/cgroup/unified");
  });

  it("unescapes \\040 (space), \\011 (tab), \\012 (newline) and \\134 (backslash)", () => {
    const line = "50 31 0:40 /a\\040b /mnt/my\\040cg\\011x\\012y\\134z rw,relatime shared:5 master:2 - cgroup cg\\040src rw,memory\n";
    const [entry] = value(parseMountinfo(line));
    assert.ok(entry);
    assert.equal(entry.mountPoint, "/mnt/my cg\tx\ny\\z");
    assert.equal(entry.root, "/a b");
    assert.equal(entry.source, "cg src");
    assert.deepEqual(entry.optionalFields, ["shared:5", "master:2"]);
    assert.equal(unescapeMountinfo("no escapes"), "no escapes");
  });

  it("any mount point survives the kernel's escaping", () => {
    // Escaping as fs/proc_namespace.c does for mount points: space, tab, newline, backslash.
    const escape = (path: string): string => path.replace(/[ \t\n\\]/g, (c) => "\\" + c.charCodeAt(0).toString(8).padStart(3, "0"));
    fc.assert(
      fc.property(fc.string({ minLength: 1, unit: fc.constantFrom("a", "/", " ", "\t", "\n", "\\", "0", "-", "1") }), (tail) => {
        const mountPoint = `/${tail}`;
        const [entry] = value(parseMountinfo(`41 31 0:38 / ${escape(mountPoint)} rw,relatime - cgroup2 cgroup2 rw\n`));
        assert.equal(entry?.mountPoint, mountPoint);
        assert.equal(entry?.fsType, "cgroup2");
      }),
    );
  });

  it("rejects a line without the '-' separator, naming the line", () => {
    const result = parseMountinfo("22 27 0:21 / /proc rw,relatime proc proc rw\n");
    assert.equal(result.ok, false);
    if (!result.ok) assert.match(result.error.message, /line 1/);
  });
});

describe("parseProcCgroup and parseWchan", () => {
  it("reads /proc/self/cgroup from a hybrid v1+v2 machine", () => {
    const entries = value(parseProcCgroup(captured("proc-self-cgroup.txt")));
    assert.equal(entries.length, 10);
    const memory = entries.find((entry) => entry.controllers.includes("memory"));
    assert.equal(memory?.hierarchyId, 4);
    assert.match(memory?.path ?? "", /^\//);
    const v2 = entries.find((entry) => entry.hierarchyId === 0);
    assert.deepEqual(v2, { hierarchyId: 0, controllers: [], path: "/" });
    assert.deepEqual(entries.find((entry) => entry.hierarchyId === 9)?.controllers, ["name=systemd"]);
  });

  it("keeps colons inside the cgroup path", () => {
    assert.deepEqual(value(parseProcCgroup("0::/a:b/c\n")), [{ hierarchyId: 0, controllers: [], path: "/a:b/c" }]);
  });

  it('reads real wchan values; "0" means no wait channel', () => {
    assert.equal(parseWchan(captured("proc-pid-wchan.memcg-oom-victim.txt")), "mem_cgroup_oom_synchronize");
    assert.equal(parseWchan(captured("proc-kthreadd-wchan.txt")), "kthreadd");
    assert.equal(parseWchan("0"), "");
  });
});

describe("parseSchedstat", () => {
  it("reads time on a CPU and on the run queue in ns", () => {
    assert.deepEqual(value(parseSchedstat("157311127 12295842 341\n")), { onCpuNs: 157311127, runQueueNs: 12295842 });
  });
  it("is null where the kernel keeps no scheduler statistics (both times 0)", () => {
    assert.equal(value(parseSchedstat("0 0 12\n")), null);
  });
  it("refuses anything but three counts", () => {
    for (const text of ["", "1 2", "1 2 3 4", "1 -2 3", "a b c"]) {
      const parsed = parseSchedstat(text);
      assert.equal(parsed.ok, false, JSON.stringify(text));
      assert.equal(!parsed.ok && parsed.error.code, "PARSE_ERROR");
    }
  });
});
