// A managed cgroup removed while managed, or removed and made again at the same path (a service
// restart), is another cgroup: it is let go and said so, and nothing of the first one (its
// oom_kill_disable, its limit, its ledger entries) is ever written into the second.

import assert from "node:assert/strict";
import test from "node:test";
import { MemoryJournal } from "../../src/daemon/journal.js";
import { Engine } from "../../src/engine/engine.js";
import { InMemoryLedger } from "../../src/engine/takeover-ledger.js";
import { FakeHost } from "./fake-host.js";

const MIB = 1024 * 1024;
const NO_GUARD = { machineGuard: { enabled: false } };

function lastRelease(journal: MemoryJournal): string | undefined {
  return journal.records.filter((r) => r.type === "release").map((r) => (r as { message: string }).message).at(-1);
}

test("a managed v1 cgroup removed (its eventfd fires) is let go: journaled, no longer managed, its claim and ledger entry given up", async () => {
  const host = new FakeHost(1);
  const journal = new MemoryJournal();
  const ledger = new InMemoryLedger();
  const logged: string[] = [];
  const engine = new Engine(host, journal, NO_GUARD, { ledger, log: (m) => logged.push(m) });
  assert.ok(engine.manage(host.ref.path).ok);
  assert.equal(ledger.recall(host.ledgerKey()), false);

  host.removeCgroup();
  await host.advance(10);
  assert.deepEqual(engine.managedPaths(), []);
  assert.deepEqual([...host.claimed], [], "the claim is given up");
  assert.deepEqual(ledger.listedPaths(), [], "nothing left to give back to");
  assert.equal(lastRelease(journal), "cgroup removed, no longer managed");
  assert.ok(logged.includes(`${host.ref.path}: cgroup removed, no longer managed`), logged.join("\n"));
  const report = engine.stop();
  assert.deepEqual(report, { restored: [], removed: [], failed: [] }, "already let go: nothing to report at stop");
});

test("removed and made again at the same path while managed: stop writes nothing into the new cgroup and says why", () => {
  const host = new FakeHost(1);
  const journal = new MemoryJournal();
  const ledger = new InMemoryLedger();
  const engine = new Engine(host, journal, NO_GUARD, { ledger });
  assert.ok(engine.manage(host.ref.path).ok);
  assert.equal(host.oomKillDisabled, true);
  // No notification reached us (missed, or v2): only the stop finds it.
  host.removed = true;
  host.recreateCgroup();
  host.oomKillDisabled = true; // the new cgroup's owner wants the kernel killer off
  const report = engine.stop();
  assert.deepEqual(report, { restored: [], removed: [host.ref.path], failed: [] });
  assert.equal(host.oomKillDisabled, true, "the old cgroup's original (0) is not written into the new one");
  assert.equal(lastRelease(journal), "cgroup removed (another cgroup was made at its path since), no longer managed");
  assert.deepEqual(ledger.listedPaths(), []);
});

test("soft-limit mode: a cgroup made again with a limit of its own keeps it; the old cgroup's original is not written at stop", () => {
  const host = new FakeHost(2, 64 * MIB);
  const ledger = new InMemoryLedger();
  const engine = new Engine(host, new MemoryJournal(), { ...NO_GUARD, softLimit: { enabled: true } }, { ledger });
  assert.ok(engine.manage(host.ref.path).ok);
  const writesWhileManaged = [...host.limitWrites];
  assert.equal(writesWhileManaged.length, 1, "raised once");
  host.removed = true;
  host.recreateCgroup();
  host.limitBytes = 256 * MIB; // the service restarted with a new limit
  engine.stop();
  assert.deepEqual(host.limitWrites, writesWhileManaged, "no limit written into the new cgroup");
  assert.equal(host.limitBytes, 256 * MIB);
  assert.deepEqual(ledger.listedPaths(), []);
});

test("an entry a killed daemon left for an earlier cgroup at the path is dropped at takeover, said so, and never given back", () => {
  const host = new FakeHost(1);
  const ledger = new InMemoryLedger();
  ledger.remember({ path: host.ref.path, identity: { bootId: host.bootId, inode: "0" } }, false);
  host.oomKillDisabled = true; // set by the new cgroup's owner, not by oomwarden
  const engine = new Engine(host, new MemoryJournal(), NO_GUARD, { ledger });
  const managed = engine.manage(host.ref.path);
  assert.ok(managed.ok);
  assert.ok(
    managed.value.notes.includes(
      `the takeover ledger's entry for ${host.ref.path} is dropped: the cgroup it was written down for was removed, and the one there now was made since, so its original is not that cgroup's`,
    ),
    managed.value.notes.join("; "),
  );
  assert.ok(managed.value.notes.includes("oom_kill_disable was already 1"), managed.value.notes.join("; "));
  engine.stop();
  assert.equal(host.oomKillDisabled, true, "its owner's 1 stays");
});

test("a cgroup whose identity cannot be read is not taken over (its original could not be tied to it), and says why", () => {
  const host = new FakeHost(1);
  host.identifyCgroup = () => ({ ok: false, error: { code: "BOOT_ID_UNKNOWN", message: "cannot tell this boot from another: EACCES" } });
  const engine = new Engine(host, new MemoryJournal(), NO_GUARD, { ledger: new InMemoryLedger() });
  const managed = engine.manage(host.ref.path);
  assert.ok(!managed.ok);
  assert.equal(
    managed.error.message,
    "not taking over: no original can be recorded, since this cgroup cannot be told from one made later at its path (cannot tell this boot from another: EACCES)",
  );
  assert.equal(host.oomKillDisabled, false);
});

test("a notification after the cgroup was made again at its path: the new one's OOM is not ours, nobody is killed, the old one is let go", async () => {
  const host = new FakeHost(1);
  host.add({ pid: 100, comm: "new-service", rssBytes: 60 * MIB });
  const journal = new MemoryJournal();
  const engine = new Engine(host, journal, NO_GUARD, { ledger: new InMemoryLedger() });
  assert.ok(engine.manage(host.ref.path).ok);
  host.removed = true;
  host.recreateCgroup();
  host.fireOom(); // the removal's eventfd signal, read while the new cgroup at the path is out of memory
  await host.advance(1000);
  await engine.whenIdle();
  assert.deepEqual(host.killed, []);
  assert.equal(journal.records.filter((r) => r.type === "decision").length, 0);
  assert.deepEqual(engine.managedPaths(), []);
  assert.equal(lastRelease(journal), "cgroup removed (another cgroup was made at its path since), no longer managed");
});

test("soft-limit mode: usage over the logical limit in a cgroup made again at the path is not ours to act on", async () => {
  // v1, where oomwarden samples usage against the logical limit (v2's band is told of a removal by its watch).
  const host = new FakeHost(1, 64 * MIB);
  host.add({ pid: 100, comm: "new-service", rssBytes: 10 * MIB });
  const journal = new MemoryJournal();
  const engine = new Engine(host, journal, { ...NO_GUARD, observeIntervalMs: 100, softLimit: { enabled: true } }, { ledger: new InMemoryLedger() });
  assert.ok(engine.manage(host.ref.path).ok);
  host.removed = true;
  host.recreateCgroup();
  host.baseUsageBytes += 60 * MIB; // the new cgroup is far above the old one's logical limit
  await host.advance(2000);
  await engine.whenIdle();
  assert.deepEqual(host.killed, []);
  assert.deepEqual(engine.managedPaths(), []);
  assert.equal(lastRelease(journal), "cgroup removed (another cgroup was made at its path since), no longer managed");
});
