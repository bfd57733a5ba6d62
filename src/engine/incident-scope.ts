// What a scope of the engine (a managed memory cgroup on v1 or v2, its soft limit, the whole
// machine) tells the incident runner. The runner owns the path detect -> decide -> act -> confirm
// -> escalate; a scope only says what it sees and how it falls back.

import type { GrowthProjection } from "../core/process-growth.js";
import type { RankedSnapshot } from "../core/rank.js";
import type { Result } from "../core/result.js";
import type { Candidate, Snapshot } from "../core/types.js";
import type { Acted } from "./act-on-decision.js";
import type { KilledVictim } from "./confirm-kill.js";
import type { ProcessIdentity } from "../core/rank.js";
import type { VictimRule } from "../core/victim-rules.js";
import type { DecisionRecord, ScreeningRecord } from "./journal-record.js";
import type { ScopeProbe } from "./scope-probe.js";
import type { TerminatePlan } from "./terminate-grace.js";
import type { UnitPlan } from "./unit-kill.js";

/** What one decision is made from. */
export interface Observed {
  snapshot: Snapshot;
  /** The incident as the journal shows it. */
  incident: DecisionRecord["incident"];
  /** RAM + swap in pages, for oom_score_adj where the scope's own limit does not bound it. */
  totalMemoryPages: number;
  /** The processes' growth, where the scope follows it (ProcessGrowth): ranking then projects badness over its horizon. Absent: badness alone. */
  growth?: GrowthProjection;
  /** Processes a screening listing left out of the snapshot (src/core/screening.ts), for the journal. Absent: every process was read in full. */
  screening?: ScreeningRecord;
}

/** What the ranking takes besides the snapshot, the same for the decision and for a screening listing before it. */
export interface RankInputs {
  maxCandidates: number;
  aliveVictims: readonly ProcessIdentity[];
  killedElsewhere: readonly ProcessIdentity[];
  minInFlightBytes: number;
  rules: readonly VictimRule[];
}

/**
 * Trigger: what the scope found that calls for a decision (a memcg's kind of incident and the
 * sample that showed it; the machine guard's verdict and sample). Opaque to the runner.
 */
export interface IncidentScope<Trigger> {
  /** The scope's name in the journal and the log: a cgroup's path, or "/" for the machine. */
  readonly name: string;
  /** A rehearsal (machine-rehearsal.ts): every step up to the signal runs, and the signal is never sent. */
  readonly isRehearsal?: true;
  /** How the victim's progress and the scope's recovery are read for this trigger. */
  probe(trigger: Trigger): ScopeProbe;
  /**
   * Read afresh after a wait or a decision that did not end the incident: the trigger of the next
   * decision, or null when none is called for (the scope recovered, or another kill must wait).
   */
  recheck(previous: Trigger): Trigger | null;
  /** The snapshot a decision is made from; null when there is none (the scope has applied its own fallback). */
  observe(trigger: Trigger, ranking: RankInputs): Promise<Observed | null>;
  /** cgroup.kill of the whole scope, where there is such a thing. */
  killGroup?: () => Result<{ killedPids: number[] }>;
  /** A decision that killed nobody because nobody could be killed is journaled (false: already said). */
  journalsNothingDone?: () => boolean;
  /** A wait for a process in flight begins. */
  onWaiting?: (trigger: Trigger, atMs: number) => void;
  /** Right after our signal, before the confirmation. */
  onKilled?: (trigger: Trigger, killed: KilledVictim) => void;
  /** What goes with the victim (the machine guard's killUnit); null or absent: the process alone. */
  unitFor?: (observed: Observed, ranking: RankedSnapshot, victim: Candidate) => UnitPlan | null;
  /** SIGTERM and a grace before SIGKILL for this trigger (the machine's terminate level); null or absent: SIGKILL. */
  terminatePlan?: (trigger: Trigger) => TerminatePlan | null;
  /** After each decision's outcome (the scope's own accounting and fallbacks). */
  afterDecision?: (trigger: Trigger, observed: Observed, acted: Acted) => Promise<void>;
}
