// One managed memory cgroup: its OOM notifications, the decisions they lead to, and their outcomes.
// observe -> detect -> decide -> act -> confirm, all time from host.now().

import { rankCandidates } from "../core/rank.js";
import type { Result } from "../core/result.js";
import type { Candidate, CgroupSample, Exclusion, IncidentKind, MemoryEventCounters, Snapshot } from "../core/types.js";
import { observe, startTracking, type TrackerState } from "../core/victim-tracker.js";
import type { EngineOptions } from "./engine-options.js";
import type { CgroupRef, Host, OomTakeover, Unwatch, VictimHandle } from "./host.js";
import type { ActionKind, DecisionRecord, JournalSink, Outcome, VictimRecord } from "./journal-record.js";

/** How long a dry run waits for the kernel killer to resolve an OOM handed to it. */
const KERNEL_HANDOVER_TIMEOUT_MS = 5_000;

export interface EngineContext {
  host: Host;
  journal: JournalSink;
  options: EngineOptions;
  /** Human-readable progress lines (the daemon prints them). */
  log: (message: string) => void;
  nextDecisionId: () => number;
}

interface KilledVictim {
  handle: VictimHandle;
  candidate: Candidate;
  killedAtMs: number;
}

/** What the confirmation of one kill found. */
interface Confirmation {
  outcome: Outcome;
  /** The victim is still alive (frozen, stuck in D state) and must never be chosen again. */
  stillAlive: boolean;
}

export class ManagedCgroup {
  private takeover: OomTakeover | null = null;
  private unwatch: Unwatch | null = null;
  private handling = false;
  private notificationsWhileHandling = 0;
  /** Part of notificationsWhileHandling already reported by an earlier decision of the same handling. */
  private notificationsReported = 0;
  private lastEvents: MemoryEventCounters | null = null;
  /** Victims already killed in this scope that have not exited: excluded from every later ranking. */
  private readonly aliveVictims = new Map<number, { handle: VictimHandle; unwatch: Unwatch | null }>();
  private stopped = false;
  /** Resolves when the current incident (if any) has been fully handled; lets tests and shutdown wait. */
  private idle: Promise<void> = Promise.resolve();

  constructor(
    readonly ref: CgroupRef,
    private readonly ctx: EngineContext,
  ) {}

  /** Takes over OOM handling (unless dry-run) and starts listening. */
  start(warmUpRounds: number): Result<{ notes: string[] }> {
    const { host, options } = this.ctx;
    const notes: string[] = [];
    const first = host.readCgroup(this.ref);
    if (!first.ok) return first;
    this.refreshMachineMemoryPages();
    this.lastEvents = first.value.events;
    this.warmUp(warmUpRounds);
    const taken = host.takeOverOom(this.ref);
    if (!taken.ok) return taken;
    this.takeover = taken.value;
    notes.push(...taken.value.notes);
    if (options.dryRun) {
      notes.push(
        this.ref.version === 1
          ? "dry run: each OOM is journaled with the victim oomwarden would choose, then handed to the kernel OOM killer, whose kill is journaled too"
          : "dry run: decisions are journaled, nothing is killed; the kernel OOM killer acts as usual",
      );
    }
    const watched = host.watchOom(this.ref, () => this.onNotification());
    if (!watched.ok) {
      this.restore();
      return watched;
    }
    this.unwatch = watched.value;
    return { ok: true, value: { notes } };
  }

  /**
   * Runs the decision path (cgroup and process reads, ranking, pidfd open and start-time check on
   * ourselves, never a signal) so V8 has compiled it before the first OOM: cold, the first kill took
   * about twice as long as the later ones (bench/oom-latency).
   */
  private warmUp(rounds: number): void {
    const { host, options } = this.ctx;
    for (let i = 0; i < rounds; i++) {
      const cgroup = host.readCgroup(this.ref);
      const snap = cgroup.ok ? this.snapshot(cgroup.value) : null;
      if (snap?.ok) rankCandidates(snap.value, { maxCandidates: options.journalCandidates, totalMemoryPages: this.machineMemoryPages });
      const self = host.readProcess(host.selfPid());
      if (self.ok) {
        const handle = host.openVictim(self.value.pid, self.value.startTimeTicks);
        if (handle.ok) host.releaseVictim(handle.value);
      }
    }
  }

