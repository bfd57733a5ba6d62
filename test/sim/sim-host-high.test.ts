// oomwarden's Host over the simulator writes memory.high: bytes round down to whole pages, null is
// "max", and the simulator's refusals come back as errors.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { SimHost } from "../../src/host/sim/sim-host.js";
import { simulate } from "../../src/sim/kernel/simulate.js";
import { cgroup, policy, scenario, task } from "./kernel/build.js";

const MIB = 256;

describe("SimHost.setMemoryHigh", () => {
  it("sets the v2 cgroup's memory.high in pages, rounding down, and clears it with null; v1 and unknown paths fail", async () => {
    const s = scenario("host", {
      durationMs: 10,
      machine: { pages: 64 * MIB, min: MIB },
      cgroups: [cgroup("/v2", 32 * MIB, { version: 2 }), cgroup("/v1", 32 * MIB, { version: 1 })],
      tasks: [task("idle", { main: [{ op: "sleep", ms: 1e9 }] }, { cgroup: "/v2" })],
    });
    let checked = false;
    await simulate(s, policy("today", "today"), {
      agent: (api) => ({
        start() {
          const host = new SimHost(api);
          const ref = { path: "/v2", version: 2 as const };
          assert.ok(host.setMemoryHigh(ref, 30 * 1024 * 1024 + 4095).ok);
          assert.equal(api.cgroup("/v2")?.highPages, 30 * MIB, "4095 bytes more are not a page");
          assert.ok(host.setMemoryHigh(ref, null).ok);
          assert.equal(api.cgroup("/v2")?.highPages, null);
          const v1 = host.setMemoryHigh({ path: "/v1", version: 1 }, 1 << 20);
          assert.ok(!v1.ok && v1.error.code === "EINVAL", JSON.stringify(v1));
          const gone = host.setMemoryHigh({ path: "/gone", version: 2 }, 1 << 20);
          assert.ok(!gone.ok && gone.error.code === "ENOENT", JSON.stringify(gone));
          const negative = host.setMemoryHigh(ref, -4096);
          assert.ok(!negative.ok && negative.error.code === "EINVAL");
          checked = true;
        },
        stop() {},
      }),
    });
    assert.ok(checked);
  });
});
