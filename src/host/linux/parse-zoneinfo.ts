// Pure parser for /proc/zoneinfo: per zone, free pages, the min/low/high watermarks and managed
// pages. Everything else in the file (per-node stats, per-cpu pagesets, protection arrays) is
// skipped, so new kernel lines do not break it; the lines it does read must be numbers.

import { fail, ok, type Result } from "../../core/result.js";
import { quoted } from "../../core/shown-text.js";
import { parseCount } from "./parse-number.js";
import { PARSE_ERROR } from "./parse-proc.js";

export interface Zone {
  node: number;
  /** DMA, DMA32, Normal, Movable, Device, ... */
  name: string;
  freePages: number;
  minPages: number;
  lowPages: number;
  highPages: number;
  /** Pages the buddy allocator manages; 0 for an empty zone (whose watermarks are still printed). */
  managedPages: number;
}

export interface Zoneinfo {
  zones: Zone[];
}

/** Zone lines we read, by their key as printed ("pages free" is two words), to the Zone field. */
const WANTED = {
  "pages free": "freePages",
  min: "minPages",
  low: "lowPages",
  high: "highPages",
  managed: "managedPages",
} as const;
type WantedKey = keyof typeof WANTED;

/** "Node 0, zone   Normal" */
const ZONE_HEADER = /^Node (\d+), zone\s+(\S+)\s*$/;

/**
 * The watermark block prints "        min      32" (no colon); the per-cpu pagesets print
 * "              high:     0" (colon), which must not be taken for the high watermark.
 */
function wantedKey(tokens: readonly string[]): WantedKey | null {
  if (tokens[0] === "pages" && tokens[1] === "free") return "pages free";
  const first = tokens[0];
  return first === "min" || first === "low" || first === "high" || first === "managed" ? first : null;
}

export function parseZoneinfo(text: string): Result<Zoneinfo> {
  const zones: Zone[] = [];
  let current: { node: number; name: string; values: Partial<Record<WantedKey, number>> } | null = null;

  const finish = (): Result<void> => {
    if (current === null) return ok(undefined);
    const { node, name, values } = current;
    const missing = (Object.keys(WANTED) as WantedKey[]).filter((key) => values[key] === undefined);
    if (missing.length > 0) return fail(PARSE_ERROR, `zoneinfo: node ${node} zone ${name} has no ${missing.map((k) => `"${k}"`).join(", ")} line (truncated?)`);
    zones.push({
      node,
      name,
      freePages: values["pages free"] ?? 0,
      minPages: values.min ?? 0,
      lowPages: values.low ?? 0,
      highPages: values.high ?? 0,
      managedPages: values.managed ?? 0,
    });
    return ok(undefined);
  };

  for (const line of text.split("\n")) {
    const header = ZONE_HEADER.exec(line);
    if (header !== null) {
      const done = finish();
      if (!done.ok) return done;
      const node = parseCount(header[1] ?? "");
      if (node === null) return fail(PARSE_ERROR, `zoneinfo: bad node number in ${quoted(line)}`);
      current = { node, name: header[2] ?? "", values: {} };
      continue;
    }
    const tokens = line.trim().split(/\s+/);
    const key = wantedKey(tokens);
    if (key === null) continue;
    const where = current === null ? "before any zone" : `node ${current.node} zone ${current.name}`;
    const valueTokens = tokens.slice(key === "pages free" ? 2 : 1);
    const count = valueTokens.length === 1 ? parseCount(valueTokens[0] ?? "") : null;
    if (current === null || count === null) return fail(PARSE_ERROR, `zoneinfo: ${where}: cannot read ${quoted(line)}`);
    // Each key appears once per zone; a second one means two zones' text ran together.
    if (current.values[key] !== undefined) return fail(PARSE_ERROR, `zoneinfo: ${where}: "${key}" appears twice`);
    current.values[key] = count;
  }
  const done = finish();
  if (!done.ok) return done;
  if (zones.length === 0) return fail(PARSE_ERROR, `zoneinfo: no "Node N, zone NAME" line in ${quoted(text.slice(0, 80))}`);
  return ok({ zones });
}

export interface WatermarkSums {
  minPages: number;
  lowPages: number;
}

/**
 * Sum over all zones, empty ones included: the machine guard compares it with MemFree, a
 * machine-wide number. An empty Movable zone still prints min 32 (the kernel clamps its
 * watermark to SWAP_CLUSTER_MAX), a few pages that do not matter next to the real zones.
 */
export function sumWatermarks(zoneinfo: Zoneinfo): WatermarkSums {
  let minPages = 0;
  let lowPages = 0;
  for (const zone of zoneinfo.zones) {
    minPages += zone.minPages;
    lowPages += zone.lowPages;
  }
  return { minPages, lowPages };
}
