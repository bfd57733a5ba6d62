// What the engine lends each of its scopes: the host, the journal, the options, the ledger of
// original settings, decision ids, and the processes any scope has killed.

import type { EngineOptions } from "./engine-options.js";
import type { Host } from "./host.js";
import type { JournalSink } from "./journal-record.js";
import type { KernelVictims } from "./kernel-victims.js";
import type { KilledRegistry } from "./killed-registry.js";
import type { TakeoverLedger } from "./takeover-ledger.js";

export interface EngineContext {
  host: Host;
  journal: JournalSink;
  options: EngineOptions;
  /** Human-readable progress lines (the daemon prints them). */
  log: (message: string) => void;
  ledger: TakeoverLedger;
  nextDecisionId: () => number;
  /** Processes killed by any scope of this engine and not gone yet: never chosen again anywhere. */
  killed: KilledRegistry;
  /** Processes the kernel's OOM killer took lately (its kill records): outcomes name the kernel's hand. */
  kernelVictims: KernelVictims;
}
