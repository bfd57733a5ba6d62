// Where the daemon keeps its state when the config does not say.

import { homedir } from "node:os";
import { join } from "node:path";

export function defaultJournalPath(env: NodeJS.ProcessEnv = process.env, uid: number = process.getuid?.() ?? 0): string {
  if (env.STATE_DIRECTORY) return join(env.STATE_DIRECTORY.split(":")[0] ?? env.STATE_DIRECTORY, "journal.jsonl"); // systemd StateDirectory=
  if (uid === 0) return "/var/lib/oomwarden/journal.jsonl";
  return join(env.XDG_STATE_HOME ?? join(homedir(), ".local", "state"), "oomwarden", "journal.jsonl");
}
