// The engine's tunables as flat keys: name, help, the rule a value must pass, and the rule across
// keys. One table for the daemon's config file (src/daemon/config.ts), the engine, which maps each
// key onto its options (src/engine/tunables.ts), and a scenario's oomwarden `options`
// (src/sim/scenario-file/userspace.ts), so all three accept the same names with the same checks.
// Pure data: lookups go through a Map, so a key such as "constructor" or "__proto__" is unknown
// rather than an Object.prototype member.

export type TunableRule =
  | { type: "boolean" }
  | {
      type: "number";
      integer: boolean;
      min: number;
      max: number;
      /** Shown in the message: "a number of ms from ...". */
      unit: "ms" | "bytes" | "%" | null;
      /** Why the maximum is what it is, in the message. */
      why?: string;
    };

export interface TunableKey {
  rule: TunableRule;
  help: string;
}

/**
 * setTimeout holds a delay of at most 2^31-1 ms; Node runs a longer one after 1 ms instead, so a
 * huge interval became a busy loop. Durations compared with the time the timers measure share the
 * bound: beyond 24.8 days a grace or a rate limit means "never", which 0 or false says better.
 */
export const MAX_TIMER_MS = 2_147_483_647;
const TIMER_WHY = "the longest a timer can wait, about 24.8 days";

/** Shorter intervals are refused: the timer granularity of a daemon, and of virtual time. */
export const MIN_INTERVAL_MS = 1;

/**
 * The machine guard keeps every sample of its longest window in memory (four a second near a
 * threshold by default): an hour is 14,400 samples, a month would be gigabytes. At shorter
 * intervals MAX_WINDOW_SAMPLES bounds the window further.
 */
export const MAX_WINDOW_MS = 3_600_000;
const WINDOW_WHY = "an hour: the machine guard keeps every sample of the window";

/** Byte counts stay exact integers. */
const MAX_BYTES = Number.MAX_SAFE_INTEGER;

/** PID_MAX_LIMIT: no Linux machine has more processes to list. */
const MAX_JOURNAL_CANDIDATES = 4_194_304;

/**
 * Hours of patience at the default 250 ms interval; the group-kill confirmation also plans every
 * observation's delay ahead, so the count is memory as well.
 */
const MAX_OBSERVATIONS_WITHOUT_PROGRESS = 100_000;

const BOOLEAN: TunableRule = { type: "boolean" };
const PERCENT: TunableRule = { type: "number", integer: false, min: 0, max: 100, unit: "%" };
const TIMER_INTERVAL_MS: TunableRule = { type: "number", integer: false, min: MIN_INTERVAL_MS, max: MAX_TIMER_MS, unit: "ms", why: TIMER_WHY };
const DURATION_MS: TunableRule = { type: "number", integer: true, min: 0, max: MAX_TIMER_MS, unit: "ms", why: TIMER_WHY };

