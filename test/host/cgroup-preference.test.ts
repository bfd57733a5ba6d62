// The oomd / systemd-oomd cgroup xattrs: which one decides on one cgroup, the nearest ancestor's
// over a fixture source, the cache, and on this kernel with cgroups made for the test (v1 memory and
// the v2 hierarchy), set by python3's os.setxattr and read back through lgetxattr.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chownSync, existsSync, mkdirSync, rmdirSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fail, ok, type Result } from "../../src/core/result.js";
import { readCgroupMounts, type CgroupMounts } from "../../src/host/linux/cgroup-mounts.js";
import { CgroupPreferenceReader, linuxXattrSource, ownPreference, type XattrSource } from "../../src/host/linux/cgroup-preference.js";
import { lgetxattr } from "../../src/host/linux/native.js";
import { errorOf, value } from "../support/result-assert.js";

describe("ownPreference (one cgroup's attributes)", () => {
  const of = (entries: Record<string, string>, ownedByRoot = true): string | null => ownPreference("/a", new Map(Object.entries(entries)), ownedByRoot)?.xattr ?? null;
  it("omit beats prefer, prefer beats avoid", () => {
    assert.equal(of({ "user.oomd_avoid": "1", "user.oomd_omit": "1", "trusted.oomd_prefer": "" }), "user.oomd_omit");
    assert.equal(of({ "user.oomd_avoid": "1", "trusted.oomd_prefer": "" }), "trusted.oomd_prefer");
    assert.equal(of({ "trusted.oomd_avoid": "", "user.oomd_avoid": "1" }), "trusted.oomd_avoid");
    assert.deepEqual(ownPreference("/a/b", new Map([["user.oomd_avoid", "1"]]), true), { kind: "avoid", xattr: "user.oomd_avoid", cgroup: "/a/b" });
  });
  it("systemd's attributes are booleans; oomd's count by presence", () => {
    assert.equal(of({ "user.oomd_avoid": "yes" }), "user.oomd_avoid");
    assert.equal(of({ "user.oomd_avoid": "1\n" }), "user.oomd_avoid");
    assert.equal(of({ "user.oomd_omit": "0" }), null);
    assert.equal(of({ "user.oomd_omit": "false", "user.oomd_avoid": "on" }), "user.oomd_avoid");
    assert.equal(of({ "trusted.oomd_avoid": "0" }), "trusted.oomd_avoid");
  });
  it("user.* counts only on a cgroup owned by root, trusted.* wherever", () => {
    assert.equal(of({ "user.oomd_omit": "1" }, false), null);
    assert.equal(of({ "user.oomd_omit": "1", "trusted.oomd_avoid": "" }, false), "trusted.oomd_avoid");
  });
});

/** A fixture source: attributes by directory, owner 0 unless listed. */
function fixtureSource(attributes: Record<string, Record<string, string>>, owners: Record<string, number> = {}): XattrSource & { gets: number } {
  const source = {
    gets: 0,
    get(path: string, name: string): Result<string | null> {
      source.gets++;
      return ok(attributes[path]?.[name] ?? null);
    },
    ownerUid(path: string): Result<number> {
      return ok(owners[path] ?? 0);
    },
  };
  return source;
}

const V2_MOUNTS: CgroupMounts = { v1Memory: null, v2: "/cg", v1Freezer: null, all: [{ mountPoint: "/cg", version: 2, controllers: [], name: null, root: "/" }] };

