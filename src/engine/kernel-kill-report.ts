// The journal's record of a kill by the kernel's own OOM killer (v2 cannot turn it off), with its
// victim named: every kill must be explainable afterwards, the kernel's too. The kernel log names
// it where it can be read; otherwise the cgroup's processes do: one found exiting (SIGKILL pending,
// or in exit) right after the kill, or one listed before and gone now.

import type { EngineContext } from "./engine-context.js";
import type { CgroupRef } from "./host.js";
import type { KernelVictimRecord } from "./journal-record.js";

/** A member of the cgroup as last listed. */
export interface KnownMember {
  pid: number;
  comm: string;
  startTimeTicks: number;
  rssBytes: number;
}

export function journalKernelKills(ctx: Pick<EngineContext, "host" | "journal" | "log">, ref: CgroupRef, oomKills: number, known: readonly KnownMember[]): KernelVictimRecord[] {
  const victims = nameVictims(ctx, ref, known);
  const list = victims.map((v) => `${v.comm}[${v.pid}]`).join(", ");
  // Processes gone since they were last listed may include some that simply exited: then the
  // victims are among them, not all of them.
  const uncertain = victims.length > oomKills && victims.every((v) => v.source === "gone");
  const named = victims.length === 0 ? "a victim that could not be named" : uncertain ? `one or more of ${list} (gone since last listed)` : list;
  ctx.journal.append({
    type: "kernel-kill",
    cgroup: ref.path,
    oomKills,
    victims,
    note: `memory.events oom_kill rose by ${oomKills}: the kernel's OOM killer killed ${named} in this cgroup; it counts as the incident's kill, and nobody else is chosen unless the cgroup is still in its guard band once that memory is back`,
  });
  ctx.log(`${ref.path}: the kernel's OOM killer killed ${named}`);
  return victims;
}

function nameVictims(ctx: Pick<EngineContext, "host">, ref: CgroupRef, known: readonly KnownMember[]): KernelVictimRecord[] {
  const logged = ctx.host.kernelOomKills(ref);
  if (logged.ok && logged.value.length > 0) {
    return logged.value.map((kill) => ({ pid: kill.pid, comm: kill.comm, rssBytes: kill.rssBytes, source: "kernel log" as const }));
  }
  const now = ctx.host.listProcesses(ref);
  if (!now.ok) return [];
  const exiting = now.value
    .filter((member) => member.exiting && member.state !== "Z")
    .map((member) => ({ pid: member.pid, comm: member.comm, rssBytes: member.rssBytes, source: "exiting" as const }));
  if (exiting.length > 0) return exiting;
  const still = new Set(now.value.map((member) => `${member.pid}:${member.startTimeTicks}`));
  return known
    .filter((member) => !still.has(`${member.pid}:${member.startTimeTicks}`))
    .map((member) => ({ pid: member.pid, comm: member.comm, rssBytes: member.rssBytes, source: "gone" as const }));
}
