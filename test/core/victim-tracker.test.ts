import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  EXIT_SETTLE_OBSERVATIONS,
  normalizeTrackerConfig,
  observe,
  startTracking,
  type Observation,
  type TrackerConfig,
  type TrackerState,
  type TrackerVerdict,
} from "../../src/core/victim-tracker.js";

const MIB = 1024 * 1024;
/** Virtual time: one observation every 100 ms. */
const STEP_MS = 100;
const LIMIT = 256 * MIB;
const VICTIM = { pid: 4242, startTimeTicks: 9000, rssBytes: 200 * MIB };
/** Five empty observations: the literal scenarios below are written for this patience. */
const CONFIG: TrackerConfig = { maxObservationsWithoutProgress: 5, minProgressBytes: MIB };
const MAX = CONFIG.maxObservationsWithoutProgress;
const track = (at: number, config: TrackerConfig = CONFIG): TrackerState => startTracking(VICTIM, LIMIT, at, config);

/** One row per observation: [victim exited, victim rss MiB (null: unreadable), scope usage MiB, scope under OOM, scope critical (default: yes)]. */
type Row = [boolean, number | null, number, boolean, boolean?];

/** Kills at t=0 and feeds one row every STEP_MS; returns every verdict and the last state. */
function drive(rows: Row[], state: TrackerState = track(0)): { verdicts: TrackerVerdict[]; state: TrackerState } {
  const verdicts: TrackerVerdict[] = [];
  rows.forEach(([victimExited, rssMiB, usageMiB, scopeUnderOom, scopeCritical = true], i) => {
    const result = observe(state, {
      atMs: state.victim.killedAtMs + (i + 1) * STEP_MS,
      victimExited,
      victimRssBytes: rssMiB === null ? null : rssMiB * MIB,
      scopeUsageBytes: usageMiB * MIB,
      scopeUnderOom,
      scopeCritical,
    });
    verdicts.push(result.verdict);
    state = result.state;
  });
  return { verdicts, state };
}

const stuck = (n: number): Row[] => Array.from({ length: n }, (): Row => [false, 200, 256, true]);

