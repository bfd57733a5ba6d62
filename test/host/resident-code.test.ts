// Keeping the daemon's code resident: the maps parser and the choice of ranges on literal text,
// the refusal notes with a fake lock, and on the real kernel, in child processes (a lock taken in
// the test runner would stay for its whole life): MLOCK_ONFAULT locks without growing RSS, a full
// lock reads every page in, and an unprivileged process is refused with the reason named.

import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { fail, ok } from "../../src/core/result.js";
import { nodeLinuxFs } from "../../src/host/linux/linux-fs.js";
import { mlockRange, munlockRange } from "../../src/host/linux/native.js";
import { parseProcMaps } from "../../src/host/linux/parse-proc-maps.js";
import { lockResidentCode, parseMemlockLimit, residentCodeRanges } from "../../src/host/linux/resident-code.js";
import { errorOf, value } from "../support/result-assert.js";

const MIB = 1024 * 1024;

// The shape of a Node process's maps, cut down: the binary, libc, a data file mapped read-only, a
// library deleted since it was loaded, anonymous memory and the kernel's special mappings.
const MAPS = `00400000-00b72000 r--p 00000000 103:02 1837700                            /usr/bin/node
00b72000-026d0000 r-xp 00772000 103:02 1837700                            /usr/bin/node
026d0000-05f35000 r--p 022d0000 103:02 1837700                            /usr/bin/node
05f35000-05f55000 rw-p 05b34000 103:02 1837700                            /usr/bin/node
05f55000-05f6e000 rw-p 00000000 00:00 0
07a3e000-07d08000 rw-p 00000000 00:00 0                                  [heap]
7f2b8c000000-7f2b8c021000 rw-p 00000000 00:00 0
7f2b94e00000-7f2b94e28000 r--p 00000000 103:02 1836152                    /usr/lib/x86_64-linux-gnu/libc.so.6
7f2b94e28000-7f2b94fbd000 r-xp 00028000 103:02 1836152                    /usr/lib/x86_64-linux-gnu/libc.so.6
7f2b94fbd000-7f2b95015000 r--p 001bd000 103:02 1836152                    /usr/lib/x86_64-linux-gnu/libc.so.6
7f2b95015000-7f2b95019000 r--p 00214000 103:02 1836152                    /usr/lib/x86_64-linux-gnu/libc.so.6
7f2b95019000-7f2b9501b000 rw-p 00218000 103:02 1836152                    /usr/lib/x86_64-linux-gnu/libc.so.6
7f2b95100000-7f2b95400000 r--p 00000000 103:02 1840000                    /usr/lib/locale/locale-archive
7f2b95500000-7f2b95502000 r--p 00000000 103:02 1850000                    /work/build/Release/oomwarden_native.node (deleted)
7f2b95502000-7f2b95504000 r-xp 00002000 103:02 1850000                    /work/build/Release/oomwarden_native.node (deleted)
7f2b95600000-7f2b95601000 rw-s 00000000 00:01 2048                       /memfd:shared (deleted)
7ffd6a9c1000-7ffd6a9e2000 rw-p 00000000 00:00 0                          [stack]
7ffd6a9f6000-7ffd6a9fa000 r--p 00000000 00:00 0                          [vvar]
7ffd6a9fa000-7ffd6a9fc000 r-xp 00000000 00:00 0                          [vdso]
ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]
`;

describe("parseProcMaps", () => {
  it("reads every mapping a 64-bit address can hold exactly, with its file", () => {
    const entries = value(parseProcMaps(MAPS));
    assert.equal(entries.length, 19, "the vsyscall page, above 2^53, is left out");
    assert.deepEqual(entries[1], { startAddress: 0xb72000, endAddress: 0x26d0000, perms: "r-xp", inode: 1837700, path: "/usr/bin/node" });
    assert.deepEqual(entries[4], { startAddress: 0x5f55000, endAddress: 0x5f6e000, perms: "rw-p", inode: 0, path: "" });
    assert.equal(entries[13]?.path, "/work/build/Release/oomwarden_native.node (deleted)");
  });
  it("refuses a line the kernel cannot print", () => {
    assert.equal(errorOf(parseProcMaps("00400000 r--p 00000000 103:02 1 /x\n")).code, "PARSE_ERROR");
    assert.equal(errorOf(parseProcMaps("00b72000-00400000 r-xp 00000000 103:02 1 /x\n")).code, "PARSE_ERROR", "end before start");
  });
  it("parses this process's own maps", () => {
    const entries = value(parseProcMaps(value(nodeLinuxFs.readText("/proc/self/maps"))));
    assert.ok(entries.some((entry) => entry.path === process.execPath && entry.perms === "r-xp"), "node's code is mapped");
  });
});

