// The peers bench's heartbeat: each late wake-up, with what it waited for (a CPU or its own pages),
// counted only inside the run's window.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { analyseRun, handlerCpuBetween, type GuestProcess, type GuestRun, type HandlerCpuPoint } from "../../bench/peers.js";

const MIB_KIB = 1024;

function heartbeatRun(lines: string[], handlerCpu?: HandlerCpuPoint[]): GuestRun {
  const heartbeat: GuestProcess = {
    role: "innocent",
    name: "heartbeat",
    pid: 100,
    cgroup: null,
    startMs: 0,
    exitMs: null,
    signal: null,
    code: null,
    endedByBenchMs: 30_000,
    lines: lines.map((text) => [0, text]),
  };
  return {
    workload: "many-small",
    handler: "oomwarden",
    run: 0,
    t0Ms: 10_000,
    endMs: 20_000,
    processes: [heartbeat],
    mem: {
      firstBelowMs: {},
      lineKib: { "10": 100 * MIB_KIB, "5": 50 * MIB_KIB },
      minKib: 60 * MIB_KIB,
      minAtMs: 15_000,
      samples: 3,
      meanIntervalMs: 10,
      maxIntervalMs: 10,
      series: [
        [10_000, 300 * MIB_KIB],
        [14_900, 80 * MIB_KIB],
        [15_100, 60 * MIB_KIB],
      ],
      ...(handlerCpu !== undefined ? { handlerCpu } : {}),
    },
  };
}

describe("peers bench: the heartbeat's late wake-ups", () => {
  it("reads the run-queue wait and the major faults of each late wake-up, with MemAvailable before it", () => {
    const metrics = analyseRun(heartbeatRun(["ready 1.0", "gap 80.5 15.0405 71.2 0", "gap 55.0 16.5 3.1 4"]), { memTotalKib: 1000 * MIB_KIB, epochMinusMonotonicMs: 0 });
    assert.deepEqual(metrics.heartbeatLate, [
      { atMs: 5041, gapMs: 80.5, runQueueWaitMs: 71.2, majorFaults: 0, availableMiB: 80, handlerCpuMs: null },
      { atMs: 6500, gapMs: 55, runQueueWaitMs: 3.1, majorFaults: 4, availableMiB: 60, handlerCpuMs: null },
    ]);
    assert.equal(metrics.heartbeatLongestGapMs, 80.5);
  });

  it("leaves out wake-ups outside the run (the bench's own teardown) and reads the older two-field lines without causes", () => {
    const metrics = analyseRun(heartbeatRun(["gap 120.0 20.1 100.0 0", "gap 60.0 12.0"]), { memTotalKib: 1000 * MIB_KIB, epochMinusMonotonicMs: 0 });
    assert.deepEqual(metrics.heartbeatLate, [{ atMs: 2000, gapMs: 60, runQueueWaitMs: null, majorFaults: null, availableMiB: 300, handlerCpuMs: null }]);
    assert.equal(metrics.heartbeatLongestGapMs, 60);
  });

  it("sets beside each late wake-up what the handler ran meanwhile, main thread and other threads apart", () => {
    // Readings every 20 ms; the gap runs from 14 960.0 to 15 040.5 ms: the readings at 14 960 and 15 060 enclose it.
    const cpu: HandlerCpuPoint[] = [
      [14_940, 1000, 500],
      [14_960, 1002, 501],
      [15_040, 1060, 503],
      [15_060, 1070, 509.5],
    ];
    const metrics = analyseRun(heartbeatRun(["gap 80.5 15.0405 71.2 0"], cpu), { memTotalKib: 1000 * MIB_KIB, epochMinusMonotonicMs: 0 });
    assert.deepEqual(metrics.heartbeatLate[0]?.handlerCpuMs, { main: 68, others: 8.5 });
    assert.equal(handlerCpuBetween(cpu, 14_900, 15_000), null, "no reading before the gap: not known");
    assert.equal(handlerCpuBetween(cpu, 14_950, 15_100), null, "no reading after it");
  });
});
