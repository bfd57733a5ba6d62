// The kill itself: the best candidate whose pid still has the ranked start time gets SIGKILL through
// a pidfd; one that vanished or was reused is recorded as an exclusion and the next is tried.

import type { Candidate, Exclusion } from "../core/types.js";
import type { KilledVictim } from "./confirm-kill.js";
import type { Host } from "./host.js";

export function killFirstReachable(host: Host, candidates: Candidate[], excluded: Exclusion[]): KilledVictim | null {
  for (const candidate of candidates) {
    const opened = host.openVictim(candidate.pid, candidate.startTimeTicks);
    if (!opened.ok) {
      excluded.push({ pid: candidate.pid, comm: candidate.comm, reason: `not killed: ${opened.error.message}` });
      continue;
    }
    const sent = host.kill(opened.value);
    if (!sent.ok) {
      host.releaseVictim(opened.value);
      excluded.push({ pid: candidate.pid, comm: candidate.comm, reason: `SIGKILL failed: ${sent.error.message}` });
      continue;
    }
    return { handle: opened.value, candidate, killedAtMs: host.now() };
  }
  return null;
}
