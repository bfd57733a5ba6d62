// The journal's record of a kill by the kernel's own OOM killer (v2 cannot turn it off; the global
// one never can), with its victim named: every kill must be explainable afterwards, the kernel's
// too. The kernel log names it where it can be read; otherwise the scope's processes do: one found
// exiting (SIGKILL pending, or in exit) right after the kill, or one listed before and gone now.

import type { Result } from "../core/result.js";
import type { ProcessSample } from "../core/types.js";
import type { EngineContext } from "./engine-context.js";
import type { KernelOomKill } from "./host.js";
import type { KernelVictimRecord } from "./journal-record.js";

/** A member of the cgroup as last listed. */
export interface KnownMember {
  pid: number;
  comm: string;
  startTimeTicks: number;
  rssBytes: number;
}

/** Where the kernel killed: a managed cgroup, or the whole machine. */
export interface KernelKillScope {
  /** The journal's name for it: the cgroup's path, or "/". */
  name: string;
  /** The kernel log's kills there since last asked (an error where it cannot be read). */
  logged: () => Result<KernelOomKill[]>;
  /** Its processes now (a cgroup's members, or every process of the machine). */
  members: () => Result<ProcessSample[]>;
  /** Where it happened, in the note: "in this cgroup", "on the machine". */
  where: string;
  /** What follows from it, in the note. */
  consequence: string;
}

export function journalKernelKills(ctx: Pick<EngineContext, "journal" | "log" | "kernelVictims">, scope: KernelKillScope, oomKills: number, known: readonly KnownMember[]): KernelVictimRecord[] {
  const victims = nameVictims(scope, known);
  ctx.kernelVictims.record(victims.map((v) => v.pid));
  const list = victims.map((v) => `${v.comm}[${v.pid}]`).join(", ");
  // Processes gone since they were last listed may include some that simply exited: then the
  // victims are among them, not all of them.
  const uncertain = victims.length > oomKills && victims.every((v) => v.source === "gone");
  const named = victims.length === 0 ? "a victim that could not be named" : uncertain ? `one or more of ${list} (gone since last listed)` : list;
  ctx.journal.append({
    type: "kernel-kill",
    cgroup: scope.name,
    oomKills,
    victims,
    note: `oom_kill rose by ${oomKills}: the kernel's OOM killer killed ${named} ${scope.where}; ${scope.consequence}`,
  });
  ctx.log(`${scope.name}: the kernel's OOM killer killed ${named}`);
  return victims;
}

function nameVictims(scope: KernelKillScope, known: readonly KnownMember[]): KernelVictimRecord[] {
  const logged = scope.logged();
  if (logged.ok && logged.value.length > 0) {
    return logged.value.map((kill) => ({ pid: kill.pid, comm: kill.comm, rssBytes: kill.rssBytes, source: "kernel log" as const }));
  }
  const now = scope.members();
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
