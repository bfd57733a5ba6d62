// Victim rules from the config file to the journal: the rules a config's `rules:` key compiles reach
// the machine guard and the managed cgroups through the engine options, and the decision record says
// which rule placed each candidate, which rule protected who, and which rule the victim fell under.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseConfig } from "../../src/daemon/config.js";
import { MemoryJournal } from "../../src/daemon/journal.js";
import { Engine } from "../../src/engine/engine.js";
import type { EngineOptions } from "../../src/engine/engine-options.js";
import { joinDecisions, type DecidedRecord } from "../../src/engine/journal-record.js";
import { FakeHost } from "./fake-host.js";

const MIB = 1024 * 1024;

const CONFIG = `
rules:
  - name: keep-hog
    comm: ^hog$
    action: protect
  - name: small-first
    comm: ^small$
    action: prefer
`;

function rulesOptions(): EngineOptions["victimRules"] {
  const parsed = parseConfig(CONFIG, "rules.yaml");
  assert.ok(parsed.ok, parsed.ok ? "" : parsed.message);
  return parsed.config.engine.victimRules;
}

function first(journal: MemoryJournal): DecidedRecord {
  const [record] = joinDecisions(journal.records);
  assert.ok(record, "a decision was journaled");
  return record;
}

/** The decision record as the journal file holds it: one JSON line, read back. */
function asWritten(journal: MemoryJournal): Record<string, unknown> {
  const decision = journal.records.find((r) => r.type === "decision");
  assert.ok(decision);
  return JSON.parse(JSON.stringify(decision)) as Record<string, unknown>;
}

describe("victim rules reach every scope and the journal", () => {
  it("machine guard: the preferred small process goes first, the protected hog never", async () => {
    const host = new FakeHost(2);
    const journal = new MemoryJournal();
    const engine = new Engine(host, journal, { observeIntervalMs: 100, maxObservationsWithoutProgress: 5, victimRules: rulesOptions() });
    host.add({ pid: 100, comm: "small", rssBytes: 10 * MIB });
    host.add({ pid: 200, comm: "medium", rssBytes: 300 * MIB });
    host.add({ pid: 300, comm: "hog", rssBytes: 600 * MIB });
    host.machineOtherUsedBytes = host.machineTotalBytes - host.usageBytes() - 32 * MIB;
    assert.ok(engine.guardMachine().ok);
    await host.advance(5000);
    await engine.whenIdle();
    engine.stop();

    assert.equal(host.killed[0], 100, "the preferred process first");
    assert.ok(host.alive(300), "the protected hog lives");
    assert.ok(!host.killed.includes(300));
    const record = first(journal);
    assert.equal(record.victim?.pid, 100);
    assert.equal(record.victim?.rule, "small-first");
    assert.deepEqual(record.candidates.map((c) => [c.pid, c.rule ?? null]), [[100, "small-first"], [200, null]]);
    assert.match(record.candidates[0]!.reason, /; rule "small-first": prefer$/);
    const protectedHog = record.excluded.find((e) => e.pid === 300);
    assert.deepEqual(protectedHog, { pid: 300, comm: "hog", reason: 'protected by rule "keep-hog"', rule: "keep-hog" });

    const written = asWritten(journal);
    assert.deepEqual((written.victim as { rule?: string }).rule, "small-first");
    assert.equal((written.candidates as { rule?: string }[])[0]?.rule, "small-first");
    assert.equal((written.excluded as { pid: number; rule?: string }[]).find((e) => e.pid === 300)?.rule, "keep-hog");
  });

  it("a managed cgroup: its OOM spares the protected biggest process", async () => {
    const host = new FakeHost(1);
    const journal = new MemoryJournal();
    const engine = new Engine(host, journal, { observeIntervalMs: 100, maxObservationsWithoutProgress: 5, victimRules: rulesOptions() });
    host.add({ pid: 100, comm: "worker", rssBytes: 5 * MIB });
    host.add({ pid: 300, comm: "hog", rssBytes: 50 * MIB });
    assert.ok(engine.manage(host.ref.path).ok);
    host.fireOom();
    await host.advance(1000);
    await engine.whenIdle();
    engine.stop();

    assert.deepEqual(host.killed, [100]);
    const record = first(journal);
    assert.equal(record.victim?.pid, 100);
    assert.equal(record.victim?.rule, undefined, "no rule matched the victim");
    assert.equal(record.excluded.find((e) => e.pid === 300)?.rule, "keep-hog");
  });

  it("no rules: the biggest, as before, and no rule in the record", async () => {
    const host = new FakeHost(1);
    const journal = new MemoryJournal();
    const engine = new Engine(host, journal, { observeIntervalMs: 100, maxObservationsWithoutProgress: 5 });
    host.add({ pid: 100, comm: "worker", rssBytes: 5 * MIB });
    host.add({ pid: 300, comm: "hog", rssBytes: 50 * MIB });
    assert.ok(engine.manage(host.ref.path).ok);
    host.fireOom();
    await host.advance(1000);
    await engine.whenIdle();
    engine.stop();

    assert.deepEqual(host.killed, [300]);
    const written = asWritten(journal);
    assert.equal("rule" in (written.victim as object), false);
    assert.ok((written.candidates as object[]).every((c) => !("rule" in c)));
  });
});