const TABLE = {
  dryRun: { rule: BOOLEAN, help: "journal decisions, kill nothing" },
  journalCandidates: {
    rule: { type: "number", integer: true, min: 1, max: MAX_JOURNAL_CANDIDATES, unit: null, why: "the most processes Linux can have" },
    help: "top candidates listed per decision",
  },
  observeIntervalMs: { rule: TIMER_INTERVAL_MS, help: "interval between progress observations of a victim" },
  maxObservationsWithoutProgress: {
    rule: { type: "number", integer: true, min: 1, max: MAX_OBSERVATIONS_WITHOUT_PROGRESS, unit: null, why: "hours of patience at 250 ms each" },
    help: "observations without progress before the next victim",
  },
  minProgressBytes: {
    rule: { type: "number", integer: true, min: 0, max: MAX_BYTES, unit: "bytes", why: "the largest exact integer" },
    help: "memory decrease that counts as progress",
  },
  machineGuard: { rule: BOOLEAN, help: "guard the whole machine (low memory, watermark starvation, PSI)" },
  warnAvailablePct: { rule: PERCENT, help: "machine: warn level, journaled: below this % of RAM available (0: off)" },
  warnSwapFreePct: { rule: PERCENT, help: "machine: ... and below this % of swap free" },
  terminateAvailablePct: { rule: PERCENT, help: "machine: terminate level, SIGTERM then SIGKILL after the grace: below this % of RAM available (0: off)" },
  terminateSwapFreePct: { rule: PERCENT, help: "machine: ... and below this % of swap free" },
  terminateGraceMs: { rule: DURATION_MS, help: "machine: time a victim has after SIGTERM before SIGKILL (SIGKILL at once at the kill level)" },
  lowAvailablePct: { rule: PERCENT, help: "machine: kill level, SIGKILL: below this % of RAM available (0: off)" },
  lowSwapFreePct: { rule: PERCENT, help: "machine: ... and below this % of swap free" },
  criticalAvailablePct: { rule: PERCENT, help: "machine: a second victim while the first is alive only below this % available" },
  starvationWindowMs: {
    rule: { type: "number", integer: true, min: 0, max: MAX_WINDOW_MS, unit: "ms", why: WINDOW_WHY },
    help: "machine: free just below the min watermark this long, reclaim running, is starvation; deeper, less: a fifth of it at min/2 (0: off)",
  },
  starvationKillIntervalMs: { rule: DURATION_MS, help: "machine: at most one starvation kill per this interval" },
  psiFullPct: { rule: PERCENT, help: "machine: PSI memory full share of the window that is pressure (0: off)" },
  psiWindowMs: {
    rule: { type: "number", integer: false, min: MIN_INTERVAL_MS, max: MAX_WINDOW_MS, unit: "ms", why: WINDOW_WHY },
    help: "machine: PSI window",
  },
  machineSampleIntervalMs: { rule: TIMER_INTERVAL_MS, help: "machine: sample interval near a threshold (1 s otherwise)" },
  guardBandPct: {
    rule: { type: "number", integer: false, min: 2, max: 50, unit: "%", why: "below 2% the kernel barely throttles before memory.max; above half, the band is most of the limit" },
    help: "cgroup v2: memory.high goes this far below memory.max (% of it); a workload throttled in the band is an incident",
  },
  softLimit: { rule: BOOLEAN, help: "soft-limit mode for the managed cgroups: raise the hard limit, enforce the old one (no ENOMEM at the limit)" },
  softLimitHeadroomPct: { rule: PERCENT, help: "soft-limit: headroom above the logical limit, % of it" },
  softLimitGraceMs: { rule: DURATION_MS, help: "soft-limit: time above the logical limit before a victim" },
  softLimitIntervalMs: { rule: TIMER_INTERVAL_MS, help: "soft-limit: usage check interval" },
} satisfies Record<string, TunableKey>;

export type TunableName = keyof typeof TABLE;

const BY_NAME: ReadonlyMap<string, TunableKey> = new Map(Object.entries(TABLE));

/** Every tunable, in the order the help lists them. */
export const TUNABLE_NAMES: readonly TunableName[] = Object.keys(TABLE) as TunableName[];

export function isTunableName(name: string): name is TunableName {
  return BY_NAME.has(name);
}

export function tunableKey(name: TunableName): TunableKey {
  return BY_NAME.get(name) as TunableKey;
}

/** What a rule expects, as the message says it: "a number of ms from 1 to 2147483647 (...)". */
export function expectedText(rule: TunableRule): string {
  if (rule.type === "boolean") return "true or false";
  if (rule.unit === "%") return `a percentage from ${rule.min} to ${rule.max}`;
  const what = `${rule.integer ? "an integer" : "a number"}${rule.unit === null ? "" : ` of ${rule.unit}`}`;
  return `${what} from ${rule.min} to ${rule.max}${rule.why === undefined ? "" : ` (${rule.why})`}`;
}

/** Whether a value (as YAML or a caller gave it) passes the key's rule; the message says what was expected. */
export function checkTunable(name: TunableName, value: unknown): { ok: true } | { ok: false; expected: string } {
  const rule = tunableKey(name).rule;
  const fits =
    rule.type === "boolean"
      ? typeof value === "boolean"
      : typeof value === "number" && Number.isFinite(value) && (!rule.integer || Number.isInteger(value)) && value >= rule.min && value <= rule.max;
  return fits ? { ok: true } : { ok: false, expected: expectedText(rule) };
}

/** The keys a rule across keys reads. */
export type CrossKeyName =
  | "warnAvailablePct"
  | "terminateAvailablePct"
  | "lowAvailablePct"
  | "criticalAvailablePct"
  | "starvationWindowMs"
  | "psiWindowMs"
  | "machineSampleIntervalMs";

