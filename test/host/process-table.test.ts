// The process table on a fixture /proc whose fds behave as procfs' do (test/support/proc-like-fs.ts):
// a known process costs three reads through kept fds and no detail read; a pid reused, a process
// exiting between reads or between its sample and its details, the fd cap, an exec, the refresh
// of stale details and the idle sweep.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { CgroupPreference } from "../../src/core/types.js";
import { LinuxHost } from "../../src/host/linux/linux-host.js";
import { readProcessSamples } from "../../src/host/linux/proc-reader.js";
import { DETAILS_RECHECK_MS, DETAILS_SETTLE_MS, GLANCE_FULL_READ_MAX_AGE_MS, IDLE_SWEEP_MS, keptFdBudget, ProcessTable, type TableListing } from "../../src/host/linux/process-table.js";
import type { CgroupHierarchy } from "../../src/host/linux/parse-proc.js";
import { buildProcTree, statLine, statusText, type FakeProcess, type ProcTree } from "../fixtures/proc-tree.js";
import { procLikeFs, type ProcLikeFs } from "../support/proc-like-fs.js";
import { value } from "../support/result-assert.js";

const MACHINE: TableListing = { skipKernelThreads: true, refreshStaleDetails: false, within: null };
const UNHURRIED: TableListing = { ...MACHINE, refreshStaleDetails: true };
const KTHREAD_FLAGS = 0x00208040;
const TICKS_PER_SECOND = 100;

function userProcess(pid: number, comm: string, options: { startTimeTicks?: number; rssKiB?: number; cgroup?: string; cmdline?: string; exe?: string } = {}): FakeProcess {
  const rssKiB = options.rssKiB ?? 100;
  return {
    stat: statLine(pid, comm, { startTimeTicks: options.startTimeTicks ?? pid * 10 }),
    status: statusText(pid, comm, { rssKiB, anonKiB: rssKiB / 2, swapKiB: 0, pteKiB: 4 }),
    cmdline: options.cmdline ?? `/usr/bin/${comm}\0--flag\0value with space\0`,
    cgroup: options.cgroup ?? "12:memory:/jobs/a\n0::/system.slice/x.service\n",
    ...(options.exe === undefined ? {} : { exe: options.exe }),
  };
}

interface Harness {
  proc: ProcTree;
  fs: ProcLikeFs;
  table: ProcessTable;
  clock: { ms: number };
  lookups: string[];
}

function harness(options: { maxKeptFds?: number; hierarchy?: CgroupHierarchy; preference?: (cgroup: string) => CgroupPreference | null; readCommandLines?: boolean } = {}): Harness {
  const proc = buildProcTree();
  const fs = procLikeFs(proc.root);
  // 1000 s after boot; the fixtures' processes started in the first seconds (pid x 10 ticks).
  const clock = { ms: 1_000_000 };
  const lookups: string[] = [];
  const table = new ProcessTable({
    procRoot: proc.root,
    fs,
    now: () => clock.ms,
    clockTicksPerSecond: TICKS_PER_SECOND,
    maxKeptFds: options.maxKeptFds ?? 4096,
    hierarchy: options.hierarchy ?? "v2",
    ...(options.readCommandLines !== undefined ? { readCommandLines: options.readCommandLines } : {}),
    cgroupPreference: (cgroup) => {
      lookups.push(cgroup);
      return options.preference?.(cgroup) ?? null;
    },
  });
  return { proc, fs, table, clock, lookups };
}

function withHarness(options: Parameters<typeof harness>[0], body: (h: Harness) => void): void {
  const h = harness(options);
  try {
    body(h);
  } finally {
    h.table.close();
    h.proc.cleanup();
  }
}

const pidsOf = (samples: Array<{ pid: number }>): number[] => samples.map((s) => s.pid);

