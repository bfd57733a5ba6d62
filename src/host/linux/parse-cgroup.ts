// Pure parsers for cgroupfs control files, v1 and v2. Text in, typed record out; malformed text
// is a PARSE_ERROR result, never an exception.

import { fail, ok, type Result } from "../../core/result.js";
import type { MemoryEventCounters } from "../../core/types.js";
import { limitOrNull, V2_UNLIMITED } from "./control-files.js";
import { quoted } from "../../core/shown-text.js";
import { parseCount, parseInteger, parseUnsigned } from "./parse-number.js";
import { PARSE_ERROR } from "./parse-proc.js";

export interface OomControl {
  /** oom_kill_disable: the kernel killer is off for this cgroup (a user-space handler owns it). */
  oomKillDisabled: boolean;
  /** under_oom: tasks are sleeping at the limit right now. */
  underOom: boolean;
  /** oom_kill: kills by the kernel in this cgroup (Linux 4.13+; 0 where absent). */
  oomKillCount: number;
}

/** v1 memory.oom_control: "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n". */
export function parseOomControl(text: string): Result<OomControl> {
  const parsed = parseFlatKeyed(text);
  if (!parsed.ok) return parsed;
  const values = parsed.value;
  const disable = values.get("oom_kill_disable");
  const under = values.get("under_oom");
  if (disable === undefined || under === undefined) {
    return fail(PARSE_ERROR, `memory.oom_control: oom_kill_disable or under_oom missing in ${quoted(text)}`);
  }
  if ((disable !== 0 && disable !== 1) || (under !== 0 && under !== 1)) {
    return fail(PARSE_ERROR, `memory.oom_control: oom_kill_disable and under_oom are 0 or 1, got ${disable} and ${under}`);
  }
  const oomKillCount = counters(values, ["oom_kill"], "memory.oom_control");
  if (!oomKillCount.ok) return oomKillCount;
  return ok({ oomKillDisabled: disable === 1, underOom: under === 1, oomKillCount: oomKillCount.value.oom_kill });
}

/**
 * Event counters of a flat-keyed file, 0 where the kernel does not print one: each a non-negative
 * safe integer, because a kernel never prints a negative count, and a count past 2^53 would not be
 * exact (a difference of two would be wrong).
 */
function counters<K extends string>(values: ReadonlyMap<string, number>, keys: readonly K[], file: string): Result<Record<K, number>> {
  const out = {} as Record<K, number>;
  for (const key of keys) {
    const value = values.get(key) ?? 0;
    if (!Number.isSafeInteger(value) || value < 0) return fail(PARSE_ERROR, `${file}: ${key} ${value} is not a count`);
    out[key] = value;
  }
  return ok(out);
}

/**
 * "key value" lines: v2 memory.events, memory.stat, cgroup.stat, cgroup.events; v1 memory.stat
 * and memory.oom_control. A value is a signed safe integer (memory.stat has printed negative
 * numbers) or a size up to 2^64 - 1, which beyond 2^53 (v1 hierarchical_memory_limit) comes back
 * rounded; anything else (a 400-digit number) is an error. Counters are checked by their readers.
 */
export function parseFlatKeyed(text: string): Result<Map<string, number>> {
  const values = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    const match = /^(\S+) (-?\d+)$/.exec(line.trim());
    const value = match?.[2] === undefined ? null : (parseInteger(match[2]) ?? parseUnsigned(match[2]));
    if (match === null || match[1] === undefined || value === null) {
      return fail(PARSE_ERROR, `flat-keyed file: cannot read line ${quoted(line)}`);
    }
    values.set(match[1], value);
  }
  return ok(values);
}

/** v2 memory.events. Counters a kernel does not print (oom_group_kill before 5.17) read as 0. */
export function parseMemoryEvents(text: string): Result<MemoryEventCounters> {
  const parsed = parseFlatKeyed(text);
  if (!parsed.ok) return parsed;
  const counts = counters(parsed.value, ["low", "high", "max", "oom", "oom_kill", "oom_group_kill"], "memory.events");
  if (!counts.ok) return counts;
  const c = counts.value;
  return ok({ low: c.low, high: c.high, max: c.max, oom: c.oom, oomKill: c.oom_kill, oomGroupKill: c.oom_group_kill });
}

/** A limit file: v2 "max" or the v1 sentinel (>= 2^62) -> null; otherwise bytes. */
export function parseLimit(text: string): Result<number | null> {
  const value = text.trim();
  if (value === V2_UNLIMITED) return ok(null);
  const bytes = parseUnsigned(value);
  if (bytes === null) return fail(PARSE_ERROR, `limit: ${quoted(value)} is neither "max" nor a byte count`);
  return ok(limitOrNull(bytes));
}

/** A single counter: v1 memory.usage_in_bytes, v2 memory.current, memory.swap.current. */
export function parseBytes(text: string): Result<number> {
  const bytes = parseUnsigned(text.trim());
  if (bytes === null) return fail(PARSE_ERROR, `byte count: ${quoted(text.trim())} is not a non-negative integer`);
  return ok(bytes);
}

/** "0" / "1": v2 memory.oom.group, cgroup.freeze, v1 memory.use_hierarchy. */
export function parseFlag(text: string): Result<boolean> {
  const value = text.trim();
  if (value !== "0" && value !== "1") return fail(PARSE_ERROR, `flag: ${quoted(value)} is neither 0 nor 1`);
  return ok(value === "1");
}

/** cgroup.procs / tasks / cgroup.threads: one id per line. Order is the kernel's, duplicates possible (v1 procs). */
export function parsePidList(text: string): Result<number[]> {
  const pids: number[] = [];
  for (const line of text.split("\n")) {
    const value = line.trim();
    if (value === "") continue;
    const pid = parseCount(value);
    if (pid === null || pid <= 0) return fail(PARSE_ERROR, `pid list: ${quoted(value)} is not a pid`);
    pids.push(pid);
  }
  return ok(pids);
}

/** v2 cgroup.controllers / cgroup.subtree_control: space-separated names, possibly empty. */
export function parseControllerList(text: string): string[] {
  return text.split(/\s+/).filter((name) => name !== "");
}
