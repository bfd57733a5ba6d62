// Where the cgroup hierarchies are mounted, and whether a path the user gave us is a memory
// cgroup. Mount discovery is pure (mountinfo text in); validation goes through a LinuxFs so it
// runs unchanged on fixture trees.

import { normalize } from "node:path";
import { fail, ok, type Result } from "../../core/result.js";
import type { CgroupRef } from "../../engine/host.js";
import { PROC, V1, V2 } from "./control-files.js";
import { isVanishedCode, nodeLinuxFs, type LinuxFs } from "./linux-fs.js";
import { parseControllerList } from "./parse-cgroup.js";
import { parseMountinfo, type MountinfoEntry } from "./parse-proc.js";

export interface CgroupMount {
  mountPoint: string;
  version: 1 | 2;
  /** v1: controllers bound to this hierarchy ("cpu", "cpuacct"); v2: empty (read cgroup.controllers). */
  controllers: string[];
  /** v1 named hierarchy without controllers ("systemd" for name=systemd); null otherwise. */
  name: string | null;
  /** Root of the mount inside the hierarchy ("/" unless inside a cgroup namespace or a bind mount). */
  root: string;
}

export interface CgroupMounts {
  /** Mount point of the v1 hierarchy carrying the memory controller, or null. */
  v1Memory: string | null;
  /** Mount point of the v2 (unified) hierarchy, or null. */
  v2: string | null;
  v1Freezer: string | null;
  /** Every cgroup and cgroup2 mount, in mountinfo order. */
  all: CgroupMount[];
}

/** Super options of a v1 cgroup mount that are not controller names. */
const V1_NON_CONTROLLER_OPTIONS = new Set(["rw", "ro", "none", "all", "noprefix", "clone_children", "xattr", "cpuset_v2_mode", "favordynmods"]);

export function cgroupMountsFromEntries(entries: MountinfoEntry[]): CgroupMounts {
  const all: CgroupMount[] = [];
  for (const entry of entries) {
    if (entry.fsType === "cgroup2") {
      all.push({ mountPoint: entry.mountPoint, version: 2, controllers: [], name: null, root: entry.root });
    } else if (entry.fsType === "cgroup") {
      const controllers = entry.superOptions.filter((option) => !V1_NON_CONTROLLER_OPTIONS.has(option) && !option.includes("="));
      const nameOption = entry.superOptions.find((option) => option.startsWith("name="));
      all.push({ mountPoint: entry.mountPoint, version: 1, controllers, name: nameOption?.slice("name=".length) ?? null, root: entry.root });
    }
  }
  // The same hierarchy may be mounted more than once (bind mounts, containers); the first
  // mount is as good as any other for reading, so take it.
  const firstV1With = (controller: string): string | null =>
    all.find((mount) => mount.version === 1 && mount.controllers.includes(controller))?.mountPoint ?? null;
  return {
    v1Memory: firstV1With("memory"),
    v2: all.find((mount) => mount.version === 2)?.mountPoint ?? null,
    v1Freezer: firstV1With("freezer"),
    all,
  };
}

export function discoverCgroupMounts(mountinfoText: string): Result<CgroupMounts> {
  const entries = parseMountinfo(mountinfoText);
  if (!entries.ok) return entries;
  return ok(cgroupMountsFromEntries(entries.value));
}

/** Reads /proc/self/mountinfo. */
export function readCgroupMounts(procRoot = "/proc", fs: LinuxFs = nodeLinuxFs): Result<CgroupMounts> {
  const text = fs.readText(`${procRoot}/${PROC.mountinfo}`);
  if (!text.ok) return text;
  return discoverCgroupMounts(text.value);
}

function isInside(path: string, directory: string): boolean {
  return path === directory || path.startsWith(directory.endsWith("/") ? directory : `${directory}/`);
}

function describeMount(mount: CgroupMount): string {
  if (mount.version === 2) return `cgroup v2 hierarchy mounted at ${mount.mountPoint}`;
  const what = mount.controllers.length > 0 ? mount.controllers.join(",") : `name=${mount.name ?? "?"}`;
  return `cgroup v1 hierarchy (${what}) mounted at ${mount.mountPoint}`;
}

function isFile(fs: LinuxFs, path: string): boolean {
  const kind = fs.kind(path);
  return kind.ok && kind.value === "file";
}

/** Whether the v2 hierarchy at mountPoint carries the memory controller (a hybrid host's does not); unknown is no. */
function v2HasMemory(mountPoint: string, fs: LinuxFs): boolean {
  const controllers = fs.readText(`${mountPoint}/${V2.controllers}`);
  return controllers.ok && parseControllerList(controllers.value).includes("memory");
}

/**
 * A path that does not resolve. ENOENT, "the cgroup does not exist", only inside a mounted memory
 * hierarchy (v1 with the memory controller, or v2 with it): there a missing directory is a removed cgroup.
 * Anywhere else the hierarchy may simply not be mounted here (a container, another mount
 * namespace), and the cgroup may well exist: NOT_MOUNTED, which nobody may take for "removed".
 */
