// Where the daemon keeps its state (journal, takeover ledger, owner record) when the config does not say.

import { homedir } from "node:os";
import { join } from "node:path";

export function defaultStateDir(env: NodeJS.ProcessEnv = process.env, uid: number = process.getuid?.() ?? 0): string {
  if (env.STATE_DIRECTORY) return env.STATE_DIRECTORY.split(":")[0] ?? env.STATE_DIRECTORY; // systemd StateDirectory=
  if (uid === 0) return "/var/lib/oomwarden";
  return join(env.XDG_STATE_HOME ?? join(homedir(), ".local", "state"), "oomwarden");
}

export function journalPathIn(stateDir: string): string {
  return join(stateDir, "journal.jsonl");
}

export function ledgerPathIn(stateDir: string): string {
  return join(stateDir, "takeover.json");
}

/** Who holds the state directory's lock (the lock is on the directory itself): for messages only. */
export function ownerPathIn(stateDir: string): string {
  return join(stateDir, "owner.lock");
}