describe("ProcessTable: what a listing reads", () => {
  it("a known process costs one read of stat, status and oom_score_adj each, through fds kept open, and no detail", () => {
    withHarness({}, ({ proc, fs, table }) => {
      proc.addProcess(41, userProcess(41, "api"));
      proc.addProcess(42, userProcess(42, "db"));
      const first = table.list([41, 42], MACHINE);
      assert.deepEqual(pidsOf(first.samples), [41, 42]);
      assert.ok(fs.reads().includes("/41/cmdline"), "details read at first sight");
      assert.equal(table.keptFds, 8);

      fs.clearLog();
      const second = table.list([41, 42], MACHINE);
      assert.deepEqual(second.samples, first.samples);
      assert.deepEqual(
        fs.log.map((entry) => `${entry.access} ${entry.path}`),
        ["read /41/status", "read /41/oom_score_adj", "read /41/stat", "read /42/status", "read /42/oom_score_adj", "read /42/stat"],
      );
    });
  });

  it("without a rule on command lines, a new process's details leave its cmdline unread (that read takes its mmap lock)", () => {
    withHarness({ readCommandLines: false }, ({ proc, fs, table }) => {
      proc.addProcess(41, userProcess(41, "api", { cgroup: "0::/system.slice/api.service\n", exe: "/usr/bin/api" }));
      const sample = table.list([41], MACHINE).samples[0];
      assert.ok(!fs.reads().some((path) => path.endsWith("/cmdline")), fs.reads().join(", "));
      assert.equal(sample?.details?.cmdline, "");
      assert.equal(sample?.details?.cgroup, "/system.slice/api.service");
      assert.equal(sample?.details?.exe, "/usr/bin/api");
    });
  });

  it("a screening listing reads a known process's stat and oom_score alone; a new one, and one after an exec, in full", () => {
    withHarness({}, ({ proc, fs, table }) => {
      proc.addProcess(41, { ...userProcess(41, "api", { rssKiB: 400 }), oomScore: "700\n", oomScoreAdj: "200\n" });
      const first = table.list([41], MACHINE);
      proc.addProcess(42, userProcess(42, "new"));
      fs.clearLog();
      const screened = table.screen([41, 42], MACHINE, 4096);
      assert.deepEqual(fs.reads().filter((path) => path.startsWith("/41/")), ["/41/stat", "/41/oom_score"]);
      assert.ok(fs.reads().includes("/42/status"), "a process not known yet is read in full");
      assert.deepEqual([...screened.oomScores], [[41, 700]]);
      const [api] = screened.samples;
      // rss from stat (field 24: 406 pages in the fixture), the rest as the full read left it.
      assert.equal(api?.rssBytes, 406 * 4096);
      assert.equal(api?.oomScoreAdj, 200);
      assert.deepEqual(api?.details, first.samples[0]?.details);
      // An exec (another comm): in full, its details read again.
      proc.writeFile(41, "stat", statLine(41, "api-v2", { startTimeTicks: 410 }));
      fs.clearLog();
      const again = table.screen([41], MACHINE, 4096);
      assert.deepEqual(again.oomScores.size, 0);
      assert.ok(fs.reads().includes("/41/status") && fs.reads().includes("/41/cmdline"), fs.reads().join(", "));
    });
  });

  it("a routine listing (glance) reads stat alone of a known process whose rss has not moved; one that moved, a new one, and one read in full too long ago, in full", () => {
    // stat's rss (pages) as status's VmRSS (the kernel's stat is approximate: only its moving matters).
    const steady = (pid: number, comm: string, swapKiB: number, rssPages = 406): FakeProcess => ({
      ...userProcess(pid, comm),
      stat: statLine(pid, comm, { startTimeTicks: pid * 10, rssPages }),
      status: statusText(pid, comm, { rssKiB: rssPages * 4, anonKiB: rssPages * 2, swapKiB, pteKiB: 8 }),
    });
    withHarness({}, ({ proc, fs, table, clock }) => {
      proc.addProcess(41, steady(41, "idle", 300));
      proc.addProcess(42, steady(42, "grower", 0));
      const first = table.list([41, 42], MACHINE);
      proc.addProcess(43, steady(43, "new", 0));
      // 42 grows (and gets page tables for it); 41 only had its swap change, which a glance cannot see.
      proc.writeFile(42, "stat", statLine(42, "grower", { startTimeTicks: 420, rssPages: 906 }));
      proc.writeFile(42, "status", statusText(42, "grower", { rssKiB: 906 * 4, anonKiB: 906 * 2, swapKiB: 0, pteKiB: 12 }));
      proc.writeFile(41, "status", statusText(41, "idle", { rssKiB: 406 * 4, anonKiB: 406 * 2, swapKiB: 200, pteKiB: 8 }));
      clock.ms += 1000;
      fs.clearLog();
      const glanced = table.glance([41, 42, 43], MACHINE);
      assert.deepEqual(fs.reads().filter((path) => path.startsWith("/41/")), ["/41/stat"]);
      assert.ok(fs.reads().includes("/42/status") && fs.reads().includes("/43/status"), fs.reads().join(", "));
      const [idle, grower, fresh] = glanced.samples;
      // The one stat read gives what the full read gave (swap as it left it); the others are read now.
      assert.deepEqual(idle, first.samples[0]);
      assert.equal(grower?.rssBytes, 906 * 4 * 1024);
      assert.equal(grower?.pageTablesBytes, 12 * 1024);
      assert.equal(fresh?.comm, "new");
      // A full read older than the growth window: read again, and the swap seen is today's.
      clock.ms += GLANCE_FULL_READ_MAX_AGE_MS;
      fs.clearLog();
      const later = table.glance([41], MACHINE);
      assert.ok(fs.reads().includes("/41/status"), fs.reads().join(", "));
      assert.equal(later.samples[0]?.swapBytes, 200 * 1024);
      // Read in full just now: stat alone again.
      fs.clearLog();
      table.glance([41], MACHINE);
      assert.deepEqual(fs.reads(), ["/41/stat"]);
    });
  });

  it("a routine listing with memory plentiful reads details that went stale, as a full listing does", () => {
    withHarness({}, ({ proc, fs, table, clock }) => {
      proc.addProcess(41, { ...userProcess(41, "api"), stat: statLine(41, "api", { startTimeTicks: 410, rssPages: 25 }) });
      table.list([41], UNHURRIED);
      clock.ms += DETAILS_RECHECK_MS;
      fs.clearLog();
      table.glance([41], UNHURRIED);
      assert.ok(fs.reads().includes("/41/cmdline"), fs.reads().join(", "));
    });
  });

  it("details: uid from status, pgid and sid from stat, arguments joined by spaces, exe, the v2 cgroup, its preference", () => {
    const avoid: CgroupPreference = { kind: "avoid", xattr: "user.oomd_avoid", cgroup: "/system.slice" };
    withHarness({ preference: (cgroup) => (cgroup.startsWith("/system.slice") ? avoid : null) }, ({ proc, table }) => {
      proc.addProcess(41, userProcess(41, "api", { exe: "/usr/bin/api" }));
      const [sample] = table.list([41], MACHINE).samples;
      assert.deepEqual(sample?.details, {
        uid: 1000,
        pgid: 41,
        sid: 41,
        cmdline: "/usr/bin/api --flag value with space",
        exe: "/usr/bin/api",
        cgroup: "/system.slice/x.service",
        cgroupPreference: avoid,
      });
    });
  });

  it("the v1 memory controller's cgroup where the table reads that hierarchy; exe null where it cannot be read", () => {
    withHarness({ hierarchy: "v1-memory" }, ({ proc, table }) => {
      proc.addProcess(41, userProcess(41, "api"));
      const details = table.list([41], MACHINE).samples[0]?.details;
      assert.equal(details?.cgroup, "/jobs/a");
      assert.equal(details?.exe, null);
    });
  });

  it("a cgroup's preference is looked up once a listing, however many processes share it", () => {
    withHarness({}, ({ proc, table, lookups }) => {
      for (const pid of [41, 42, 43]) proc.addProcess(pid, userProcess(pid, `w${pid}`));
      table.list([41, 42, 43], MACHINE);
      assert.deepEqual(lookups, ["/system.slice/x.service"]);
    });
  });

  it("a kernel thread is left out after its stat, keeps one fd (oom_score_adj), and costs one read of it a listing", () => {
    withHarness({}, ({ proc, fs, table }) => {
      proc.addProcess(400, { stat: statLine(400, "kworker/u4:3", { flags: KTHREAD_FLAGS }), status: statusText(400, "kworker/u4:3", null) });
      proc.addProcess(41, userProcess(41, "api"));
      assert.deepEqual(pidsOf(table.list([41, 400], MACHINE).samples), [41]);
      assert.deepEqual(fs.reads().filter((path) => path.startsWith("/400/")), ["/400/stat", "/400/stat"]);
      assert.equal(table.keptFds, 5);
      assert.equal(fs.openFds(), 5);
      fs.clearLog();
      assert.deepEqual(pidsOf(table.list([41, 400], MACHINE).samples), [41]);
      assert.deepEqual(fs.reads().filter((path) => path.startsWith("/400/")), ["/400/oom_score_adj"]);
    });
  });

  it("a kernel thread on a pid the kernel gives only once (below 300) costs no read under pressure, one in an unhurried listing", () => {
    withHarness({}, ({ proc, fs, table }) => {
      proc.addProcess(2, { stat: statLine(2, "kthreadd", { flags: KTHREAD_FLAGS }), status: statusText(2, "kthreadd", null) });
      proc.addProcess(41, userProcess(41, "api"));
      table.list([2, 41], MACHINE);
      fs.clearLog();
      assert.deepEqual(pidsOf(table.list([2, 41], MACHINE).samples), [41]);
      assert.deepEqual(fs.reads().filter((path) => path.startsWith("/2/")), []);
      // Checkpoint/restore alone can give such a pid again: an unhurried listing still looks.
      fs.clearLog();
      assert.deepEqual(pidsOf(table.list([2, 41], { ...MACHINE, refreshStaleDetails: true }).samples), [41]);
      assert.deepEqual(fs.reads().filter((path) => path.startsWith("/2/")), ["/2/oom_score_adj"]);
    });
  });

  it("a kernel thread that exits is dropped, and a user process on its pid is listed", () => {
    withHarness({}, ({ proc, fs, table }) => {
      proc.addProcess(400, { stat: statLine(400, "kworker/0:1", { flags: KTHREAD_FLAGS, startTimeTicks: 5 }), status: statusText(400, "kworker/0:1", null) });
      table.list([400], MACHINE);
      proc.removeProcess(400);
      proc.addProcess(400, userProcess(400, "user", { startTimeTicks: 900 }));
      assert.deepEqual(pidsOf(table.list([400], MACHINE).samples), [400]);
      assert.equal(table.keptFds, 4);
      assert.equal(fs.openFds(), 4);
    });
  });

  it("samples equal those of the reader by path (readProcessSamples) over the same processes", () => {
    withHarness({}, ({ proc, table }) => {
      proc.addProcess(41, userProcess(41, "api", { rssKiB: 400 }));
      proc.addProcess(42, { ...userProcess(42, "adj"), oomScoreAdj: "-500\n" });
      proc.addProcess(43, { ...userProcess(43, "dying"), status: statusText(43, "dying", { rssKiB: 8, anonKiB: 8, swapKiB: 4, pteKiB: 4 }).replace("Threads:", "ShdPnd:\t0000000000000100\nThreads:") });
      const byPath = readProcessSamples([41, 42, 43], proc.root).samples;
      for (let listing = 0; listing < 2; listing++) {
        const warm = table.list([41, 42, 43], MACHINE).samples.map(({ details: _details, ...sample }) => sample);
        assert.deepEqual(warm, byPath);
      }
      assert.equal(byPath[2]?.exiting, true);
    });
  });
});

