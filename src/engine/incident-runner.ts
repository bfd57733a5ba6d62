// The one path from an incident to its end, for every scope: patience for an earlier victim still
// dying, then decisions (snapshot -> policy -> act -> confirm) until one resolves the incident,
// a stalled victim leading to the next and a victim gone with the scope still out of memory to a
// fresh decision. One incident at a time per scope: what arrives meanwhile is absorbed, counted in
// the next outcome record, and looked at again once the incident is over.

import { decide } from "../core/decide.js";
import type { Candidate } from "../core/types.js";
import { actOnDecision, type ActScope, type DecisionBase } from "./act-on-decision.js";
import { AliveVictims } from "./alive-victims.js";
import type { EngineContext } from "./engine-context.js";
import type { IncidentScope, RankInputs } from "./incident-scope.js";
import type { DecidedRecord } from "./journal-record.js";

export class IncidentRunner<Trigger> {
  /** Victims this scope killed (or waited for) that are still alive: excluded from every later ranking. */
  readonly victims: AliveVictims;
  private running = false;
  private absorbed = 0;
  /** Part of `absorbed` already reported by an earlier decision of the same incident. */
  private absorbedReported = 0;
  /** When the first notification absorbed by the running incident arrived. */
  private firstAbsorbedAtMs: number | null = null;
  /** Resolves when the current incident (if any) is over; lets tests and shutdown wait. */
  private idle: Promise<void> = Promise.resolve();

  constructor(
    private readonly ctx: EngineContext,
    private readonly scope: IncidentScope<Trigger>,
    private readonly isStopped: () => boolean,
  ) {
    this.victims = new AliveVictims(ctx.host);
  }

  /** An incident is being handled right now. */
  get busy(): boolean {
    return this.running;
  }

  whenIdle(): Promise<void> {
    return this.idle;
  }

  /** A notification while an incident runs: that incident absorbs it. false: nothing runs, the caller handles it. */
  absorb(atMs: number): boolean {
    if (!this.running) return false;
    this.absorbed++;
    this.firstAbsorbedAtMs ??= atMs;
    return true;
  }

  /**
   * Runs `work` (which detects, then calls run()) as this scope's one incident. A failure is
   * journaled. `done` gets when the first notification absorbed meanwhile arrived (null: none),
   * so the scope can look again. racing: memory runs out within moments (Host.beginUrgentWork).
   */
  begin(work: () => Promise<void>, failure: string, done: (absorbedAtMs: number | null) => void, racing = false): void {
    this.running = true;
    // From the detection to the incident's end, ahead of the workload; at the daemon's usual priority between incidents.
    const release = this.ctx.host.beginUrgentWork(racing);
    this.idle = work()
      .catch((error: unknown) => {
        this.ctx.journal.append({ type: "error", cgroup: this.scope.name, message: `${failure}: ${String(error)}` });
        this.ctx.log(`${this.scope.name}: ${failure}: ${String(error)}`);
      })
      .finally(() => {
        release();
        this.running = false;
        this.absorbedReported = 0;
        const absorbedAtMs = this.absorbed > 0 ? this.firstAbsorbedAtMs : null;
        this.absorbed = 0;
        this.firstAbsorbedAtMs = null;
        done(absorbedAtMs);
      });
  }

  /** One incident, from the trigger that detected it, timed from notifiedAtMs. */
  async run(detected: Trigger, firstNotifiedAtMs: number): Promise<void> {
    const { host, options } = this.ctx;
    let trigger: Trigger | null = detected;
    let notifiedAtMs = firstNotifiedAtMs;
    if (this.victims.size > 0) {
      // An earlier victim still dying gets the tracker's patience before anyone else dies.
      const waited = await this.victims.waitForLatest(this.scope.probe(detected), options, this.isStopped);
      if (waited === "recovered" || this.isStopped()) return;
      trigger = this.scope.recheck(detected);
    }
    let escalatedFrom: number | null = null;
    // Each pass is one decision; only a stalled victim, or a scope still out of memory after its victim left, leads to another.
    while (trigger !== null && !this.isStopped()) {
      const record = await this.decideOnce(trigger, notifiedAtMs, escalatedFrom);
      if (record === null) return;
      if (record.outcome.result === "escalated") {
        escalatedFrom = record.decisionId;
      } else if (record.outcome.result === "exited-still-oom") {
        // A new incident, found by our own observation rather than a notification: timed from it.
        escalatedFrom = null;
        notifiedAtMs = host.now();
      } else {
        return;
      }
      trigger = this.scope.recheck(trigger);
    }
  }

