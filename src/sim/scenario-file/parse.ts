// parseScenario: YAML text to a validated Scenario, section by section (memory, cgroups, locks,
// tasks, policies, expectations), each in its own module here. Sections read later check their
// references against what earlier ones declared (Known).

import { isScalar, LineCounter, parseDocument, type Node } from "yaml";
import type { MemorySpec, Scenario } from "../scenario.js";
import { busiestLoops } from "./agent-sampling.js";
import { checkCgroupParents, readCgroup } from "./cgroups.js";
import { SCENARIO_DEFAULTS } from "./defaults.js";
import { Diagnostics, type ScenarioFileResult } from "./diagnostics.js";
import { readExpectations } from "./expectations.js";
import type { Fields } from "./fields.js";
import type { Known, Written } from "./known.js";
import { checkTaskRefs, readLock } from "./locks.js";
import { checkInitialMemory, readMemory } from "./memory.js";
import { cutLine } from "../../core/shown-text.js";
import { joinPath, show } from "./messages.js";
import { readPolicies } from "./policies.js";
import { readTask } from "./tasks.js";
import { TIME } from "./units.js";
import { busySleep } from "./work.js";
import { checkWorkBudget, type WorkProblem } from "./work-budget.js";

/** Parses and validates scenario text; `source` names the file in every message. */
export function parseScenario(text: string, source: string): ScenarioFileResult {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const d = new Diagnostics(source, lines, doc);
  // The library's message may quote the file: its first line only, cut.
  for (const error of doc.errors) d.reportAt(lines.linePos(error.pos[0]).line, "", `YAML syntax error: ${cutLine(error.message, YAML_MESSAGE_MAX_CHARS)}`);
  if (doc.errors.length > 0) return d.result(null);
  if (doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null)) {
    d.reportAt(1, "", "the file is empty: expected a scenario (a mapping with memory, tasks, durationS, ...)");
    return d.result(null);
  }
  const top = d.map(doc.contents as Node, "");
  if (!top) return d.result(null);
  // Top-level keys starting with "x-" hold YAML anchors to reuse (`x-handler: &h {...}`, then `*h`).
  for (const key of top.keys()) if (key.startsWith("x-")) top.get(key);
  return d.result(readScenario(top, source));
}

function readScenario(top: Fields, source: string): Scenario | null {
  const d = top.d;
  const name = top.string("name") ?? source.split("/").pop()!.replace(/\.ya?ml$/, "");
  const seed = readSeedNumber(top);
  const description = top.string("description") ?? "";
  const randomSeed = top.number("randomSeed", { integer: true, min: 0 }) ?? SCENARIO_DEFAULTS.randomSeed;
  const durationMs = readDuration(top);
  const tickMs = readTick(top);
  if (durationMs > 0 && tickMs !== undefined && durationMs / tickMs > MAX_TICKS) {
    const at = top.spelled("duration", TIME);
    d.report(at.node, at.path, `${durationMs} ms at a tick of ${tickMs} ms is ${Math.ceil(durationMs / tickMs)} ticks: at most ${MAX_TICKS} (shorten the run or lengthen tickMs)`);
  }

  const memoryNode = top.get("memory");
  let memory: MemorySpec | null = null;
  if (memoryNode === undefined) top.missing('"memory"');
  else {
    const f = d.map(memoryNode, "memory");
    if (f) memory = readMemory(f);
  }

  const known: Known = { cgroups: new Map(), locks: new Map(), tasks: new Map(), declaredAt: new Map(), taskRefs: [], durationMs, steps: 0, expanding: new Set(), threads: 0, written: new Map(), optionsWritten: new Map() };
  const cgroups = readList(top, "cgroups", (f) => readCgroup(f, known));
  checkCgroupParents(d, cgroups, known);
  const locks = readList(top, "locks", (f) => readLock(f, known));
  const tasks = readList(top, "tasks", (f) => readTask(f, known));
  if (!top.has("tasks")) top.missing('"tasks"');
  else if (tasks.length === 0 && !d.failed) d.report(top.lineNode("tasks"), "tasks", "list at least one task");
  checkTaskRefs(d, known);
  if (memory !== null) checkInitialMemory(d, top, memory, known);
  const policies = readPolicies(top, known);
  const expectations = readExpectations(top, policies, known);
  top.done();

  if (d.failed || memory === null) return null;
  const scenario: Scenario = {
    name,
    seed,
    description,
    randomSeed,
    durationMs,
    tickMs: tickMs ?? SCENARIO_DEFAULTS.tickMs,
    memory,
    cgroups,
    locks,
    tasks,
    policies,
    expectations,
  };
  const problem = checkWorkBudget(scenario);
  if (problem !== null) {
    const at = blamedKey(top, problem, known, scenario.tickMs);
    d.report(at.node, at.path, problem.message);
    return null;
  }
  return scenario;
}