describe("ProcessTable: processes that go, and pids that come back", () => {
  it("a pid reused by a new process is read afresh: the old fds are closed, the new process's own details read", () => {
    withHarness({}, ({ proc, fs, table }) => {
      proc.addProcess(41, userProcess(41, "old", { startTimeTicks: 1000, cmdline: "old\0" }));
      assert.equal(table.list([41], MACHINE).samples[0]?.details?.cmdline, "old");
      proc.removeProcess(41);
      proc.addProcess(41, userProcess(41, "new", { startTimeTicks: 2000, cmdline: "new\0--arg\0" }));
      fs.clearLog();
      const [sample] = table.list([41], MACHINE).samples;
      assert.equal(sample?.startTimeTicks, 2000);
      assert.equal(sample?.comm, "new");
      assert.equal(sample?.details?.cmdline, "new --arg");
      assert.equal(fs.log.filter((entry) => entry.access === "close").length, 4, "the old process's four fds closed");
      assert.equal(table.keptFds, 4);
      assert.equal(fs.openFds(), 4);
    });
  });

  it("the same comm and pid with another start time is another process too (its details are read, not taken over)", () => {
    withHarness({}, ({ proc, table }) => {
      proc.addProcess(41, userProcess(41, "sh", { startTimeTicks: 1000, cgroup: "0::/a\n" }));
      table.list([41], MACHINE);
      proc.removeProcess(41);
      proc.addProcess(41, userProcess(41, "sh", { startTimeTicks: 1001, cgroup: "0::/b\n" }));
      assert.equal(table.list([41], MACHINE).samples[0]?.details?.cgroup, "/b");
    });
  });

  it("a new process that exits after its stat was read is left out, nothing kept", () => {
    withHarness({}, ({ proc, fs, table }) => {
      proc.addProcess(41, userProcess(41, "brief"));
      proc.addProcess(42, userProcess(42, "stays"));
      const base = fs.readOpenFile.bind(fs);
      fs.readOpenFile = (fd) => {
        const text = base(fd);
        if (fs.log.at(-1)?.path === "/41/stat") proc.removeProcess(41);
        return text;
      };
      const listed = table.list([41, 42], MACHINE);
      assert.deepEqual(pidsOf(listed.samples), [42]);
      assert.deepEqual(listed.unreadable, []);
      assert.equal(table.keptFds, 4);
      assert.equal(fs.openFds(), 4);
    });
  });

  it("a pid given to another process between the opens of a new process is caught by the stat read through the first fd", () => {
    withHarness({}, ({ proc, fs, table }) => {
      proc.addProcess(41, userProcess(41, "first", { startTimeTicks: 1000 }));
      const base = fs.openFile.bind(fs);
      fs.openFile = (path) => {
        // After stat was opened and read, the process dies and another takes its pid.
        if (path.endsWith("/41/status")) {
          proc.removeProcess(41);
          proc.addProcess(41, userProcess(41, "second", { startTimeTicks: 2000 }));
          fs.openFile = base;
        }
        return base(path);
      };
      assert.deepEqual(table.list([41], MACHINE).samples, []);
      assert.equal(table.keptFds, 0);
      // The next listing finds the second process.
      assert.equal(table.list([41], MACHINE).samples[0]?.comm, "second");
    });
  });

  it("a known process that exits between two of its reads is left out and its fds closed", () => {
    withHarness({}, ({ proc, fs, table }) => {
      proc.addProcess(41, userProcess(41, "brief"));
      table.list([41], MACHINE);
      const base = fs.readOpenFile.bind(fs);
      fs.readOpenFile = (fd) => {
        const text = base(fd);
        if (fs.log.at(-1)?.path === "/41/status") proc.removeProcess(41);
        return text;
      };
      assert.deepEqual(table.list([41], MACHINE).samples, []);
      assert.equal(table.keptFds, 0);
      assert.equal(fs.openFds(), 0);
    });
  });

  it("a process replaced while its details are read by path is left out: the details could be the newcomer's", () => {
    withHarness({}, ({ proc, fs, table }) => {
      proc.addProcess(41, userProcess(41, "first", { startTimeTicks: 1000, cmdline: "first\0" }));
      const base = fs.readTextPrefix.bind(fs);
      fs.readTextPrefix = (path, maxBytes) => {
        if (path.endsWith("/41/cmdline")) {
          proc.removeProcess(41);
          proc.addProcess(41, userProcess(41, "second", { startTimeTicks: 2000, cmdline: "second\0" }));
        }
        return base(path, maxBytes);
      };
      assert.deepEqual(table.list([41], MACHINE).samples, []);
    });
  });

  it("keepOnly (after a readdir of /proc) closes the fds of pids no longer there", () => {
    withHarness({}, ({ proc, fs, table }) => {
      for (const pid of [41, 42]) proc.addProcess(pid, userProcess(pid, `p${pid}`));
      table.list([41, 42], MACHINE);
      table.keepOnly([42]);
      assert.equal(table.keptFds, 4);
      assert.equal(fs.openFds(), 4);
      assert.equal(table.size, 1);
    });
  });

  it("entries no listing asked for are checked at the idle sweep and dropped once their process is gone", () => {
    withHarness({}, ({ proc, table, clock }) => {
      for (const pid of [41, 42, 43]) proc.addProcess(pid, userProcess(pid, `p${pid}`));
      table.list([41, 42, 43], MACHINE);
      proc.removeProcess(42);
      // Cgroup listings name 41 alone from here on; 42 is gone, 43 lives on outside them.
      clock.ms += IDLE_SWEEP_MS;
      table.list([41], MACHINE);
      clock.ms += IDLE_SWEEP_MS;
      table.list([41], MACHINE);
      assert.equal(table.size, 2);
      assert.equal(table.keptFds, 8);
    });
  });
});

