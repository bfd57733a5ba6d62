// The `locks` section, and lock names in `lock`/`unlock` steps: a declared lock, the task's own
// "mmap_sem", or "mmap_sem:TASK" (another task's; the task is checked once all are read).

import type { LockSpec } from "../scenario.js";
import { SCENARIO_DEFAULTS } from "./defaults.js";
import type { Diagnostics } from "./diagnostics.js";
import type { Fields } from "./fields.js";
import type { Known } from "./known.js";
import { listOrNone, quoted, suggest } from "./messages.js";

/** Every task's own mmap_sem is implicit: "mmap_sem" in its programs, "mmap_sem:TASK" in another task's. */
export const MMAP_SEM = "mmap_sem";

export function readLock(f: Fields, known: Known): LockSpec | null {
  const name = f.requiredString("name");
  const kind = f.oneOf("kind", ["rwsem", "mutex"] as const) ?? SCENARIO_DEFAULTS.lockKind;
  if (name === undefined) return null;
  if (name === MMAP_SEM || name.startsWith(`${MMAP_SEM}:`)) {
    f.d.report(f.lineNode("name"), f.at("name"), `every task has its own mmap_sem: lock it as "${MMAP_SEM}" (its own) or "${MMAP_SEM}:TASK" (another task's), without listing it`);
    return null;
  }
  if (known.locks.has(name)) {
    f.d.report(f.lineNode("name"), f.at("name"), `lock ${quoted(name)} is listed twice`);
    return null;
  }
  const spec = { name, kind };
  known.locks.set(name, spec);
  known.declaredAt.set(`lock:${name}`, { node: f.lineNode("name"), path: f.at("name") });
  return spec;
}

/** A declared lock, the task's own "mmap_sem", or "mmap_sem:TASK" (another task's). */
export function readLockRef(f: Fields, key: string, known: Known): { name: string; kind: LockSpec["kind"] } | undefined {
  const name = f.string(key);
  if (name === undefined) return undefined;
  const declared = known.locks.get(name);
  if (declared) return { name, kind: declared.kind };
  if (name === MMAP_SEM) return { name, kind: "rwsem" };
  if (name.startsWith(`${MMAP_SEM}:`)) {
    known.taskRefs.push({ task: name.slice(MMAP_SEM.length + 1), node: f.lineNode(key), path: f.at(key) });
    return { name, kind: "rwsem" };
  }
  const names = [...known.locks.keys()];
  f.d.report(
    f.lineNode(key),
    f.at(key),
    `unknown lock ${quoted(name)}${suggest(name, [...names, MMAP_SEM])} (declared in locks: ${listOrNone(names)}; every task also has "${MMAP_SEM}", and "${MMAP_SEM}:TASK" is another task's)`,
  );
  return undefined;
}

/** The tasks named in "mmap_sem:TASK", once every task is read. */
export function checkTaskRefs(d: Diagnostics, known: Known): void {
  for (const ref of known.taskRefs) {
    if (!known.tasks.has(ref.task)) {
      d.report(ref.node, ref.path, `unknown task ${quoted(ref.task)} in ${quoted(`${MMAP_SEM}:${ref.task}`)}${suggest(ref.task, [...known.tasks.keys()])} (tasks: ${listOrNone([...known.tasks.keys()])})`);
    }
  }
}
