// memory.oom.group of a process's cgroup and its ancestors, asked for by every decision between
// choosing its victim and signalling it (the kernel takes the whole of the topmost such cgroup,
// and so do we). Read as a cgroup's whole sample, by path, after checking the path, those ancestors
// cost a decision in the emulated test guest a third of its time to the signal (40-60 ms of
// 140). So each file stays open and is read again with pread: one small read a level. A cgroup
// removed since leaves its fd reading ENODEV; KeptFile then reads by path once, which finds the
// cgroup made anew under that name, or nothing.

import { fail, ok, type Result } from "../../core/result.js";
import { cgroupDirectory } from "./cgroup-paths.js";
import { V2 } from "./control-files.js";
import { KeptFile } from "./kept-file.js";
import { isVanishedCode, type LinuxFs } from "./linux-fs.js";
import { parseFlag } from "./parse-cgroup.js";

/** Files kept at most: a machine's units and their slices. Past it the cache starts again empty. */
export const MAX_KEPT_OOM_GROUP_FILES = 256;
/**
 * A cgroup without the file (the v2 root, or one whose parent does not give it the memory
 * controller) says "not set" for this long before the file is looked for again: enabling the
 * controller later makes it appear.
 */
export const ABSENT_RECHECK_MS = 60_000;

type Entry = { kind: "kept"; file: KeptFile } | { kind: "absent"; sinceMs: number };

export class OomGroupReader {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly mount: { mountPoint: string; root: string },
    private readonly fs: LinuxFs,
    private readonly now: () => number,
  ) {}

  /** Whether memory.oom.group is set on `cgroup` ("/"-rooted, as /proc/PID/cgroup names it); ENOENT when there is no such cgroup. */
  read(cgroup: string): Result<boolean> {
    const cached = this.entries.get(cgroup);
    if (cached?.kind === "absent" && this.now() - cached.sinceMs < ABSENT_RECHECK_MS) return ok(false);
    const directory = cgroupDirectory(cgroup, this.mount.mountPoint, this.mount.root);
    if (directory === null) return fail("ENOENT", `cgroup ${cgroup} is not visible under ${this.mount.mountPoint}`);
    let entry = cached?.kind === "kept" ? cached : null;
    if (entry === null) {
      if (this.entries.size >= MAX_KEPT_OOM_GROUP_FILES) this.clear();
      entry = { kind: "kept", file: new KeptFile(`${directory}/${V2.oomGroup}`, this.fs) };
      this.entries.set(cgroup, entry);
    }
    const text = entry.file.read();
    if (text.ok) return parseFlag(text.value);
    entry.file.close();
    this.entries.delete(cgroup);
    if (!isVanishedCode(text.error.code)) return fail(text.error.code, `cannot read ${entry.file.path}: ${text.error.message}`);
    if (!this.fs.kind(directory).ok) return fail("ENOENT", `cgroup ${cgroup} no longer exists`);
    this.entries.set(cgroup, { kind: "absent", sinceMs: this.now() });
    return ok(false);
  }

  clear(): void {
    for (const entry of this.entries.values()) if (entry.kind === "kept") entry.file.close();
    this.entries.clear();
  }
}
