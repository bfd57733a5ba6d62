// readMachinePressure over a fake /proc (hand-written meminfo, zoneinfo, vmstat and PSI, so every
// number is known) and, through LinuxHost, over this machine's real /proc.

import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { LinuxHost } from "../../src/host/linux/linux-host.js";
import { nodeLinuxFs } from "../../src/host/linux/linux-fs.js";
import { MachinePressureReader, readMachinePressure } from "../../src/host/linux/machine-pressure-reader.js";
import { procLikeFs } from "../support/proc-like-fs.js";
import { buildProcTree, type ProcTree } from "../fixtures/proc-tree.js";
import { errorOf, value } from "../support/result-assert.js";

const KIB = 1024;
const PAGE_BYTES = 4096;

const MEMINFO = ["MemTotal:        1000000 kB", "MemFree:          200000 kB", "MemAvailable:     300000 kB", "Buffers:            1000 kB", "SwapTotal:        500000 kB", "SwapFree:         400000 kB", ""].join("\n");

/** Two zones on two nodes, with a per-node stats block and pagesets as the kernel prints them. */
const ZONEINFO = `Node 0, zone    DMA32
  per-node stats
      nr_inactive_anon 715
  pages free     1000
        boost    0
        min      100
        low      125
        high     150
        spanned  4095
        present  3998
        managed  3840
        protection: (0, 3019, 7883)
  pagesets
    cpu: 0
              count:    0
              high:     700
              batch:    1
Node 1, zone   Normal
  pages free     2000
        boost    0
        min      200
        low      250
        high     300
        spanned  8190
        present  8000
        managed  7000
        protection: (0, 0, 0)
`;

const VMSTAT = ["nr_free_pages 3000", "pgsteal_kswapd 40", "pgsteal_direct 2", "pgsteal_khugepaged 1", "pgsteal_proactive 1000", "allocstall_dma32 3", "allocstall_normal 4", "oom_kill 9", ""].join("\n");

const PSI = "some avg10=0.00 avg60=0.00 avg300=0.00 total=1312\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=1077\n";

const EXPECTED = {
  totalBytes: 1000000 * KIB,
  availableBytes: 300000 * KIB,
  freeBytes: 200000 * KIB,
  minWatermarkBytes: (100 + 200) * PAGE_BYTES,
  lowWatermarkBytes: (125 + 250) * PAGE_BYTES,
  swapTotalBytes: 500000 * KIB,
  swapFreeBytes: 400000 * KIB,
  reclaimedPagesTotal: 40 + 2 + 1,
  allocStallsTotal: 3 + 4,
  psiSomeTotalUs: 1312,
  psiFullTotalUs: 1077,
  // vmstat oom_kill: the kernel's kills so far, global and memcg.
  oomKillsTotal: 9,
};

