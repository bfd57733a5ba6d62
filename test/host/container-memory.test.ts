// The container's cgroup in place of /proc/meminfo: which cgroup stands in (a container with and
// without a cgroup namespace, v1 and v2, a host whose daemon runs in a limited service), the
// formula, and readMachinePressure and LinuxHost over fixture trees, where every number is known;
// then a container made on this kernel with unshare(1).

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { readCgroupMounts, type CgroupMount, type CgroupMounts } from "../../src/host/linux/cgroup-mounts.js";
import { commonCgroupAncestor, findMemoryStandIn, standInFigures } from "../../src/host/linux/container-memory.js";
import { LinuxHost } from "../../src/host/linux/linux-host.js";
import { nodeLinuxFs } from "../../src/host/linux/linux-fs.js";
import { readMachinePressure } from "../../src/host/linux/machine-pressure-reader.js";
import { value } from "../support/result-assert.js";

const KIB = 1024;
const MIB = 1024 * KIB;
const GIB = 1024 * MIB;

const MEMINFO = ["MemTotal:        4194304 kB", "MemFree:          100000 kB", "MemAvailable:    3000000 kB", "SwapTotal:       2097152 kB", "SwapFree:        1048576 kB", ""].join("\n");
const ZONEINFO = "Node 0, zone   Normal\n  pages free     1000\n        min      100\n        low      125\n        high     150\n        spanned  8190\n        present  8000\n        managed  7000\n";
const VMSTAT = "pgsteal_kswapd 7\npgsteal_direct 3\nallocstall_normal 2\n";
const PSI = "some avg10=0.00 avg60=0.00 avg300=0.00 total=10\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=5\n";

interface Fixture {
  proc: string;
  cgroupRoot: string;
  mounts: CgroupMounts;
  write(path: string, text: string): void;
}

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** A /proc (meminfo and friends, self/cgroup, 1/cgroup) and one cgroup mount of the given version. */
function fixture(options: { version: 1 | 2; mountRoot?: string; self: string; init: string | null; files: Record<string, string> }): Fixture {
  const base = mkdtempSync(join(tmpdir(), "oomwarden-container-"));
  dirs.push(base);
  const proc = join(base, "proc");
  const cgroupRoot = join(base, "cgroup");
  const write = (path: string, text: string): void => {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
  };
  write(join(proc, "meminfo"), MEMINFO);
  write(join(proc, "zoneinfo"), ZONEINFO);
  write(join(proc, "vmstat"), VMSTAT);
  write(join(proc, "pressure", "memory"), PSI);
  const line = (path: string): string => (options.version === 2 ? `0::${path}\n` : `7:memory:${path}\n3:cpu,cpuacct:${path}\n`);
  write(join(proc, "self", "cgroup"), line(options.self));
  if (options.init !== null) write(join(proc, "1", "cgroup"), line(options.init));
  if (options.version === 2) write(join(cgroupRoot, "cgroup.controllers"), "cpuset cpu io memory pids\n");
  for (const [path, text] of Object.entries(options.files)) write(join(cgroupRoot, path), text);
  const mount: CgroupMount = { mountPoint: cgroupRoot, version: options.version, controllers: options.version === 1 ? ["memory"] : [], name: null, root: options.mountRoot ?? "/" };
  const mounts: CgroupMounts = { v1Memory: options.version === 1 ? cgroupRoot : null, v2: options.version === 2 ? cgroupRoot : null, v1Freezer: null, all: [mount] };
  return { proc, cgroupRoot, mounts, write };
}

const MEM_TOTAL = 4 * GIB;

/** A v2 cgroup's memory files. */
function v2Cgroup(path: string, max: string, current: number, stat: Record<string, number>, swap?: { max: string; current: number }): Record<string, string> {
  const prefix = path === "" ? "" : `${path}/`;
  const files: Record<string, string> = {
    [`${prefix}memory.max`]: `${max}\n`,
    [`${prefix}memory.current`]: `${current}\n`,
    [`${prefix}memory.stat`]: Object.entries(stat).map(([key, bytes]) => `${key} ${bytes}\n`).join(""),
  };
  if (swap !== undefined) {
    files[`${prefix}memory.swap.max`] = `${swap.max}\n`;
    files[`${prefix}memory.swap.current`] = `${swap.current}\n`;
  }
  return files;
}