describe("residentCodeRanges", () => {
  const ranges = residentCodeRanges(value(parseProcMaps(MAPS)));
  it("takes the code and read-only data of the executable objects only", () => {
    assert.deepEqual(
      ranges.map((range) => `${range.perms} ${range.path}`),
      [
        "r--p /usr/bin/node",
        "r-xp /usr/bin/node",
        "r--p /usr/bin/node",
        "r--p /usr/lib/x86_64-linux-gnu/libc.so.6",
        "r-xp /usr/lib/x86_64-linux-gnu/libc.so.6",
        "r--p /usr/lib/x86_64-linux-gnu/libc.so.6",
        "r--p /usr/lib/x86_64-linux-gnu/libc.so.6",
        "r--p /work/build/Release/oomwarden_native.node (deleted)",
        "r-xp /work/build/Release/oomwarden_native.node (deleted)",
      ],
    );
    assert.equal(ranges[1]?.lengthBytes, 0x26d0000 - 0xb72000);
  });
  it("leaves out writable, shared and anonymous mappings and data files without code", () => {
    assert.ok(!ranges.some((range) => range.path.includes("locale-archive")), "a data file mapped read-only");
    assert.ok(!ranges.some((range) => range.path.startsWith("[") || range.path === ""), "heap, stack, vdso, anonymous");
    assert.ok(!ranges.some((range) => range.perms !== "r-xp" && range.perms !== "r--p"), "rw-p, rw-s");
  });
});

describe("lockResidentCode with a fake lock", () => {
  const proc = mkdtempSync(join(tmpdir(), "oomwarden-resident-"));
  after(() => rmSync(proc, { recursive: true, force: true }));
  mkdirSync(join(proc, "self"));
  writeFileSync(join(proc, "self", "maps"), MAPS);
  writeFileSync(join(proc, "self", "limits"), "Limit                     Soft Limit           Hard Limit           Units\nMax locked memory         8388608              8388608              bytes\n");
  const asked = residentCodeRanges(value(parseProcMaps(MAPS)));
  const askedBytes = asked.reduce((total, range) => total + range.lengthBytes, 0);

  it("locks every range, on fault, and says so", () => {
    const calls: Array<[number, number, boolean]> = [];
    const report = lockResidentCode({ procRoot: proc, fs: nodeLinuxFs, mode: "on-fault", lock: (a, l, f) => (calls.push([a, l, f]), ok(undefined)) });
    assert.equal(calls.length, asked.length);
    assert.ok(calls.every(([, , onFault]) => onFault));
    assert.equal(report.lockedBytes, askedBytes);
    assert.equal(report.files, 3);
    assert.deepEqual(report.refused, []);
    assert.match(report.note, /^code kept in memory: \d+\.\d MiB of code and read-only data of 3 files .*MLOCK_ONFAULT/);
  });
  it("goes on past a refusal and names RLIMIT_MEMLOCK for ENOMEM", () => {
    let budget = 8 * MIB;
    const report = lockResidentCode({
      procRoot: proc,
      fs: nodeLinuxFs,
      mode: "full",
      lock: (_address, length) => {
        if (length > budget) return fail("ENOMEM", "mlock2: Cannot allocate memory");
        budget -= length;
        return ok(undefined);
      },
    });
    assert.ok(report.lockedRanges > 0 && report.lockedRanges < asked.length, "the small ranges after a big refused one still fit");
    assert.equal(report.refused.length, 1);
    assert.equal(report.refused[0]?.code, "ENOMEM");
    assert.equal(report.lockedBytes + (report.refused[0]?.bytes ?? 0), askedBytes);
    assert.match(report.note, /^code kept in memory only in part: .*ENOMEM: more than RLIMIT_MEMLOCK \(8\.0 MiB\) would be locked and the daemon lacks CAP_IPC_LOCK/);
  });
  it("says EPERM means a zero RLIMIT_MEMLOCK", () => {
    const report = lockResidentCode({ procRoot: proc, fs: nodeLinuxFs, mode: "on-fault", lock: () => fail("EPERM", "mlock2: Operation not permitted") });
    assert.equal(report.lockedBytes, 0);
    assert.match(report.note, /^code not locked in memory; \d+ ranges .* refused with EPERM: RLIMIT_MEMLOCK is 0/);
  });
  it("says why when the maps cannot be read", () => {
    const report = lockResidentCode({ procRoot: join(proc, "missing"), fs: nodeLinuxFs, mode: "on-fault", lock: () => ok(undefined) });
    assert.equal(report.askedRanges, 0);
    assert.match(report.note, /^code not locked in memory: cannot read .*missing\/self\/maps/);
  });
  it("reads the soft limit, unlimited as null", () => {
    assert.equal(parseMemlockLimit("Max locked memory         65536                65536                bytes\n"), 65536);
    assert.equal(parseMemlockLimit("Max locked memory         unlimited            unlimited            bytes\n"), null);
    assert.equal(parseMemlockLimit("Max open files 1024 1024 files\n"), null);
  });
});

describe("mlockRange", () => {
  it("refuses arguments that are not an address and a length", () => {
    assert.equal(errorOf(mlockRange(-1, 4096, { onFault: true })).code, "EINVAL");
    assert.equal(errorOf(mlockRange(4096, 0, { onFault: true })).code, "EINVAL");
    assert.equal(errorOf(munlockRange(4096.5, 4096)).code, "EINVAL");
  });
  it("fails with ENOMEM on a range nothing is mapped at", () => {
    assert.equal(errorOf(mlockRange(4096, 4096, { onFault: true })).code, "ENOMEM");
  });
});