  /**
   * RAM + swap in pages: the kernel scales oom_score_adj by it when the cgroup's own limit does not
   * bound the scope. Read at start and after each decision, never on the way to a kill.
   */
  private machineMemoryPages = 1;
  private refreshMachineMemoryPages(): void {
    const machine = this.ctx.host.readMachineMemory();
    if (machine.ok) {
      this.machineMemoryPages = Math.floor((machine.value.totalBytes + machine.value.swapTotalBytes) / this.ctx.host.pageSizeBytes());
    }
  }

  /** Stops listening and gives OOM handling back to the kernel as it was. */
  stop(): Result<void> {
    this.stopped = true;
    this.unwatch?.();
    this.unwatch = null;
    for (const alive of this.aliveVictims.values()) {
      alive.unwatch?.();
      this.ctx.host.releaseVictim(alive.handle);
    }
    this.aliveVictims.clear();
    return this.restore();
  }

  whenIdle(): Promise<void> {
    return this.idle;
  }

  private restore(): Result<void> {
    if (this.takeover === null) return { ok: true, value: undefined };
    const restored = this.ctx.host.restoreOom(this.ref, this.takeover);
    if (restored.ok) this.takeover = null;
    return restored;
  }

  private onNotification(): void {
    if (this.stopped) return;
    const notifiedAtMs = this.ctx.host.now();
    if (this.handling) {
      // One decision at a time per scope (seed 000): the running one absorbs this notification.
      this.notificationsWhileHandling++;
      return;
    }
    this.handling = true;
    this.idle = this.handleNotification(notifiedAtMs)
      .catch((error: unknown) => {
        this.ctx.journal.append({ type: "error", cgroup: this.ref.path, message: `incident handling failed: ${String(error)}` });
        this.ctx.log(`${this.ref.path}: incident handling failed: ${String(error)}`);
      })
      .finally(() => {
        this.handling = false;
        this.notificationsReported = 0;
        if (this.notificationsWhileHandling > 0 && !this.stopped) {
          // Something happened meanwhile: look again; an OOM still in force starts a new incident.
          this.notificationsWhileHandling = 0;
          this.onNotification();
        }
      });
  }

  private async handleNotification(firstNotifiedAtMs: number): Promise<void> {
    let notifiedAtMs = firstNotifiedAtMs;
    const { host } = this.ctx;
    const sample = host.readCgroup(this.ref);
    if (!sample.ok) {
      // The v1 eventfd also fires when the cgroup is removed.
      this.ctx.log(`${this.ref.path}: notification, but the cgroup cannot be read (${sample.error.message})`);
      return;
    }
    const kind = this.detect(sample.value);
    if (kind === null) return;
    let escalatedFrom: number | null = null;
    let fresh: CgroupSample | null = sample.value;
    // Each pass is one decision; only a stalled victim, or a cgroup still OOM after its victim left, leads to another.
    for (;;) {
      if (this.stopped) return;
      // The first pass decides on the sample that detected the incident; later passes read afresh.
      const decision = await this.decideAndAct(kind, notifiedAtMs, escalatedFrom, fresh);
      fresh = null;
      if (decision === null) return;
      // A stalled victim leads to the next one; a victim gone while the cgroup is still out of memory leads to a fresh decision.
      if (decision.outcome.result === "escalated") escalatedFrom = decision.decisionId;
      else if (decision.outcome.result === "exited-still-oom") {
        // A new incident: its timings start now.
        escalatedFrom = null;
        notifiedAtMs = host.now();
      }
      else return;
    }
  }