describe("readMachinePressure on a fake /proc", () => {
  let proc: ProcTree;
  const file = (name: string): string => join(proc.root, name);
  before(() => {
    proc = buildProcTree();
    mkdirSync(file("pressure"));
  });
  after(() => proc.cleanup());

  /** Writes the four files, then applies changes (null removes a file). */
  function writeProc(changes: Partial<Record<"meminfo" | "zoneinfo" | "vmstat" | "pressure/memory", string | null>> = {}): void {
    const files = { meminfo: MEMINFO, zoneinfo: ZONEINFO, vmstat: VMSTAT, "pressure/memory": PSI, ...changes };
    for (const [name, text] of Object.entries(files)) {
      if (text === null) rmSync(file(name), { force: true });
      else writeFileSync(file(name), text);
    }
  }

  it("combines meminfo, the zones' watermarks, the vmstat counters and PSI", () => {
    writeProc();
    assert.deepEqual(value(readMachinePressure(proc.root, nodeLinuxFs, PAGE_BYTES)), EXPECTED);
  });

  it("watermarks scale with the page size", () => {
    writeProc();
    const sample = value(readMachinePressure(proc.root, nodeLinuxFs, 65536));
    assert.equal(sample.minWatermarkBytes, 300 * 65536);
    assert.equal(sample.lowWatermarkBytes, 375 * 65536);
  });

  it("without PSI the psi fields are null and the rest is read", () => {
    writeProc({ "pressure/memory": null });
    assert.deepEqual(value(readMachinePressure(proc.root, nodeLinuxFs, PAGE_BYTES)), { ...EXPECTED, psiSomeTotalUs: null, psiFullTotalUs: null });
  });

  it("a garbled PSI file is treated like a missing one", () => {
    writeProc({ "pressure/memory": "some avg10=0.00 total=12x\n" });
    const sample = value(readMachinePressure(proc.root, nodeLinuxFs, PAGE_BYTES));
    assert.equal(sample.psiSomeTotalUs, null);
    assert.equal(sample.minWatermarkBytes, EXPECTED.minWatermarkBytes);
  });

  it("swap added after start (a zram device) is in the next sample: meminfo is read at each one", () => {
    writeProc({ meminfo: MEMINFO.replace("SwapTotal:        500000 kB", "SwapTotal:              0 kB").replace("SwapFree:         400000 kB", "SwapFree:               0 kB") });
    const before = value(readMachinePressure(proc.root, nodeLinuxFs, PAGE_BYTES));
    assert.deepEqual([before.swapTotalBytes, before.swapFreeBytes], [0, 0]);
    // zramctl --size 2G && mkswap && swapon: SwapTotal and SwapFree grow by the device's size.
    writeProc({ meminfo: MEMINFO.replace("SwapTotal:        500000 kB", "SwapTotal:        2097152 kB").replace("SwapFree:         400000 kB", "SwapFree:         2097000 kB") });
    const after = value(readMachinePressure(proc.root, nodeLinuxFs, PAGE_BYTES));
    assert.deepEqual([after.swapTotalBytes, after.swapFreeBytes], [2097152 * KIB, 2097000 * KIB]);
    // And swapoff takes it away again.
    writeProc();
    assert.equal(value(readMachinePressure(proc.root, nodeLinuxFs, PAGE_BYTES)).swapTotalBytes, 500000 * KIB);
  });

  it("a missing zoneinfo is a failure naming it", () => {
    writeProc({ zoneinfo: null });
    const error = errorOf(readMachinePressure(proc.root, nodeLinuxFs, PAGE_BYTES));
    assert.equal(error.code, "ENOENT");
    assert.ok(error.message.includes(file("zoneinfo")), error.message);
  });

  it("a missing meminfo is a failure naming it", () => {
    writeProc({ meminfo: null });
    const error = errorOf(readMachinePressure(proc.root, nodeLinuxFs, PAGE_BYTES));
    assert.equal(error.code, "ENOENT");
    assert.ok(error.message.includes(file("meminfo")), error.message);
  });

  it("a malformed vmstat is a parse failure naming it", () => {
    writeProc({ vmstat: "pgsteal_kswapd 4x\n" });
    const error = errorOf(readMachinePressure(proc.root, nodeLinuxFs, PAGE_BYTES));
    assert.equal(error.code, "PARSE_ERROR");
    assert.ok(error.message.startsWith(`${file("vmstat")}: `), error.message);
  });

  it("a reader keeps each file open: one open per file over many samples, each sample read afresh", () => {
    writeProc();
    const fs = procLikeFs(proc.root);
    const reader = new MachinePressureReader(proc.root, fs);
    try {
      assert.deepEqual(value(reader.read(PAGE_BYTES)), EXPECTED);
      writeProc({ meminfo: MEMINFO.replace("MemAvailable:     300000 kB", "MemAvailable:      90000 kB"), vmstat: VMSTAT.replace("oom_kill 9", "oom_kill 10") });
      const later = value(reader.read(PAGE_BYTES));
      assert.deepEqual([later.availableBytes, later.oomKillsTotal], [90000 * KIB, 10]);
      value(reader.read(PAGE_BYTES));
      const opens = fs.log.filter((entry) => entry.access === "open").map((entry) => entry.path);
      assert.deepEqual(opens.sort(), ["/meminfo", "/pressure/memory", "/vmstat", "/zoneinfo"]);
      assert.equal(fs.log.filter((entry) => entry.access === "read").length, 12, "one pread a file a sample");
      assert.equal(fs.log.filter((entry) => entry.access === "readText").length, 0, "nothing by path");
    } finally {
      reader.close();
    }
    assert.equal(fs.openFds(), 0, "close gives every fd back");
  });

  it("a kept file that fails to read is read by path that once, and opened afresh the next time", () => {
    writeProc();
    const fs = procLikeFs(proc.root);
    let failNext = false;
    const flaky = { ...fs, readOpenFile: (fd: number) => (failNext ? ((failNext = false), { ok: false as const, error: { code: "EIO", message: "injected" } }) : fs.readOpenFile(fd)) };
    const reader = new MachinePressureReader(proc.root, flaky);
    try {
      value(reader.read(PAGE_BYTES));
      failNext = true;
      assert.deepEqual(value(reader.read(PAGE_BYTES)), EXPECTED);
      assert.deepEqual(fs.log.filter((entry) => entry.access === "readText").map((entry) => entry.path), ["/meminfo"]);
      value(reader.read(PAGE_BYTES));
      assert.equal(fs.log.filter((entry) => entry.access === "open" && entry.path === "/meminfo").length, 2);
    } finally {
      reader.close();
    }
  });

  it("a malformed zoneinfo is a parse failure naming it", () => {
    writeProc({ zoneinfo: ZONEINFO.replace("min      200", "min      2 00") });
    const error = errorOf(readMachinePressure(proc.root, nodeLinuxFs, PAGE_BYTES));
    assert.equal(error.code, "PARSE_ERROR");
    assert.ok(error.message.startsWith(`${file("zoneinfo")}: `), error.message);
  });
});

