// oomwarden's unchanged engine inside the simulated kernel, over src/host/sim: seed 004's memcg
// whose own handler is stuck is resolved by oomwarden at once, deterministically.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import test from "node:test";
import { fileURLToPath } from "node:url";
import { oomwardenAgentFactory } from "../../src/daemon/sim-agent.js";
import type { DecisionRecord, JournalRecord } from "../../src/engine/journal-record.js";
import { simulate } from "../../src/sim/kernel/simulate.js";
import { parseScenario } from "../../src/sim/scenario-file.js";
import type { Scenario } from "../../src/sim/scenario.js";

const SCENARIOS = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "scenarios");

function load(file: string): Scenario {
  const parsed = parseScenario(readFileSync(join(SCENARIOS, file), "utf8"), file);
  if (!parsed.ok) assert.fail(parsed.errors.join("\n"));
  return parsed.scenario;
}

async function runWithOomwarden(scenario: Scenario): Promise<{ run: Awaited<ReturnType<typeof simulate>>; journal: JournalRecord[] }> {
  const policy = scenario.policies.find((p) => p.userspace.kind === "oomwarden");
  assert.ok(policy && policy.userspace.kind === "oomwarden", "the scenario lists an oomwarden policy");
  const journal: JournalRecord[] = [];
  const run = await simulate(scenario, policy, { agent: oomwardenAgentFactory(policy.userspace, (r) => journal.push(r)) });
  return { run, journal };
}

test("seed 004 under kernel-today + oomwarden: one kill, the worker, recovered within 100 ms, and the journal explains it", async () => {
  const { run, journal } = await runWithOomwarden(load("004-userspace-handler-deadlock.yaml"));
  assert.deepEqual(run.result.killed, ["batch"]);
  assert.equal(run.result.innocentKilled, 0);
  assert.ok(run.result.recoveredMs !== null && run.result.recoveredMs <= 100, `recovered after ${run.result.recoveredMs} ms`);
  assert.equal(run.result.livelock, false);
  const decisions = journal.filter((r): r is DecisionRecord => r.type === "decision");
  assert.equal(decisions.length, 1);
  assert.equal(decisions[0]?.victim?.comm, "batch");
  assert.equal(decisions[0]?.action, "kill");
  assert.equal(decisions[0]?.outcome.result, "recovered");
  assert.ok(run.events.some((e) => e.kind === "userspace-kill" && e.subject === "batch"), "the kill is in the simulator's event log");
});

test("the same scenario with oomwarden inside gives byte-identical runs and journals", async () => {
  const scenario = load("004-userspace-handler-deadlock.yaml");
  const first = await runWithOomwarden(scenario);
  const second = await runWithOomwarden(scenario);
  assert.equal(JSON.stringify(second.run), JSON.stringify(first.run));
  // The journal's records carry no wall-clock time (the daemon adds it), so they must match too.
  assert.equal(JSON.stringify(second.journal), JSON.stringify(first.journal));
});

test("a global scenario: oomwarden cannot take over the root cgroup and says so, as on Linux", async () => {
  const { run, journal } = await runWithOomwarden(load("000-reaper-gives-up.yaml"));
  const errors = journal.filter((r) => r.type === "error");
  assert.ok(
    errors.some((r) => r.type === "error" && /cannot disable the kernel OOM killer of \//.test(r.message)),
    JSON.stringify(journal),
  );
  assert.equal(journal.filter((r) => r.type === "decision").length, 0, "global OOMs stay the kernel's");
  assert.deepEqual(run.result.killed, ["hog"], "today's kernel alone kills only the hog");
});

test("oomwarden options that would stop virtual time are refused", async () => {
  const { engineOptionsFrom } = await import("../../src/daemon/sim-agent.js");
  assert.throws(() => engineOptionsFrom({ observeIntervalMs: 1e-300 }), /observeIntervalMs must be at least 1 ms/);
  assert.deepEqual(engineOptionsFrom({ observeIntervalMs: 50, maxObservationsWithoutProgress: 4, bogus: 1 }), {
    observeIntervalMs: 50,
    maxObservationsWithoutProgress: 4,
  });
});
