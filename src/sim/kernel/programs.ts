// Step programs: a stack of frames walks the steps, loops included. Pure bookkeeping.

import type { Step } from "../scenario.js";
import type { Frame, InternalStep } from "./state.js";

export function frameOf(steps: readonly InternalStep[]): Frame {
  return { steps, index: 0, repeatsLeft: 0 };
}

/** The next step to run, or null when the program is over. */
export function nextStep(frames: Frame[]): InternalStep | null {
  for (;;) {
    const top = frames[frames.length - 1];
    if (top === undefined) return null;
    const step = top.steps[top.index];
    if (step !== undefined) {
      top.index++;
      if (step.op === "loop") {
        // A loop with no steps or zero passes does nothing (an empty forever-loop would spin).
        if (step.steps.length > 0 && (step.times === null || step.times > 0)) {
          frames.push({ steps: step.steps, index: 0, repeatsLeft: step.times === null ? null : step.times - 1 });
        }
        continue;
      }
      return step;
    }
    if (top.repeatsLeft === null || top.repeatsLeft > 0) {
      top.index = 0;
      if (top.repeatsLeft !== null) top.repeatsLeft--;
      continue;
    }
    frames.pop();
  }
}

/** Every step of a program, loops flattened once (for validation). */
export function* allSteps(steps: readonly Step[]): Generator<Step> {
  for (const s of steps) {
    yield s;
    if (s.op === "loop") yield* allSteps(s.steps);
  }
}
