// What `oomwarden simulate` prints: one row per policy as a plain text table, the JSON objects
// of --json, and whether each policy met what the scenario expects of it.

import type { Expectation, PolicyResult, TimelineEvent } from "./scenario.js";

/** One object of `--json`: the policy's result and its expectation check (null: none stated). */
export interface ResultRow extends PolicyResult {
  expectation: { met: boolean; failures: string[] } | null;
}

export function resultRow(result: PolicyResult, expectation: Expectation | undefined, events: readonly TimelineEvent[] = []): ResultRow {
  const r: PolicyResult = {
    policy: result.policy,
    killed: result.killed,
    innocentKilled: result.innocentKilled,
    recoveredMs: result.recoveredMs,
    allocFailures: result.allocFailures,
    maxStallMs: result.maxStallMs,
    pressureFullMs: result.pressureFullMs,
    livelock: result.livelock,
    panic: result.panic,
  };
  if (expectation === undefined) return { ...r, expectation: null };
  const failures = checkExpectation(expectation, result, events);
  return { ...r, expectation: { met: failures.length === 0, failures } };
}

/** Every way the result misses the expectation, one phrase each; empty when it is met. */
export function checkExpectation(e: Expectation, r: PolicyResult, events: readonly TimelineEvent[] = []): string[] {
  const out: string[] = [];
  const firstKillMs = events.find((ev) => ev.kind === "kill" || ev.kind === "userspace-kill")?.tMs ?? null;
  if (e.firstKillByMs !== undefined && (firstKillMs === null || firstKillMs > e.firstKillByMs)) {
    out.push(`first kill ${firstKillMs === null ? "never" : `at ${formatMs(firstKillMs)}`}, expected by ${formatMs(e.firstKillByMs)}`);
  }
  if (e.firstKillAfterMs !== undefined && firstKillMs !== null && firstKillMs <= e.firstKillAfterMs) {
    out.push(`first kill at ${formatMs(firstKillMs)}, expected after ${formatMs(e.firstKillAfterMs)}`);
  }
  const killed = r.killed.length;
  if (e.maxKilled !== undefined && killed > e.maxKilled) out.push(`killed ${killed}, expected at most ${e.maxKilled}`);
  if (e.minKilled !== undefined && killed < e.minKilled) out.push(`killed ${killed}, expected at least ${e.minKilled}`);
  if (e.killed !== undefined && e.killed.join("\n") !== r.killed.join("\n")) {
    out.push(`killed [${r.killed.join(", ")}], expected [${e.killed.join(", ")}]`);
  }
  if (e.innocentKilled !== undefined && r.innocentKilled !== e.innocentKilled) out.push(`innocent killed ${r.innocentKilled}, expected ${e.innocentKilled}`);
  if (e.minInnocentKilled !== undefined && r.innocentKilled < e.minInnocentKilled) {
    out.push(`innocent killed ${r.innocentKilled}, expected at least ${e.minInnocentKilled}`);
  }
  if (e.livelock !== undefined && r.livelock !== e.livelock) out.push(e.livelock ? "no livelock, expected one" : "livelock, expected none");
  if (e.panic !== undefined && r.panic !== e.panic) out.push(e.panic ? "no panic, expected one" : "panic, expected none");
  if (e.recovered !== undefined && (r.recoveredMs !== null) !== e.recovered) {
    out.push(e.recovered ? "never recovered, expected to" : `recovered after ${formatMs(r.recoveredMs!)}, expected never to`);
  }
  if (e.recoveredWithinMs !== undefined && (r.recoveredMs === null || r.recoveredMs > e.recoveredWithinMs)) {
    out.push(`recovered ${r.recoveredMs === null ? "never" : `after ${formatMs(r.recoveredMs)}`}, expected within ${formatMs(e.recoveredWithinMs)}`);
  }
  if (e.minStallMs !== undefined && r.maxStallMs < e.minStallMs) out.push(`longest stall ${formatMs(r.maxStallMs)}, expected at least ${formatMs(e.minStallMs)}`);
  if (e.maxStallMs !== undefined && r.maxStallMs > e.maxStallMs) out.push(`longest stall ${formatMs(r.maxStallMs)}, expected at most ${formatMs(e.maxStallMs)}`);
  if (e.minPressureFullMs !== undefined && r.pressureFullMs < e.minPressureFullMs) {
    out.push(`every task stalled on memory for ${formatMs(r.pressureFullMs)}, expected at least ${formatMs(e.minPressureFullMs)}`);
  }
  if (e.maxPressureFullMs !== undefined && r.pressureFullMs > e.maxPressureFullMs) {
    out.push(`every task stalled on memory for ${formatMs(r.pressureFullMs)}, expected at most ${formatMs(e.maxPressureFullMs)}`);
  }
  for (const [ctx, min] of Object.entries(e.minAllocFailures ?? {})) {
    const n = r.allocFailures[ctx as keyof PolicyResult["allocFailures"]] ?? 0;
    if (n < (min ?? 0)) out.push(`${ctx} failures ${n}, expected at least ${min}`);
  }
  for (const [ctx, max] of Object.entries(e.maxAllocFailures ?? {})) {
    const n = r.allocFailures[ctx as keyof PolicyResult["allocFailures"]] ?? 0;
    if (n > (max ?? 0)) out.push(`${ctx} failures ${n}, expected at most ${max}`);
  }
  return out;
}

const HEADERS = ["policy", "killed", "innocent", "recovered", "alloc failures", "max stall", "full stall", "livelock", "panic"];

/** The result table: one row per policy, columns padded, no colour, no box drawing. */
export function formatResultTable(results: PolicyResult[]): string {
  const rows = results.map((r) => [
    r.policy,
    r.killed.length === 0 ? "0" : `${r.killed.length} (${truncate(r.killed.join(", "), 40)})`,
    String(r.innocentKilled),
    r.recoveredMs === null ? "never" : formatMs(r.recoveredMs),
    formatFailures(r.allocFailures),
    formatMs(r.maxStallMs),
    formatMs(r.pressureFullMs),
    r.livelock ? "YES" : "no",
    r.panic ? "YES" : "no",
  ]);
  const widths = HEADERS.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd();
  return [line(HEADERS), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n") + "\n";
}

/** One line per policy with an expectation: "met" or what was missed. */
export function formatExpectations(rows: ResultRow[]): string {
  const lines = rows
    .filter((r) => r.expectation !== null)
    .map((r) => (r.expectation!.met ? `  ${r.policy}: as expected` : `  ${r.policy}: NOT as expected: ${r.expectation!.failures.join("; ")}`));
  return lines.length === 0 ? "" : `expectations:\n${lines.join("\n")}\n`;
}

function formatFailures(failures: PolicyResult["allocFailures"]): string {
  const entries = Object.entries(failures).filter(([, n]) => (n ?? 0) > 0);
  return entries.length === 0 ? "0" : entries.map(([ctx, n]) => `${ctx} ${n}`).join(", ");
}

/** Virtual time for people: ms below 10 s, seconds with one decimal above. */
export function formatMs(ms: number): string {
  if (ms < 10_000) return `${trimNumber(Math.round(ms * 10) / 10)} ms`;
  return `${trimNumber(Math.round(ms / 100) / 10)} s`;
}

function trimNumber(v: number): string {
  return Number.isInteger(v) ? String(v) : String(Number(v.toFixed(2)));
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
