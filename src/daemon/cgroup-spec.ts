// A cgroup to manage as the command line and the config file name it: a path, optionally with the
// logical limit its v2 guard band keeps it below when it has no memory.max of its own
// ("/sys/fs/cgroup/app.slice=2G"). One reading for --cgroup and the config file's `cgroups:`.

export interface CgroupSpec {
  path: string;
  /** null: the cgroup's own memory.max. */
  logicalLimitBytes: number | null;
}

const UNITS: Readonly<Record<string, number>> = { "": 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };
/** "=SIZE" at the end: a whole number of bytes, or with K, M, G or T (powers of 1024), as memory.max takes them. */
const LIMIT_SUFFIX = /=(\d+)([KMGT]?)$/i;

export function parseCgroupSpec(text: string): CgroupSpec | { error: string } {
  const match = LIMIT_SUFFIX.exec(text);
  if (match === null) {
    if (/=[^/]*$/.test(text) && text.includes("=")) {
      return { error: `${JSON.stringify(text)}: a logical limit after "=" is a size like 536870912, 512M or 2G` };
    }
    return { path: text, logicalLimitBytes: null };
  }
  const path = text.slice(0, match.index);
  if (path.length === 0) return { error: `${JSON.stringify(text)}: no cgroup path before "="` };
  const bytes = Number(match[1]) * (UNITS[(match[2] ?? "").toUpperCase()] ?? 1);
  if (!Number.isSafeInteger(bytes) || bytes <= 0) return { error: `${JSON.stringify(text)}: the logical limit must be a whole number of bytes above 0` };
  return { path, logicalLimitBytes: bytes };
}
