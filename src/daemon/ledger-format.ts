// The takeover ledger's text: JSON, each original with the identity of its cgroup.
//
//   { "version": 3,
//     "cgroups": { "/sys/fs/cgroup/memory/job": { "oomKillDisable": false, "bootId": "4c1e…", "inode": "42275" } },
//     "limits":  { "/sys/fs/cgroup/memory/job": { "limitBytes": 67108864, "bootId": "4c1e…", "inode": "42275" } },
//     "highs":   { "/sys/fs/cgroup/job": { "highBytes": null, "bootId": "4c1e…", "inode": "913" } } }
//
// Version 3 adds "highs" (the v2 guard band's original memory.high). A ledger without such entries
// is written as version 2, which every oomwarden since identities reads; one with them is version
// 3, which an older oomwarden refuses instead of reading it and writing it back without them (that
// would leave a cgroup throttled for good). Version 1, written by older oomwarden still, has bare
// values ({ "cgroups": { "/…/job": false } }) and no identity: read, and believed by path.

import type { Result } from "../core/result.js";
import type { CgroupIdentity } from "../engine/host.js";
import type { LedgerContents, Recorded } from "../engine/takeover-ledger.js";

type IdentityFields = { bootId?: string; inode?: string };

export function formatLedger(contents: LedgerContents): string {
  const identityFields = (identity: CgroupIdentity | null): IdentityFields => (identity === null ? {} : { bootId: identity.bootId, inode: identity.inode });
  const throttled = Object.keys(contents.highs).length > 0;
  const data = {
    version: throttled ? 3 : 2,
    cgroups: mapEntries(contents.cgroups, (entry) => ({ oomKillDisable: entry.original, ...identityFields(entry.identity) })),
    limits: mapEntries(contents.limits, (entry) => ({ limitBytes: entry.original, ...identityFields(entry.identity) })),
    ...(throttled ? { highs: mapEntries(contents.highs, (entry) => ({ highBytes: entry.original, ...identityFields(entry.identity) })) } : {}),
  };
  return `${JSON.stringify(data, null, 2)}\n`;
}

/**
 * Hand-edited entries: only true/false originals and whole byte counts (or null) are taken; an
 * entry's identity only when both its fields are non-empty text. Files of earlier versions also
 * hold `ownerPid`, the last writer: ignored, since a pid says nothing about who owns the cgroups
 * now (the state directory's lock does).
 */
export function parseLedgerText(text: string, path: string): Result<LedgerContents> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return invalid(`the takeover ledger ${path} is not valid JSON (${(error as Error).message})`);
  }
  const version = isObject(parsed) ? parsed.version : undefined;
  if (!isObject(parsed) || (version !== 1 && version !== 2 && version !== 3)) return invalid(`${path} is not a takeover ledger of version 1, 2 or 3`);
  const cgroups = isObject(parsed.cgroups) ? parsed.cgroups : {};
  const limits = isObject(parsed.limits) ? parsed.limits : {};
  const highs = isObject(parsed.highs) ? parsed.highs : {};
  if (version === 1) {
    return {
      ok: true,
      value: {
        cgroups: pickEntries(cgroups, (value) => (isOomKillDisable(value) ? { original: value, identity: null } : null)),
        limits: pickEntries(limits, (value) => (isLimit(value) ? { original: value, identity: null } : null)),
        highs: {},
      },
    };
  }
  return {
    ok: true,
    value: {
      cgroups: pickEntries(cgroups, (value) => (isObject(value) && isOomKillDisable(value.oomKillDisable) ? { original: value.oomKillDisable, identity: identityOf(value) } : null)),
      limits: pickEntries(limits, (value) => (isObject(value) && isLimit(value.limitBytes) ? { original: value.limitBytes, identity: identityOf(value) } : null)),
      highs: pickEntries(highs, (value) => (isObject(value) && isLimit(value.highBytes) ? { original: value.highBytes, identity: identityOf(value) } : null)),
    },
  };
}

function identityOf(fields: Record<string, unknown>): CgroupIdentity | null {
  const { bootId, inode } = fields;
  return typeof bootId === "string" && bootId !== "" && typeof inode === "string" && inode !== "" ? { bootId, inode } : null;
}

function isOomKillDisable(value: unknown): value is boolean {
  return typeof value === "boolean";
}

function isLimit(value: unknown): value is number | null {
  return value === null || (typeof value === "number" && Number.isSafeInteger(value) && value >= 0);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function pickEntries<T>(entries: Record<string, unknown>, take: (value: unknown) => Recorded<T> | null): Record<string, Recorded<T>> {
  const picked: Record<string, Recorded<T>> = {};
  for (const [path, value] of Object.entries(entries)) {
    const entry = take(value);
    if (entry !== null) picked[path] = entry;
  }
  return picked;
}

function mapEntries<T, U>(entries: Record<string, T>, map: (entry: T) => U): Record<string, U> {
  return Object.fromEntries(Object.entries(entries).map(([path, entry]) => [path, map(entry)]));
}

function invalid(message: string): Result<never> {
  return { ok: false, error: { code: "LEDGER_INVALID", message } };
}
