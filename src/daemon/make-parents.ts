// mkdir -p for the daemon's state files.

import { existsSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";

/** Mode of every directory created here: the state is its owner's alone (see private-state.ts). */
const PRIVATE_DIRECTORY_MODE = 0o700;

/**
 * Creates directory and its missing parents, one level at a time: Node 20's recursive mkdirSync
 * never returns for a path under /proc (mkdir there fails with ENOENT and it retries forever), and
 * a mistyped path must not hang the daemon.
 */
export function makeParents(directory: string): void {
  if (existsSync(directory)) return;
  const parent = dirname(directory);
  if (parent !== directory) makeParents(parent);
  mkdirSync(directory, PRIVATE_DIRECTORY_MODE);
}
