// A PSI trigger over the simulator's machine-wide PSI totals, behaving as the kernel's does
// (kernel/sched/psi.c): the stall time is looked at ten times per window, the growth over the last
// window is compared with the trigger's stall, and an event is raised at most once per window. The
// agent of a simulation is privileged: windows are never widened.

import type { PressureTrigger, PressureWatch } from "../../engine/host.js";
import type { UserspaceApi } from "../../sim/userspace-api.js";

/** The kernel's bounds for a trigger window, and its updates per window (UPDATES_PER_WINDOW). */
const MIN_WINDOW_US = 500_000;
const MAX_WINDOW_US = 10_000_000;
const UPDATES_PER_WINDOW = 10;

/** The trigger as the kernel takes it: the window within its bounds, the stall within the window. */
export function clampTrigger(trigger: PressureTrigger): PressureTrigger {
  const windowUs = Math.min(MAX_WINDOW_US, Math.max(MIN_WINDOW_US, trigger.windowUs));
  return { windowUs, stallUs: Math.min(windowUs, Math.max(1, trigger.stallUs)) };
}

/**
 * Calls onPressure whenever the machine's "some" stall time grew by trigger.stallUs or more within
 * the last window, seen at the window's tenths, and not again before a window has passed.
 */
export function watchSimPressure(api: UserspaceApi, asked: PressureTrigger, onPressure: () => void): PressureWatch {
  const trigger = clampTrigger(asked);
  const windowMs = trigger.windowUs / 1000;
  const stepMs = windowMs / UPDATES_PER_WINDOW;
  // The totals at the last UPDATES_PER_WINDOW + 1 looks: the first one is a window old.
  const totals: number[] = [api.machine().psiSomeTotalUs];
  let lastEventMs = -Infinity;
  let timer: number | null = null;
  const look = (): void => {
    timer = api.setTimer(stepMs, look);
    totals.push(api.machine().psiSomeTotalUs);
    if (totals.length > UPDATES_PER_WINDOW + 1) totals.shift();
    const growthUs = (totals[totals.length - 1] as number) - (totals[0] as number);
    const nowMs = api.nowMs();
    if (growthUs >= trigger.stallUs && nowMs - lastEventMs >= windowMs) {
      lastEventMs = nowMs;
      onPressure();
    }
  };
  timer = api.setTimer(stepMs, look);
  return {
    unwatch: () => {
      if (timer !== null) api.clearTimer(timer);
      timer = null;
    },
    trigger,
    note: null,
  };
}
