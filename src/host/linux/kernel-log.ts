// The kernel log, read for its OOM kills: the kernel's victims on v2 (whose killer cannot be
// turned off) are named in the journal from here. /dev/kmsg gives one record per read; opened
// non-blocking, what was logged before it was opened is skipped, so only kills from then on count.
// A regular file (fixture tests) is read the same way, line by line.

import { constants as fsConstants, openSync, readSync } from "node:fs";
import { fail, ok, type Result } from "../../core/result.js";
import type { KernelOomKill } from "../../engine/host.js";
import { emptyKmsgState, inSubtree, kmsgMessage, readKmsgMessage } from "./parse-kmsg.js";

export const KMSG_PATH = "/dev/kmsg";
/** A record is at most about 1 KiB of text (LOG_LINE_MAX) plus its dictionary. */
const RECORD_BUFFER_BYTES = 8192;
/** Kills kept for the cgroups that have not asked yet: far more than one incident produces. */
const KEPT_KILLS = 256;
/** Cgroup paths start with "/": this key cannot be one. */
const GLOBAL_CURSOR = "global";

interface SeenKill {
  seq: number;
  kill: KernelOomKill;
}

export class KernelLog {
  private fd: number | null = null;
  private openError: string | null = null;
  private readonly state = emptyKmsgState();
  private readonly kills: SeenKill[] = [];
  private seq = 0;
  /** Per cgroup (relative path): the last kill it was given. */
  private readonly cursors = new Map<string, number>();
  private readonly buffer = Buffer.alloc(RECORD_BUFFER_BYTES);
  private pending = "";

  constructor(private readonly path: string = KMSG_PATH) {}

  /** Opens the log and skips what it holds already; later calls do nothing. */
  prime(): Result<void> {
    if (this.fd !== null) return ok(undefined);
    if (this.openError !== null) return fail("EKMSG", this.openError);
    try {
      this.fd = openSync(this.path, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
    } catch (error) {
      this.openError = `cannot read the kernel log ${this.path} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}): the kernel's victims are named from the processes that vanished instead`;
      return fail("EKMSG", this.openError);
    }
    this.drain(false);
    return ok(undefined);
  }

  /** The kernel's memcg OOM kills in `relative` (the cgroup's path below the cgroup2 mount) or below it, since this cgroup last asked. */
  killsIn(relative: string): Result<KernelOomKill[]> {
    return this.since(relative, (kill) => !kill.global && inSubtree(kill.taskCgroup, relative));
  }

  /** The global OOM killer's kills (the machine ran out), since the last ask. */
  globalKills(): Result<KernelOomKill[]> {
    return this.since(GLOBAL_CURSOR, (kill) => kill.global);
  }

  private since(cursor: string, wanted: (kill: KernelOomKill) => boolean): Result<KernelOomKill[]> {
    const primed = this.prime();
    if (!primed.ok) return primed;
    this.drain(true);
    const after = this.cursors.get(cursor) ?? 0;
    this.cursors.set(cursor, this.seq);
    return ok(this.kills.filter((seen) => seen.seq > after && wanted(seen.kill)).map((seen) => seen.kill));
  }

  /** Reads every record there is now; keeps the kills only when asked to. */
  private drain(keep: boolean): void {
    if (this.fd === null) return;
    for (;;) {
      let read: number;
      try {
        read = readSync(this.fd, this.buffer, 0, this.buffer.length, null);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        // EPIPE: records were overwritten before we read them; the next read goes on from the oldest left.
        if (code === "EPIPE") continue;
        return; // EAGAIN: nothing more for now (and any other error: try again at the next call)
      }
      if (read === 0) return;
      this.take(this.buffer.toString("utf8", 0, read), keep);
    }
  }

  private take(text: string, keep: boolean): void {
    const lines = (this.pending + text).split("\n");
    this.pending = lines.pop() ?? "";
    for (const line of lines) {
      const message = kmsgMessage(line);
      if (message === null) continue;
      const kill = readKmsgMessage(this.state, message);
      if (kill === null || !keep) continue;
      this.kills.push({ seq: ++this.seq, kill });
      if (this.kills.length > KEPT_KILLS) this.kills.shift();
    }
  }
}
