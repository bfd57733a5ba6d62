// What one pass through a list of steps can cost the simulator, read from the steps alone: how many
// steps run, how many of them wait (a positive sleep, an allocation), the shortest sleep, and the
// longest stretch of zero-time steps a thread may run back to back at one virtual instant.
// work.ts turns these into an upper bound of a run's work (the "Work budget" in
// docs/scenario-format.md).

import type { Step } from "../scenario.js";

export interface PassCost {
  /** Steps one pass executes (loop headers are free in the kernel); Infinity for a forever loop. */
  steps: number;
  /** Positive sleeps and allocations executed in one pass: each ends at a later instant. */
  sleeps: number;
  allocs: number;
  /** Virtual time the positive sleeps of one pass take together. */
  sleepMs: number;
  /** Lock steps: a thread queued for a lock may be woken at any instant another thread runs at. */
  takesLocks: boolean;
  /** The shortest positive sleep anywhere in the steps (Infinity when none), and that step. */
  minSleepMs: number;
  minSleepStep: Step | null;
  /** Whether a pass contains a step that waits; the zero-time runs before the first and after the last. */
  waits: boolean;
  prefixRun: number;
  suffixRun: number;
  /** Longest zero-time run between two waits inside the steps. */
  innerRun: number;
}

const NOTHING: PassCost = { steps: 0, sleeps: 0, allocs: 0, sleepMs: 0, takesLocks: false, minSleepMs: Infinity, minSleepStep: null, waits: false, prefixRun: 0, suffixRun: 0, innerRun: 0 };

const cache = new WeakMap<readonly Step[], PassCost>();

/** The cost of one pass through the steps (remembered per list: threads of one `count` share theirs). */
export function passCost(steps: readonly Step[]): PassCost {
  let cost = cache.get(steps);
  if (cost === undefined) {
    cost = steps.reduce((sum, step) => then(sum, stepCost(step)), NOTHING);
    cache.set(steps, cost);
  }
  return cost;
}

/**
 * How many sleeps of a program can end within its first windowMs: each takes at least the shortest
 * one, and a program that ends in a forever loop sleeps that loop's total sleep time per pass.
 */
export function sleepEndsWithin(steps: readonly Step[], windowMs: number): number {
  const cost = passCost(steps);
  if (cost.sleeps === 0) return 0;
  let bound = Math.min(cost.sleeps, windowMs / cost.minSleepMs + 1);
  let before = 0;
  for (const step of steps) {
    if (step.op !== "loop" || step.times !== null) {
      before += passCost([step]).sleeps;
      continue;
    }
    // Steps after a forever loop never run.
    const body = passCost(step.steps);
    if (body.sleepMs > 0) bound = Math.min(bound, before + (windowMs / body.sleepMs + 1) * body.sleeps);
    break;
  }
  return bound;
}

/** The longest run of zero-time steps a thread can meet between two waits of its program. */
export function longestZeroTimeRun(cost: PassCost): number {
  return Math.max(cost.prefixRun, cost.suffixRun, cost.innerRun);
}

function stepCost(step: Step): PassCost {
  switch (step.op) {
    case "sleep":
      // A sleep of 0 ms ends at once (the kernel goes straight to the next step).
      if (step.ms <= 0) return zeroTime(step);
      return { ...NOTHING, steps: 1, sleeps: 1, sleepMs: step.ms, minSleepMs: step.ms, minSleepStep: step, waits: true };
    case "alloc":
      return { ...NOTHING, steps: 1, allocs: 1, waits: true };
    case "loop":
      return loopCost(step.times, passCost(step.steps));
    case "lock":
      return { ...zeroTime(step), takesLocks: true };
    default:
      return zeroTime(step);
  }
}

function zeroTime(_step: Step): PassCost {
  return { ...NOTHING, steps: 1, prefixRun: 1, suffixRun: 1 };
}

/** `times` passes (null: for ever) of a body. A loop without steps does nothing, as in the kernel. */
function loopCost(times: number | null, body: PassCost): PassCost {
  if (body.steps === 0) return NOTHING;
  const n = times ?? Infinity;
  const repeated: PassCost = { ...body, steps: n * body.steps, sleeps: times === null && body.sleeps === 0 ? 0 : n * body.sleeps, allocs: times === null && body.allocs === 0 ? 0 : n * body.allocs, sleepMs: times === null && body.sleepMs === 0 ? 0 : n * body.sleepMs };
  if (!body.waits) {
    const run = n * body.prefixRun;
    return { ...repeated, prefixRun: run, suffixRun: run, innerRun: 0 };
  }
  // From the second pass on, the run after the body's last wait joins the run before its first.
  const wraps = n >= 2 ? body.suffixRun + body.prefixRun : 0;
  return { ...repeated, innerRun: Math.max(body.innerRun, wraps) };
}

/** The cost of a pass through `a` followed by `b`. */
function then(a: PassCost, b: PassCost): PassCost {
  const sum: PassCost = {
    steps: a.steps + b.steps,
    sleeps: a.sleeps + b.sleeps,
    allocs: a.allocs + b.allocs,
    sleepMs: a.sleepMs + b.sleepMs,
    takesLocks: a.takesLocks || b.takesLocks,
    minSleepMs: Math.min(a.minSleepMs, b.minSleepMs),
    minSleepStep: b.minSleepMs < a.minSleepMs ? b.minSleepStep : a.minSleepStep,
    waits: a.waits || b.waits,
    prefixRun: 0,
    suffixRun: 0,
    innerRun: 0,
  };
  if (!a.waits && !b.waits) {
    sum.prefixRun = sum.suffixRun = a.prefixRun + b.prefixRun;
  } else if (a.waits && b.waits) {
    sum.prefixRun = a.prefixRun;
    sum.suffixRun = b.suffixRun;
    sum.innerRun = Math.max(a.innerRun, b.innerRun, a.suffixRun + b.prefixRun);
  } else if (a.waits) {
    sum.prefixRun = a.prefixRun;
    sum.suffixRun = a.suffixRun + b.prefixRun;
    sum.innerRun = a.innerRun;
  } else {
    sum.prefixRun = a.prefixRun + b.prefixRun;
    sum.suffixRun = b.suffixRun;
    sum.innerRun = b.innerRun;
  }
  return sum;
}
