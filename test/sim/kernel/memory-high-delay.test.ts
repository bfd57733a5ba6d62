// The memory.high penalty against the kernel's own numbers (the table above calculate_overage in
// mm/memcontrol.c: high = 100M, the ms one 64-page batch sleeps at each usage, computed at HZ 1000).

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { HZ, highDelayJiffies, jiffiesToMs, MEMCG_CHARGE_BATCH, MEMCG_MAX_HIGH_DELAY_JIFFIES, overageFixed, throttleJiffies } from "../../../src/sim/kernel/memcg-high-delay.js";

const MIB = 256;
const HIGH = 100 * MIB;
/** usage in MiB -> ms, from the kernel's comment. */
const KERNEL_TABLE: [number, number][] = [
  [100, 0], [101, 6], [102, 25], [103, 57], [104, 102], [105, 159], [106, 230], [107, 313], [108, 409], [109, 518],
  [110, 639], [111, 774], [112, 921], [113, 1081], [114, 1254], [115, 1439], [116, 1638], [117, 1849], [118, 2000], [119, 2000], [120, 2000],
];
const JIFFY_MS = 1000 / HZ;

describe("memory.high penalty", () => {
  it("matches the kernel's table to within a jiffy, and is capped at 2 s", () => {
    for (const [usageMiB, ms] of KERNEL_TABLE) {
      const jiffies = Math.min(highDelayJiffies(MEMCG_CHARGE_BATCH, overageFixed(usageMiB * MIB, HIGH)), MEMCG_MAX_HIGH_DELAY_JIFFIES);
      const got = jiffiesToMs(jiffies);
      assert.ok(got <= ms && ms - got < JIFFY_MS + 1, `${usageMiB}M: ${got} ms, the kernel's table says ${ms}`);
    }
  });

  it("is r squared times the pages charged, in seconds: four quarter batches cost one batch", () => {
    const overage = overageFixed(110 * MIB, HIGH);
    assert.equal(overage, Math.floor(0.1 * 2 ** 20));
    const one = highDelayJiffies(64, overage);
    // 64 × r² × HZ jiffies = 0.64 s, a jiffy less after the kernel's rounding down.
    assert.ok(Math.abs(one - (64 * HZ) / 100) <= 1, `${one} jiffies`);
    assert.ok(Math.abs(jiffiesToMs(one) - 640) <= JIFFY_MS, `${jiffiesToMs(one)} ms`);
    assert.ok(Math.abs(4 * highDelayJiffies(16, overage) - one) <= 4);
    assert.equal(highDelayJiffies(128, overage), 2 * one);
  });

  it("sleeps nothing at or below high, nor up to HZ/100 jiffies; at least 3 jiffies otherwise", () => {
    assert.equal(overageFixed(HIGH, HIGH), 0);
    assert.equal(throttleJiffies(64, overageFixed(HIGH - 1, HIGH)), 0);
    assert.equal(throttleJiffies(64, overageFixed(101 * MIB, HIGH)), 0, "6 ms: not worth a sleep");
    assert.ok(throttleJiffies(64, overageFixed(102 * MIB, HIGH)) >= 3);
    assert.equal(throttleJiffies(64, overageFixed(130 * MIB, HIGH)), 2 * HZ);
    assert.equal(throttleJiffies(64, overageFixed(1e9, 1)), 2 * HZ, "far past the cap it saturates");
    assert.ok(overageFixed(5, 0) > 0, "a high of 0 acts as 1 page");
  });
});
