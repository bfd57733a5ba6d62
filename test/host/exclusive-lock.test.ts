// flock-based claims on the real kernel: /proc/locks names the holder, LinuxHost.claimCgroup
// refuses a second claim on a cgroup directory (another process or this one), a released or dead
// holder leaves the cgroup free.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { closeSync, mkdtempSync, openSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test from "node:test";
import { fileURLToPath } from "node:url";
import { lockHolderPid, tryLockExclusive } from "../../src/host/linux/exclusive-lock.js";
import { createLinuxHost } from "../../src/host/linux/linux-host.js";
import { parseProcLocks, splitDevice } from "../../src/host/linux/parse-proc-locks.js";
import { discoverCgroupMounts } from "../../src/host/linux/cgroup-mounts.js";
import { buildCgroupTree, v1MemcgFiles } from "../fixtures/cgroup-tree.js";

const LINUX_HOST_JS = fileURLToPath(new URL("../../src/host/linux/linux-host.js", import.meta.url));

test("/proc/locks: holders parsed with device and inode, waiters and odd lines left out", () => {
  const text = [
    "1: FLOCK  ADVISORY  WRITE 6350 00:20:4391 0 EOF",
    "1: -> FLOCK  ADVISORY  WRITE 6351 00:20:4391 0 EOF",
    "2: POSIX  ADVISORY  READ 812 fd:01:1311 0 EOF",
    "3: OFDLCK ADVISORY  WRITE -1 103:02:77 0 EOF",
    "garbage",
  ].join("\n");
  assert.deepEqual(parseProcLocks(text), [
    { kind: "FLOCK", pid: 6350, deviceMajor: 0, deviceMinor: 0x20, inode: 4391n },
    { kind: "POSIX", pid: 812, deviceMajor: 0xfd, deviceMinor: 1, inode: 1311n },
    { kind: "OFDLCK", pid: -1, deviceMajor: 0x103, deviceMinor: 2, inode: 77n },
  ]);
});

test("splitDevice undoes glibc's makedev, large numbers included", () => {
  const makedev = (major: bigint, minor: bigint): bigint =>
    ((major & 0xfffn) << 8n) | ((major & ~0xfffn) << 32n) | (minor & 0xffn) | ((minor & ~0xffn) << 12n);
  for (const [major, minor] of [[0, 32], [8, 1], [259, 65_537], [4096, 1 << 19]] as const) {
    assert.deepEqual(splitDevice(makedev(BigInt(major), BigInt(minor))), { major, minor });
  }
});

test("a refused lock names its holder from /proc/locks", () => {
  const dir = mkdtempSync(join(tmpdir(), "oomwarden-lock-"));
  const holder = openSync(dir, "r");
  const other = openSync(dir, "r");
  try {
    assert.deepEqual(tryLockExclusive(holder), { kind: "locked" });
    assert.deepEqual(tryLockExclusive(other), { kind: "held", holderPid: process.pid });
    assert.equal(lockHolderPid(other), process.pid);
    assert.equal(lockHolderPid(other, join(dir, "no-proc")), null, "without /proc/locks the holder is unknown, not guessed");
    assert.ok(statSync(dir).isDirectory());
  } finally {
    closeSync(holder);
    closeSync(other);
    rmSync(dir, { recursive: true, force: true });
  }
});

test("LinuxHost.claimCgroup: one claim per cgroup directory, naming another process's pid; free after release or the holder's death", async () => {
  const tree = buildCgroupTree({ v1Memory: { files: v1MemcgFiles(), children: { job: { files: v1MemcgFiles() } } } });
  const child = { pid: undefined as number | undefined, kill: () => {} };
  try {
    const mounts = discoverCgroupMounts(tree.mountinfo);
    assert.ok(mounts.ok);
    const host = createLinuxHost({ mounts: mounts.value });
    const path = tree.path(tree.v1Memory, "job");
    const ref = host.resolveCgroup(path);
    assert.ok(ref.ok, JSON.stringify(ref));

    const claim = host.claimCgroup(ref.value);
    assert.ok(claim.ok, JSON.stringify(claim));
    const again = host.claimCgroup(ref.value);
    assert.ok(!again.ok && again.error.code === "CLAIMED" && /this daemon/.test(again.error.message), JSON.stringify(again));
    claim.value();
    claim.value(); // idempotent

    // Another process claims it through its own LinuxHost and is then killed by SIGKILL.
    const script = `import { createLinuxHost } from ${JSON.stringify(LINUX_HOST_JS)};
      const host = createLinuxHost({ mounts: ${JSON.stringify(mounts.value)} });
      const claimed = host.claimCgroup(host.resolveCgroup(${JSON.stringify(path)}).value);
      console.log(claimed.ok ? "claimed" : claimed.error.message);
      setInterval(() => {}, 1000);`;
    const other = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
    child.pid = other.pid;
    child.kill = () => other.kill("SIGKILL");
    const exited = new Promise((resolve) => other.once("exit", resolve));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("the other process did not claim the cgroup")), 10_000);
      other.stdout.on("data", (d: Buffer) => {
        if (d.toString().includes("claimed")) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    const refused = host.claimCgroup(ref.value);
    assert.ok(!refused.ok, "refused while the other process holds it");
    assert.match(refused.error.message, new RegExp(`another oomwarden manages ${path} \\(pid ${other.pid} holds its lock\\)`));
    other.kill("SIGKILL");
    await exited;
    const afterDeath = host.claimCgroup(ref.value);
    assert.ok(afterDeath.ok, "a killed holder leaves no claim behind");
    afterDeath.value();
  } finally {
    child.kill();
    tree.cleanup();
  }
});