describe("standInFigures (the formula)", () => {
  const machine = { totalBytes: MEM_TOTAL, availableBytes: 3 * GIB, swapTotalBytes: 2 * GIB, swapFreeBytes: 1 * GIB };
  it("available is what is left below the limit plus the file LRU and reclaimable slab", () => {
    const figures = standInFigures(machine, { limitBytes: 512 * MIB, usageBytes: 400 * MIB, fileBytes: 100 * MIB, slabReclaimableBytes: 10 * MIB, swapMaxBytes: null, swapCurrentBytes: null });
    assert.equal(figures.totalBytes, 512 * MIB);
    assert.equal(figures.availableBytes, (512 - 400 + 100 + 10) * MIB);
  });
  it("never more than the limit, never less than nothing: usage over a lowered limit counts as none left", () => {
    assert.equal(standInFigures(machine, { limitBytes: 512 * MIB, usageBytes: 100 * MIB, fileBytes: 500 * MIB, slabReclaimableBytes: 0, swapMaxBytes: null, swapCurrentBytes: null }).availableBytes, 512 * MIB);
    assert.equal(standInFigures(machine, { limitBytes: 256 * MIB, usageBytes: 300 * MIB, fileBytes: 20 * MIB, slabReclaimableBytes: 0, swapMaxBytes: null, swapCurrentBytes: null }).availableBytes, 20 * MIB);
  });
  it("swap: the cgroup's own allowance, no more than the machine has free", () => {
    const base = { limitBytes: 512 * MIB, usageBytes: 0, fileBytes: 0, slabReclaimableBytes: 0 };
    assert.deepEqual(
      [256 * MIB, 156 * MIB],
      Object.values(standInFigures(machine, { ...base, swapMaxBytes: 256 * MIB, swapCurrentBytes: 100 * MIB })).slice(2),
      "swap.max below the machine's swap",
    );
    const unlimited = standInFigures(machine, { ...base, swapMaxBytes: null, swapCurrentBytes: 100 * MIB });
    assert.equal(unlimited.swapTotalBytes, 2 * GIB);
    assert.equal(unlimited.swapFreeBytes, 1 * GIB, "the machine's free swap bounds it");
    assert.equal(standInFigures(machine, { ...base, swapMaxBytes: 0, swapCurrentBytes: 0 }).swapTotalBytes, 0, "swap.max 0: none");
  });
});

describe("commonCgroupAncestor", () => {
  it("is the deepest cgroup both lie in", () => {
    assert.equal(commonCgroupAncestor("/system.slice/a.service", "/init.scope"), "/");
    assert.equal(commonCgroupAncestor("/docker/abc/x", "/docker/abc"), "/docker/abc");
    assert.equal(commonCgroupAncestor("/", "/"), "/");
    assert.equal(commonCgroupAncestor("/ab", "/abc"), "/", "by segment, not by character");
  });
});