describe("CgroupPreferenceReader over a fixture", () => {
  it("the nearest of the cgroup and its ancestors decides", () => {
    const source = fixtureSource({ "/cg/user.slice": { "user.oomd_avoid": "1" }, "/cg/user.slice/app.slice/browser.scope": { "trusted.oomd_prefer": "" } });
    const reader = new CgroupPreferenceReader({ mounts: V2_MOUNTS, now: () => 0, source });
    assert.deepEqual(reader.preferenceOf("/user.slice/app.slice/browser.scope"), { kind: "prefer", xattr: "trusted.oomd_prefer", cgroup: "/user.slice/app.slice/browser.scope" });
    assert.deepEqual(reader.preferenceOf("/user.slice/app.slice/editor.scope"), { kind: "avoid", xattr: "user.oomd_avoid", cgroup: "/user.slice" });
    assert.equal(reader.preferenceOf("/system.slice/db.service"), null);
  });
  it("a user-owned ancestor's user.* attribute is passed over for a root-owned one above it", () => {
    const source = fixtureSource({ "/cg/user.slice": { "user.oomd_avoid": "1" }, "/cg/user.slice/user-1000.slice": { "user.oomd_omit": "1" } }, { "/cg/user.slice/user-1000.slice": 1000 });
    const reader = new CgroupPreferenceReader({ mounts: V2_MOUNTS, now: () => 0, source });
    assert.equal(reader.preferenceOf("/user.slice/user-1000.slice/session-2.scope")?.xattr, "user.oomd_avoid");
  });
  it("each cgroup is read once per cache period, ancestors shared by every process below them", () => {
    let nowMs = 0;
    const source = fixtureSource({ "/cg/a": { "user.oomd_avoid": "1" } });
    const reader = new CgroupPreferenceReader({ mounts: V2_MOUNTS, now: () => nowMs, source, cacheMs: 5000 });
    reader.preferenceOf("/a/b");
    const first = source.gets;
    reader.preferenceOf("/a/b");
    reader.preferenceOf("/a/c");
    assert.equal(source.gets, first + 4, "only /a/c is new: four attributes");
    nowMs = 4999;
    reader.preferenceOf("/a/b");
    assert.equal(source.gets, first + 4);
    nowMs = 5000;
    assert.equal(reader.hook("/a/b")?.cgroup, "/a");
    assert.equal(source.gets, first + 4 + 8, "read again after 5 s: /a/b and /a");
  });
  it("maps through a mount that shows part of the hierarchy, and a path outside it has no preference", () => {
    const mounts: CgroupMounts = { v1Memory: "/cg", v2: null, v1Freezer: null, all: [{ mountPoint: "/cg", version: 1, controllers: ["memory"], name: null, root: "/docker/abc" }] };
    const source = fixtureSource({ "/cg/job": { "trusted.oomd_avoid": "" } });
    const reader = new CgroupPreferenceReader({ mounts, now: () => 0, source });
    assert.equal(reader.preferenceOf("/docker/abc/job")?.cgroup, "/docker/abc/job");
    assert.equal(reader.preferenceOf("/docker/other/job"), null);
  });
  it("an attribute that cannot be read (ENOTSUP before Linux 5.7, EACCES) is taken as not set", () => {
    const source: XattrSource = { get: () => fail("ENOTSUP", "lgetxattr: Operation not supported"), ownerUid: () => ok(0) };
    assert.equal(new CgroupPreferenceReader({ mounts: V2_MOUNTS, now: () => 0, source }).preferenceOf("/a"), null);
  });
});

// The real kernel: cgroups made for the test, removed in finally.
const root = process.getuid?.() === 0;
const python = spawnSync("python3", ["-c", "import os; os.setxattr"], { encoding: "utf8" }).status === 0;
const mounts = readCgroupMounts();

function setXattr(path: string, name: string, text: string): void {
  const done = spawnSync("python3", ["-c", "import os, sys; os.setxattr(sys.argv[1], sys.argv[2], sys.argv[3].encode())", path, name, text], { encoding: "utf8" });
  assert.equal(done.status, 0, `setxattr ${name} on ${path}: ${done.stderr}`);
}

describe("lgetxattr", () => {
  it("reads nothing set as null, and refuses a path that does not exist", () => {
    assert.equal(value(lgetxattr("/proc/self", "user.oomd_avoid")), null, "procfs keeps no user xattrs");
    assert.equal(errorOf(lgetxattr("/nonexistent-oomwarden-path", "user.oomd_avoid")).code, "ENOENT");
    assert.equal(errorOf(lgetxattr("", "user.x")).code, "EINVAL");
  });
});

