// The simulator's cgroup claims behave like flock: one holder per cgroup of one simulated kernel,
// seen by every agent of that simulation, and free again once given up.

import assert from "node:assert/strict";
import test from "node:test";
import { SimHost } from "../../src/host/sim/sim-host.js";
import type { UserspaceApi } from "../../src/sim/userspace-api.js";

const REF = { path: "/job", version: 1 as const };

test("two agents of one simulation cannot both claim a cgroup; another simulation is separate; released, it is free", () => {
  // claimCgroup uses the simulation only to tell simulations apart.
  const simulation = {} as UserspaceApi;
  const first = new SimHost(simulation);
  const second = new SimHost(simulation);
  const claim = first.claimCgroup(REF);
  assert.ok(claim.ok);
  const refused = second.claimCgroup(REF);
  assert.ok(!refused.ok && refused.error.code === "CLAIMED", JSON.stringify(refused));
  assert.ok(second.claimCgroup({ path: "/other", version: 1 }).ok, "other cgroups are free");
  const elsewhere = new SimHost({} as UserspaceApi).claimCgroup(REF);
  assert.ok(elsewhere.ok, "another simulated kernel has its own claims");
  claim.value();
  claim.value();
  const again = second.claimCgroup(REF);
  assert.ok(again.ok, "free once given up");
});