// The real kernel, in a child process each: what VmRSS and VmLck say after the lock.
const RESIDENT_JS = fileURLToPath(new URL("../../src/host/linux/resident-code.js", import.meta.url));
const LINUX_FS_JS = fileURLToPath(new URL("../../src/host/linux/linux-fs.js", import.meta.url));
const CHILD = `
import { lockResidentCode } from ${JSON.stringify(RESIDENT_JS)};
import { nodeLinuxFs } from ${JSON.stringify(LINUX_FS_JS)};
import { readFileSync } from "node:fs";
const kib = (key) => Number(new RegExp("^" + key + ":\\\\s+(\\\\d+) kB", "m").exec(readFileSync("/proc/self/status", "utf8"))[1]);
const rssBefore = kib("VmRSS");
const report = lockResidentCode({ procRoot: "/proc", fs: nodeLinuxFs, mode: process.argv.at(-1) });
console.log(JSON.stringify({ report, rssBeforeKiB: rssBefore, rssAfterKiB: kib("VmRSS"), lockedKiB: kib("VmLck") }));
`;

interface ChildResult {
  report: ReturnType<typeof lockResidentCode>;
  rssBeforeKiB: number;
  rssAfterKiB: number;
  lockedKiB: number;
}

function lockInChild(mode: string, prefix: string[] = []): ChildResult {
  const command = [...prefix, process.execPath, "--input-type=module", "-e", CHILD, mode];
  const out = execFileSync(command[0] as string, command.slice(1), { encoding: "utf8" });
  return JSON.parse(out) as ChildResult;
}

const root = process.getuid?.() === 0;
const setpriv = ["/usr/bin/setpriv", "/bin/setpriv"].find((path) => existsSync(path));
const prlimit = ["/usr/bin/prlimit", "/bin/prlimit"].find((path) => existsSync(path));
const mayLockMuch = spawnSync("/bin/sh", ["-c", "ulimit -l"], { encoding: "utf8" }).stdout.trim() === "unlimited" || root;

describe("lockResidentCode on this kernel", () => {
  it("on fault: the whole code is locked and RSS stays near where it was", { skip: mayLockMuch ? false : "RLIMIT_MEMLOCK is limited and this is not root" }, () => {
    const child = lockInChild("on-fault");
    assert.deepEqual(child.report.refused, [], child.report.note);
    assert.ok(child.report.files >= 2, "node and at least libc");
    assert.ok(child.report.lockedBytes > 20 * MIB, `node's code is tens of MiB: ${child.report.lockedBytes}`);
    // VmLck counts the locked ranges whole, resident or not.
    assert.ok(Math.abs(child.lockedKiB * 1024 - child.report.lockedBytes) < 4 * MIB, `VmLck ${child.lockedKiB} KiB against ${child.report.lockedBytes} bytes`);
    assert.ok(child.rssAfterKiB - child.rssBeforeKiB < 8 * 1024, `RSS grew by ${child.rssAfterKiB - child.rssBeforeKiB} KiB`);
  });
  it("full: every page is read in, RSS grows by most of what was locked", { skip: mayLockMuch ? false : "RLIMIT_MEMLOCK is limited and this is not root" }, () => {
    const child = lockInChild("full");
    assert.deepEqual(child.report.refused, [], child.report.note);
    const grownBytes = (child.rssAfterKiB - child.rssBeforeKiB) * 1024;
    assert.ok(grownBytes > child.report.lockedBytes / 2, `RSS grew by ${grownBytes} bytes for ${child.report.lockedBytes} locked`);
  });
  it("as another user: refused past RLIMIT_MEMLOCK (ENOMEM), or at 0 (EPERM), and the note says which", { skip: root && setpriv !== undefined && prlimit !== undefined ? false : "needs root, setpriv and prlimit" }, () => {
    const nobody = [setpriv as string, "--reuid=65534", "--regid=65534", "--clear-groups"];
    const limited = lockInChild("on-fault", [prlimit as string, "--memlock=1048576", ...nobody]);
    assert.equal(limited.report.refused[0]?.code, "ENOMEM", limited.report.note);
    assert.match(limited.report.note, /ENOMEM: more than RLIMIT_MEMLOCK \(1\.0 MiB\) would be locked/);
    assert.ok(limited.lockedKiB <= 1024, `at most the limit is locked: ${limited.lockedKiB} KiB`);
    const none = lockInChild("on-fault", [prlimit as string, "--memlock=0", ...nobody]);
    assert.equal(none.report.lockedBytes, 0);
    assert.equal(none.report.refused[0]?.code, "EPERM", none.report.note);
    assert.match(none.report.note, /^code not locked in memory; .*EPERM: RLIMIT_MEMLOCK is 0/);
  });
});