/** The key an over-budget error names: the sleep, program, duration or list that asks for the work. */
function blamedKey(top: Fields, problem: WorkProblem, known: Known, tickMs: number): Written {
  const s = problem.blame.source;
  switch (s.kind) {
    case "program": {
      const sleep = busySleep(s, tickMs);
      const written = (sleep !== null && known.written.get(sleep)) || known.written.get(s.thread.program);
      return written ?? { node: top.lineNode("tasks"), path: "tasks" };
    }
    case "ticks":
      return top.spelled("duration", TIME);
    case "setup":
      return { node: top.lineNode("tasks"), path: "tasks" };
    case "sampling": {
      // The option asking for the samples; with the engine's own intervals, the run's length.
      const { key } = busiestLoops(s.sampling);
      const u = s.policy.userspace;
      const written = key !== null && u.kind === "oomwarden" ? known.optionsWritten.get(u.options)?.get(key) : undefined;
      return written ?? top.spelled("duration", TIME);
    }
    case "reconcile":
    case "policies":
      return { node: top.lineNode("policies"), path: "policies" };
  }
}

/** Characters of the YAML library's message shown. */
const YAML_MESSAGE_MAX_CHARS = 120;

/** At most 7 days of virtual time per run. */
export const MAX_DURATION_MS = 7 * 24 * 3600 * 1000;
/** At most 1e8 ticks (duration / tick) per run. */
export const MAX_TICKS = 100_000_000;

function readDuration(top: Fields): number {
  const ms = top.requiredQuantity("duration", TIME, { min: 0, above: true });
  if (ms === undefined) return 0;
  if (ms > MAX_DURATION_MS) {
    const at = top.spelled("duration", TIME);
    top.d.report(at.node, at.path, `${ms} ms is too long: at most ${MAX_DURATION_MS} ms (7 days) of virtual time`);
    return 0;
  }
  return ms;
}

/** The tick: a whole number of ms >= 1 (undefined when invalid; the default when absent). */
function readTick(top: Fields): number | undefined {
  if (!top.hasQuantity("tick", TIME)) {
    top.quantity("tick", TIME, { min: 0, above: true });
    return SCENARIO_DEFAULTS.tickMs;
  }
  const ms = top.quantity("tick", TIME, { min: 0, above: true });
  if (ms === undefined) return undefined;
  // tickS: 0.007 is 7.000000000000001 ms in floating point: still a whole number of ms.
  const whole = Math.round(ms);
  if (whole < 1 || Math.abs(ms - whole) > 1e-9) {
    const at = top.spelled("tick", TIME);
    top.d.report(at.node, at.path, `the tick must be a whole number of ms >= 1, got ${ms} ms`);
    return undefined;
  }
  if (whole > MAX_DURATION_MS) {
    const at = top.spelled("tick", TIME);
    top.d.report(at.node, at.path, `${whole} ms is too long: at most ${MAX_DURATION_MS} ms (7 days)`);
    return undefined;
  }
  return whole;
}

/** `seed: "003"`, the kernel problem reproduced (or 3: YAML reads an unquoted 003 as the number 3). */
function readSeedNumber(top: Fields): string | null {
  const node = top.get("seed");
  if (node === undefined) return null;
  const v = isScalar(node) ? node.value : undefined;
  if (v === null) return null;
  if (typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= 999) return String(v).padStart(3, "0");
  if (typeof v === "string" && /^\d{3}$/.test(v)) return v;
  top.d.report(node, "seed", `expected the number of the kernel problem reproduced, e.g. "003", got ${show(node)}`);
  return null;
}

/** Reads an optional list of mappings; bad items are reported and left out. */
function readList<T>(parent: Fields, key: string, read: (f: Fields) => T | null): T[] {
  const node = parent.get(key);
  if (node === undefined || (isScalar(node) && node.value === null)) return [];
  const items = parent.d.list(node, parent.at(key));
  if (!items) return [];
  const out: T[] = [];
  items.forEach((item, i) => {
    const f = parent.d.map(item, joinPath(parent.at(key), i));
    if (!f) return;
    const value = read(f);
    f.done();
    if (value !== null) out.push(value);
  });
  return out;
}
