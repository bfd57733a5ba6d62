// What a daemon holds in its state directory before it touches anything: the directory's lock,
// the takeover ledger and the journal. Each refusal is one line, and the daemon's only output:
// a second daemon must not even append to the first one's journal.

import { FileJournal } from "./journal.js";
import { FileLedger } from "./file-ledger.js";
import { ledgerPathIn } from "./paths.js";
import { claimStateDir, type StateDirClaim } from "./state-dir-lock.js";

export interface DaemonState {
  /** "owned", or "absent" (no directory, none can be made: nothing can be recorded). */
  owner: Extract<StateDirClaim, { kind: "owned" | "absent" }>;
  ledger: FileLedger;
  /** The journal, or why there is none (the daemon then prints its records). */
  journal: { ok: true; file: FileJournal } | { ok: false; message: string };
}

/** `log` hears what the ledger's and the journal's opening found and did (a torn tail, a ledger moved aside). */
export function openDaemonState(stateDir: string, journalPath: string, log: (message: string) => void): { ok: true; state: DaemonState } | { ok: false; refusal: string } {
  const owner = claimStateDir(stateDir, "run");
  if (owner.kind === "held") {
    return {
      ok: false,
      refusal:
        owner.command === "restore"
          ? `the state directory ${stateDir} is in use by ${owner.holder}, which is giving back what a stopped daemon left; start again once it is done`
          : `the state directory ${stateDir} is in use by ${owner.holder}: one daemon per state directory; stop that one, or give this one another --state-dir`,
    };
  }
  if (owner.kind === "failed") return { ok: false, refusal: `${owner.message}; not starting` };
  const release = (): void => {
    if (owner.kind === "owned") owner.release();
  };
  // The originals of cgroups an earlier daemon left taken over: without them, nothing may start.
  const ledger = FileLedger.open(ledgerPathIn(stateDir), { onError: log, stillOwned: owner.kind === "owned" ? owner.stillOwned : undefined });
  if (!ledger.ok) {
    release();
    return { ok: false, refusal: `${ledger.error.message}; not starting, since the originals it may hold would be lost` };
  }
  const journal = FileJournal.open(journalPath, log);
  if (!journal.ok && journal.kind === "refused") {
    release();
    return { ok: false, refusal: `${journal.message}; not starting` };
  }
  return { ok: true, state: { owner, ledger: ledger.value, journal: journal.ok ? { ok: true, file: journal.journal } : { ok: false, message: journal.message } } };
}
