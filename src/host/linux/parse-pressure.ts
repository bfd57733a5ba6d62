// Pure parser for PSI files: /proc/pressure/{memory,cpu,io} and v2 <cgroup>/memory.pressure.
// Kept apart from the cgroup parsers because the same format comes from both procfs and cgroupfs.

import { fail, ok, type Result } from "../../core/result.js";
import { quoted } from "../../core/shown-text.js";
import { parseCount } from "./parse-number.js";
import { PARSE_ERROR } from "./parse-proc.js";

export interface PressureLine {
  /** Share of wall time in the last 10 / 60 / 300 s that tasks were stalled, in percent. */
  avg10Pct: number;
  avg60Pct: number;
  avg300Pct: number;
  /** Total stall time since boot (or cgroup creation), microseconds. */
  totalUs: number;
}

export interface Pressure {
  /** At least one task stalled. */
  some: PressureLine;
  /** All non-idle tasks stalled at once; null where the kernel prints no "full" line (cpu before 5.13). */
  full: PressureLine | null;
}

function parseLine(line: string): PressureLine | null {
  // "some avg10=0.00 avg60=0.00 avg300=0.00 total=1312"
  const match = /^(?:some|full) avg10=(\d+\.\d+) avg60=(\d+\.\d+) avg300=(\d+\.\d+) total=(\d+)$/.exec(line.trim());
  if (match === null) return null;
  const totalUs = parseCount(match[4] ?? "");
  // "1".repeat(400) + ".00" matches the pattern and is Infinity as a number.
  const averages = [match[1], match[2], match[3]].map(Number);
  if (totalUs === null || !averages.every(Number.isFinite)) return null;
  const [avg10Pct, avg60Pct, avg300Pct] = averages as [number, number, number];
  return { avg10Pct, avg60Pct, avg300Pct, totalUs };
}

export function parsePressure(text: string): Result<Pressure> {
  let some: PressureLine | null = null;
  let full: PressureLine | null = null;
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    const parsed = parseLine(line);
    if (parsed === null) return fail(PARSE_ERROR, `pressure: cannot read line ${quoted(line)}`);
    if (line.startsWith("some")) some = parsed;
    else full = parsed;
  }
  if (some === null) return fail(PARSE_ERROR, `pressure: no "some" line in ${quoted(text)}`);
  return ok({ some, full });
}
