// One manager per cgroup: Engine.manage claims the cgroup through the Host before touching it,
// and gives the claim up only after the kernel's settings are back.

import assert from "node:assert/strict";
import test from "node:test";
import { MemoryJournal } from "../../src/daemon/journal.js";
import { Engine } from "../../src/engine/engine.js";
import { FakeHost } from "./fake-host.js";

const MIB = 1024 * 1024;
const OPTIONS = { machineGuard: { enabled: false } };

test("a second engine on a claimed cgroup is refused and changes nothing; it may manage it once the first stopped", async () => {
  const host = new FakeHost(1);
  host.add({ pid: 100, comm: "innocent", rssBytes: 1 * MIB });
  host.add({ pid: 200, comm: "hog", rssBytes: 60 * MIB });
  const first = new Engine(host, new MemoryJournal(), OPTIONS);
  const secondJournal = new MemoryJournal();
  const second = new Engine(host, secondJournal, OPTIONS);
  assert.ok(first.manage(host.ref.path).ok);

  const refused = second.manage(host.ref.path);
  assert.ok(!refused.ok && refused.error.code === "CLAIMED", JSON.stringify(refused));
  assert.deepEqual(second.managedPaths(), []);
  assert.equal(secondJournal.records.at(-1)?.type, "error");

  // Only the owner decides: one OOM, one kill.
  host.fireOom();
  await host.advance(1000);
  await first.whenIdle();
  assert.deepEqual(host.killed, [200]);

  let claimedWhileRestoring: boolean | null = null;
  const restoreOom = host.restoreOom.bind(host);
  host.restoreOom = (ref, takeover) => {
    claimedWhileRestoring = host.claimed.has(ref.path);
    return restoreOom(ref, takeover);
  };
  first.stop();
  assert.equal(claimedWhileRestoring, true, "the claim is held until oom_kill_disable is back");
  assert.equal(host.oomKillDisabled, false);
  assert.deepEqual([...host.claimed], []);
  assert.ok(second.manage(host.ref.path).ok, "free again after the owner stopped");
  second.stop();
});

test("a cgroup whose start fails is not left claimed", () => {
  const host = new FakeHost(1);
  let claimedDuringStart = false;
  host.watchOom = (ref) => {
    claimedDuringStart = host.claimed.has(ref.path);
    return { ok: false, error: { code: "EMFILE", message: "too many open files" } };
  };
  const engine = new Engine(host, new MemoryJournal(), OPTIONS);
  const managed = engine.manage(host.ref.path);
  assert.ok(!managed.ok && managed.error.code === "EMFILE");
  assert.equal(claimedDuringStart, true, "claimed while it was being taken over");
  assert.deepEqual([...host.claimed], [], "given up with the failed start");
  assert.equal(host.oomKillDisabled, false);
});
