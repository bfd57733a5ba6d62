// A PSI trigger on a cgroup's memory.pressure, or on the machine's /proc/pressure/memory: the
// kernel wakes us (POLLPRI) when tasks stalled on memory for stallUs within a window, instead of our
// sampling it. Writers without CAP_SYS_RESOURCE may only ask for windows that are whole multiples of
// 2 s (kernel/sched/psi.c): the window is then widened to the next one, the stall scaled with it,
// and the caller told so.

import { closeSync, constants as fsConstants, openSync, writeSync } from "node:fs";
import { fail, ok, type Result } from "../../core/result.js";
import type { PressureTrigger, PressureWatch } from "../../engine/host.js";
import * as native from "./native.js";

/** The window unprivileged writers must use a multiple of. */
export const UNPRIVILEGED_WINDOW_US = 2_000_000;
/** The kernel's bounds for a trigger window. */
const MIN_WINDOW_US = 500_000;
const MAX_WINDOW_US = 10_000_000;

export function watchPressureFile(path: string, trigger: PressureTrigger, onPressure: () => void): Result<PressureWatch> {
  const asked = clamp(trigger);
  const first = openTrigger(path, asked);
  if (first.ok) return watchOpened(first.value, asked, null, onPressure);
  // EPERM (5.10+) or EINVAL (older) for a window the process may not have: the next one it may.
  if (first.error.code !== "EPERM" && first.error.code !== "EINVAL") return first;
  if (asked.windowUs % UNPRIVILEGED_WINDOW_US === 0) return first;
  const widened = widen(asked);
  const second = openTrigger(path, widened);
  if (!second.ok) return fail(second.error.code, `${first.error.message}; with a ${widened.windowUs / 1e6} s window too: ${second.error.message}`);
  const note =
    `memory pressure trigger: a ${asked.windowUs / 1000} ms window needs CAP_SYS_RESOURCE (${first.error.code}); ` +
    `using ${widened.windowUs / 1e6} s (stall ${widened.stallUs / 1000} ms), so pressure is noticed later`;
  return watchOpened(second.value, widened, note, onPressure);
}

/** The trigger line the kernel reads: "some <stall us> <window us>". */
export function triggerLine(trigger: PressureTrigger): string {
  return `some ${Math.round(trigger.stallUs)} ${Math.round(trigger.windowUs)}`;
}

/** The smallest window a writer without CAP_SYS_RESOURCE may use, the stall kept in proportion. */
export function widen(trigger: PressureTrigger): PressureTrigger {
  const windowUs = Math.min(MAX_WINDOW_US, Math.ceil(trigger.windowUs / UNPRIVILEGED_WINDOW_US) * UNPRIVILEGED_WINDOW_US);
  return { windowUs, stallUs: Math.round((trigger.stallUs * windowUs) / trigger.windowUs) };
}

function clamp(trigger: PressureTrigger): PressureTrigger {
  const windowUs = Math.min(MAX_WINDOW_US, Math.max(MIN_WINDOW_US, trigger.windowUs));
  return { windowUs, stallUs: Math.min(windowUs, Math.max(1, trigger.stallUs)) };
}

function openTrigger(path: string, trigger: PressureTrigger): Result<number> {
  let fd: number;
  try {
    fd = openSync(path, fsConstants.O_RDWR | fsConstants.O_NONBLOCK);
  } catch (error) {
    return fail((error as NodeJS.ErrnoException).code ?? "EIO", `cannot open ${path}: ${(error as Error).message}`);
  }
  try {
    // With its NUL: /proc/pressure/* puts a NUL in place of the last byte written (psi_write), which
    // would cut the window's last digit ("2000000" read as 200000, EINVAL); cgroupfs takes it too.
    writeSync(fd, `${triggerLine(trigger)}\0`);
  } catch (error) {
    closeSync(fd);
    return fail((error as NodeJS.ErrnoException).code ?? "EIO", `cannot set a pressure trigger on ${path} (${triggerLine(trigger)}): ${(error as Error).message}`);
  }
  return ok(fd);
}

function watchOpened(fd: number, trigger: PressureTrigger, note: string | null, onPressure: () => void): Result<PressureWatch> {
  // POLLPRI when the trigger fires; the kernel clears the event as it reports it.
  const watched = native.watchFd(fd, () => onPressure(), { events: "priority" });
  if (!watched.ok) {
    closeSync(fd);
    return watched;
  }
  return ok({
    unwatch: () => {
      watched.value.stop();
      native.closeFd(fd);
    },
    trigger,
    note,
  });
}
