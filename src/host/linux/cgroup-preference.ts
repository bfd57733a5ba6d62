// The victim preferences users of oomd and systemd-oomd already set on cgroups, as extended
// attributes, read so oomwarden honours them too:
//
// - systemd-oomd (ManagedOOMPreference= of a unit): user.oomd_avoid, user.oomd_omit, boolean values
//   ("1", "yes", "true", "on", ...). Like systemd-oomd (src/oom/oomd-util.c), they count only on a
//   cgroup owned by root: anyone may set user.* attributes on a cgroup delegated to them, and a user
//   must not shield their own processes from the machine's OOM handling that way. (systemd-oomd also
//   accepts them on a non-root cgroup when the cgroup it monitors has the same owner; the machine
//   guard monitors the root, owned by root, so that never applies here.)
// - oomd: trusted.oomd_prefer, trusted.oomd_avoid, counted when present (oomd checks presence, not
//   the value). trusted.* can be set only with CAP_SYS_ADMIN, so no owner check.
//
// The nearest of the cgroup and its ancestors that has one decides, so a process in a child of a
// unit marked avoid is avoided too (both daemons look only at the cgroups they rank; oomwarden ranks
// processes). On one cgroup, omit beats everything (a protection must hold, and systemd-oomd lets
// omit override avoid), and prefer beats avoid, as in oomd.
//
// What cgroupfs takes (Linux 6.18 here, 6.1 in the VM test bed): trusted.* and security.* on both
// v1 and v2 directories; user.* since Linux 5.7 (before, ENOTSUP, read as "not set").
// Each cgroup's own attributes are cached for a few seconds: listing candidates reads the same
// slices for every process in them, and a preference changes with a unit's configuration, rarely.

import { lstatSync } from "node:fs";
import { ok, type Result } from "../../core/result.js";
import type { CgroupPreference } from "../../core/types.js";
import type { CgroupMounts } from "./cgroup-mounts.js";
import { cgroupAndAncestors, cgroupDirectory } from "./cgroup-paths.js";
import * as native from "./native.js";

/** The attributes, in the order one cgroup's are weighed: the first set one decides for that cgroup. */
export const PREFERENCE_XATTRS = [
  { xattr: "user.oomd_omit", kind: "omit", rootOwnedOnly: true, needsTrueValue: true },
  { xattr: "trusted.oomd_prefer", kind: "prefer", rootOwnedOnly: false, needsTrueValue: false },
  { xattr: "trusted.oomd_avoid", kind: "avoid", rootOwnedOnly: false, needsTrueValue: false },
  { xattr: "user.oomd_avoid", kind: "avoid", rootOwnedOnly: true, needsTrueValue: true },
] as const satisfies ReadonlyArray<{ xattr: string; kind: CgroupPreference["kind"]; rootOwnedOnly: boolean; needsTrueValue: boolean }>;

/** How long a cgroup's own attributes are taken as read. */
export const PREFERENCE_CACHE_MS = 5000;

/** Where the attributes come from: lgetxattr and lstat on Linux; a fixture in tests. */
export interface XattrSource {
  /** The attribute's value, null when it is not set. */
  get(path: string, name: string): Result<string | null>;
  /** The uid owning the directory. */
  ownerUid(path: string): Result<number>;
}

export const linuxXattrSource: XattrSource = {
  get: (path, name) => native.lgetxattr(path, name),
  ownerUid(path) {
    try {
      return ok(lstatSync(path).uid);
    } catch (error) {
      return { ok: false, error: { code: (error as NodeJS.ErrnoException).code ?? "EIO", message: `cannot stat ${path}: ${(error as Error).message}` } };
    }
  },
};

/** systemd's parse_boolean, true side. */
const TRUE_VALUES = new Set(["1", "yes", "y", "true", "t", "on"]);

