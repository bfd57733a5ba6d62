// Programs: the steps a thread runs (`allocMiB`, `freeMiB`, `lock`, `unlock`, `sleepMs`, `loop`,
// `exit`), exactly one op per step; a program may be a YAML alias of an anchored one.

import { isAlias, isMap, isScalar, isSeq, type Node } from "yaml";
import type { GfpContext, Step } from "../scenario.js";
import { SCENARIO_DEFAULTS } from "./defaults.js";
import type { Diagnostics } from "./diagnostics.js";
import type { Fields } from "./fields.js";
import type { Known } from "./known.js";
import { readLockRef } from "./locks.js";
import { joinPath, listOrNone, quoted, show, shownName, suggest } from "./messages.js";
import { familyName, RATE, SIZE, TIME } from "./units.js";

export const GFP_CONTEXTS: readonly GfpContext[] = ["GFP_KERNEL", "GFP_NOFS", "GFP_NOFS_NOFAIL", "GFP_KERNEL_NOFAIL", "GFP_ATOMIC"];

/** The keys that decide a step's op; exactly one of them per step. */
const STEP_OPS: { op: Step["op"]; present: (f: Fields) => boolean; shown: string }[] = [
  { op: "alloc", present: (f) => f.hasQuantity("alloc", SIZE), shown: familyName("alloc", SIZE) },
  { op: "free", present: (f) => f.hasQuantity("free", SIZE), shown: familyName("free", SIZE) },
  { op: "lock", present: (f) => f.has("lock"), shown: "lock" },
  { op: "unlock", present: (f) => f.has("unlock"), shown: "unlock" },
  { op: "sleep", present: (f) => f.hasQuantity("sleep", TIME), shown: familyName("sleep", TIME) },
  { op: "loop", present: (f) => f.has("loop"), shown: "loop" },
  { op: "exit", present: (f) => f.has("exit"), shown: "exit" },
];

/**
 * At most this many steps per scenario, each use of an alias counted anew: nested aliases
 * (`x-2: &l2 [{loop: 1, steps: *l1}, ...]`) would otherwise expand exponentially.
 */
export const MAX_STEPS = 100_000;

export function readProgram(d: Diagnostics, node: Node | null, path: string, known: Known): Step[] {
  if (known.steps > MAX_STEPS) return [];
  const list = d.deref(node);
  if (list && known.expanding.has(list)) {
    const alias = isAlias(node) ? `the alias *${node.source}` : "an alias";
    d.report(node, path, `${alias} makes this list of steps contain itself (an alias cycle): use loop: forever to repeat steps`);
    return [];
  }
  const items = d.list(node, path);
  if (!items || !list) return [];
  known.expanding.add(list);
  const steps: Step[] = [];
  try {
    for (const [i, item] of items.entries()) {
      if (++known.steps > MAX_STEPS) {
        d.report(item, joinPath(path, i), `too many steps: a scenario may have at most ${MAX_STEPS} steps, counting every use of an alias anew`);
        return [];
      }
      const step = readStep(d, item, joinPath(path, i), known);
      if (step) steps.push(step);
      if (known.steps > MAX_STEPS) return [];
    }
  } finally {
    known.expanding.delete(list);
  }
  return steps;
}

function readStep(d: Diagnostics, raw: Node, path: string, known: Known): Step | null {
  const node = d.deref(raw) ?? raw;
  // `- exit` is the one step written as a bare word.
  if (isScalar(node) && node.value === "exit") return { op: "exit" };
  if (!isMap(node)) {
    d.report(node, path, `expected a step (a mapping such as allocMiB: 64, or the word exit), got ${show(node)}`);
    return null;
  }
  const f = d.map(node, path);
  if (!f) return null;
  const ops = STEP_OPS.filter((o) => o.present(f));
  if (ops.length !== 1) {
    const spellings = [...SIZE.flatMap((u) => ["alloc" + u.suffix, "free" + u.suffix]), ...TIME.map((u) => "sleep" + u.suffix), "lock", "unlock", "loop", "exit"];
    const what =
      ops.length === 0
        ? `has none (keys: ${listOrNone(f.keys(), (k) => shownName(k) + suggest(k, spellings))})`
        : `has ${ops.map((o) => o.shown).join(" and ")}`;
    d.report(f.node, path, `a step needs exactly one of ${STEP_OPS.map((o) => o.shown).join(", ")}; this one ${what}`);
    return null;
  }
  const step = readStepOp(f, ops[0]!.op, known);
  f.done();
  return step;
}

