// The takeover ledger as a small JSON file in the state directory, replaced atomically and synced,
// so the original oom_kill_disable values survive a daemon killed by SIGKILL.

import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import type { Result } from "../core/result.js";
import type { TakeoverLedger } from "../engine/takeover-ledger.js";
import { makeParents } from "./make-parents.js";

const OK: Result<void> = { ok: true, value: undefined };

interface LedgerFile {
  version: 1;
  /** The daemon that wrote it last: `oomwarden restore` leaves a running daemon's cgroups alone. */
  ownerPid: number;
  /** cgroup path -> original oom_kill_disable. */
  cgroups: Record<string, boolean>;
  /** Soft-limit mode: cgroup path -> original hard limit in bytes (null: none). Absent in files of older versions. */
  limits?: Record<string, number | null>;
}

export class FileLedger implements TakeoverLedger {
  private entries: Record<string, boolean>;
  private limits: Record<string, number | null>;
  /** The pid that wrote the file last (null: no file yet). */
  readonly ownerPid: number | null;

  constructor(
    readonly path: string,
    private readonly onError: (message: string) => void = () => {},
  ) {
    const read = readLedger(path, onError);
    this.entries = read.cgroups;
    this.limits = read.limits;
    this.ownerPid = read.ownerPid;
  }

  recall(cgroupPath: string): boolean | null {
    return this.entries[cgroupPath] ?? null;
  }

  remember(cgroupPath: string, originalOomKillDisable: boolean): Result<void> {
    if (this.entries[cgroupPath] === originalOomKillDisable) return OK;
    const before = this.entries;
    this.entries = { ...this.entries, [cgroupPath]: originalOomKillDisable };
    const saved = this.save();
    if (!saved.ok) this.entries = before;
    return saved;
  }

  forget(cgroupPath: string): void {
    if (!(cgroupPath in this.entries)) return;
    const { [cgroupPath]: _gone, ...rest } = this.entries;
    this.entries = rest;
    this.save();
  }

  all(): Record<string, boolean> {
    return { ...this.entries };
  }

  recallLimit(cgroupPath: string): number | null | undefined {
    return cgroupPath in this.limits ? this.limits[cgroupPath] : undefined;
  }

  rememberLimit(cgroupPath: string, originalLimitBytes: number | null): Result<void> {
    if (this.limits[cgroupPath] === originalLimitBytes) return OK;
    const before = this.limits;
    this.limits = { ...this.limits, [cgroupPath]: originalLimitBytes };
    const saved = this.save();
    if (!saved.ok) this.limits = before;
    return saved;
  }

  forgetLimit(cgroupPath: string): void {
    if (!(cgroupPath in this.limits)) return;
    const { [cgroupPath]: _gone, ...rest } = this.limits;
    this.limits = rest;
    this.save();
  }

  allLimits(): Record<string, number | null> {
    return { ...this.limits };
  }

  private save(): Result<void> {
    const data: LedgerFile = { version: 1, ownerPid: process.pid, cgroups: this.entries, limits: this.limits };
    const temporary = `${this.path}.${process.pid}.tmp`;
    try {
      makeParents(dirname(this.path));
      const fd = openSync(temporary, "w", 0o600);
      try {
        writeSync(fd, `${JSON.stringify(data, null, 2)}\n`);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(temporary, this.path);
      return OK;
    } catch (error) {
      const message = `cannot write the takeover ledger ${this.path}: ${(error as Error).message}`;
      this.onError(message);
      return { ok: false, error: { code: "LEDGER", message } };
    }
  }
}

interface LedgerContents {
  cgroups: Record<string, boolean>;
  limits: Record<string, number | null>;
  ownerPid: number | null;
}

function readLedger(path: string, onError: (message: string) => void): LedgerContents {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") onError(`cannot read the takeover ledger ${path}: ${(error as Error).message}`);
    return { cgroups: {}, limits: {}, ownerPid: null };
  }
  try {
    const parsed = JSON.parse(text) as Partial<LedgerFile>;
    const cgroups = Object.fromEntries(
      Object.entries(parsed.cgroups ?? {}).filter((entry): entry is [string, boolean] => typeof entry[1] === "boolean"),
    );
    const limits = Object.fromEntries(
      Object.entries(parsed.limits ?? {}).filter(
        (entry): entry is [string, number | null] => entry[1] === null || (typeof entry[1] === "number" && Number.isSafeInteger(entry[1]) && entry[1] >= 0),
      ),
    );
    return { cgroups, limits, ownerPid: typeof parsed.ownerPid === "number" ? parsed.ownerPid : null };
  } catch (error) {
    onError(`the takeover ledger ${path} is not valid JSON (${(error as Error).message}); starting a new one`);
    return { cgroups: {}, limits: {}, ownerPid: null };
  }
}