/**
 * Samples the machine guard may keep for its longest window at its sampling interval (a sample is
 * a few hundred bytes: about 30 MB at most). An hour's window sampled every millisecond would be
 * 3.6 million of them, gigabytes in a daemon that must stay small when memory is short.
 */
export const MAX_WINDOW_SAMPLES = 100_000;

/**
 * The defaults of the keys the rule across keys reads: a file may set only one of the two, and a
 * scenario's options are checked by the simulator, which knows nothing of the engine. The engine's
 * defaults (src/engine/engine-options.ts) take these values from here.
 */
export const CROSS_KEY_DEFAULTS: Readonly<Record<CrossKeyName, number>> = {
  // Warned of (journaled) this far ahead of the terminate level: on a 16 GiB desktop, 800 MiB
  // more of a growing browser.
  warnAvailablePct: 15,
  // earlyoom's SIGTERM level.
  terminateAvailablePct: 10,
  // earlyoom's SIGKILL level (5% of RAM): late enough not to kill what the page cache could still
  // absorb, early enough that the kernel killer, which waits for reclaim to fail outright, has
  // not acted yet.
  lowAvailablePct: 5,
  // A second victim while the first is alive but stalled only this close to the kernel's own OOM
  // point; above it the machine can wait for the first, even one slow to exit.
  criticalAvailablePct: 1.5,
  // While atomic allocations starve the watermark, user allocations loop for as long as that
  // lasts; a second just below min is long for a stall, and rules out a passing dip there. The
  // rule waits less the deeper free memory is (machine-pressure.ts): 200 ms at min/2, where atomic
  // allocations start failing, which the bursts of scenarios/003-atomic-burst-dip.yaml (130-140 ms
  // below min) stay under, and which still acts before min/2 in the flood of the 2020 report.
  starvationWindowMs: 1000,
  // systemd-oomd's default window for memory pressure (60% over 30 s).
  psiWindowMs: 30_000,
  // Four samples a second near a threshold (earlyoom polls at most ten times a second).
  machineSampleIntervalMs: 250,
};

export interface CrossKeyProblem {
  /** The keys involved, for the caller to name the line of the one set last. */
  keys: readonly CrossKeyName[];
  message: string;
}

/** The rule across keys, over the values in effect (set or default). Critical above low would allow a kill after every kill. */
export function crossKeyProblem(valueOf: (name: CrossKeyName) => number): CrossKeyProblem | null {
  const low = valueOf("lowAvailablePct");
  const critical = valueOf("criticalAvailablePct");
  // Each level must lie above the more severe one it leads to (a level set to 0 is off and
  // relates to nothing): a terminate level below the kill level would never be reached first.
  const levels: CrossKeyName[] = ["warnAvailablePct", "terminateAvailablePct", "lowAvailablePct"];
  const on = levels.filter((name) => valueOf(name) > 0);
  for (let i = 0; i + 1 < on.length; i++) {
    const [upper, lower] = [on[i] as CrossKeyName, on[i + 1] as CrossKeyName];
    if (valueOf(upper) < valueOf(lower)) {
      return { keys: [upper, lower], message: `${upper} (${valueOf(upper)}) must not be below ${lower} (${valueOf(lower)}): the levels run warn, terminate, kill, from the most memory available to the least` };
    }
  }
  if (low > 0 && critical > low) {
    return { keys: ["lowAvailablePct", "criticalAvailablePct"], message: `criticalAvailablePct (${critical}) must not be above lowAvailablePct (${low})` };
  }
  const windowMs = Math.max(valueOf("starvationWindowMs"), valueOf("psiWindowMs"));
  const intervalMs = valueOf("machineSampleIntervalMs");
  if (windowMs / intervalMs > MAX_WINDOW_SAMPLES) {
    const windowKey: CrossKeyName = valueOf("psiWindowMs") >= valueOf("starvationWindowMs") ? "psiWindowMs" : "starvationWindowMs";
    return {
      keys: [windowKey, "machineSampleIntervalMs"],
      message: `${windowKey} (${windowMs} ms) sampled every machineSampleIntervalMs (${intervalMs} ms) keeps over ${MAX_WINDOW_SAMPLES} samples in memory: lengthen the interval or shorten the window`,
    };
  }
  return null;
}
