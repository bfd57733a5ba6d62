// Dry run on cgroup v1: oomwarden journals the victim it would choose, then lets the kernel killer
// resolve that one OOM (oom_kill_disable 0), waits until the cgroup is out of OOM, takes over again,
// and journals what the kernel did, so both choices stand side by side in the journal.

import type { CgroupSample, Snapshot } from "../core/types.js";
import type { CgroupRef, Host } from "./host.js";
import type { JournalSink } from "./journal-record.js";

/** How long a dry run waits for the kernel killer to resolve an OOM handed to it. */
const KERNEL_HANDOVER_TIMEOUT_MS = 5_000;

export interface HandoverContext {
  host: Host;
  journal: JournalSink;
  log: (message: string) => void;
}

export async function handOverToKernel(ctx: HandoverContext, ref: CgroupRef, snapshot: Snapshot): Promise<void> {
const { host, journal, log } = ctx;
  const handed = host.handOomToKernel(ref);
  if (!handed.ok) {
    log(`${ref.path}: dry run: cannot hand the OOM to the kernel: ${handed.error.message}`);
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
  const retaken = host.takeOverOom(ref);
  if (!retaken.ok) log(`${ref.path}: dry run: cannot disable the kernel killer again: ${retaken.error.message}`);
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
    note: "dry run: the kernel's OOM killer resolved this OOM",
  });
}

/** Pids of the snapshot no longer in the cgroup (matched with their start time). */
function goneSince(host: Host, ref: CgroupRef, snapshot: Snapshot): number[] {
  const alive = host.listProcesses(ref);
  const stillThere = new Set(alive.ok ? alive.value.map((p) => `${p.pid}/${p.startTimeTicks}`) : []);
  return snapshot.processes.filter((p) => !stillThere.has(`${p.pid}/${p.startTimeTicks}`)).map((p) => p.pid);
}