function missingPath(path: string, mounts: CgroupMounts, fs: LinuxFs): Result<CgroupRef> {
  const lexical = normalize(path);
  const memoryMounts = mounts.all.filter((mount) => (mount.version === 1 ? mount.controllers.includes("memory") : v2HasMemory(mount.mountPoint, fs)));
  const inside = memoryMounts.some((mount) => {
    const canonical = fs.realpath(mount.mountPoint);
    return isInside(lexical, canonical.ok ? canonical.value : mount.mountPoint);
  });
  if (inside) return fail("ENOENT", `cgroup path ${path} does not exist`);
  const known = memoryMounts.length === 0 ? "no memory cgroup hierarchy is mounted" : `memory cgroup mounts: ${memoryMounts.map(describeMount).join("; ")}`;
  return fail("NOT_MOUNTED", `cgroup path ${path} does not exist here, and lies outside every mounted memory cgroup hierarchy (${known})`);
}

/**
 * Checks that path is a memory cgroup we can manage and returns its canonical path.
 * Errors name the path: ENOENT (removed: see missingPath), NOT_MOUNTED, ENOTDIR, EINVAL (relative
 * path), OUTSIDE_MOUNTS, NOT_MEMCG.
 * Symlinks and `..` are resolved first, so "/sys/fs/cgroup/memory/../freezer" is judged as the
 * freezer hierarchy it really is.
 */
export function validateCgroupPath(path: string, mounts: CgroupMounts, fs: LinuxFs = nodeLinuxFs): Result<CgroupRef> {
  if (!path.startsWith("/")) {
    return fail("EINVAL", `cgroup path "${path}" must be absolute (e.g. /sys/fs/cgroup/memory/mygroup)`);
  }
  const resolved = fs.realpath(path);
  if (!resolved.ok) {
    if (isVanishedCode(resolved.error.code)) return missingPath(path, mounts, fs);
    return fail(resolved.error.code, `cgroup path ${path} cannot be resolved: ${resolved.error.message}`);
  }
  const real = resolved.value;
  const shown = real === path ? path : `${path} (resolves to ${real})`;

  const kind = fs.kind(real);
  if (!kind.ok) return fail(kind.error.code, `cgroup path ${shown} cannot be examined: ${kind.error.message}`);
  if (kind.value !== "directory") return fail("ENOTDIR", `cgroup path ${shown} is not a directory; a cgroup is a directory in cgroupfs`);

  // Mount points are compared in canonical form too, in case one was reached through a symlink.
  // The longest match wins; among equal mount points the later mount shadows the earlier.
  let best: { mount: CgroupMount; mountPoint: string } | null = null;
  for (const mount of mounts.all) {
    const canonical = fs.realpath(mount.mountPoint);
    const mountPoint = canonical.ok ? canonical.value : mount.mountPoint;
    if (isInside(real, mountPoint) && (best === null || mountPoint.length >= best.mountPoint.length)) {
      best = { mount, mountPoint };
    }
  }
  if (best === null) {
    const known = mounts.all.length === 0 ? "no cgroup filesystem is mounted" : `cgroup mounts: ${mounts.all.map(describeMount).join("; ")}`;
    return fail("OUTSIDE_MOUNTS", `cgroup path ${shown} is outside every cgroup mount (${known})`);
  }
  const { mount, mountPoint } = best;

  if (mount.version === 1) {
    if (!mount.controllers.includes("memory")) {
      const memoryAt = mounts.v1Memory === null ? "no v1 memory hierarchy is mounted" : `the v1 memory hierarchy is mounted at ${mounts.v1Memory}`;
      return fail("NOT_MEMCG", `cgroup path ${shown} is in the ${describeMount(mount)}, not a memory cgroup; ${memoryAt}`);
    }
    if (!isFile(fs, `${real}/${V1.limitInBytes}`)) {
      return fail("NOT_MEMCG", `cgroup path ${shown} has no ${V1.limitInBytes}, so it is not a v1 memory cgroup`);
    }
    return ok({ path: real, version: 1 });
  }

  if (isFile(fs, `${real}/${V2.max}`)) return ok({ path: real, version: 2 });
  if (real === mountPoint) {
    return fail("NOT_MEMCG", `cgroup path ${shown} is the root of the cgroup v2 hierarchy, which has no ${V2.max} (the root cannot be limited); choose a child cgroup`);
  }
  // Say why memory.max is missing: the controller is bound to v1, or the parent did not enable it.
  const rootControllers = fs.readText(`${mountPoint}/${V2.controllers}`);
  if (rootControllers.ok && !parseControllerList(rootControllers.value).includes("memory")) {
    const v1 = mounts.v1Memory === null ? "" : ` (it is bound to cgroup v1 at ${mounts.v1Memory})`;
    return fail("NOT_MEMCG", `cgroup path ${shown} has no ${V2.max}: the memory controller is not available in the cgroup v2 hierarchy at ${mountPoint}${v1}`);
  }
  const parent = real.slice(0, real.lastIndexOf("/"));
  return fail("NOT_MEMCG", `cgroup path ${shown} has no ${V2.max}: the memory controller is not enabled for it (write "+memory" to ${parent}/${V2.subtreeControl})`);
}