  private async decideOnce(trigger: Trigger, notifiedAtMs: number, escalatedFrom: number | null): Promise<DecidedRecord | null> {
    const { host, options } = this.ctx;
    if (escalatedFrom !== null) this.ctx.log(`${this.scope.name}: decision ${escalatedFrom} stalled; choosing the next victim`);
    const snapshotStartMs = host.now();
    const usageAtSnapshot = host.selfUsage();
    const givenBackMsAtSnapshot = host.cpuGivenBackMs();
    const scheduleAtSnapshot = host.mainThreadSchedule();
    const ranking: RankInputs = {
      maxCandidates: options.journalCandidates,
      aliveVictims: this.victims.handles(),
      killedElsewhere: this.ctx.killed.identities(),
      minInFlightBytes: options.minProgressBytes,
      rules: options.victimRules,
    };
    const observed = await this.scope.observe(trigger, ranking);
    if (observed === null) return null;
    const rankStartMs = host.now();
    const decision = decide(observed.snapshot, {
      ...ranking,
      totalMemoryPages: observed.totalMemoryPages,
      ...(observed.growth !== undefined ? { growth: observed.growth } : {}),
    });
    const base: DecisionBase = {
      type: "decision",
      decisionId: this.ctx.nextDecisionId(),
      incident: observed.incident,
      candidates: decision.ranking.top,
      excluded: [...decision.ranking.excluded],
      ...(observed.screening !== undefined ? { screening: observed.screening } : {}),
      escalatedFrom,
      priorVictimsAlive: this.victims.pids(),
    };
    const terminate = this.scope.terminatePlan?.(trigger) ?? null;
    const acted = await actOnDecision(this.actScope(trigger), {
      base,
      decision,
      usageBeforeBytes: observed.incident.usageBytes,
      times: { notifiedAtMs, snapshotStartMs, rankStartMs, processes: observed.snapshot.processes.length, usageAtSnapshot, givenBackMsAtSnapshot, scheduleAtSnapshot },
      journalNothingDone: this.scope.journalsNothingDone?.() ?? true,
      ...(this.scope.onWaiting !== undefined ? { onWaiting: (atMs: number) => this.scope.onWaiting?.(trigger, atMs) } : {}),
      ...(this.scope.onKilled !== undefined ? { onKilled: (killed) => this.scope.onKilled?.(trigger, killed) } : {}),
      ...(terminate !== null ? { terminate } : {}),
      ...(this.scope.unitFor !== undefined ? { unitOf: (victim: Candidate) => this.scope.unitFor?.(observed, decision.ranking, victim) ?? null } : {}),
    });
    await this.scope.afterDecision?.(trigger, observed, acted);
    return acted.record;
  }

  private actScope(trigger: Trigger): ActScope {
    return {
      ...this.ctx,
      probe: this.scope.probe(trigger),
      aliveVictims: this.victims,
      isStopped: this.isStopped,
      absorbedNotifications: () => this.takeAbsorbed(),
      ...(this.scope.killGroup !== undefined ? { killGroup: this.scope.killGroup } : {}),
      ...(this.scope.isRehearsal === true ? { rehearsal: true } : {}),
    };
  }

  /** Notifications absorbed since the last decision's outcome: each is reported once. */
  private takeAbsorbed(): number {
    const count = this.absorbed - this.absorbedReported;
    this.absorbedReported = this.absorbed;
    return count;
  }
}
