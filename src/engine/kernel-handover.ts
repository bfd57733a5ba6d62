// Handing one v1 OOM to the kernel killer (oom_kill_disable 0), waiting until the cgroup is out of
// OOM, taking over again, and journaling what the kernel did. Used by the dry run (so oomwarden's
// choice and the kernel's stand side by side in the journal) and whenever oomwarden cannot resolve
// an OOM itself: a v1 cgroup must never hang with its killer disabled.

import type { CgroupSample, Snapshot } from "../core/types.js";
import type { CgroupRef, Host } from "./host.js";
import type { JournalSink } from "./journal-record.js";

/** How long a dry run waits for the kernel killer to resolve an OOM handed to it. */
const KERNEL_HANDOVER_TIMEOUT_MS = 5_000;

export interface HandoverContext {
  host: Host;
  journal: JournalSink;
  log: (message: string) => void;
  /** Why the OOM goes to the kernel: "dry run", or why oomwarden could not resolve it itself. */
  reason: string;
  /** After stop() the kernel's settings are restored: never take over again. */
  isStopped: () => boolean;
}

export async function handOverToKernel(ctx: HandoverContext, ref: CgroupRef, snapshot: Snapshot): Promise<void> {
const { host, journal, log } = ctx;
  const handed = host.handOomToKernel(ref);
  if (!handed.ok) {
    log(`${ref.path}: ${ctx.reason}: cannot hand the OOM to the kernel: ${handed.error.message}`);
    return;
  }
  const deadlineMs = host.now() + KERNEL_HANDOVER_TIMEOUT_MS;
  let after: CgroupSample | null = null;
  while (host.now() < deadlineMs) {
    await new Promise<void>((resolve) => host.setTimer(1, resolve));
    const sample = host.readCgroup(ref);
    if (!sample.ok) break;
    after = sample.value;
    if (!after.underOom && after.events.oomKill > snapshot.cgroup.events.oomKill) break;
  }
  if (!ctx.isStopped()) {
    const retaken = host.takeOverOom(ref);
    if (!retaken.ok) log(`${ref.path}: ${ctx.reason}: cannot disable the kernel killer again: ${retaken.error.message}`);
  }
  // The kernel's victim may still be exiting: give it a moment to leave the process list.
  let gone = goneSince(host, ref, snapshot);
  while (gone.length === 0 && after !== null && after.events.oomKill > snapshot.cgroup.events.oomKill && host.now() < deadlineMs) {
    await new Promise<void>((resolve) => host.setTimer(1, resolve));
    gone = goneSince(host, ref, snapshot);
  }
  journal.append({
    type: "kernel-kill",
    cgroup: ref.path,
    oomKills: after === null ? 0 : after.events.oomKill - snapshot.cgroup.events.oomKill,
    goneSinceSnapshot: gone,
    note: `${ctx.reason}: the OOM was handed to the kernel's OOM killer`,
  });
}

/** Pids of the snapshot no longer in the cgroup (matched with their start time). */
function goneSince(host: Host, ref: CgroupRef, snapshot: Snapshot): number[] {
  const alive = host.listProcesses(ref);
  const stillThere = new Set(alive.ok ? alive.value.map((p) => `${p.pid}/${p.startTimeTicks}`) : []);
  return snapshot.processes.filter((p) => !stillThere.has(`${p.pid}/${p.startTimeTicks}`)).map((p) => p.pid);
}