describe("findMemoryStandIn", () => {
  it("a v2 container with its own cgroup namespace: the namespace's root, and its limit, stand in", () => {
    const f = fixture({ version: 2, self: "/", init: "/", files: v2Cgroup("", "536870912", 300 * MIB, { active_file: 10 * MIB, inactive_file: 20 * MIB, slab_reclaimable: 1 * MIB }) });
    const choice = findMemoryStandIn(f.proc, nodeLinuxFs, f.mounts, MEM_TOTAL);
    assert.deepEqual(choice.standIn, { path: f.cgroupRoot, version: 2 });
    assert.match(choice.note ?? "", new RegExp(`^memory limit of cgroup ${f.cgroupRoot} \\(512 MiB, below MemTotal 4096 MiB\\) stands in for the machine`));
  });
  it("a container without a cgroup namespace: its scope, below an unlimited slice", () => {
    const scope = "system.slice/docker-abc.scope";
    const f = fixture({ version: 2, self: `/${scope}`, init: `/${scope}`, files: { ...v2Cgroup("system.slice", "max", 0, {}), ...v2Cgroup(scope, "1073741824", 0, {}) } });
    assert.deepEqual(findMemoryStandIn(f.proc, nodeLinuxFs, f.mounts, MEM_TOTAL).standIn, { path: join(f.cgroupRoot, scope), version: 2 });
  });
  it("a host whose daemon runs in a service with MemoryMax=: no stand-in, PID 1 lies outside that service", () => {
    const service = "system.slice/oomwarden.service";
    const f = fixture({ version: 2, self: `/${service}`, init: "/init.scope", files: { ...v2Cgroup("system.slice", "max", 0, {}), ...v2Cgroup(service, "104857600", 0, {}) } });
    assert.deepEqual(findMemoryStandIn(f.proc, nodeLinuxFs, f.mounts, MEM_TOTAL), { standIn: null, note: null });
  });
  it("inside a container, a limited service of its own does not hide the container's limit", () => {
    const f = fixture({
      version: 2,
      self: "/system.slice/oomwarden.service",
      init: "/init.scope",
      files: { ...v2Cgroup("", "2147483648", 0, {}), ...v2Cgroup("system.slice/oomwarden.service", "104857600", 0, {}) },
    });
    assert.equal(findMemoryStandIn(f.proc, nodeLinuxFs, f.mounts, MEM_TOTAL).standIn?.path, f.cgroupRoot);
  });
  it("a limit at or above MemTotal changes nothing", () => {
    const f = fixture({ version: 2, self: "/", init: "/", files: v2Cgroup("", String(MEM_TOTAL), 0, {}) });
    assert.equal(findMemoryStandIn(f.proc, nodeLinuxFs, f.mounts, MEM_TOTAL).standIn, null);
  });
  it("without PID 1's cgroup (hidepid), looks from its own, and says so", () => {
    const f = fixture({ version: 2, self: "/job", init: null, files: v2Cgroup("job", "268435456", 0, {}) });
    const choice = findMemoryStandIn(f.proc, nodeLinuxFs, f.mounts, MEM_TOTAL);
    assert.equal(choice.standIn?.path, join(f.cgroupRoot, "job"));
    assert.match(choice.note ?? "", /PID 1's cgroup could not be read: looked from this process's own/);
  });
  it("v1 in a container whose memory hierarchy is bind-mounted from its own cgroup (mountinfo root /docker/abc)", () => {
    const f = fixture({
      version: 1,
      mountRoot: "/docker/abc",
      self: "/docker/abc",
      init: "/docker/abc",
      files: { "memory.limit_in_bytes": "268435456\n", "memory.usage_in_bytes": "0\n", "memory.stat": "cache 0\n" },
    });
    assert.deepEqual(findMemoryStandIn(f.proc, nodeLinuxFs, f.mounts, MEM_TOTAL).standIn, { path: f.cgroupRoot, version: 1 });
  });
  it("a cgroup the mount does not show: none, and why", () => {
    const f = fixture({ version: 1, mountRoot: "/docker/abc", self: "/elsewhere", init: "/elsewhere", files: { "memory.limit_in_bytes": "268435456\n" } });
    const choice = findMemoryStandIn(f.proc, nodeLinuxFs, f.mounts, MEM_TOTAL);
    assert.equal(choice.standIn, null);
    assert.match(choice.note ?? "", /cgroup \/elsewhere lies outside the part of the hierarchy mounted at .* \(its root \/docker\/abc\)/);
  });
  it("a cgroup above the cgroup namespace's root (/proc/self/cgroup says /..) has no directory here: none", () => {
    const f = fixture({ version: 2, self: "/../elsewhere", init: "/../elsewhere", files: v2Cgroup("", "268435456", 0, {}) });
    const choice = findMemoryStandIn(f.proc, nodeLinuxFs, f.mounts, MEM_TOTAL);
    assert.equal(choice.standIn, null);
    assert.match(choice.note ?? "", /cgroup \/\.\.\/elsewhere lies outside the part of the hierarchy mounted at/);
  });
  it("a v2 hierarchy without the memory controller (a hybrid host) is not looked at", () => {
    const f = fixture({ version: 2, self: "/", init: "/", files: v2Cgroup("", "268435456", 0, {}) });
    f.write(join(f.cgroupRoot, "cgroup.controllers"), "cpu pids\n");
    assert.equal(findMemoryStandIn(f.proc, nodeLinuxFs, f.mounts, MEM_TOTAL).standIn, null);
  });
});