/** One cgroup's own preference from its attributes (pure, for tests and for the reader below). */
export function ownPreference(cgroup: string, values: ReadonlyMap<string, string>, ownedByRoot: boolean): CgroupPreference | null {
  for (const { xattr, kind, rootOwnedOnly, needsTrueValue } of PREFERENCE_XATTRS) {
    const value = values.get(xattr);
    if (value === undefined) continue;
    if (rootOwnedOnly && !ownedByRoot) continue;
    // systemd writes "1"; a value with a trailing NUL or newline still means it.
    if (needsTrueValue && !TRUE_VALUES.has(value.replace(/[\0\s]+$/, "").toLowerCase())) continue;
    return { kind, xattr, cgroup };
  }
  return null;
}

export interface CgroupPreferenceReaderOptions {
  mounts: CgroupMounts;
  /** Monotonic milliseconds (the host's clock). */
  now: () => number;
  source?: XattrSource;
  cacheMs?: number;
}

interface CachedOwn {
  readAtMs: number;
  preference: CgroupPreference | null;
}

/** Reads and caches cgroup preferences; preferenceOf is the hook the process listing calls. */
export class CgroupPreferenceReader {
  private readonly source: XattrSource;
  private readonly cacheMs: number;
  private readonly cache = new Map<string, CachedOwn>();
  /** Attribute reads done (xattr and owner), for tests and the cost of a listing. */
  reads = 0;

  constructor(private readonly options: CgroupPreferenceReaderOptions) {
    this.source = options.source ?? linuxXattrSource;
    this.cacheMs = options.cacheMs ?? PREFERENCE_CACHE_MS;
  }

  /**
   * The preference for a process in cgroupPath ("/"-rooted, as /proc/PID/cgroup names it: the v2
   * hierarchy where one is mounted, else the v1 memory controller's): the nearest of the cgroup and
   * its ancestors that has one, or null.
   */
  preferenceOf(cgroupPath: string): CgroupPreference | null {
    for (const cgroup of cgroupAndAncestors(cgroupPath)) {
      const own = this.ownOf(cgroup);
      if (own !== null) return own;
    }
    return null;
  }

  /** Bound to this reader, to hand to the process listing. */
  readonly hook = (cgroupPath: string): CgroupPreference | null => this.preferenceOf(cgroupPath);

  private ownOf(cgroup: string): CgroupPreference | null {
    const nowMs = this.options.now();
    const cached = this.cache.get(cgroup);
    if (cached !== undefined && nowMs - cached.readAtMs < this.cacheMs) return cached.preference;
    const preference = this.readOwn(cgroup);
    if (this.cache.size > 4096) this.forgetOlderThan(nowMs - this.cacheMs);
    this.cache.set(cgroup, { readAtMs: nowMs, preference });
    return preference;
  }

  private readOwn(cgroup: string): CgroupPreference | null {
    const directory = this.directoryOf(cgroup);
    if (directory === null) return null;
    const values = new Map<string, string>();
    for (const { xattr } of PREFERENCE_XATTRS) {
      this.reads++;
      const value = this.source.get(directory, xattr);
      // ENOTSUP (no user.* before 5.7), EACCES, a cgroup gone meanwhile: nothing said here.
      if (value.ok && value.value !== null) values.set(xattr, value.value);
    }
    if (values.size === 0) return null;
    this.reads++;
    const owner = this.source.ownerUid(directory);
    return ownPreference(cgroup, values, owner.ok && owner.value === 0);
  }

  private directoryOf(cgroup: string): string | null {
    const { mounts } = this.options;
    const mountPoint = mounts.v2 ?? mounts.v1Memory;
    const mount = mounts.all.find((candidate) => candidate.mountPoint === mountPoint);
    return mountPoint === null || mount === undefined ? null : cgroupDirectory(cgroup, mountPoint, mount.root);
  }

  private forgetOlderThan(cutoffMs: number): void {
    for (const [cgroup, entry] of this.cache) if (entry.readAtMs < cutoffMs) this.cache.delete(cgroup);
  }
}
