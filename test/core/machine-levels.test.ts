// The memory levels as pure functions fed literal samples: which level a machine is at, with swap
// and without, and how far it is above the next one.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  atLeast,
  bytesAboveNextLevel,
  memoryCameBack,
  memoryCameBackBeforeSignal,
  memoryFellAgain,
  memoryLevel,
  projectedLevel,
  racesMemory,
  RACING_WITHIN_MS,
  type MemoryLevelsConfig,
} from "../../src/core/machine-levels.js";
import { lowMemory } from "../../src/core/machine-pressure.js";
import type { MachinePressure } from "../../src/core/types.js";
import { DEFAULT_ENGINE_OPTIONS } from "../../src/engine/engine-options.js";
import { machineSample } from "../support/machine-samples.js";

const MIB = 1024 * 1024;
const LEVELS: MemoryLevelsConfig = {
  warnAvailablePct: 15,
  warnSwapFreePct: 20,
  terminateAvailablePct: 10,
  terminateSwapFreePct: 10,
  lowAvailablePct: 5,
  lowSwapFreePct: 5,
};

/** A 1000 MiB machine: availableMiB is then also the percentage x 10. */
function machine(availableMiB: number, swap: { totalMiB: number; freeMiB: number } = { totalMiB: 0, freeMiB: 0 }): MachinePressure {
  return machineSample({ totalBytes: 1000 * MIB, availableBytes: availableMiB * MIB, freeBytes: availableMiB * MIB, swapTotalBytes: swap.totalMiB * MIB, swapFreeBytes: swap.freeMiB * MIB });
}

