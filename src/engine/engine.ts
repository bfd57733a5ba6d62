// The engine: the set of managed cgroups over one Host, and the way back to the kernel's defaults on stop.

import type { Result } from "../core/result.js";
import { resolveEngineOptions, type EngineOptions, type EngineOptionsInput } from "./engine-options.js";
import type { Host, Unclaim } from "./host.js";
import type { JournalSink } from "./journal-record.js";
import { KernelVictims } from "./kernel-victims.js";
import { KilledRegistry } from "./killed-registry.js";
import type { EngineContext } from "./engine-context.js";
import { MachineGuard, MACHINE_SCOPE } from "./machine-guard.js";
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
  /** Found removed at stop (perhaps made again at the same path): nothing written, and said already. */
  removed: string[];
  failed: { cgroup: string; message: string }[];
}

export class Engine {
  private readonly managed = new Map<string, ManagedCgroup>();
  /** Each managed cgroup's claim, held from before its takeover until after its restore. */
  private readonly claims = new Map<string, Unclaim>();
  private decisionCounter = 0;
  private warmedUp = false;
  private machineGuard: MachineGuard | null = null;
  private readonly killed: KilledRegistry;
  private readonly kernelVictims = new KernelVictims();
  readonly options: EngineOptions;

  private readonly log: (message: string) => void;
  private readonly ledger: TakeoverLedger;

  constructor(
    private readonly host: Host,
    private readonly journal: JournalSink,
    options: EngineOptionsInput = {},
    services: EngineServices = {},
  ) {
    this.options = resolveEngineOptions(options);
    this.log = services.log ?? (() => {});
    this.ledger = services.ledger ?? new InMemoryLedger();
    this.killed = new KilledRegistry(host);
  }

  /**
   * Starts managing one cgroup. A bad path is an error for that path only; the others keep being
   * managed. logicalLimitBytes: on v2, the limit its guard band keeps it below when it has no
   * memory.max of its own.
   */
  manage(path: string, logicalLimitBytes: number | null = null): Result<{ cgroup: string; notes: string[] }> {
    const ref = this.host.resolveCgroup(path);
    if (!ref.ok) {
      this.journal.append({ type: "error", cgroup: path, message: ref.error.message });
      return ref;
    }
    if (this.managed.has(ref.value.path)) {
      return { ok: true, value: { cgroup: ref.value.path, notes: ["already managed"] } };
    }
    // Claimed before anything is changed: a second daemon must not even read the original
    // oom_kill_disable, since the first one has already set it.
    const claim = this.host.claimCgroup(ref.value);
    if (!claim.ok) {
      this.journal.append({ type: "error", cgroup: ref.value.path, message: claim.error.message });
      return claim;
    }
    const cgroup = new ManagedCgroup(ref.value, this.context(), () => this.forgetRemoved(ref.value.path), logicalLimitBytes);
    // Compiled code is shared by every cgroup: warm thoroughly once, then a single round each.
    const started = cgroup.start(this.managed.size === 0 && !this.warmedUp ? WARM_UP_ROUNDS_FIRST : 1);
    this.warmedUp = true;
    if (!started.ok) {
      // start() undoes what it did; stop() tries once more, in case that undo failed too.
      cgroup.stop();
      claim.value();
      this.journal.append({ type: "error", cgroup: ref.value.path, message: started.error.message });
      return started;
    }
    this.managed.set(ref.value.path, cgroup);
    this.claims.set(ref.value.path, claim.value);
    this.journal.append({
      type: "manage",
      cgroup: ref.value.path,
      message: `managing cgroup v${ref.value.version} memory cgroup`,
      notes: started.value.notes,
    });
    return { ok: true, value: { cgroup: ref.value.path, notes: started.value.notes } };
  }

  /** A managed cgroup found removed has let itself go: it is no longer managed, and its claim is given up. */
  private forgetRemoved(path: string): void {
    this.managed.delete(path);
    this.claims.get(path)?.();
    this.claims.delete(path);
  }

  /**
   * Starts whole-machine protection (low memory, watermark starvation, memory pressure). The
   * kernel's global OOM killer stays enabled: it cannot be turned off, and it is the last resort.
   */
  guardMachine(): Result<{ notes: string[] }> {
    if (this.machineGuard !== null) return { ok: true, value: { notes: ["already guarding the machine"] } };
    const guard = new MachineGuard(this.context());
    const started = guard.start();
    if (!started.ok) {
      this.journal.append({ type: "error", cgroup: MACHINE_SCOPE, message: `machine guard: ${started.error.message}` });
      return started;
    }
    this.machineGuard = guard;
    this.journal.append({ type: "manage", cgroup: MACHINE_SCOPE, message: "guarding the whole machine", notes: started.value.notes });
    return started;
  }

  private context(): EngineContext {
    return {
      host: this.host,
      journal: this.journal,
      options: this.options,
      log: this.log,
      ledger: this.ledger,
      nextDecisionId: () => ++this.decisionCounter,
      killed: this.killed,
      kernelVictims: this.kernelVictims,
    };
  }

  managedPaths(): string[] {
    return [...this.managed.keys()];
  }

  /** Resolves once every incident in progress has finished (tests, orderly shutdown). */
  async whenIdle(): Promise<void> {
    await Promise.all([...[...this.managed.values()].map((m) => m.whenIdle()), this.machineGuard?.whenIdle()]);
  }

  /** Stops every watch and restores the kernel OOM killer where we changed it. Never throws. */
  stop(): StopReport {
    const report: StopReport = { restored: [], removed: [], failed: [] };
    if (this.machineGuard !== null) {
      this.machineGuard.stop();
      this.machineGuard = null;
      this.journal.append({ type: "release", cgroup: MACHINE_SCOPE, message: "stopped guarding the machine" });
    }
    for (const [path, cgroup] of this.managed) {
      const stopped = cgroup.stop();
      if (stopped.ok && stopped.value === "removed") {
        report.removed.push(path);
      } else if (stopped.ok) {
        report.restored.push(path);
        this.journal.append({ type: "release", cgroup: path, message: "released: kernel OOM settings restored" });
      } else {
        report.failed.push({ cgroup: path, message: stopped.error.message });
        this.journal.append({ type: "error", cgroup: path, message: `restore failed: ${stopped.error.message}` });
      }
      // Only once the settings are back: a daemon starting now must find the original values.
      this.claims.get(path)?.();
    }
    this.managed.clear();
    this.claims.clear();
    return report;
  }
}
