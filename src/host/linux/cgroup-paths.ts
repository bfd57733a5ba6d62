// From a cgroup as /proc/PID/cgroup names it ("/system.slice/foo.service") to its directory under
// the mount that shows it. A mount may show only part of the hierarchy (a container's bind mount:
// mountinfo's root field is then "/docker/<id>"), and a cgroup outside that part has no directory here.

import { join } from "node:path";

/** The path below a mount whose root (mountinfo field 4) is mountRoot: "/" for the root itself; null if outside it. */
export function pathBelowMountRoot(cgroupPath: string, mountRoot: string): string | null {
  if (mountRoot === "/") return cgroupPath;
  const root = mountRoot.replace(/\/+$/, "");
  if (cgroupPath === root) return "/";
  return cgroupPath.startsWith(`${root}/`) ? cgroupPath.slice(root.length) : null;
}

/** The cgroup's directory under mountPoint, or null where the mount does not show it. */
export function cgroupDirectory(cgroupPath: string, mountPoint: string, mountRoot: string): string | null {
  const below = pathBelowMountRoot(cgroupPath, mountRoot);
  if (below === null) return null;
  const parts = below.split("/").filter((part) => part !== "");
  // ".." cannot climb out: the kernel never prints it, and a forged one must not reach another directory.
  if (parts.some((part) => part === "." || part === "..")) return null;
  return parts.length === 0 ? mountPoint : join(mountPoint, ...parts);
}

/** "/a/b/c" -> ["/a/b/c", "/a/b", "/a", "/"]: the cgroup and its ancestors, nearest first. */
export function cgroupAndAncestors(cgroupPath: string): string[] {
  const parts = cgroupPath.split("/").filter((part) => part !== "");
  const chain: string[] = [];
  for (let depth = parts.length; depth >= 0; depth--) chain.push(`/${parts.slice(0, depth).join("/")}`);
  return chain;
}
