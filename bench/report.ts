// Shared by every benchmark: statistics, the JSON file under bench/results/, and a plain table.

import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const RESULTS_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "bench", "results");

export interface Summary {
  n: number;
  median: number | null;
  p99: number | null;
  max: number | null;
}

/** Nearest-rank percentile: with 20 trials p99 is the largest value, which is what we want to bound. */
export function percentile(sorted: number[], pct: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((pct / 100) * sorted.length)));
  return sorted[rank - 1] ?? null;
}

export function summarize(values: Array<number | null>): Summary {
  const present = values.filter((v): v is number => v !== null && Number.isFinite(v)).sort((a, b) => a - b);
  return { n: present.length, median: percentile(present, 50), p99: percentile(present, 99), max: present.at(-1) ?? null };
}

export function ratio(a: number | null, b: number | null): number | null {
  return a === null || b === null || b === 0 ? null : a / b;
}

export function fmt(value: number | null, digits = 2): string {
  return value === null ? "-" : value.toFixed(digits);
}

export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join("  ").trimEnd();
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

/** Writes bench/results/NAME.json and returns its path. */
export function writeResults(name: string, data: unknown): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const path = join(RESULTS_DIR, `${name}.json`);
  writeFileSync(path, `${JSON.stringify(data, null, 2)}\n`);
  return path;
}

export interface BenchOutcome {
  name: string;
  json: unknown;
  table: string;
}