describe("ProcessTable: the fd cap", () => {
  it("beyond the cap processes are read by path, with the same samples and details, and nothing more is kept", () => {
    withHarness({ maxKeptFds: 4 }, ({ proc, fs, table }) => {
      for (const pid of [41, 42, 43]) proc.addProcess(pid, userProcess(pid, `p${pid}`));
      const first = table.list([41, 42, 43], MACHINE);
      assert.deepEqual(pidsOf(first.samples), [41, 42, 43]);
      assert.equal(table.keptFds, 4);
      fs.clearLog();
      const second = table.list([41, 42, 43], MACHINE);
      assert.deepEqual(second.samples, first.samples);
      const byPath = fs.log.filter((entry) => entry.access === "readText").map((entry) => entry.path);
      // 42 and 43 by path (stat twice, status, oom_score_adj), their details kept, so no cmdline or cgroup.
      assert.deepEqual(byPath, ["/42/stat", "/42/status", "/42/oom_score_adj", "/42/stat", "/43/stat", "/43/status", "/43/oom_score_adj", "/43/stat"]);
      assert.equal(fs.reads().filter((path) => path.endsWith("/cmdline")).length, 0);
    });
  });

  it("an open failing with EMFILE falls back to reading by path", () => {
    withHarness({}, ({ proc, fs, table }) => {
      proc.addProcess(41, userProcess(41, "api"));
      fs.failOpensWith = "EMFILE";
      const [sample] = table.list([41], MACHINE).samples;
      assert.equal(sample?.comm, "api");
      assert.equal(sample?.details?.cmdline, "/usr/bin/api --flag value with space");
      assert.equal(table.keptFds, 0);
      fs.failOpensWith = null;
      table.list([41], MACHINE);
      assert.equal(table.keptFds, 4, "kept once fds are there again");
    });
  });

  it("keptFdBudget: 4096, or half the soft RLIMIT_NOFILE where that is less", () => {
    const limits = (soft: string): string => `Limit                     Soft Limit           Hard Limit           Units\nMax open files            ${soft}                524288               files\n`;
    assert.equal(keptFdBudget(limits("1048576")), 4096);
    assert.equal(keptFdBudget(limits("1024")), 512);
    assert.equal(keptFdBudget(limits("unlimited")), 512);
    assert.equal(keptFdBudget(null), 512);
  });
});

