// The `memory` section: one zone (`totalGiB`) or `zones`, watermarks (given or the kernel's
// defaults), swap, page cache and reclaim rates; and the check that what is held at t = 0 fits.

import type { Node } from "yaml";
import type { MemorySpec, TaskSpec, ZoneSpec } from "../scenario.js";
import { defaultWatermarks, SCENARIO_DEFAULTS } from "./defaults.js";
import type { Diagnostics } from "./diagnostics.js";
import type { Fields } from "./fields.js";
import type { Known } from "./known.js";
import { quoted } from "./messages.js";
import { familyName, mib, PAGES_PER_MIB, RATE, SIZE } from "./units.js";

export function readMemory(f: Fields): MemorySpec | null {
  const d = f.d;
  const totalPages = f.quantity("total", SIZE, { min: 0, above: true });
  const zonesNode = f.get("zones");
  const given = { min: f.quantity("min", SIZE, { min: 0 }), low: f.quantity("low", SIZE, { min: 0 }), high: f.quantity("high", SIZE, { min: 0 }) };
  let zones: ZoneSpec[] = [];
  if (totalPages !== undefined && zonesNode !== undefined) {
    d.report(zonesNode, f.at("zones"), `give either ${familyName("total", SIZE)} (one zone) or zones, not both`);
  } else if (zonesNode !== undefined) {
    for (const k of ["min", "low", "high"]) {
      const at = f.spelled(k, SIZE);
      if (f.hasQuantity(k, SIZE)) d.report(at.node, at.path, "with zones listed, watermarks go in each zone");
    }
    zones = readZones(f, zonesNode);
  } else if (totalPages !== undefined) {
    const zone = withWatermarks("Normal", totalPages, totalPages, given);
    checkZone(f, zone, "memory");
    zones = [zone];
  } else {
    f.missing(`"${familyName("total", SIZE)}" (or zones)`);
  }
  const swapPages = f.quantity("swap", SIZE, { min: 0 }) ?? SCENARIO_DEFAULTS.swapPages;
  const fileCachePages = f.quantity("fileCache", SIZE, { min: 0 }) ?? SCENARIO_DEFAULTS.fileCachePages;
  const kswapdPagesPerMs = f.quantity("kswapd", RATE, { min: 0 }) ?? SCENARIO_DEFAULTS.kswapdPagesPerMs;
  const directReclaimPagesPerMs = f.quantity("directReclaim", RATE, { min: 0 }) ?? SCENARIO_DEFAULTS.directReclaimPagesPerMs;
  const exitMmapMsPerGiB = f.number("exitMmapMsPerGiB", { min: 0 }) ?? SCENARIO_DEFAULTS.exitMmapMsPerGiB;
  const refaultPagesPerMs = f.quantity("refault", RATE, { min: 0, above: true }) ?? SCENARIO_DEFAULTS.refaultPagesPerMs;
  f.done();
  const zonePages = zones.reduce((sum, z) => sum + z.pages, 0);
  if (fileCachePages > zonePages && zones.length > 0) {
    const at = f.spelled("fileCache", SIZE);
    d.report(at.node, at.path, `page cache (${fileCachePages} pages) does not fit in memory (${zonePages} pages)`);
  }
  if (zones.length === 0) return null;
  // One KiPage is 1024 pages; a GiB is 256 KiPages.
  const kiPagesPerGiB = (1024 * PAGES_PER_MIB) / 1024;
  return { zones, swapPages, fileCachePages, kswapdPagesPerMs, directReclaimPagesPerMs, exitMmapMsPerKiPage: exitMmapMsPerGiB / kiPagesPerGiB, refaultPagesPerMs };
}

function readZones(f: Fields, node: Node | null): ZoneSpec[] {
  const d = f.d;
  const items = d.list(node, "memory.zones");
  if (!items) return [];
  const raw: { f: Fields; name: string; pages: number; given: Record<"min" | "low" | "high", number | undefined> }[] = [];
  const names = new Set<string>();
  items.forEach((item, i) => {
    const path = `memory.zones[${i}]`;
    const z = d.map(item, path);
    if (!z) return;
    const name = z.requiredString("name");
    const pages = z.requiredQuantity("size", SIZE, { min: 0, above: true });
    const given = { min: z.quantity("min", SIZE, { min: 0 }), low: z.quantity("low", SIZE, { min: 0 }), high: z.quantity("high", SIZE, { min: 0 }) };
    z.done();
    if (name !== undefined && names.has(name)) d.report(z.lineNode("name"), z.at("name"), `zone ${quoted(name)} is listed twice`);
    if (name !== undefined) names.add(name);
    if (name !== undefined && pages !== undefined) raw.push({ f: z, name, pages, given });
  });
  const totalPages = raw.reduce((sum, z) => sum + z.pages, 0);
  return raw.map((z) => {
    const zone = withWatermarks(z.name, z.pages, totalPages, z.given);
    checkZone(z.f, zone, z.f.path);
    return zone;
  });
}

function withWatermarks(name: string, pages: number, totalPages: number, given: Record<"min" | "low" | "high", number | undefined>): ZoneSpec {
  const defaults = defaultWatermarks(pages, totalPages);
  return {
    name,
    pages,
    minPages: given.min ?? defaults.minPages,
    lowPages: given.low ?? defaults.lowPages,
    highPages: given.high ?? defaults.highPages,
  };
}

function checkZone(f: Fields, z: ZoneSpec, path: string): void {
  if (!(z.minPages <= z.lowPages && z.lowPages <= z.highPages && z.highPages < z.pages)) {
    f.d.report(f.node, path, `watermarks must satisfy min <= low <= high < size, got min ${z.minPages}, low ${z.lowPages}, high ${z.highPages}, size ${z.pages} pages`);
  }
}

/**
 * The memory held at t = 0 (tasks starting at 0, and the page cache) must fit in the zones, and
 * every cgroup's share under its limit: the simulator cannot start otherwise.
 */
export function checkInitialMemory(d: Diagnostics, top: Fields, memory: MemorySpec, known: Known): void {
  const held = (t: TaskSpec): number => (t.startMs > 0 ? 0 : t.mm.anonPages + t.mm.sharedPages + t.mm.pageTablePages);
  const tasks = [...known.tasks.values()];
  const totalPages = memory.zones.reduce((sum, z) => sum + z.pages, 0);
  const initialPages = tasks.reduce((sum, t) => sum + held(t), 0) + memory.fileCachePages;
  if (initialPages > totalPages) {
    d.report(top.lineNode("memory"), "memory", `the tasks' memory at the start and the page cache (${mib(initialPages)}) do not fit in memory (${mib(totalPages)})`);
  }
  for (const c of known.cgroups.values()) {
    if (c.limitPages === null) continue;
    const usage = tasks.filter((t) => t.cgroup === c.path || t.cgroup.startsWith(`${c.path}/`)).reduce((sum, t) => sum + held(t), 0);
    if (usage > c.limitPages) {
      const at = known.declaredAt.get(`cgroup:${c.path}`);
      d.report(at?.node, at?.path ?? "cgroups", `the memory its tasks hold at the start (${mib(usage)}) is over its limit (${mib(c.limitPages)})`);
    }
  }
}