  /** Turns a notification into an incident kind, or null when nothing needs doing. */
  private detect(cgroup: CgroupSample): IncidentKind | null {
    if (this.ref.version === 1) return cgroup.underOom ? "memcg-oom" : null;
    const before = this.lastEvents;
    this.lastEvents = cgroup.events;
    if (before === null) return null;
    const oomKills = cgroup.events.oomKill - before.oomKill;
    const ooms = cgroup.events.oom - before.oom;
    if (oomKills > 0) {
      // The kernel killer cannot be disabled on v2; record what it did so every kill is explainable.
      this.ctx.journal.append({
        type: "kernel-kill",
        cgroup: this.ref.path,
        oomKills,
        note: "memory.events oom_kill rose: the kernel's OOM killer chose a victim in this cgroup",
      });
    }
    return ooms > oomKills ? "memcg-oom" : null;
  }

  private snapshot(cgroup: CgroupSample): Result<Snapshot> {
    const { host } = this.ctx;
    const processes = host.listProcesses(this.ref);
    if (!processes.ok) return processes;
    return {
      ok: true,
      value: {
        takenAtMs: host.now(),
        cgroup,
        processes: processes.value,
        selfPid: host.selfPid(),
        pageSizeBytes: host.pageSizeBytes(),
      },
    };
  }

  private async decideAndAct(
    kind: IncidentKind,
    notifiedAtMs: number,
    escalatedFrom: number | null,
    detectedWith: CgroupSample | null,
  ): Promise<DecisionRecord | null> {
    const { host, options } = this.ctx;
    const cgroupNow: Result<CgroupSample> = detectedWith !== null ? { ok: true, value: detectedWith } : host.readCgroup(this.ref);
    if (!cgroupNow.ok) return null;
    // After an escalation too: if the cgroup left OOM meanwhile, the stalled victim harms nobody and no one else dies.
    if (this.ref.version === 1 && !cgroupNow.value.underOom) return null;
    if (escalatedFrom !== null) this.ctx.log(`${this.ref.path}: decision ${escalatedFrom} stalled; choosing the next victim`);
    const snapshotStartMs = host.now();
    const snap = this.snapshot(cgroupNow.value);
    const rankStartMs = host.now();
    if (!snap.ok) {
      this.ctx.log(`${this.ref.path}: cannot list processes (${snap.error.message})`);
      return null;
    }
    const ranking = rankCandidates(snap.value, {
      maxCandidates: options.journalCandidates,
      totalMemoryPages: this.machineMemoryPages,
      aliveVictims: [...this.aliveVictims.values()].map((alive) => alive.handle),
    });
    const excluded: Exclusion[] = [...ranking.excluded];
    const candidates = ranking.candidates;

    const decisionId = this.ctx.nextDecisionId();
    const base = {
      type: "decision" as const,
      decisionId,
      incident: {
        kind,
        cgroup: this.ref.path,
        usageBytes: snap.value.cgroup.usageBytes,
        limitBytes: snap.value.cgroup.limitBytes,
        suppressedNotifications: 0,
      },
      candidates: ranking.top,
      excluded,
      escalatedFrom,
      priorVictimsAlive: [...this.aliveVictims.keys()],
    };

    if (options.dryRun) {
      const record = this.finishWithoutKill(base, candidates, "dry-run", notifiedAtMs);
      if (this.ref.version === 1) await this.handOverToKernel(snap.value);
      return record;
    }
    if (this.ref.version === 2 && snap.value.cgroup.oomGroup && candidates.length > 0) {
      return this.finishWithoutKill(base, candidates, "kill-cgroup", notifiedAtMs);
    }

    const killStartMs = host.now();
    const killed = this.killFirstReachable(candidates, excluded);
    // Where the time to SIGKILL went, so a slow kill can be explained from the journal.
    const phasesMs = {
      detect: snapshotStartMs - notifiedAtMs,
      snapshot: rankStartMs - snapshotStartMs,
      rank: killStartMs - rankStartMs,
      kill: host.now() - killStartMs,
      processes: snap.value.processes.length,
    };
    if (killed === null) {
      const record: DecisionRecord = {
        ...base,
        victim: null,
        action: "none",
        outcome: emptyOutcome("nothing-done"),
      };
      this.commit(record);
      this.ctx.log(`${this.ref.path}: OOM, but nothing can be killed (${excluded.length} excluded)`);
      return record;
    }

    const confirmation = await this.confirm(killed, snap.value.cgroup.usageBytes, notifiedAtMs);
    if (confirmation.stillAlive) this.rememberAliveVictim(killed.handle);
    else host.releaseVictim(killed.handle);
    const record: DecisionRecord = {
      ...base,
      victim: victimRecord(killed.candidate),
      action: "kill",
      outcome: { ...confirmation.outcome, phasesMs },
    };
    this.commit(record);
    return record;
  }

