// A user's own OOM handler, scripted (one that can deadlock, see docs/kernel-problems.md;
// UserspaceSpec kind "handler"). It is a task of the scenario: notified through the v1 OOM eventfd
// (v2: a memory.events oom change), it reacts after reactMs by running its action steps on its main
// thread (by default it faults in a page, as reading /proc or growing a buffer does), then kills
// the biggest task of the memcg. If the handler lives in the OOMing memcg, its fault waits in that
// memcg's OOM like everyone else's; if it needs a lock an OOMing task holds, it waits for it:
// either way it never acts and the memcg hangs, which is the failure reported. It re-checks the OOM
// before killing (a notification may be stale), and it never kills itself.

import type { Step, UserspaceSpec } from "../scenario.js";
import { sendSigkill } from "./kill.js";
import { subtreeTasks, underOomOrAncestor } from "./memcg.js";
import { frameOf } from "./programs.js";
import type { HandlerState, InternalStep, Memcg, Sim, Task, Thread } from "./state.js";
import { isLive, rssPages } from "./state.js";

/** Reading the memcg's task list touches a fresh heap page: one fault charged to the handler's memcg. */
const DEFAULT_ACTION: readonly Step[] = [{ op: "alloc", pages: 1, pagesPerMs: 1, context: "GFP_KERNEL", charge: "fault" }];

export function startHandler(sim: Sim, spec: Extract<UserspaceSpec, { kind: "handler" }>): HandlerState {
  const task = sim.tasksByName.get(spec.task);
  if (task === undefined) throw new Error(`policy ${sim.policy.name}: handler task "${spec.task}" is not a task of the scenario`);
  const state: HandlerState = { task, reactMs: Math.max(0, spec.reactMs), actionSteps: spec.actionSteps ?? DEFAULT_ACTION, busy: false, seenOom: new Map() };
  for (const path of spec.cgroups) {
    const m = sim.memcgs.get(path);
    if (m === undefined) throw new Error(`policy ${sim.policy.name}: handler cgroup "${path}" is not a cgroup of the scenario`);
    if (m.version === 1) {
      m.oomListeners.add(() => notified(sim, state, m));
    } else {
      state.seenOom.set(m, m.events.oom);
      m.eventListeners.add(() => {
        if (m.events.oom === state.seenOom.get(m)) return;
        state.seenOom.set(m, m.events.oom);
        notified(sim, state, m);
      });
    }
  }
  return state;
}

function notified(sim: Sim, state: HandlerState, m: Memcg): void {
  if (state.busy || state.task.phase !== "running" || state.task.fatalSignal) return;
  state.busy = true;
  sim.log("handler-notified", state.task.name, `OOM in ${m.path}; acting in ${state.reactMs} ms`);
  sim.schedule(sim.nowMs + state.reactMs, { kind: "call", fn: () => beginAction(sim, state, m) });
}

function beginAction(sim: Sim, state: HandlerState, m: Memcg): void {
  const thread = state.task.threads.find((t) => t.state !== "done" && t.state !== "new");
  if (thread === undefined || state.task.fatalSignal) {
    state.busy = false;
    return;
  }
  const steps: InternalStep[] = [...state.actionSteps, { op: "handler-act", cgroup: m.path }];
  thread.pendingFrames.push(frameOf(steps));
  // Waiting for the eventfd is an interruptible sleep: the notification ends it.
  if (thread.state === "sleep" && !thread.sleepUninterruptible) {
    thread.gen++;
    thread.state = "ready";
    sim.schedule(sim.nowMs, { kind: "thread-run", thread, gen: thread.gen });
  }
  // Otherwise the action waits for the thread's next step boundary: a stuck handler never acts.
}

/** The handler's thread reached the end of its action steps: kill, unless the OOM is over. */
export function handlerAct(sim: Sim, thread: Thread, path: string): void {
  const state = sim.handler;
  const m = sim.memcgs.get(path);
  if (state === null || m === undefined) return;
  state.busy = false;
  const stillOom = m.version === 1 ? underOomOrAncestor(m) : m.limitPages !== null && m.usagePages >= m.limitPages;
  if (!stillOom) {
    sim.log("handler-acted", thread.task.name, `${path} no longer under OOM: nothing to do`);
    return;
  }
  const victim = biggest(subtreeTasks(m), state.task);
  if (victim === null) {
    sim.log("handler-acted", thread.task.name, `${path}: nothing to kill`);
    return;
  }
  if (sendSigkill(sim, victim, "user")) sim.log("userspace-kill", victim.name, `killed by handler ${thread.task.name}`);
  sim.log("handler-acted", thread.task.name, `${path}: killed ${victim.name} (${rssPages(victim.mm) + victim.mm.swapPages} pages)`);
}

function biggest(tasks: Task[], self: Task): Task | null {
  let best: Task | null = null;
  let bestPages = -1;
  for (const t of tasks) {
    if (t === self || !isLive(t) || t.phase !== "running" || t.fatalSignal) continue;
    const pages = rssPages(t.mm) + t.mm.swapPages;
    if (pages > bestPages || (pages === bestPages && best !== null && t.pid < best.pid)) {
      best = t;
      bestPages = pages;
    }
  }
  return best;
}