describe("readMachinePressure through LinuxHost on this machine's /proc", () => {
  it("reads MemTotal, non-zero watermarks with low above min, and counters", () => {
    const sample = value(new LinuxHost().readMachinePressure());
    const memTotalKiB = Number(/^MemTotal:\s+(\d+) kB$/m.exec(readFileSync("/proc/meminfo", "utf8"))?.[1]);
    // MemTotal does not change while the machine runs (no memory hotplug during a test).
    assert.equal(sample.totalBytes, memTotalKiB * KIB);
    assert.ok(sample.minWatermarkBytes > 0, `min ${sample.minWatermarkBytes}`);
    assert.ok(sample.lowWatermarkBytes > sample.minWatermarkBytes, `low ${sample.lowWatermarkBytes}, min ${sample.minWatermarkBytes}`);
    // The kernel derives the min watermarks from vm.min_free_kbytes; empty or movable zones add
    // at most 128 pages each, so the sum stays within a MiB of it.
    const minFreeKiB = Number(readFileSync("/proc/sys/vm/min_free_kbytes", "utf8").trim());
    assert.ok(Math.abs(sample.minWatermarkBytes - minFreeKiB * KIB) <= 1024 * KIB, `min ${sample.minWatermarkBytes} vs min_free_kbytes ${minFreeKiB}`);
    assert.ok(sample.reclaimedPagesTotal >= 0);
    assert.ok(sample.allocStallsTotal >= 0);
    assert.ok(sample.freeBytes > 0 && sample.freeBytes <= sample.totalBytes);
    if (existsSync("/proc/pressure/memory")) {
      assert.ok(sample.psiSomeTotalUs !== null && sample.psiSomeTotalUs >= 0);
      assert.ok(sample.psiFullTotalUs !== null && sample.psiFullTotalUs >= 0);
    }
  });

  it("through its kept fds the kernel's counters move on from sample to sample, as by path", () => {
    const host = new LinuxHost();
    const first = value(host.readMachinePressure());
    // Memory faulted in and given back between the samples: the free pages move.
    const held = Array.from({ length: 64 }, () => Buffer.alloc(1024 * 1024, 1));
    const second = value(host.readMachinePressure());
    const byPath = value(readMachinePressure("/proc", nodeLinuxFs, PAGE_BYTES));
    assert.equal(held.length, 64);
    assert.equal(second.totalBytes, first.totalBytes);
    assert.notEqual(second.freeBytes, first.freeBytes, "a kept fd reads the file afresh");
    assert.ok(second.reclaimedPagesTotal >= first.reclaimedPagesTotal && byPath.reclaimedPagesTotal >= second.reclaimedPagesTotal);
    if (first.psiSomeTotalUs !== null && second.psiSomeTotalUs !== null) assert.ok(second.psiSomeTotalUs >= first.psiSomeTotalUs);
  });
});