  /**
   * Dry run on v1: let the kernel killer resolve this one OOM (oom_kill_disable 0), wait until the
   * cgroup is out of OOM, take over again, and journal what the kernel did, so "what oomwarden would
   * have chosen" and "what the kernel chose" stand side by side in the journal.
   */
  private async handOverToKernel(snapshot: Snapshot): Promise<void> {
    const { host } = this.ctx;
    const handed = host.handOomToKernel(this.ref);
    if (!handed.ok) {
      this.ctx.log(`${this.ref.path}: dry run: cannot hand the OOM to the kernel: ${handed.error.message}`);
      return;
    }
    const deadlineMs = host.now() + KERNEL_HANDOVER_TIMEOUT_MS;
    let after: CgroupSample | null = null;
    while (host.now() < deadlineMs) {
      await new Promise<void>((resolve) => host.setTimer(1, resolve));
      const sample = host.readCgroup(this.ref);
      if (!sample.ok) break;
      after = sample.value;
      if (!after.underOom && after.events.oomKill > snapshot.cgroup.events.oomKill) break;
    }
    const retaken = host.takeOverOom(this.ref);
    if (!retaken.ok) this.ctx.log(`${this.ref.path}: dry run: cannot disable the kernel killer again: ${retaken.error.message}`);
    // The kernel's victim may still be exiting: give it a moment to leave the process list.
    let gone = this.goneSince(snapshot);
    while (gone.length === 0 && after !== null && after.events.oomKill > snapshot.cgroup.events.oomKill && host.now() < deadlineMs) {
      await new Promise<void>((resolve) => host.setTimer(1, resolve));
      gone = this.goneSince(snapshot);
    }
    this.ctx.journal.append({
      type: "kernel-kill",
      cgroup: this.ref.path,
      oomKills: after === null ? 0 : after.events.oomKill - snapshot.cgroup.events.oomKill,
      goneSinceSnapshot: gone,
      note: "dry run: the kernel's OOM killer resolved this OOM",
    });
  }

  /** Pids of the snapshot no longer in the cgroup (matched with their start time). */
  private goneSince(snapshot: Snapshot): number[] {
    const alive = this.ctx.host.listProcesses(this.ref);
    const stillThere = new Set(alive.ok ? alive.value.map((p) => `${p.pid}/${p.startTimeTicks}`) : []);
    return snapshot.processes.filter((p) => !stillThere.has(`${p.pid}/${p.startTimeTicks}`)).map((p) => p.pid);
  }

  /** A killed victim that has not exited stays excluded from every ranking until its pidfd says it is gone. */
  private rememberAliveVictim(handle: VictimHandle): void {
    const { host } = this.ctx;
    const entry: { handle: VictimHandle; unwatch: Unwatch | null } = { handle, unwatch: null };
    this.aliveVictims.set(handle.pid, entry);
    let exited = false;
    const watched = host.watchExit(handle, () => {
      exited = true;
      entry.unwatch?.();
      if (this.aliveVictims.delete(handle.pid)) host.releaseVictim(handle);
    });
    if (watched.ok && !exited) entry.unwatch = watched.value;
  }

  /** Dry run, or a v2 group kill (memory.oom.group): the whole cgroup is the unit. */
  private finishWithoutKill(
    base: Omit<DecisionRecord, "victim" | "action" | "outcome">,
    candidates: Candidate[],
    action: ActionKind,
    notifiedAtMs: number,
  ): DecisionRecord {
    const { host } = this.ctx;
    const top = candidates[0];
    let outcome = emptyOutcome("not-acted");
    if (action === "kill-cgroup") {
      const killed = host.killCgroup(this.ref);
      outcome = killed.ok
        ? { ...emptyOutcome("recovered"), msToKill: host.now() - notifiedAtMs }
        : { ...emptyOutcome("nothing-done") };
      if (!killed.ok) this.ctx.log(`${this.ref.path}: cgroup.kill failed: ${killed.error.message}`);
    }
    const record: DecisionRecord = { ...base, victim: top ? victimRecord(top) : null, action, outcome };
    this.commit(record);
    return record;
  }

