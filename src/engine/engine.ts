// The engine: the set of managed cgroups over one Host, and the way back to the kernel's defaults on stop.

import type { Result } from "../core/result.js";
import { DEFAULT_ENGINE_OPTIONS, type EngineOptions } from "./engine-options.js";
import type { Host } from "./host.js";
import type { JournalSink } from "./journal-record.js";
import { ManagedCgroup } from "./managed-cgroup.js";
import { InMemoryLedger, type TakeoverLedger } from "./takeover-ledger.js";

/** Rounds of the decision path run before the first OOM (about 5 ms in all here). */
const WARM_UP_ROUNDS_FIRST = 20;

export interface EngineServices {
  /** Human-readable progress lines. */
  log?: (message: string) => void;
  /** Where original kernel settings are written down before they are changed (default: in memory). */
  ledger?: TakeoverLedger;
}

export interface StopReport {
  restored: string[];
  failed: { cgroup: string; message: string }[];
}

export class Engine {
  private readonly managed = new Map<string, ManagedCgroup>();
  private decisionCounter = 0;
  private warmedUp = false;
  readonly options: EngineOptions;

  private readonly log: (message: string) => void;
  private readonly ledger: TakeoverLedger;

  constructor(
    private readonly host: Host,
    private readonly journal: JournalSink,
    options: Partial<EngineOptions> = {},
    services: EngineServices = {},
  ) {
    this.options = { ...DEFAULT_ENGINE_OPTIONS, ...options };
    this.log = services.log ?? (() => {});
    this.ledger = services.ledger ?? new InMemoryLedger();
  }

  /** Starts managing one cgroup. A bad path is an error for that path only; the others keep being managed. */
  manage(path: string): Result<{ cgroup: string; notes: string[] }> {
    const ref = this.host.resolveCgroup(path);
    if (!ref.ok) {
      this.journal.append({ type: "error", cgroup: path, message: ref.error.message });
      return ref;
    }
    if (this.managed.has(ref.value.path)) {
      return { ok: true, value: { cgroup: ref.value.path, notes: ["already managed"] } };
    }
    const cgroup = new ManagedCgroup(ref.value, {
      host: this.host,
      journal: this.journal,
      options: this.options,
      log: this.log,
      ledger: this.ledger,
      nextDecisionId: () => ++this.decisionCounter,
    });
    // Compiled code is shared by every cgroup: warm thoroughly once, then a single round each.
    const started = cgroup.start(this.managed.size === 0 && !this.warmedUp ? WARM_UP_ROUNDS_FIRST : 1);
    this.warmedUp = true;
    if (!started.ok) {
      // start() undoes what it did; stop() tries once more, in case that undo failed too.
      cgroup.stop();
      this.journal.append({ type: "error", cgroup: ref.value.path, message: started.error.message });
      return started;
    }
    this.managed.set(ref.value.path, cgroup);
    this.journal.append({
      type: "manage",
      cgroup: ref.value.path,
      message: `managing cgroup v${ref.value.version} memory cgroup`,
      notes: started.value.notes,
    });
    return { ok: true, value: { cgroup: ref.value.path, notes: started.value.notes } };
  }

  managedPaths(): string[] {
    return [...this.managed.keys()];
  }

  /** Resolves once every incident in progress has finished (tests, orderly shutdown). */
  async whenIdle(): Promise<void> {
    await Promise.all([...this.managed.values()].map((m) => m.whenIdle()));
  }

  /** Stops every watch and restores the kernel OOM killer where we changed it. Never throws. */
  stop(): StopReport {
    const report: StopReport = { restored: [], failed: [] };
    for (const [path, cgroup] of this.managed) {
      const stopped = cgroup.stop();
      if (stopped.ok) {
        report.restored.push(path);
        this.journal.append({ type: "release", cgroup: path, message: "released: kernel OOM settings restored" });
      } else {
        report.failed.push({ cgroup: path, message: stopped.error.message });
        this.journal.append({ type: "error", cgroup: path, message: `restore failed: ${stopped.error.message}` });
      }
    }
    this.managed.clear();
    return report;
  }
}
