// What an earlier daemon of this state directory left taken over (it was killed) in cgroups this
// daemon does not manage: nobody handles their OOMs while their kernel killer stays off, and
// `oomwarden restore` refuses while this daemon holds the directory. So the daemon gives them back
// itself: at start, and at stop again for any a conflict held back at start.

import { giveBack } from "../engine/give-back.js";
import type { Host } from "../engine/host.js";
import type { JournalSink } from "../engine/journal-record.js";
import type { TakeoverLedger } from "../engine/takeover-ledger.js";

export function giveBackLeftovers(host: Host, ledger: TakeoverLedger, journal: JournalSink, log: (message: string) => void, keep: readonly string[]): void {
  const leftovers = ledger.listedPaths().filter((path) => !keep.includes(path));
  if (leftovers.length === 0) return;
  giveBack(host, ledger, leftovers, (line) => {
    const message = `left taken over by an earlier oomwarden, not managed by this one: ${line.message}`;
    log(message);
    journal.append({ type: line.problem ? "error" : "release", cgroup: line.cgroup, message });
  });
}