  /** Opens a pidfd for the best candidate whose start time still matches, and kills it through that pidfd. */
  private killFirstReachable(candidates: Candidate[], excluded: Exclusion[]): KilledVictim | null {
    const { host } = this.ctx;
    for (const candidate of candidates) {
      const opened = host.openVictim(candidate.pid, candidate.startTimeTicks);
      if (!opened.ok) {
        excluded.push({ pid: candidate.pid, comm: candidate.comm, reason: `not killed: ${opened.error.message}` });
        continue;
      }
      const sent = host.kill(opened.value);
      if (!sent.ok) {
        host.releaseVictim(opened.value);
        excluded.push({ pid: candidate.pid, comm: candidate.comm, reason: `SIGKILL failed: ${sent.error.message}` });
        continue;
      }
      return { handle: opened.value, candidate, killedAtMs: host.now() };
    }
    return null;
  }

  /**
   * Watches the victim until its memory is back, or until it stalls (escalate).
   * Dense reads right after the kill time the recovery; then the progress tracker observes at a steady interval.
   */
  private confirm(killed: KilledVictim, usageBeforeBytes: number, notifiedAtMs: number): Promise<Confirmation> {
    const { host, options } = this.ctx;
    return new Promise<Confirmation>((resolve) => {
      let exited = false;
      let reap: Outcome["reap"] = null;
      let reaped = false;
      let msToMemoryBack: number | null = null;
      let freedBytes: number | null = null;
      let observations = 0;
      let tracker: TrackerState = startTracking(
        { pid: killed.handle.pid, startTimeTicks: killed.handle.startTimeTicks, rssBytes: killed.candidate.rssBytes },
        usageBeforeBytes,
        killed.killedAtMs,
        {
          config: {
            maxObservationsWithoutProgress: options.maxObservationsWithoutProgress,
            minProgressBytes: Math.max(1, options.minProgressBytes),
          },
        },
      );
      let done = false;
      let timer: ReturnType<Host["setTimer"]> | null = null;
      let unwatchExit: Unwatch | null = null;

      const finish = (result: Outcome["result"], stall?: Outcome["stall"]): void => {
        if (done) return;
        done = true;
        if (timer !== null) host.clearTimer(timer);
        unwatchExit?.();
        const outcome: Outcome = {
          result,
          freedBytes,
          msToKill: killed.killedAtMs - notifiedAtMs,
          msToMemoryBack,
          victimExited: exited,
          reap,
          observations,
        };
        if (stall) outcome.stall = stall;
        resolve({ outcome, stillAlive: !exited });
      };

      /** Reads the cgroup; records when memory is back. Returns the sample for the tracker. */
      const sample = (): CgroupSample | null => {
        const cgroup = host.readCgroup(this.ref);
        if (!cgroup.ok) {
          // The cgroup went away with its tasks: nothing left to confirm.
          finish("recovered");
          return null;
        }
        const fellBytes = usageBeforeBytes - cgroup.value.usageBytes;
        // "Memory back" means the victim's whole mm is released: its exit (pidfd readable, after
        // exit_mm) or process_mrelease done. A first uncharge already clears under_oom, so that alone proves little.
        const victimMemoryGone = exited || reaped;
        const outOfOom = this.ref.version === 1 ? !cgroup.value.underOom : !atLimit(cgroup.value);
        if (victimMemoryGone && fellBytes > 0 && outOfOom) {
          msToMemoryBack = host.now() - notifiedAtMs;
          freedBytes = fellBytes;
          finish("recovered");
        }
        return cgroup.value;
      };

      const observeTick = (): void => {
        timer = null;
        if (done) return;
        const cgroup = sample();
        if (cgroup === null || done) return;
        observations++;
        const victim = exited ? null : host.readProcess(killed.handle.pid);
        const step = observe(tracker, {
          atMs: host.now(),
          victimExited: exited || (victim !== null && !victim.ok),
          victimRssBytes: victim !== null && victim.ok ? victim.value.rssBytes : null,
          scopeUsageBytes: cgroup.usageBytes,
          scopeUnderOom: this.ref.version === 1 ? cgroup.underOom : atLimit(cgroup),
        });
        tracker = step.state;
        if (step.verdict === "resolved" || step.verdict === "exited-still-oom") {
          freedBytes ??= usageBeforeBytes - cgroup.usageBytes;
          finish(step.verdict === "resolved" ? "recovered" : "exited-still-oom");
          return;
        }
        if (step.verdict === "escalate") {
          const evidence = host.readStallEvidence(killed.handle.pid);
          freedBytes = usageBeforeBytes - cgroup.usageBytes;
          finish("escalated", {
            ...(evidence.ok ? evidence.value : { state: "?", wchan: "", threads: [] }),
            msSinceKill: step.msSinceKill,
            observationsWithoutProgress: step.observationsWithoutProgress,
            explanation: step.stall?.explanation ?? "",
          });
          return;
        }
        timer = host.setTimer(options.observeIntervalMs, observeTick);
      };

      const fastDelays = [...options.fastConfirmDelaysMs];
      const fastTick = (): void => {
        timer = null;
        if (done) return;
        sample();
        if (done) return;
        const next = fastDelays.shift();
        timer = next === undefined ? host.setTimer(options.observeIntervalMs, observeTick) : host.setTimer(next, fastTick);
      };

      const watched = host.watchExit(killed.handle, () => {
        exited = true;
        sample();
      });
      if (watched.ok) unwatchExit = watched.value;

      void host.reap(killed.handle).then((result) => {
        if (result.ok) {
          reap = result.value;
          // ESRCH (alreadyGone) means the exit path owns the mm now, not that the memory is back yet.
          reaped = !result.value.alreadyGone;
        } else {
          reap = { error: result.error.message };
        }
        if (!done) sample();
      });

      fastTick();
    });
  }