describe("victim tracker, literal scenarios in virtual time", () => {
  it("a healthy victim exits and the scope leaves OOM: resolved, nobody else dies", () => {
    const { verdicts, state } = drive([
      [false, 120, 180, true],
      [true, null, 60, false],
    ]);
    assert.deepEqual(verdicts, ["progressing", "resolved"]);
    assert.ok(state.victimExited);
  });

  it("seed 000: a victim that keeps freeing memory is never abandoned, however long it takes", () => {
    const rows: Row[] = Array.from({ length: 60 }, (_, i): Row => [false, 199 - 3 * i, 256, true]);
    const { verdicts, state } = drive(rows);
    assert.ok(verdicts.every((v) => v === "progressing"));
    assert.ok(!state.victimExited);
  });

  it("seed 001: a victim that frees nothing escalates after exactly max observations, with stall evidence", () => {
    const state = track(1000);
    const { verdicts } = drive(stuck(MAX - 1), state);
    assert.deepEqual(verdicts, ["waiting", "waiting", "waiting", "waiting"]);
    const before = drive(stuck(MAX - 1), state).state;
    const step = observe(before, { atMs: 1500, victimExited: false, victimRssBytes: 200 * MIB, scopeUsageBytes: LIMIT, scopeUnderOom: true, scopeCritical: true });
    assert.equal(step.verdict, "escalate");
    assert.equal(step.observationsWithoutProgress, MAX);
    assert.equal(step.msSinceKill, 500);
    assert.deepEqual(step.stall, {
      pid: 4242,
      startTimeTicks: 9000,
      observationsWithoutProgress: 5,
      msSinceKill: 500,
      msSinceProgress: 500,
      victimRssBytes: 200 * MIB,
      scopeFreedBytes: 0,
      explanation:
        "pid 4242 made no progress for 5 observations (500 ms; killed 500 ms ago): rss 209715200 bytes (209715200 at the kill), " +
        "scope freed 0 bytes; progress needs a fall of 1048576 bytes",
    });
  });

  it("a stall in a scope that is not critical is held back: patience starts afresh, nobody else dies", () => {
    const relaxed = (n: number): Row[] => Array.from({ length: n }, (): Row => [false, 200, 256, true, false]);
    const { verdicts, state } = drive([...relaxed(MAX), ...relaxed(MAX - 1)]);
    assert.deepEqual(verdicts, [...Array<TrackerVerdict>(MAX - 1).fill("waiting"), "held-back", ...Array<TrackerVerdict>(MAX - 1).fill("waiting")]);
    assert.equal(state.stallsHeldBack, 1);
    // The scope turns critical: the fresh patience, not the first, runs out.
    const critical = drive([[false, 200, 256, true, true]], state);
    assert.deepEqual(critical.verdicts, ["escalate"]);
    assert.equal(critical.state.stallsHeldBack, 1);
    // Time since the kill counts from the kill itself, not from the stall that was held back.
    assert.equal(observe(state, { atMs: 2 * MAX * STEP_MS, victimExited: false, victimRssBytes: 200 * MIB, scopeUsageBytes: LIMIT, scopeUnderOom: true, scopeCritical: true }).msSinceKill, 2 * MAX * STEP_MS);
    // An unreadable victim cannot be shown alive: its stall is not held back.
    assert.equal(drive([...Array.from({ length: MAX }, (): Row => [false, null, 256, true, false])]).verdicts.at(-1), "escalate");
  });

  it("progress restarts the count: 4 empty, 1 progress, 4 empty is no escalation; one more is", () => {
    const rows: Row[] = [...stuck(MAX - 1), [false, 198, 256, true], ...Array.from({ length: MAX - 1 }, (): Row => [false, 198, 256, true])];
    const { verdicts, state } = drive(rows);
    assert.ok(!verdicts.includes("escalate"));
    assert.equal(verdicts[MAX - 1], "progressing");
    assert.equal(drive([[false, 198, 256, true]], state).verdicts[0], "escalate");
  });

  it("a trickle below minProgressBytes adds up from the last progress point", () => {
    // 0.5 MiB per observation: every second observation completes 1 MiB.
    const rows: Row[] = Array.from({ length: 20 }, (_, i): Row => [false, 200 - 0.5 * (i + 1), 256, true]);
    const { verdicts } = drive(rows);
    assert.deepEqual(verdicts.slice(0, 4), ["waiting", "progressing", "waiting", "progressing"]);
    assert.ok(!verdicts.includes("escalate"));
  });

  it("a far slower trickle is a stall: 100 KiB per observation escalates", () => {
    const rows: Row[] = Array.from({ length: MAX }, (_, i): Row => [false, 200 - (i + 1) * 0.1, 256, true]);
    assert.equal(drive(rows).verdicts.at(-1), "escalate");
  });

  it("usage that climbs and falls back (page-cache churn) is not progress", () => {
    const rows: Row[] = [
      [false, 200, 255.5, true],
      [false, 200, 256, true],
      [false, 200, 255.5, true],
      [false, 200, 256, true],
      [false, 200, 255.5, true],
    ];
    assert.deepEqual(drive(rows).verdicts, ["waiting", "waiting", "waiting", "waiting", "escalate"]);
  });

  it("an unreadable victim rss leaves the scope's usage as the only evidence", () => {
    const { verdicts } = drive([
      [false, null, 256, true],
      [false, null, 250, true],
    ]);
    assert.deepEqual(verdicts, ["waiting", "progressing"]);
  });

  it("victim gone but the scope stays OOM: a new incident after the settle observations, not an escalation", () => {
    const rows: Row[] = Array.from({ length: EXIT_SETTLE_OBSERVATIONS }, (): Row => [true, null, 256, true]);
    const { verdicts, state } = drive(rows);
    assert.deepEqual(verdicts, [...Array<TrackerVerdict>(EXIT_SETTLE_OBSERVATIONS - 1).fill("progressing"), "exited-still-oom"]);
    assert.ok(state.victimExited);
  });

  it("scope out of OOM with the victim still dying: resolved, the victim stays excluded, a new OOM resumes tracking", () => {
    const { verdicts, state } = drive([
      [false, 150, 100, false],
      ...stuck(MAX - 1),
    ]);
    assert.deepEqual(verdicts, ["resolved", "waiting", "waiting", "waiting", "waiting"]);
    assert.ok(!state.victimExited);
    assert.equal(drive([[false, 150, 256, true]], state).verdicts[0], "escalate");
  });

  it("final verdicts are sticky and change nothing", () => {
    for (const rows of [stuck(MAX), [[true, null, 10, false]] as Row[], Array.from({ length: EXIT_SETTLE_OBSERVATIONS }, (): Row => [true, null, 256, true])]) {
      const { verdicts, state } = drive(rows);
      const again = observe(state, { atMs: 99_999, victimExited: false, victimRssBytes: 0, scopeUsageBytes: 0, scopeUnderOom: false, scopeCritical: false });
      assert.equal(again.verdict, verdicts.at(-1));
      assert.equal(again.state, state);
    }
  });

  it("config: minimums that keep it meaningful (the defaults are the engine's tunables)", () => {
    assert.deepEqual(normalizeTrackerConfig(CONFIG), CONFIG);
    assert.deepEqual(normalizeTrackerConfig({ maxObservationsWithoutProgress: 0, minProgressBytes: 0 }), {
      maxObservationsWithoutProgress: 1,
      minProgressBytes: 1,
    });
    assert.deepEqual(normalizeTrackerConfig({ maxObservationsWithoutProgress: Number.NaN, minProgressBytes: Number.NaN }), { maxObservationsWithoutProgress: 1, minProgressBytes: 1 });
    const quick = track(0, { ...CONFIG, maxObservationsWithoutProgress: 2 });
    assert.deepEqual(drive(stuck(2), quick).verdicts, ["waiting", "escalate"]);
  });
});