function readStepOp(f: Fields, op: Step["op"], known: Known): Step | null {
  const d = f.d;
  switch (op) {
    case "alloc": {
      const pages = f.quantity("alloc", SIZE, { min: 0, above: true });
      const pagesPerMs = f.quantity("rate", RATE, { min: 0, above: true }) ?? SCENARIO_DEFAULTS.allocPagesPerMs;
      const context = f.oneOf("context", GFP_CONTEXTS) ?? SCENARIO_DEFAULTS.context;
      const charge = f.oneOf("charge", ["fault", "syscall"] as const) ?? SCENARIO_DEFAULTS.charge;
      const mlocked = f.boolean("mlocked") ?? false;
      const fileBacked = f.boolean("fileBacked") ?? false;
      if (pages === undefined) return null;
      const step: Step = { op: "alloc", pages, pagesPerMs, context, charge };
      if (mlocked) step.mlocked = true;
      if (fileBacked) step.fileBacked = true;
      return step;
    }
    case "free": {
      const pages = f.quantity("free", SIZE, { min: 0, above: true });
      return pages === undefined ? null : { op: "free", pages };
    }
    case "lock": {
      const ref = readLockRef(f, "lock", known);
      const modeNode = f.get("mode");
      if (ref === undefined) return null;
      // A mutex has one mode; an rwsem must say which side it takes.
      if (modeNode === undefined) {
        if (ref.kind === "mutex") return { op: "lock", lock: ref.name, mode: "exclusive" };
        d.report(f.node, f.path, `lock ${quoted(ref.name)} is an rwsem: say mode: read or mode: write`);
        return null;
      }
      const modes: readonly ("read" | "write" | "exclusive")[] = ref.kind === "rwsem" ? ["read", "write"] : ["exclusive"];
      const mode = d.oneOf(modeNode, f.at("mode"), modes);
      return mode === undefined ? null : { op: "lock", lock: ref.name, mode };
    }
    case "unlock": {
      const ref = readLockRef(f, "unlock", known);
      return ref === undefined ? null : { op: "unlock", lock: ref.name };
    }
    case "sleep": {
      const ms = f.quantity("sleep", TIME, { min: 0 });
      if (ms === undefined) return null;
      const step: Step = { op: "sleep", ms };
      // The work budget names a sleep shorter than the tick by its key.
      known.written.set(step, f.spelled("sleep", TIME));
      return step;
    }
    case "loop": {
      const timesNode = d.deref(f.get("loop"));
      let times: number | null | undefined;
      if (timesNode && isScalar(timesNode) && timesNode.value === "forever") times = null;
      else {
        const v = timesNode && isScalar(timesNode) ? timesNode.value : undefined;
        if (typeof v === "number" && Number.isInteger(v) && v >= 1) times = v;
        else d.report(timesNode, f.at("loop"), `expected "forever" or an integer >= 1, got ${show(timesNode)}`);
      }
      const rawSteps = f.get("steps");
      const stepsNode = d.deref(rawSteps);
      if (rawSteps === undefined || stepsNode === undefined) {
        f.missing('"steps"');
        return null;
      }
      const steps = readProgram(d, rawSteps, f.at("steps"), known);
      if (isSeq(stepsNode) && stepsNode.items.length === 0) d.report(stepsNode, f.at("steps"), "a loop needs at least one step");
      return times === undefined ? null : { op: "loop", times, steps };
    }
    case "exit": {
      const node = f.get("exit");
      if (d.boolean(node, f.at("exit")) === false) d.report(node, f.at("exit"), "write `- exit` (or exit: true), or leave the step out");
      return { op: "exit" };
    }
  }
}
