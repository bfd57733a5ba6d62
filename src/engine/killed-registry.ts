// Every process this engine has killed, in any scope, until it is gone. A machine guard decision
// must not choose a victim a managed cgroup killed a moment ago and is still watching (and the
// other way round): it would be journaled as a second kill of a process already dying.
// Entries are dropped lazily, when a read shows the pid gone or reused: no descriptor is kept.

import type { ProcessIdentity } from "../core/rank.js";
import type { Host } from "./host.js";

export class KilledRegistry {
  private readonly entries = new Map<number, ProcessIdentity>();

  constructor(private readonly host: Host) {}

  add(identity: ProcessIdentity): void {
    this.entries.set(identity.pid, { pid: identity.pid, startTimeTicks: identity.startTimeTicks });
  }

  /** A process signalled that is to be treated as any other again (it survived SIGTERM on a machine that recovered). */
  forget(identity: ProcessIdentity): void {
    const entry = this.entries.get(identity.pid);
    if (entry !== undefined && entry.startTimeTicks === identity.startTimeTicks) this.entries.delete(identity.pid);
  }

  /** The killed processes still there (zombies included: the ranking excludes those anyway). */
  identities(): ProcessIdentity[] {
    const alive: ProcessIdentity[] = [];
    for (const [pid, identity] of this.entries) {
      const now = this.host.readProcess(pid);
      if (now.ok && now.value.startTimeTicks === identity.startTimeTicks) alive.push(identity);
      else this.entries.delete(pid);
    }
    return alive;
  }
}
