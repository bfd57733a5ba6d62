// The `tasks` section: each task's cgroup, OOM score, the memory it holds at the start (`mm`) and
// its threads (`program:` for one thread, or `threads:` with optional `count`).

import type { Node } from "yaml";
import type { Step, TaskSpec, ThreadSpec } from "../scenario.js";
import { SCENARIO_DEFAULTS } from "./defaults.js";
import type { Diagnostics } from "./diagnostics.js";
import type { Fields } from "./fields.js";
import type { Known, Written } from "./known.js";
import { joinPath, listOrNone, quoted, suggest } from "./messages.js";
import { readProgram } from "./programs.js";
import { SIZE, TIME } from "./units.js";

export function readTask(f: Fields, known: Known): TaskSpec | null {
  const d = f.d;
  const name = f.requiredString("name");
  if (name !== undefined && known.tasks.has(name)) d.report(f.lineNode("name"), f.at("name"), `task ${quoted(name)} is listed twice`);
  const cgroup = f.string("cgroup") ?? "/";
  if (cgroup !== "/" && !known.cgroups.has(cgroup)) {
    d.report(f.lineNode("cgroup"), f.at("cgroup"), `unknown cgroup ${quoted(cgroup)}${suggest(cgroup, [...known.cgroups.keys()])} (declared: ${listOrNone(["/", ...known.cgroups.keys()])})`);
  }
  const oomScoreAdj = f.number("oomScoreAdj", { integer: true, min: -1000, max: 1000 }) ?? SCENARIO_DEFAULTS.oomScoreAdj;
  const innocent = f.boolean("innocent") ?? false;
  const startMs = f.quantity("start", TIME, { min: 0 }) ?? 0;
  if (startMs >= known.durationMs && known.durationMs > 0) d.report(f.spelled("start", TIME).node, f.spelled("start", TIME).path, `starts at ${startMs} ms, after the run ends (${known.durationMs} ms)`);
  const mmNode = f.get("mm");
  const mm = mmNode === undefined ? emptyMm() : readMm(d, mmNode, f.at("mm"));
  const threads = readThreads(f, name ?? "task", known);
  if (name === undefined || mm === null) return null;
  const spec: TaskSpec = { name, cgroup, oomScoreAdj, mm, threads, innocent, startMs };
  if (!known.tasks.has(name)) known.tasks.set(name, spec);
  return spec;
}

function emptyMm(): TaskSpec["mm"] {
  return { anonPages: 0, mlockedPages: 0, sharedPages: 0, pageTablePages: 0, blockableMmuNotifier: false, fileWorkingSetPages: 0 };
}

function readMm(d: Diagnostics, node: Node | null, path: string): TaskSpec["mm"] | null {
  const f = d.map(node, path);
  if (!f) return null;
  const mm: TaskSpec["mm"] = {
    anonPages: f.quantity("anon", SIZE, { min: 0 }) ?? 0,
    mlockedPages: f.quantity("mlocked", SIZE, { min: 0 }) ?? 0,
    sharedPages: f.quantity("shared", SIZE, { min: 0 }) ?? 0,
    pageTablePages: f.quantity("pageTable", SIZE, { min: 0 }) ?? 0,
    blockableMmuNotifier: f.boolean("blockableMmuNotifier") ?? false,
    fileWorkingSetPages: f.quantity("fileWorkingSet", SIZE, { min: 0 }) ?? 0,
  };
  if (mm.mlockedPages > mm.anonPages) {
    const at = f.spelled("mlocked", SIZE);
    d.report(at.node, at.path, `mlocked memory is part of the anonymous memory: at most anon (${mm.anonPages} pages), got ${mm.mlockedPages} pages`);
  }
  f.done();
  return mm;
}

/**
 * At most this many threads in all tasks together (`count` included): every thread is state the
 * simulator keeps and, when it allocates, serves at each tick (the work budget counts the rest).
 */
export const MAX_TOTAL_THREADS = 10_000;

/** Counts `count` more threads; false (and reported at `at`) when they would pass the cap. */
function addThreads(d: Diagnostics, known: Known, count: number, at: Written, taskName: string): boolean {
  if (known.threads + count > MAX_TOTAL_THREADS) {
    d.report(at.node, at.path, `task ${quoted(taskName)} would bring the threads of all tasks to ${known.threads + count}: at most ${MAX_TOTAL_THREADS} in a scenario`);
    return false;
  }
  known.threads += count;
  return true;
}

/** `program:` for a one-thread task, or `threads:`; neither means one idle thread. */
function readThreads(f: Fields, taskName: string, known: Known): ThreadSpec[] {
  const d = f.d;
  const programNode = f.get("program");
  const threadsNode = f.get("threads");
  if (programNode !== undefined && threadsNode !== undefined) {
    d.report(threadsNode, f.at("threads"), "give either program (one thread) or threads, not both");
    return [];
  }
  if (threadsNode === undefined) {
    if (!addThreads(d, known, 1, { node: f.lineNode("program"), path: f.at("program") }, taskName)) return [];
    const program = programNode === undefined ? idleProgram(known) : readProgram(d, programNode, f.at("program"), known);
    if (programNode !== undefined && programNode !== null) known.written.set(program, { node: programNode, path: f.at("program") });
    return [{ name: "main", program }];
  }
  const items = d.list(threadsNode, f.at("threads"));
  if (!items) return [];
  if (items.length === 0) d.report(threadsNode, f.at("threads"), "a task needs at least one thread");
  const threads: ThreadSpec[] = [];
  const names = new Set<string>();
  items.forEach((item, i) => {
    const path = joinPath(f.at("threads"), i);
    const t = d.map(item, path);
    if (!t) return;
    const name = t.string("name") ?? `thread${i + 1}`;
    const count = t.number("count", { integer: true, min: 1, max: MAX_TOTAL_THREADS }) ?? 1;
    if (!addThreads(d, known, count, { node: t.lineNode("count"), path: t.at(t.has("count") ? "count" : "program") }, taskName)) return;
    const pNode = t.get("program");
    const program = pNode === undefined ? idleProgram(known) : readProgram(d, pNode, t.at("program"), known);
    if (pNode !== undefined && pNode !== null) known.written.set(program, { node: pNode, path: t.at("program") });
    t.done();
    // `count: N` stands for N identical threads, named name-1 .. name-N.
    const expanded = count === 1 ? [name] : Array.from({ length: count }, (_, k) => `${name}-${k + 1}`);
    // One error per entry, not one per thread a `count` stands for.
    const twice = expanded.find((n) => names.has(n));
    if (twice !== undefined) d.report(t.lineNode("name"), t.at("name"), `task ${quoted(taskName)} has two threads named ${quoted(twice)}`);
    for (const n of expanded) {
      names.add(n);
      threads.push({ name: n, program });
    }
  });
  return threads;
}

/**
 * A thread without a program holds its memory and sleeps past the end of the run (a sleep that
 * ended at the last instant would count as progress and hide a livelock).
 */
function idleProgram(known: Known): Step[] {
  return [{ op: "sleep", ms: 2 * known.durationMs }];
}
