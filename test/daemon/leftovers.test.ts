// A daemon gives back itself what an earlier daemon of its state directory left taken over in
// cgroups it does not manage: `oomwarden restore` refuses while it runs, and nobody else would.

import assert from "node:assert/strict";
import test from "node:test";
import { MemoryJournal } from "../../src/daemon/journal.js";
import { giveBackLeftovers } from "../../src/daemon/leftovers.js";
import { InMemoryLedger } from "../../src/engine/takeover-ledger.js";
import { FakeHost } from "../engine/fake-host.js";

function leftBehind(): { host: FakeHost; ledger: InMemoryLedger; journal: MemoryJournal; logged: string[] } {
  const host = new FakeHost(1);
  const ledger = new InMemoryLedger();
  // What a daemon killed by SIGKILL leaves: the killer off, the original 0 written down.
  host.oomKillDisabled = true;
  assert.ok(ledger.remember(host.ledgerKey(), false).ok);
  return { host, ledger, journal: new MemoryJournal(), logged: [] };
}

test("an entry for a cgroup this daemon does not manage is given back under the cgroup's claim, logged and journaled", () => {
  const { host, ledger, journal, logged } = leftBehind();
  let claimedWhileRestoring = false;
  const restoreOom = host.restoreOom.bind(host);
  host.restoreOom = (ref, takeover) => {
    claimedWhileRestoring = host.claimed.has(ref.path);
    return restoreOom(ref, takeover);
  };
  giveBackLeftovers(host, ledger, journal, (m) => logged.push(m), []);
  assert.equal(host.oomKillDisabled, false);
  assert.equal(claimedWhileRestoring, true);
  assert.deepEqual([...host.claimed], [], "and the claim given up again");
  assert.deepEqual(ledger.listedPaths(), []);
  const said = `left taken over by an earlier oomwarden, not managed by this one: ${host.ref.path}: oom_kill_disable restored to 0`;
  assert.deepEqual(logged, [said]);
  assert.deepEqual(journal.records, [{ type: "release", cgroup: host.ref.path, message: said }]);
});

test("an entry of a cgroup this daemon manages is its own to restore at stop: left alone", () => {
  const { host, ledger, journal, logged } = leftBehind();
  giveBackLeftovers(host, ledger, journal, (m) => logged.push(m), [host.ref.path]);
  assert.equal(host.oomKillDisabled, true);
  assert.deepEqual(ledger.listedPaths(), [host.ref.path]);
  assert.deepEqual(logged, []);
});

test("a leftover another daemon holds now stays listed, and the refusal is journaled as an error", () => {
  const { host, ledger, journal, logged } = leftBehind();
  const other = host.claimCgroup(host.ref);
  assert.ok(other.ok);
  giveBackLeftovers(host, ledger, journal, (m) => logged.push(m), []);
  assert.equal(host.oomKillDisabled, true);
  assert.deepEqual(ledger.listedPaths(), [host.ref.path]);
  assert.equal(journal.records[0]?.type, "error");
  assert.match(logged[0] ?? "", /another oomwarden manages \S+; not restored, still listed$/);
  other.value();
});

test("a v2 guard band a killed daemon left (memory.high below the limit) goes back to its original, before the raised limit", () => {
  const host = new FakeHost(2, 140 * 1024 * 1024);
  const ledger = new InMemoryLedger();
  const journal = new MemoryJournal();
  const logged: string[] = [];
  // Soft-limit mode on v2 left both: the limit raised from 128 MiB, memory.high at the logical limit.
  host.highBytes = 128 * 1024 * 1024;
  assert.ok(ledger.rememberHigh(host.ledgerKey(), null).ok);
  assert.ok(ledger.rememberLimit(host.ledgerKey(), 128 * 1024 * 1024).ok);
  const order: string[] = [];
  const setHigh = host.setMemoryHigh.bind(host);
  host.setMemoryHigh = (ref, bytes) => (order.push("high"), setHigh(ref, bytes));
  const setLimit = host.setMemoryLimit.bind(host);
  host.setMemoryLimit = (ref, bytes) => (order.push("limit"), setLimit(ref, bytes));
  giveBackLeftovers(host, ledger, journal, (m) => logged.push(m), []);
  assert.equal(host.highBytes, null, "memory.high is max again");
  assert.equal(host.limitBytes, 128 * 1024 * 1024);
  assert.deepEqual(order, ["high", "limit"]);
  assert.deepEqual(ledger.listedPaths(), []);
  assert.ok(logged.some((m) => m.endsWith(`${host.ref.path}: memory.high put back to max: an earlier oomwarden set its guard band and stopped without giving it back`)), logged.join("\n"));
});