for (const version of [1, 2] as const) {
  const hierarchy = !mounts.ok ? null : version === 1 ? mounts.value.v1Memory : mounts.value.v2;
  const skip = !root ? "needs root" : !python ? "needs python3 to set xattrs" : hierarchy === null ? `no cgroup v${version} mounted` : false;
  describe(`cgroup xattrs on this kernel, cgroup v${version}`, { skip }, () => {
    it("user.* and trusted.* are read back, the nearest ancestor's wins, user.* only while the cgroup is root's", () => {
      const parent = join(hierarchy as string, `oomwarden-pref-${process.pid}-v${version}`);
      const child = join(parent, "child");
      mkdirSync(parent);
      try {
        mkdirSync(child);
        setXattr(parent, "user.oomd_avoid", "1");
        setXattr(child, "trusted.oomd_prefer", "");
        assert.equal(value(lgetxattr(parent, "user.oomd_avoid")), "1");
        assert.equal(value(lgetxattr(child, "trusted.oomd_prefer")), "");
        assert.equal(value(lgetxattr(child, "user.oomd_omit")), null);
        // The hook takes the cgroup as /proc/PID/cgroup names it, in this one hierarchy.
        const only: CgroupMounts = {
          v1Memory: version === 1 ? hierarchy : null,
          v2: version === 2 ? hierarchy : null,
          v1Freezer: null,
          all: [{ mountPoint: hierarchy as string, version, controllers: version === 1 ? ["memory"] : [], name: null, root: "/" }],
        };
        const name = `/oomwarden-pref-${process.pid}-v${version}`;
        const reader = () => new CgroupPreferenceReader({ mounts: only, now: () => 0, source: linuxXattrSource });
        assert.deepEqual(reader().preferenceOf(`${name}/child`), { kind: "prefer", xattr: "trusted.oomd_prefer", cgroup: `${name}/child` });
        assert.deepEqual(reader().preferenceOf(name), { kind: "avoid", xattr: "user.oomd_avoid", cgroup: name });
        chownSync(parent, 65534, 65534);
        assert.equal(reader().preferenceOf(name), null, "user.oomd_avoid on a cgroup owned by uid 65534");
        setXattr(parent, "trusted.oomd_avoid", "");
        assert.equal(reader().preferenceOf(name)?.xattr, "trusted.oomd_avoid");
      } finally {
        if (existsSync(child)) rmdirSync(child);
        rmdirSync(parent);
      }
    });
  });
}

describe("LinuxHost's listing carries the preference of a process's cgroup", { skip: !root ? "needs root" : !python ? "needs python3 to set xattrs" : !mounts.ok || mounts.value.v2 === null ? "no cgroup v2 mounted" : false }, () => {
  it("a sleep in a cgroup marked trusted.oomd_avoid is listed with that preference", async () => {
    const { spawn } = await import("node:child_process");
    const { writeFileSync } = await import("node:fs");
    const { LinuxHost } = await import("../../src/host/linux/linux-host.js");
    const name = `oomwarden-pref-listing-${process.pid}`;
    const cgroup = join((mounts.ok && mounts.value.v2) || "/nonexistent", name);
    mkdirSync(cgroup);
    const sleeper = spawn("sleep", ["60"], { stdio: "ignore" });
    try {
      setXattr(cgroup, "trusted.oomd_avoid", "");
      writeFileSync(join(cgroup, "cgroup.procs"), String(sleeper.pid));
      const listed = value(new LinuxHost().listAllProcesses());
      const sample = listed.find((listedProcess) => listedProcess.pid === sleeper.pid);
      assert.ok(sample !== undefined, "the sleep is listed");
      assert.equal(sample.details?.cgroup, `/${name}`);
      assert.deepEqual(sample.details?.cgroupPreference, { kind: "avoid", xattr: "trusted.oomd_avoid", cgroup: `/${name}` });
      const self = listed.find((listedProcess) => listedProcess.pid === process.pid);
      assert.equal(self?.details?.cgroupPreference, null, "this test's own cgroup is not marked");
    } finally {
      sleeper.kill("SIGKILL");
      await new Promise((resolve) => sleeper.once("exit", resolve));
      // The parent's cgroup.procs takes the pid back only while it lives; an exited one has left already.
      for (let attempt = 0; attempt < 50; attempt++) {
        try {
          rmdirSync(cgroup);
          break;
        } catch {
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      }
    }
  });
});
