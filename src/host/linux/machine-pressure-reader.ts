// The machine guard's sample (MachinePressure) from four procfs files: meminfo, zoneinfo, vmstat
// and pressure/memory, each through an fd kept open (kept-file.ts). Reads go through a LinuxFs so
// fixture trees stand in for /proc; parsing is left to the pure parsers beside this file. Every
// file is read afresh at each sample: swap added after start (a zram device, a swap file) is in
// the next sample's SwapTotal and SwapFree.
// Inside a container, the cgroup standing in for the machine (container-memory.ts) replaces
// meminfo's total, available and swap.

import { fail, ok, type Result } from "../../core/result.js";
import type { MachinePressure } from "../../core/types.js";
import { figuresWithStandIn, type MemoryFigures, type MemoryStandIn } from "./container-memory.js";
import { PROC } from "./control-files.js";
import { KeptFile } from "./kept-file.js";
import type { LinuxFs } from "./linux-fs.js";
import { parseMeminfo, type Meminfo } from "./parse-proc.js";
import { parsePressure, type Pressure } from "./parse-pressure.js";
import { allocStallsTotal, parseVmstat, reclaimedPagesTotal, type Vmstat } from "./parse-vmstat.js";
import { parseZoneinfo, sumWatermarks, type Zoneinfo } from "./parse-zoneinfo.js";

/** Reads and parses a kept file; errors name the path. */
function readParsed<T>(file: KeptFile, parse: (text: string) => Result<T>): Result<T> {
  const text = file.read();
  if (!text.ok) return fail(text.error.code, `cannot read ${file.path}: ${text.error.message}`);
  const parsed = parse(text.value);
  if (!parsed.ok) return fail(parsed.error.code, `${file.path}: ${parsed.error.message}`);
  return parsed;
}

/** The four files of a sample, each kept open between samples. */
export class MachinePressureReader {
  private readonly meminfo: KeptFile;
  private readonly zoneinfo: KeptFile;
  private readonly vmstat: KeptFile;
  private readonly pressure: KeptFile;
  /** RAM + swap as the kernel's meminfo gave them at the last read (stand-in or not): what oom_score is scaled over; null if that read failed. */
  kernelTotalBytes: number | null = null;

  constructor(
    procRoot: string,
    private readonly fs: LinuxFs,
  ) {
    this.meminfo = new KeptFile(`${procRoot}/${PROC.meminfo}`, fs);
    this.zoneinfo = new KeptFile(`${procRoot}/${PROC.zoneinfo}`, fs);
    this.vmstat = new KeptFile(`${procRoot}/${PROC.vmstat}`, fs);
    this.pressure = new KeptFile(`${procRoot}/${PROC.pressureMemory}`, fs);
  }

  read(pageSizeBytes: number, standIn: MemoryStandIn | null = null): Result<MachinePressure> {
    this.kernelTotalBytes = null;
    const meminfo = readParsed(this.meminfo, parseMeminfo);
    if (!meminfo.ok) return meminfo;
    this.kernelTotalBytes = meminfo.value.totalBytes + meminfo.value.swapTotalBytes;
    const figures = figuresWithStandIn(meminfo.value, standIn, this.fs);
    if (!figures.ok) return figures;
    const zoneinfo = readParsed(this.zoneinfo, parseZoneinfo);
    if (!zoneinfo.ok) return zoneinfo;
    const vmstat = readParsed(this.vmstat, parseVmstat);
    if (!vmstat.ok) return vmstat;
    // PSI is optional (CONFIG_PSI off, or psi=0 on the command line): without it the pressure rule
    // is off, but watermarks and low memory must still be watched, so any PSI problem means null.
    const pressure = readParsed(this.pressure, parsePressure);
    return ok(sampleOf(meminfo.value, figures.value, zoneinfo.value, vmstat.value, pressure.ok ? pressure.value : null, pageSizeBytes));
  }

  close(): void {
    for (const file of [this.meminfo, this.zoneinfo, this.vmstat, this.pressure]) file.close();
  }
}

/** One sample by path, every file opened and closed (tests, one-off reads). */
export function readMachinePressure(procRoot: string, fs: LinuxFs, pageSizeBytes: number, standIn: MemoryStandIn | null = null): Result<MachinePressure> {
  const reader = new MachinePressureReader(procRoot, fs);
  try {
    return reader.read(pageSizeBytes, standIn);
  } finally {
    reader.close();
  }
}

function sampleOf(meminfo: Meminfo, figures: MemoryFigures, zoneinfo: Zoneinfo, vmstat: Vmstat, pressure: Pressure | null, pageSizeBytes: number): MachinePressure {
  const watermarks = sumWatermarks(zoneinfo);
  return {
    totalBytes: figures.totalBytes,
    availableBytes: figures.availableBytes,
    freeBytes: meminfo.freeBytes,
    minWatermarkBytes: watermarks.minPages * pageSizeBytes,
    lowWatermarkBytes: watermarks.lowPages * pageSizeBytes,
    swapTotalBytes: figures.swapTotalBytes,
    swapFreeBytes: figures.swapFreeBytes,
    reclaimedPagesTotal: reclaimedPagesTotal(vmstat),
    allocStallsTotal: allocStallsTotal(vmstat),
    psiSomeTotalUs: pressure !== null ? pressure.some.totalUs : null,
    psiFullTotalUs: pressure !== null ? (pressure.full?.totalUs ?? null) : null,
    ...(vmstat.has("oom_kill") ? { oomKillsTotal: vmstat.get("oom_kill") as number } : {}),
  };
}