describe("ProcessTable: when details are read again", () => {
  it("an exec (another comm, same pid and start time) makes cmdline and exe be read again at once", () => {
    withHarness({}, ({ proc, table }) => {
      proc.addProcess(41, userProcess(41, "sh", { cmdline: "sh\0-c\0exec api\0" }));
      assert.equal(table.list([41], MACHINE).samples[0]?.details?.cmdline, "sh -c exec api");
      proc.writeFile(41, "stat", statLine(41, "api", { startTimeTicks: 410 }));
      proc.writeFile(41, "cmdline", "api\0");
      assert.equal(table.list([41], MACHINE).samples[0]?.details?.cmdline, "api");
    });
  });

  it("details read in a process's first seconds are read once more past DETAILS_SETTLE_MS, by an unhurried listing only", () => {
    withHarness({}, ({ proc, fs, table, clock }) => {
      // Started a second ago.
      const startTimeTicks = ((clock.ms - 1_000) / 1000) * TICKS_PER_SECOND;
      proc.addProcess(41, userProcess(41, "api", { startTimeTicks, cgroup: "0::/user.slice/session-1.scope\n" }));
      table.list([41], MACHINE);
      // systemd moves it into its own unit's cgroup just after the first look.
      proc.writeFile(41, "cgroup", "0::/system.slice/api.service\n");
      const cgroupNow = (listing: TableListing): string | undefined => table.list([41], listing).samples[0]?.details?.cgroup;
      clock.ms += 5_000;
      assert.equal(cgroupNow(UNHURRIED), "/user.slice/session-1.scope", "6 s old: not yet");
      clock.ms += DETAILS_SETTLE_MS;
      assert.equal(cgroupNow(MACHINE), "/user.slice/session-1.scope", "under pressure nothing is read again");
      assert.equal(cgroupNow(UNHURRIED), "/system.slice/api.service");
      // Settled now: read again only past DETAILS_RECHECK_MS.
      fs.clearLog();
      clock.ms += DETAILS_SETTLE_MS;
      cgroupNow(UNHURRIED);
      assert.deepEqual(fs.reads().filter((path) => path === "/41/cgroup"), []);
    });
  });

  it("details read when the process was already old are read again after DETAILS_RECHECK_MS, by an unhurried listing only", () => {
    withHarness({}, ({ proc, table, clock }) => {
      proc.addProcess(41, userProcess(41, "api", { cgroup: "0::/a\n" }));
      table.list([41], MACHINE);
      proc.writeFile(41, "cgroup", "0::/moved-by-hand\n");
      const cgroupNow = (listing: TableListing): string | undefined => table.list([41], listing).samples[0]?.details?.cgroup;
      clock.ms += DETAILS_RECHECK_MS - 1;
      assert.equal(cgroupNow(UNHURRIED), "/a");
      clock.ms += 1;
      assert.equal(cgroupNow(MACHINE), "/a");
      assert.equal(cgroupNow(UNHURRIED), "/moved-by-hand");
    });
  });

  it("a cgroup listing re-reads a kept cgroup outside the cgroup listed (the process was moved in)", () => {
    withHarness({}, ({ proc, table }) => {
      proc.addProcess(41, userProcess(41, "job", { cgroup: "0::/elsewhere\n" }));
      table.list([41], MACHINE);
      proc.writeFile(41, "cgroup", "0::/jobs/batch/worker\n");
      const within: TableListing = { skipKernelThreads: false, refreshStaleDetails: false, within: "/jobs/batch" };
      assert.equal(table.list([41], within).samples[0]?.details?.cgroup, "/jobs/batch/worker");
    });
  });

  it("details that cannot be read leave the sample without details, and are tried again when stale", () => {
    withHarness({}, ({ proc, table, clock }) => {
      proc.addProcess(41, userProcess(41, "api", { cgroup: "" }));
      const [sample] = table.list([41], MACHINE).samples;
      assert.equal(sample?.comm, "api");
      assert.equal(sample?.details, undefined);
      proc.writeFile(41, "cgroup", "0::/back\n");
      clock.ms += DETAILS_RECHECK_MS;
      assert.equal(table.list([41], UNHURRIED).samples[0]?.details?.cgroup, "/back");
    });
  });
});