describe("memory levels", () => {
  it("the defaults are the ones documented: warn 15/20, terminate 10/10, kill 5/5", () => {
    const { warnAvailablePct, warnSwapFreePct, terminateAvailablePct, terminateSwapFreePct, lowAvailablePct, lowSwapFreePct } = DEFAULT_ENGINE_OPTIONS.machineGuard;
    assert.deepEqual({ warnAvailablePct, warnSwapFreePct, terminateAvailablePct, terminateSwapFreePct, lowAvailablePct, lowSwapFreePct }, LEVELS);
  });

  it("without swap, RAM alone decides, from none to kill as MemAvailable falls", () => {
    const levels = [500, 160, 149, 100, 99, 50, 49, 0].map((mib) => memoryLevel(machine(mib), LEVELS).level);
    assert.deepEqual(levels, [null, null, "warn", "warn", "terminate", "terminate", "kill", "kill"]);
    assert.match(memoryLevel(machine(99), LEVELS).reason, /available 99\.0 MiB of 1000\.0 MiB \(9\.9% < 10%\), no swap: terminate level/);
  });

  it("with swap, a level needs free swap below its share too", () => {
    const swapFull = { totalMiB: 1000, freeMiB: 40 };
    const swapFree = { totalMiB: 1000, freeMiB: 900 };
    assert.equal(memoryLevel(machine(30, swapFree), LEVELS).level, null, "RAM short, swap to spare: not out of memory");
    assert.equal(memoryLevel(machine(30, swapFull), LEVELS).level, "kill");
    // RAM at the kill level, swap only at the terminate level: terminate.
    assert.equal(memoryLevel(machine(30, { totalMiB: 1000, freeMiB: 80 }), LEVELS).level, "terminate");
    assert.match(memoryLevel(machine(30, swapFull), LEVELS).reason, /swap free 40\.0 MiB of 1000\.0 MiB \(4\.0%\): kill level/);
  });

  it("swap read at each sample: swap (or zram) that appears later lifts the level", () => {
    assert.equal(memoryLevel(machine(40), LEVELS).level, "kill");
    assert.equal(memoryLevel(machine(40, { totalMiB: 2000, freeMiB: 2000 }), LEVELS).level, null);
  });

  it("a share of 0 turns its level off", () => {
    const noTerminate = { ...LEVELS, terminateAvailablePct: 0 };
    assert.equal(memoryLevel(machine(80), noTerminate).level, "warn");
    assert.equal(memoryLevel(machine(40), noTerminate).level, "kill");
    assert.equal(memoryLevel(machine(0), { ...LEVELS, warnAvailablePct: 0, terminateAvailablePct: 0, lowAvailablePct: 0 }).level, null);
  });

  it("lowMemory acts at the terminate and the kill level, not at warn; critical only at the kill level", () => {
    const config = { ...DEFAULT_ENGINE_OPTIONS.machineGuard, ...LEVELS };
    assert.equal(lowMemory(machine(120), config), null);
    assert.equal(lowMemory(machine(80), config)?.level, "terminate");
    assert.equal(lowMemory(machine(80), config)?.critical, false);
    assert.equal(lowMemory(machine(40), config)?.level, "kill");
    assert.equal(lowMemory(machine(10), config)?.critical, true, "1% < criticalAvailablePct 1.5%");
  });

  it("projected: a fall that reaches a line before the signal lands acts at that level now, and says so", () => {
    // 150 MiB (15%) falling 1 MiB/ms; a decision of 80 ms lands at 70 MiB: the terminate level.
    const fast = projectedLevel(machine(150), LEVELS, { bytesPerMs: MIB, leadMs: 80 });
    assert.equal(fast.level, "terminate");
    assert.equal(fast.reason, "available 150.0 MiB of 1000.0 MiB (15.0%), no swap, falling 1000.0 MiB/s: 70.0 MiB (7.0% < 10%) when a signal lands (80 ms): terminate level");
    // Past the kill line by then: the kill level.
    assert.equal(projectedLevel(machine(120), LEVELS, { bytesPerMs: MIB, leadMs: 80 }).level, "kill");
    // Already at a level the projection does not pass: the plain reading, word for word.
    assert.deepEqual(projectedLevel(machine(80), LEVELS, { bytesPerMs: MIB / 1000, leadMs: 80 }), memoryLevel(machine(80), LEVELS));
    // No fall, or no lead: nothing projected.
    assert.deepEqual(projectedLevel(machine(150), LEVELS, { bytesPerMs: 0, leadMs: 80 }), memoryLevel(machine(150), LEVELS));
    assert.deepEqual(projectedLevel(machine(150), LEVELS, { bytesPerMs: MIB, leadMs: 0 }), memoryLevel(machine(150), LEVELS));
    // Critical stays a judgement of now: 20 MiB projected to 0 is the kill level, not critical until it is below 1.5%.
    const config = { ...DEFAULT_ENGINE_OPTIONS.machineGuard, ...LEVELS };
    const verdict = lowMemory(machine(20), config, { bytesPerMs: MIB, leadMs: 80 });
    assert.equal(verdict?.level, "kill");
    assert.equal(verdict?.critical, false);
  });

  it("bytesAboveNextLevel: the distance to the next line that acts (not warn), none below the last", () => {
    assert.equal(bytesAboveNextLevel(machine(500), LEVELS), 400 * MIB);
    assert.equal(bytesAboveNextLevel(machine(120), LEVELS), 20 * MIB);
    assert.equal(bytesAboveNextLevel(machine(70), LEVELS), 20 * MIB);
    assert.equal(bytesAboveNextLevel(machine(30), LEVELS), null);
  });

  it("atLeast orders warn < terminate < kill", () => {
    assert.ok(atLeast("kill", "terminate") && atLeast("terminate", "terminate") && !atLeast("warn", "terminate") && !atLeast(null, "warn"));
  });
});

