// Engine tunables. Each default carries the reason it has that value.

import { DEFAULT_KILL_UNIT, type KillUnitConfig } from "../core/kill-unit.js";
import type { MachineGuardConfig } from "../core/machine-pressure.js";
import { CROSS_KEY_DEFAULTS } from "../core/tunable-keys.js";
import type { VictimRule } from "../core/victim-rules.js";

export interface MachineGuardOptions extends MachineGuardConfig {
  /** Off: only the managed cgroups are watched. */
  enabled: boolean;
  /** Between samples while memory is near a threshold. */
  sampleIntervalMs: number;
  /** Between samples while memory is plentiful. */
  idleSampleIntervalMs: number;
  /** The terminate level's grace: how long a victim has after SIGTERM before SIGKILL (at once when the kill level is reached). */
  terminateGraceMs: number;
  /** What dies with the victim: the process alone, its process group, or its cgroup as a unit (src/core/kill-unit.ts). */
  killUnit: KillUnitConfig;
}

export interface SoftLimitOptions {
  enabled: boolean;
  /** Hard limit = logical limit + this share of it. */
  headroomPct: number;
  /** Usage may stay above the logical limit this long before a victim is chosen (reclaim and frees may bring it back). */
  graceMs: number;
  /** Between usage checks. */
  intervalMs: number;
}

export interface EngineOptions {
  /** Record decisions, never kill, and leave the kernel OOM killer in charge. */
  dryRun: boolean;
  /** How many top candidates each journal record lists. */
  journalCandidates: number;
  /** Interval between progress observations of a killed victim. */
  observeIntervalMs: number;
  /** Observations in a row without progress before the next victim is chosen (a slow victim: progress, not a bare timeout). */
  maxObservationsWithoutProgress: number;
  /** A fall of victim RSS or cgroup usage at least this large counts as progress. */
  minProgressBytes: number;
  /** Pause between the first confirmation reads right after the kill, so a fast recovery is timed precisely. */
  fastConfirmDelaysMs: number[];
  /** cgroup v2: memory.high goes this far below memory.max (% of it); throttling in the band is the incident. */
  guardBandPct: number;
  /** Whole-machine protection (low memory, watermark starvation, PSI). */
  machineGuard: MachineGuardOptions;
  /** Soft-limit mode for the managed cgroups (so syscalls at the limit do not fail with ENOMEM). */
  softLimit: SoftLimitOptions;
  /** Victim rules (the config file's `rules:`), first match wins; the cgroup xattrs the host reports apply after them. */
  victimRules: readonly VictimRule[];
}

