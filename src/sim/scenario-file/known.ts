// What later sections of a scenario file need to know about earlier ones, to check references
// (a task's cgroup, a step's lock, a handler's task, an expectation's policy).

import type { Node } from "yaml";
import type { CgroupSpec, LockSpec, Step, TaskSpec } from "../scenario.js";

export interface Known {
  cgroups: Map<string, CgroupSpec>;
  locks: Map<string, LockSpec>;
  tasks: Map<string, TaskSpec>;
  /** Where each cgroup path and lock name was declared, for errors found after the whole list is read. */
  declaredAt: Map<string, { node: Node; path: string }>;
  /** Tasks named by "mmap_sem:TASK" lock steps, checked once every task is read. */
  taskRefs: { task: string; node: Node; path: string }[];
  durationMs: number;
  /** Steps read so far, each use of an alias counted anew (capped at MAX_STEPS). */
  steps: number;
  /** The step lists being read, to report an alias that refers to a list containing it. */
  expanding: Set<Node>;
  /** Threads of all tasks read so far (capped at MAX_TOTAL_THREADS). */
  threads: number;
  /** Where each program and step was written, for the work budget's errors (work-budget.ts). */
  written: Map<readonly Step[] | Step, Written>;
  /** Where each key of an oomwarden policy's options was written, by its options object (same purpose). */
  optionsWritten: Map<Readonly<Record<string, unknown>>, ReadonlyMap<string, Written>>;
}

/** A key of the file: its node (for the line) and its key path. */
export interface Written {
  node: Node;
  path: string;
}
