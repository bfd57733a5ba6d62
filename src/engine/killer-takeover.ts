// cgroup v1: the kernel's memcg OOM killer turned off (oom_kill_disable 1) while oomwarden manages
// the cgroup, the original written down first.

import type { Result } from "../core/result.js";
import type { CgroupTakeover } from "./cgroup-takeover.js";
import type { CgroupRef, Host, OomTakeover } from "./host.js";
import type { LedgerKey, TakeoverLedger } from "./takeover-ledger.js";

export class KillerTakeover implements CgroupTakeover {
  private takeover: OomTakeover | null = null;

  constructor(
    private readonly ref: CgroupRef,
    private readonly host: Host,
    private readonly ledger: TakeoverLedger,
    /** null: the cgroup cannot be told from one made later at its path; `unrecordable` says why. */
    private readonly key: LedgerKey | null,
    private readonly unrecordable: string,
  ) {}

  /**
   * Disables the kernel killer, the original value written down first. A cgroup found at
   * oom_kill_disable 1 that the ledger says an earlier oomwarden changed from 0 (and never
   * restored: it was killed) is given back 0 when we stop.
   */
  start(): Result<{ notes: string[] }> {
    const current = this.host.readCgroup(this.ref);
    if (!current.ok) return current;
    const key = this.key;
    const recalled = key === null ? null : this.ledger.recall(key);
    if (!current.value.oomKillDisabled) {
      // Nothing changes before the original is on disk: a daemon killed after the change and before
      // a lost write would leave the kernel killer off for good, with nothing to restore it.
      if (key === null) return { ok: false, error: { code: "LEDGER", message: `not taking over: ${this.unrecordable}` } };
      const recorded = this.ledger.remember(key, false);
      if (!recorded.ok) {
        return { ok: false, error: { code: "LEDGER", message: `not taking over: the original oom_kill_disable could not be recorded (${recorded.error.message})` } };
      }
    }
    const taken = this.host.takeOverOom(this.ref);
    if (!taken.ok) {
      if (recalled === null) this.ledger.forget(this.ref.path);
      return taken;
    }
    this.takeover = taken.value;
    if (taken.value.previousOomKillDisable === null && recalled === false) {
      this.takeover = {
        previousOomKillDisable: false,
        notes: ["oom_kill_disable was 1 only because an earlier oomwarden stopped without restoring it; it goes back to 0 when oomwarden stops"],
      };
    }
    return { ok: true, value: { notes: this.takeover.notes } };
  }

  giveBack(): Result<void> {
    if (this.takeover === null) return { ok: true, value: undefined };
    const restored = this.host.restoreOom(this.ref, this.takeover);
    if (restored.ok) {
      this.takeover = null;
      this.ledger.forget(this.ref.path);
    }
    return restored;
  }

  abandon(): void {
    this.takeover = null;
  }
}