export const DEFAULT_ENGINE_OPTIONS: EngineOptions = {
  dryRun: false,
  // Five is enough to see why the victim was chosen without bloating every line.
  journalCandidates: 5,
  // Reaping a 1 GiB victim took ~45 ms here: a healthy victim is gone within the first observation.
  observeIntervalMs: 250,
  // 12 x 250 ms = 3 s without any progress before a second victim: never sooner than today's kernel
  // gives up on a victim (OOM_REAPER_DELAY 2 s + 10 x 100 ms). The hog of the reaper-gives-up
  // scenarios, its mmap_sem held by its own compacting threads, needed 2.6 s to exit; half a second
  // of patience killed an innocent in the simulator (scenarios/000-reaper-gives-up-memcg.yaml).
  maxObservationsWithoutProgress: 12,
  // Page-cache noise in a busy cgroup moves usage by less than this between observations.
  minProgressBytes: 1024 * 1024,
  // Memory came back 4-5 ms after the notification for a 64 MiB victim (measured on cgroup v1 here): sample densely at first.
  fastConfirmDelaysMs: [0.5, 1, 1, 2, 2, 5, 5, 10, 20, 50],
  // The kernel's throttle grows with the square of the overage, so the time a workload takes to
  // cross the band grows with its cube (and with the cgroup's size): in a 128 MiB cgroup on
  // Debian's 6.1, the fastest hog (tail /dev/zero) reached the kernel's kill 7-8.5 s after
  // entering a 9% band, 3.3-3.9 s after a 6% one, 0.5-0.9 s after a 3% one; a page-cache job
  // whose working set fits below the band lost nothing (docs/cgroup-v2.md has the measurements).
  guardBandPct: 10,
  machineGuard: {
    enabled: true,
    // The values the rules across keys relate live with those rules (src/core/tunable-keys.ts, with
    // their reasons), so the simulator can check a scenario's options without the engine.
    // Journaled only: a desktop user or an operator who reads it has minutes, not seconds (nohang
    // warns at 20% RAM with 25% swap; a fifth of RAM is often page cache that is still in use).
    warnAvailablePct: CROSS_KEY_DEFAULTS.warnAvailablePct,
    warnSwapFreePct: 20,
    // earlyoom's SIGTERM levels (10% of RAM and 10% of swap): a browser or an editor gets its
    // chance to save and exit while there is still room to do it.
    terminateAvailablePct: CROSS_KEY_DEFAULTS.terminateAvailablePct,
    terminateSwapFreePct: 10,
    lowAvailablePct: CROSS_KEY_DEFAULTS.lowAvailablePct,
    // earlyoom's SIGKILL level of swap, as for RAM: a machine that still has swap is not out of memory.
    lowSwapFreePct: 5,
    criticalAvailablePct: CROSS_KEY_DEFAULTS.criticalAvailablePct,
    starvationWindowMs: CROSS_KEY_DEFAULTS.starvationWindowMs,
    // At most one starvation kill a minute: the upstream objection was a remote DoS (a packet flood
    // turning the OOM killer on the machine's services).
    starvationKillIntervalMs: 60_000,
    // systemd-oomd's defaults for memory pressure: 60% over 30 s (every task stalled on memory).
    psiFullPct: 60,
    psiWindowMs: CROSS_KEY_DEFAULTS.psiWindowMs,
    sampleIntervalMs: CROSS_KEY_DEFAULTS.machineSampleIntervalMs,
    // Once a second when memory is plentiful, which costs a few file reads.
    idleSampleIntervalMs: 1000,
    // Long enough for a program that handles SIGTERM to write its state out (earlyoom and nohang
    // wait up to 10 s, with SIGKILL sooner once memory is critical, as here at the kill level);
    // short enough that a hog that ignores SIGTERM is gone before the machine stalls.
    terminateGraceMs: 3000,
    // The process alone, as the kernel and earlyoom do: a unit is what its owner says it is.
    killUnit: DEFAULT_KILL_UNIT,
  },
  softLimit: {
    // Off: a cgroup's limit is the kernel's to enforce unless its owner asks for this mode.
    enabled: false,
    // The file server of scenarios/002-memcg-kmem-enomem.yaml charges ~16 MiB/s in syscalls: 10% of
    // a 512 MiB limit covers 3 s of it.
    headroomPct: 10,
    // Short: the headroom, not the grace, is what keeps syscalls from failing; a victim chosen
    // sooner leaves more of it.
    graceMs: 200,
    intervalMs: 100,
  },
  // None: the kernel's badness decides (with the oomd xattrs a cgroup carries) until the operator writes rules.
  victimRules: [],
};

/** What callers pass: any subset, the machine guard's settings too. */
export type EngineOptionsInput = Partial<Omit<EngineOptions, "machineGuard" | "softLimit">> & {
  machineGuard?: Partial<MachineGuardOptions>;
  softLimit?: Partial<SoftLimitOptions>;
};

export function resolveEngineOptions(input: EngineOptionsInput = {}): EngineOptions {
  const { machineGuard, softLimit, ...rest } = input;
  return {
    ...DEFAULT_ENGINE_OPTIONS,
    ...rest,
    machineGuard: { ...DEFAULT_ENGINE_OPTIONS.machineGuard, ...machineGuard },
    softLimit: { ...DEFAULT_ENGINE_OPTIONS.softLimit, ...softLimit },
  };
}

/** A copy whose nested settings can be changed without touching the defaults. */
export function copyEngineOptions(options: EngineOptions): EngineOptions {
  return { ...options, machineGuard: { ...options.machineGuard }, softLimit: { ...options.softLimit } };
}
