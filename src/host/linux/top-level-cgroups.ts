// The memory cgroups right below the cgroup v2 root: the slices and containers whose memory.events
// the machine guard can watch, so that the kernel's OOM kills and throttling in any of them are
// heard of as they happen rather than at the next sample.

import { join } from "node:path";
import { fail, ok, type Result } from "../../core/result.js";
import type { CgroupRef } from "../../engine/host.js";
import type { CgroupMounts } from "./cgroup-mounts.js";
import { V2 } from "./control-files.js";
import type { LinuxFs } from "./linux-fs.js";

/**
 * The v2 root's children that have memory.max (the root enables the memory controller for them),
 * sorted by path. None on a machine without cgroup v2, or whose memory controller is bound to v1.
 */
export function listTopLevelCgroups(mounts: CgroupMounts, fs: LinuxFs): Result<CgroupRef[]> {
  if (mounts.v2 === null) return ok([]);
  const root = mounts.v2;
  const children = fs.listSubdirectories(root);
  if (!children.ok) return fail(children.error.code, `cannot list the cgroup v2 root ${root}: ${children.error.message}`);
  const refs: CgroupRef[] = [];
  for (const name of [...children.value].sort()) {
    const path = join(root, name);
    const max = fs.kind(join(path, V2.max));
    if (max.ok && max.value === "file") refs.push({ path, version: 2 });
  }
  return ok(refs);
}