  private commit(record: DecisionRecord): void {
    this.refreshMachineMemoryPages();
    record.incident.suppressedNotifications = this.notificationsWhileHandling - this.notificationsReported;
    this.notificationsReported = this.notificationsWhileHandling;
    this.ctx.journal.append(record);
    this.ctx.log(describeDecision(record));
  }
}

function atLimit(cgroup: CgroupSample): boolean {
  // v2 has no under_oom: a cgroup within a page of its limit is still out of memory.
  return cgroup.limitBytes !== null && cgroup.usageBytes >= cgroup.limitBytes - 4096;
}

function emptyOutcome(result: Outcome["result"]): Outcome {
  return {
    result,
    freedBytes: null,
    msToKill: null,
    msToMemoryBack: null,
    victimExited: false,
    reap: null,
    observations: 0,
  };
}

function victimRecord(candidate: Candidate): VictimRecord {
  return {
    pid: candidate.pid,
    comm: candidate.comm,
    startTime: candidate.startTimeTicks,
    rssBytes: candidate.rssBytes,
  };
}

const MIB = 1024 * 1024;

export function describeDecision(record: DecisionRecord): string {
  const where = record.incident.cgroup;
  const victim = record.victim ? `${record.victim.comm}[${record.victim.pid}] (rss ${(record.victim.rssBytes / MIB).toFixed(1)} MiB)` : "nobody";
  const o = record.outcome;
  const timing = [
    o.msToKill !== null ? `SIGKILL after ${o.msToKill.toFixed(2)} ms` : null,
    o.msToMemoryBack !== null ? `memory back after ${o.msToMemoryBack.toFixed(2)} ms` : null,
    o.freedBytes !== null ? `${(o.freedBytes / MIB).toFixed(1)} MiB freed` : null,
  ]
    .filter((x) => x !== null)
    .join(", ");
  return `${where}: decision ${record.decisionId} ${record.action} ${victim}: ${o.result}${timing ? ` (${timing})` : ""}`;
}
