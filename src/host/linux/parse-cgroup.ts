// Pure parsers for cgroupfs control files, v1 and v2. Text in, typed record out; malformed text
// is a PARSE_ERROR result, never an exception.

import { fail, ok, type Result } from "../../core/result.js";
import type { MemoryEventCounters } from "../../core/types.js";
import { limitOrNull, V2_UNLIMITED } from "./control-files.js";
import { parseInteger, parseUnsigned } from "./parse-number.js";
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
    return fail(PARSE_ERROR, `memory.oom_control: oom_kill_disable or under_oom missing in ${JSON.stringify(text)}`);
  }
  return ok({ oomKillDisabled: disable !== 0, underOom: under !== 0, oomKillCount: values.get("oom_kill") ?? 0 });
}

/**
 * "key value" lines: v2 memory.events, memory.stat, cgroup.stat, cgroup.events; v1 memory.stat
 * and memory.oom_control. Values beyond 2^53 (v1 hierarchical_memory_limit) come back rounded.
 */
export function parseFlatKeyed(text: string): Result<Map<string, number>> {
  const values = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    const match = /^(\S+) (-?\d+)$/.exec(line.trim());
    if (match === null || match[1] === undefined || match[2] === undefined) {
      return fail(PARSE_ERROR, `flat-keyed file: cannot read line ${JSON.stringify(line)}`);
    }
    values.set(match[1], Number(match[2]));
  }
  return ok(values);
}

/** v2 memory.events. Counters a kernel does not print (oom_group_kill before 5.17) read as 0. */
export function parseMemoryEvents(text: string): Result<MemoryEventCounters> {
  const parsed = parseFlatKeyed(text);
  if (!parsed.ok) return parsed;
  const get = (key: string): number => parsed.value.get(key) ?? 0;
  return ok({
    low: get("low"),
    high: get("high"),
    max: get("max"),
    oom: get("oom"),
    oomKill: get("oom_kill"),
    oomGroupKill: get("oom_group_kill"),
  });
}

/** A limit file: v2 "max" or the v1 sentinel (>= 2^62) -> null; otherwise bytes. */
export function parseLimit(text: string): Result<number | null> {
  const value = text.trim();
  if (value === V2_UNLIMITED) return ok(null);
  const bytes = parseUnsigned(value);
  if (bytes === null) return fail(PARSE_ERROR, `limit: ${JSON.stringify(value)} is neither "max" nor a byte count`);
  return ok(limitOrNull(bytes));
}

/** A single counter: v1 memory.usage_in_bytes, v2 memory.current, memory.swap.current. */
export function parseBytes(text: string): Result<number> {
  const bytes = parseUnsigned(text.trim());
  if (bytes === null) return fail(PARSE_ERROR, `byte count: ${JSON.stringify(text.trim())} is not a non-negative integer`);
  return ok(bytes);
}

/** "0" / "1": v2 memory.oom.group, cgroup.freeze, v1 memory.use_hierarchy. */
export function parseFlag(text: string): Result<boolean> {
  const value = text.trim();
  if (value !== "0" && value !== "1") return fail(PARSE_ERROR, `flag: ${JSON.stringify(value)} is neither 0 nor 1`);
  return ok(value === "1");
}

/** cgroup.procs / tasks / cgroup.threads: one id per line. Order is the kernel's, duplicates possible (v1 procs). */
export function parsePidList(text: string): Result<number[]> {
  const pids: number[] = [];
  for (const line of text.split("\n")) {
    const value = line.trim();
    if (value === "") continue;
    const pid = parseInteger(value);
    if (pid === null || pid <= 0) return fail(PARSE_ERROR, `pid list: ${JSON.stringify(value)} is not a pid`);
    pids.push(pid);
  }
  return ok(pids);
}

/** v2 cgroup.controllers / cgroup.subtree_control: space-separated names, possibly empty. */
export function parseControllerList(text: string): string[] {
  return text.split(/\s+/).filter((name) => name !== "");
}
