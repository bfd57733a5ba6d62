// `oomwarden restore`: gives back the original oom_kill_disable (and soft-limit mode's original
// limit) of every cgroup a daemon took over and could not restore itself (it was killed by
// SIGKILL, or the machine lost power mid-way). Meant for systemd's ExecStopPost=, or by hand.
// Whether a daemon still owns these cgroups is the state directory's lock, not any pid: restore
// takes that lock itself, so it refuses while a daemon holds it, and no daemon starts mid-way.
// The giving back itself is the engine's (give-back.ts), the same a starting daemon does.

import { giveBack } from "../engine/give-back.js";
import { createLinuxHost } from "../host/linux/linux-host.js";
import { FileLedger } from "./file-ledger.js";
import { defaultStateDir, ledgerPathIn } from "./paths.js";
import { claimStateDir } from "./state-dir-lock.js";

/** What was done goes to `out`; what was not, and why, to `err`. */
export interface RestoreOutput {
  out: (line: string) => void;
  err: (line: string) => void;
}

export function runRestore(options: { stateDir: string | null }, output: RestoreOutput): number {
  const stateDir = options.stateDir ?? defaultStateDir();
  const owner = claimStateDir(stateDir, "restore");
  if (owner.kind === "held") {
    output.err(
      owner.command === "restore"
        ? `${owner.holder} is restoring from the state directory ${stateDir} now; nothing was done here`
        : `${owner.holder} holds the state directory ${stateDir}: it gives back itself what the ledger there lists (at start what it does not manage, the rest when it stops); stop it instead`,
    );
    return 1;
  }
  if (owner.kind === "failed") {
    output.err(`${owner.message}; nothing was restored`);
    return 1;
  }
  // "absent": no state directory, so no ledger either, and nobody can hold it.
  try {
    return restoreFrom(ledgerPathIn(stateDir), output);
  } finally {
    if (owner.kind === "owned") owner.release();
  }
}

function restoreFrom(path: string, output: RestoreOutput): number {
  let forgetFailures = 0;
  const read = FileLedger.readExisting(path, {
    onError: (message) => {
      forgetFailures++;
      output.err(message);
    },
  });
  if (!read.ok) {
    output.err(`${read.error.message}; nothing was restored: repair the file, or give the cgroups it lists their oom_kill_disable and memory limit back by hand and remove it`);
    return 1;
  }
  const ledger = read.value;
  const listed = ledger.listedPaths();
  if (listed.length === 0) {
    output.out(`nothing to restore (${path} lists no cgroup)`);
    return 0;
  }
  const problems = giveBack(createLinuxHost(), ledger, listed, (line) => (line.problem ? output.err : output.out)(line.message));
  return problems + forgetFailures > 0 ? 1 : 0;
}