describe("memory came back since a decision", () => {
  it("by at least minProgressBytes of MemAvailable or of free swap; a hover at the line is not", () => {
    const decided = machine(99.5, { totalMiB: 100, freeMiB: 5 });
    assert.equal(memoryCameBack(decided, machine(100.4, { totalMiB: 100, freeMiB: 5 }), MIB), false);
    assert.equal(memoryCameBack(decided, machine(100.5, { totalMiB: 100, freeMiB: 5 }), MIB), true);
    assert.equal(memoryCameBack(decided, machine(99.5, { totalMiB: 100, freeMiB: 6 }), MIB), true);
    assert.equal(memoryCameBack(decided, machine(90, { totalMiB: 100, freeMiB: 5 }), MIB), false);
  });

  it("before the signal, by 1% of RAM (10 MiB of 1000), or minProgressBytes where that is more", () => {
    const decided = machine(99.5, { totalMiB: 100, freeMiB: 5 });
    assert.equal(memoryCameBackBeforeSignal(decided, machine(109.4, { totalMiB: 100, freeMiB: 5 }), MIB), false);
    assert.equal(memoryCameBackBeforeSignal(decided, machine(109.5, { totalMiB: 100, freeMiB: 5 }), MIB), true);
    assert.equal(memoryCameBackBeforeSignal(decided, machine(99.5, { totalMiB: 100, freeMiB: 15 }), MIB), true);
    assert.equal(memoryCameBackBeforeSignal(decided, machine(109.5, { totalMiB: 100, freeMiB: 5 }), 20 * MIB), false);
  });

  it("filled again after a victim: at the terminate level by more than 1% of RAM, at the kill level by more than minProgressBytes", () => {
    // Back at 90 MiB of 1000 after the victim; 1% of RAM is 10 MiB.
    const peakBytes = 90 * MIB;
    assert.equal(memoryFellAgain(peakBytes, machine(80.1), MIB, "terminate"), false);
    assert.equal(memoryFellAgain(peakBytes, machine(79.9), MIB, "terminate"), true);
    assert.equal(memoryFellAgain(peakBytes, machine(89.1), MIB, "kill"), false);
    assert.equal(memoryFellAgain(peakBytes, machine(88.9), MIB, "kill"), true);
    // A minProgressBytes above 1% of RAM is the floor at both levels.
    assert.equal(memoryFellAgain(peakBytes, machine(75), 20 * MIB, "terminate"), false);
    assert.equal(memoryFellAgain(peakBytes, machine(75), 20 * MIB, "kill"), false);
  });

  it("a minProgressBytes of 0 still needs a byte more: the same reading is not a return", () => {
    const decided = machine(99.5);
    assert.equal(memoryCameBack(decided, machine(99.5), 0), false);
    assert.equal(memoryCameBack(decided, machine(99.6), 0), true);
  });
});

describe("racesMemory", () => {
  const perSecond = (mib: number): number => (mib * MIB) / 1000;

  it("a fast hog at the terminate level races: the kill line is 50 MiB and 43 ms away at 1.17 GiB/s", () => {
    assert.equal(racesMemory(machine(100), LEVELS, perSecond(1168), false), true);
  });

  it("a steady fall at the terminate level does not: at 40 MiB/s the kill line is over a second away", () => {
    assert.equal(racesMemory(machine(100), LEVELS, perSecond(40), false), false);
    assert.equal(racesMemory(machine(100), LEVELS, 0, false), false, "not falling at all");
  });

  it("the line RACING_WITHIN_MS away is where it starts", () => {
    // 50 MiB above the kill line at 50 MiB/s: exactly a second.
    assert.equal(RACING_WITHIN_MS, 1000);
    assert.equal(racesMemory(machine(100), LEVELS, perSecond(50), false), false);
    assert.equal(racesMemory(machine(100), LEVELS, perSecond(51), false), true);
  });

  it("at the kill level, or critical, every decision races, falling or not", () => {
    assert.equal(racesMemory(machine(40), LEVELS, 0, false), true);
    assert.equal(racesMemory(machine(300), LEVELS, 0, true), true);
  });

  it("with the kill level off, the line is the kernel's own OOM: MemAvailable at 0", () => {
    const noKill = { ...LEVELS, lowAvailablePct: 0 };
    assert.equal(racesMemory(machine(100), noKill, perSecond(90), false), false, "100 MiB at 90 MiB/s: over a second");
    assert.equal(racesMemory(machine(100), noKill, perSecond(110), false), true);
  });
});