describe("LinuxHost.listProcesses: a member's kept cgroup outside the cgroup listed is read again", () => {
  for (const mountRoot of ["/", "/docker/abc"]) {
    it(`on a v2 mount whose root is ${mountRoot}`, () => {
      const proc = buildProcTree();
      const fs = procLikeFs(proc.root);
      try {
        const mount = join(proc.root, "cgroup2");
        mkdirSync(join(mount, "jobs", "batch"), { recursive: true });
        writeFileSync(join(mount, "cgroup.procs"), "");
        writeFileSync(join(mount, "jobs", "cgroup.procs"), "");
        writeFileSync(join(mount, "jobs", "batch", "cgroup.procs"), "41\n");
        const prefix = mountRoot === "/" ? "" : mountRoot;
        proc.addProcess(41, userProcess(41, "job", { cgroup: `0::${prefix}/elsewhere\n` }));
        const host = new LinuxHost({ procRoot: proc.root, fs, mounts: { v1Memory: null, v2: mount, v1Freezer: null, all: [{ mountPoint: mount, version: 2, controllers: [], name: null, root: mountRoot }] } });
        assert.equal(value(host.listAllProcesses())[0]?.details?.cgroup, `${prefix}/elsewhere`);
        // Moved into jobs/batch after the machine listing saw it.
        proc.writeFile(41, "cgroup", `0::${prefix}/jobs/batch\n`);
        const ref = { path: join(mount, "jobs", "batch"), version: 2 as const };
        assert.equal(value(host.listProcesses(ref))[0]?.details?.cgroup, `${prefix}/jobs/batch`);
        fs.clearLog();
        value(host.listProcesses(ref));
        assert.equal(fs.reads().filter((path) => path === "/41/cgroup").length, 0, "and no more once it is inside");
        host.processTable.close();
      } finally {
        proc.cleanup();
      }
    });
  }
});