describe("readMachinePressure with a stand-in", () => {
  const stat = { anon: 380 * MIB, active_file: 40 * MIB, inactive_file: 60 * MIB, slab_reclaimable: 5 * MIB, file: 100 * MIB };
  const f = fixture({ version: 2, self: "/", init: "/", files: v2Cgroup("", String(512 * MIB), 480 * MIB, stat, { max: String(256 * MIB), current: 56 * MIB }) });
  const standIn = { path: f.cgroupRoot, version: 2 as const };

  it("takes total, available and swap from the cgroup, watermarks, MemFree and counters from the machine", () => {
    const sample = value(readMachinePressure(f.proc, nodeLinuxFs, 4096, standIn));
    assert.equal(sample.totalBytes, 512 * MIB);
    assert.equal(sample.availableBytes, (512 - 480 + 40 + 60 + 5) * MIB);
    assert.equal(sample.swapTotalBytes, 256 * MIB);
    assert.equal(sample.swapFreeBytes, 200 * MIB);
    assert.equal(sample.freeBytes, 100000 * KIB, "MemFree is the machine's");
    assert.equal(sample.minWatermarkBytes, 100 * 4096);
    assert.equal(sample.reclaimedPagesTotal, 10);
    assert.equal(sample.psiSomeTotalUs, 10);
  });
  it("reads the cgroup at each sample: usage that grew, a limit raised past MemTotal", () => {
    f.write(join(f.cgroupRoot, "memory.current"), `${500 * MIB}\n`);
    assert.equal(value(readMachinePressure(f.proc, nodeLinuxFs, 4096, standIn)).availableBytes, (512 - 500 + 40 + 60 + 5) * MIB);
    f.write(join(f.cgroupRoot, "memory.max"), "max\n");
    const unlimited = value(readMachinePressure(f.proc, nodeLinuxFs, 4096, standIn));
    assert.equal(unlimited.totalBytes, MEM_TOTAL, "no limit now: the machine's own figures");
    assert.equal(unlimited.availableBytes, 3000000 * KIB);
    f.write(join(f.cgroupRoot, "memory.max"), `${512 * MIB}\n`);
  });
  it("without swap accounting (no memory.swap.* files), the machine's swap", () => {
    const g = fixture({ version: 2, self: "/", init: "/", files: v2Cgroup("", String(512 * MIB), 100 * MIB, stat) });
    const sample = value(readMachinePressure(g.proc, nodeLinuxFs, 4096, { path: g.cgroupRoot, version: 2 }));
    assert.equal(sample.swapTotalBytes, 2 * GIB);
    assert.equal(sample.swapFreeBytes, 1 * GIB);
  });
  it("v1: memory.limit_in_bytes and usage_in_bytes, the hierarchical total_ file counters, the machine's swap", () => {
    const v1 = fixture({
      version: 1,
      self: "/lxc/box",
      init: "/lxc/box",
      files: {
        "lxc/memory.limit_in_bytes": "9223372036854771712\n",
        "lxc/box/memory.limit_in_bytes": `${1 * GIB}\n`,
        "lxc/box/memory.usage_in_bytes": `${900 * MIB}\n`,
        "lxc/box/memory.stat": `active_file ${1 * MIB}\ninactive_file ${2 * MIB}\ntotal_active_file ${30 * MIB}\ntotal_inactive_file ${70 * MIB}\n`,
        "memory.limit_in_bytes": "9223372036854771712\n",
      },
    });
    const choice = findMemoryStandIn(v1.proc, nodeLinuxFs, v1.mounts, MEM_TOTAL);
    assert.deepEqual(choice.standIn, { path: join(v1.cgroupRoot, "lxc", "box"), version: 1 });
    const sample = value(readMachinePressure(v1.proc, nodeLinuxFs, 4096, choice.standIn));
    assert.equal(sample.totalBytes, 1 * GIB);
    assert.equal(sample.availableBytes, (1024 - 900 + 30 + 70) * MIB);
    assert.equal(sample.swapTotalBytes, 2 * GIB);
  });
  it("a stand-in that cannot be read is an error naming the file", () => {
    const gone = readMachinePressure(f.proc, nodeLinuxFs, 4096, { path: join(f.cgroupRoot, "gone"), version: 2 });
    assert.equal(gone.ok, false);
    assert.match(gone.ok ? "" : gone.error.message, /gone\/memory\.max/);
  });
});

