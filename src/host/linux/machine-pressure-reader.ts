// The machine guard's sample (MachinePressure) from four procfs files: meminfo, zoneinfo, vmstat
// and pressure/memory. Reads go through a LinuxFs so fixture trees stand in for /proc; parsing is
// left to the pure parsers beside this file. Every file is read afresh at each sample: swap added
// after start (a zram device, a swap file) is in the next sample's SwapTotal and SwapFree.
// Inside a container, the cgroup standing in for the machine (container-memory.ts) replaces
// meminfo's total, available and swap.

import { fail, ok, type Result } from "../../core/result.js";
import type { MachinePressure } from "../../core/types.js";
import { figuresWithStandIn, type MemoryStandIn } from "./container-memory.js";
import { PROC } from "./control-files.js";
import type { LinuxFs } from "./linux-fs.js";
import { parseMeminfo } from "./parse-proc.js";
import { parsePressure } from "./parse-pressure.js";
import { allocStallsTotal, parseVmstat, reclaimedPagesTotal } from "./parse-vmstat.js";
import { parseZoneinfo, sumWatermarks } from "./parse-zoneinfo.js";

/** Reads and parses ${procRoot}/<file>; errors name the path. */
function readParsed<T>(procRoot: string, file: string, parse: (text: string) => Result<T>, fs: LinuxFs): Result<T> {
  const path = `${procRoot}/${file}`;
  const text = fs.readText(path);
  if (!text.ok) return fail(text.error.code, `cannot read ${path}: ${text.error.message}`);
  const parsed = parse(text.value);
  if (!parsed.ok) return fail(parsed.error.code, `${path}: ${parsed.error.message}`);
  return parsed;
}

export function readMachinePressure(procRoot: string, fs: LinuxFs, pageSizeBytes: number, standIn: MemoryStandIn | null = null): Result<MachinePressure> {
  const meminfo = readParsed(procRoot, PROC.meminfo, parseMeminfo, fs);
  if (!meminfo.ok) return meminfo;
  const figures = figuresWithStandIn(meminfo.value, standIn, fs);
  if (!figures.ok) return figures;
  const zoneinfo = readParsed(procRoot, PROC.zoneinfo, parseZoneinfo, fs);
  if (!zoneinfo.ok) return zoneinfo;
  const vmstat = readParsed(procRoot, PROC.vmstat, parseVmstat, fs);
  if (!vmstat.ok) return vmstat;
  // PSI is optional (CONFIG_PSI off, or psi=0 on the command line): without it the pressure rule
  // is off, but watermarks and low memory must still be watched, so any PSI problem means null.
  const pressure = readParsed(procRoot, PROC.pressureMemory, parsePressure, fs);

  const watermarks = sumWatermarks(zoneinfo.value);
  return ok({
    totalBytes: figures.value.totalBytes,
    availableBytes: figures.value.availableBytes,
    freeBytes: meminfo.value.freeBytes,
    minWatermarkBytes: watermarks.minPages * pageSizeBytes,
    lowWatermarkBytes: watermarks.lowPages * pageSizeBytes,
    swapTotalBytes: figures.value.swapTotalBytes,
    swapFreeBytes: figures.value.swapFreeBytes,
    reclaimedPagesTotal: reclaimedPagesTotal(vmstat.value),
    allocStallsTotal: allocStallsTotal(vmstat.value),
    psiSomeTotalUs: pressure.ok ? pressure.value.some.totalUs : null,
    psiFullTotalUs: pressure.ok ? (pressure.value.full?.totalUs ?? null) : null,
    ...(vmstat.value.has("oom_kill") ? { oomKillsTotal: vmstat.value.get("oom_kill") as number } : {}),
  });
}
