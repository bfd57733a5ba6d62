// Host calls return typed results: a vanished pid or cgroup is an ordinary outcome, not an exception.

export interface HostError {
  /** errno-style code ("ENOENT", "ESRCH", "EINVAL", ...) or an oomwarden code ("NOT_MEMCG", "OUTSIDE_MOUNTS", "START_TIME_MISMATCH", ...). */
  code: string;
  /** One sentence a person can act on; names the path or pid concerned. */
  message: string;
}

export type Result<T> = { ok: true; value: T } | { ok: false; error: HostError };

export function ok<T>(value: T): Result<T> {
  return { ok: true, value };
}

export function fail<T = never>(code: string, message: string): Result<T> {
  return { ok: false, error: { code, message } };
}