describe("LinuxHost in a container (fixture tree)", () => {
  const f = fixture({ version: 2, self: "/", init: "/", files: v2Cgroup("", String(1 * GIB), 600 * MIB, { active_file: 50 * MIB, inactive_file: 50 * MIB }) });
  const host = new LinuxHost({ procRoot: f.proc, mounts: f.mounts });
  it("says at start which cgroup stands in for the machine", () => {
    assert.ok(host.capabilities().notes.some((note) => note.startsWith(`memory limit of cgroup ${f.cgroupRoot} (1024 MiB`)));
  });
  it("reports the container's memory in readMachineMemory and readMachinePressure alike", () => {
    const memory = value(host.readMachineMemory());
    const pressure = value(host.readMachinePressure());
    assert.equal(memory.totalBytes, 1 * GIB);
    assert.equal(memory.availableBytes, (1024 - 600 + 100) * MIB);
    assert.equal(pressure.totalBytes, memory.totalBytes);
    assert.equal(pressure.availableBytes, memory.availableBytes);
  });
});

// A container made here on the real kernel: a 256 MiB v1 memory cgroup made for the test, and in it
// a process in new pid, mount and cgroup namespaces with the v1 memory hierarchy mounted afresh (as
// a container runtime does), which builds a LinuxHost and prints what it reports.
const unshare = ["/usr/bin/unshare", "/bin/unshare"].find((path) => existsSync(path));
const v1Memory = readCgroupMounts();
const containerSkip =
  process.getuid?.() !== 0 ? "needs root" : unshare === undefined ? "needs unshare(1)" : !v1Memory.ok || v1Memory.value.v1Memory === null ? "needs the cgroup v1 memory controller" : false;

describe("LinuxHost in a container made on this kernel (cgroup v1)", { skip: containerSkip }, () => {
  it("the container's 256 MiB limit stands in for the machine's memory", () => {
    const cgroup = join((v1Memory.ok && v1Memory.value.v1Memory) || "/nonexistent", `oomwarden-container-${process.pid}`);
    const hostJs = fileURLToPath(new URL("../../src/host/linux/linux-host.js", import.meta.url));
    const probe = `const { LinuxHost } = await import(${JSON.stringify(hostJs)});
const host = new LinuxHost();
const pressure = host.readMachinePressure();
console.log(JSON.stringify({ notes: host.capabilities().notes, totalBytes: pressure.ok ? pressure.value.totalBytes : null, availableBytes: pressure.ok ? pressure.value.availableBytes : null }));`;
    const inside = [
      "umount -R /sys/fs/cgroup",
      "mount -t tmpfs oomwarden-test /sys/fs/cgroup",
      "mkdir /sys/fs/cgroup/memory",
      "mount -t cgroup -o memory cgroup /sys/fs/cgroup/memory",
      `exec ${JSON.stringify(process.execPath)} --input-type=module -e "$0"`,
    ].join(" && ");
    mkdirSync(cgroup);
    try {
      writeFileSync(join(cgroup, "memory.limit_in_bytes"), String(256 * MIB));
      // The shell joins the cgroup first, so the namespaces' PID 1 and everything below it are in it.
      const out = execFileSync("/bin/sh", ["-c", `echo $$ > ${JSON.stringify(join(cgroup, "cgroup.procs"))} && exec ${unshare} --pid --fork --mount --cgroup --mount-proc /bin/sh -c '${inside}' "$0"`, probe], { encoding: "utf8" });
      const seen = JSON.parse(out) as { notes: string[]; totalBytes: number; availableBytes: number };
      assert.equal(seen.totalBytes, 256 * MIB);
      assert.ok(seen.availableBytes > 0 && seen.availableBytes <= 256 * MIB, `available ${seen.availableBytes}`);
      assert.ok(seen.notes.some((note) => note.startsWith("memory limit of cgroup /sys/fs/cgroup/memory (256 MiB, below MemTotal")), seen.notes.join("\n"));
    } finally {
      rmdirSync(cgroup);
    }
  });
});
