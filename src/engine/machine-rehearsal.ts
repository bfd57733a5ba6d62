// The machine guard's decision path, rehearsed at start through the real incident runner: the
// snapshot, the ranking, the pidfd open and signal 0 of the chosen victim, the last look at the
// scope before the signal, and what follows it up to the signal (the victim's unit with its
// memory.oom.group walk, the decision's record with its phases). The scope is marked a rehearsal,
// for which killFirstReachable closes the pidfd there and sends nothing; and its last look always
// says memory came back, which alone would stop a real decision. A daemon's first real decision
// otherwise pays for compiling every function on that path the first time it runs (V8 compiles
// lazily): measured in the VM, 156 ms for the first decision against 50 ms for the later ones,
// most of it before the snapshot and in the ranking; and while the rehearsal stopped at the last
// look, the steps after it still cost a first decision a third of its time to the signal. The
// rehearsal journals nothing, logs nothing and numbers no decision.

import type { EngineContext } from "./engine-context.js";
import { IncidentRunner } from "./incident-runner.js";
import type { IncidentScope, Observed, RankInputs } from "./incident-scope.js";
import type { ScopeProbe } from "./scope-probe.js";

/** Rounds of the whole path: the first compiles it, the next ones let V8 optimise what runs hot. */
export const REHEARSAL_ROUNDS = 5;
/** The growth the rehearsal gives every other process (a rate, not a measurement: nothing is decided on it). */
const REHEARSED_GROWTH_BYTES_PER_SEC = 1024 * 1024;

/**
 * Runs `observe` and a decision on what it saw `rounds` times (returns how long the last took), as a real incident would, but
 * through a context whose journal and log are silent and a probe that reports the scope fine at
 * the last check before the signal. Processes already exiting are left out of the rehearsal's
 * snapshot, so it never waits for one.
 */
export async function rehearse<Trigger>(
  ctx: EngineContext,
  scope: Pick<IncidentScope<Trigger>, "name" | "observe" | "unitFor">,
  trigger: Trigger,
  usageBytes: () => number,
  rounds: number = REHEARSAL_ROUNDS,
): Promise<number> {
  const silent: EngineContext = {
    ...ctx,
    journal: { append: () => {} },
    log: () => {},
    nextDecisionId: () => 0,
  };
  const fine: ScopeProbe = { read: () => ({ ok: true, value: { usageBytes: usageBytes(), outOfMemory: false, critical: false } }) };
  const rehearsal: IncidentScope<Trigger> = {
    name: scope.name,
    isRehearsal: true,
    ...(scope.unitFor !== undefined ? { unitFor: (observed, ranking, victim) => scope.unitFor?.(observed, ranking, victim) ?? null } : {}),
    probe: () => fine,
    recheck: () => null,
    journalsNothingDone: () => false,
    observe: async (t: Trigger, ranking: RankInputs): Promise<Observed | null> => {
      const observed = await scope.observe(t, ranking);
      if (observed === null) return null;
      // At start no growth is measured yet; a real decision ranks growers and idle processes
      // apart, so the rehearsal has every other process growing, and those paths compile too.
      return {
        ...observed,
        snapshot: { ...observed.snapshot, processes: observed.snapshot.processes.filter((p) => !p.exiting) },
        growth: { rates: { bytesPerSec: (p) => (p.pid % 2 === 0 ? REHEARSED_GROWTH_BYTES_PER_SEC : 0), peakBytesBefore: () => null }, horizonMs: observed.growth?.horizonMs ?? 0 },
      };
    },
  };
  const runner = new IncidentRunner(silent, rehearsal, () => false);
  let roundMs = 0;
  for (let round = 0; round < rounds; round++) {
    const startedAtMs = ctx.host.now();
    await runner.run(trigger, startedAtMs);
    roundMs = ctx.host.now() - startedAtMs;
  }
  return roundMs;
}