describe("victim tracker properties", () => {
  const configArb = fc.record({
    maxObservationsWithoutProgress: fc.integer({ min: 1, max: 8 }),
    minProgressBytes: fc.integer({ min: 1, max: 4 * MIB }),
  });
  const observationArb = fc.record({
    victimExited: fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
    victimRssBytes: fc.option(fc.integer({ min: 0, max: 300 * MIB }), { nil: null, freq: 8 }),
    scopeUsageBytes: fc.integer({ min: 0, max: 300 * MIB }),
    scopeUnderOom: fc.integer({ min: 0, max: 5 }).map((n) => n !== 0),
    // A memcg at its limit is always critical; "held back" has its own properties below.
    scopeCritical: fc.constant(true),
  });
  /** Any scope, a machine above its critical level too. */
  const anyScopeObservationArb = observationArb.chain((obs) => fc.boolean().map((scopeCritical) => ({ ...obs, scopeCritical })));

  it("(c) never escalates before max observations in a row that show no progress", () => {
    fc.assert(
      fc.property(configArb, fc.array(observationArb, { maxLength: 40 }), (config, observations) => {
        let state = startTracking(VICTIM, LIMIT, 0, config);
        const verdicts: TrackerVerdict[] = [];
        // Lowest values seen so far: a progress baseline is never below them.
        let lowestRss = VICTIM.rssBytes;
        let lowestUsage = LIMIT;
        const window: { rss: number | null; usage: number; lowestRss: number; lowestUsage: number; obs: Omit<Observation, "atMs"> }[] = [];
        observations.forEach((obs, i) => {
          const step = observe(state, { ...obs, atMs: (i + 1) * STEP_MS });
          window.push({ rss: obs.victimRssBytes, usage: obs.scopeUsageBytes, lowestRss, lowestUsage, obs });
          if (step.verdict === "escalate" && verdicts.at(-1) !== "escalate") {
            const max = config.maxObservationsWithoutProgress;
            assert.ok(verdicts.length + 1 >= max, "escalated before max observations");
            assert.ok(verdicts.slice(-(max - 1)).every((v) => v === "waiting") || max === 1, `verdicts before escalate: ${verdicts.slice(-max)}`);
            for (const w of window.slice(-max)) {
              // Checked against a model independent of the tracker's baselines.
              assert.ok(!w.obs.victimExited && w.obs.scopeUnderOom);
              assert.ok(w.rss === null || w.rss > w.lowestRss - config.minProgressBytes, "an observation in the window fell by a full step");
              assert.ok(w.usage > w.lowestUsage - config.minProgressBytes, "usage in the window fell by a full step");
            }
            assert.equal(step.observationsWithoutProgress, max);
            assert.ok(step.stall !== null);
          }
          if (obs.victimRssBytes !== null) lowestRss = Math.min(lowestRss, obs.victimRssBytes);
          lowestUsage = Math.min(lowestUsage, obs.scopeUsageBytes);
          verdicts.push(step.verdict);
          state = step.state;
        });
      }),
    );
  });

  it("(c) a victim whose rss falls by at least minProgressBytes every observation never escalates", () => {
    fc.assert(
      fc.property(
        configArb,
        fc.array(fc.record({ extraFallBytes: fc.integer({ min: 0, max: MIB }), usage: fc.integer({ min: 0, max: 300 * MIB }) }), { maxLength: 60 }),
        (config, steps) => {
          let state = startTracking({ ...VICTIM, rssBytes: 1e12 }, LIMIT, 0, config);
          let rss = 1e12;
          steps.forEach((s, i) => {
            rss -= config.minProgressBytes + s.extraFallBytes;
            const step = observe(state, { atMs: (i + 1) * STEP_MS, victimExited: false, victimRssBytes: rss, scopeUsageBytes: s.usage, scopeUnderOom: true, scopeCritical: true });
            assert.equal(step.verdict, "progressing");
            state = step.state;
          });
        },
      ),
    );
  });

  it("observe never changes the state it is given", () => {
    fc.assert(
      fc.property(fc.array(anyScopeObservationArb, { maxLength: 20 }), (observations) => {
        let state = track(0);
        observations.forEach((obs, i) => {
          const frozen = structuredClone(state);
          Object.freeze(state);
          const step = observe(state, { ...obs, atMs: (i + 1) * STEP_MS });
          assert.deepEqual(state, frozen);
          state = step.state;
        });
      }),
    );
  });

  it("escalate only ever comes with the victim alive and the scope under OOM, and critical unless the victim cannot be read", () => {
    fc.assert(
      fc.property(fc.array(anyScopeObservationArb, { maxLength: 40 }), (observations) => {
        let state = track(0);
        for (const [i, obs] of observations.entries()) {
          const step = observe(state, { ...obs, atMs: (i + 1) * STEP_MS });
          if (step.verdict === "escalate" && state.lastVerdict !== "escalate") {
            assert.ok(!obs.victimExited && !state.victimExited && obs.scopeUnderOom);
            assert.ok(obs.scopeCritical || obs.victimRssBytes === null, "a readable victim in a scope that can wait was escalated");
          }
          if (step.verdict === "held-back") assert.ok(!obs.scopeCritical && obs.victimRssBytes !== null && step.state.observationsWithoutProgress === 0);
          state = step.state;
        }
      }),
    );
  });
});
