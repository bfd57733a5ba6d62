// The machine guard's screening listing inside the simulated kernel: a leak among a dozen idle
// processes and one big idle cache. The decision reads in full only the processes that could be
// the victim, and still kills the leak; its record says how many were left out and the most any
// of them could have ranked on, below every candidate read in full, and lists the best of them
// after those, marked screened.

import assert from "node:assert/strict";
import test from "node:test";
import { joinDecisions, type JournalRecord } from "../../src/engine/journal-record.js";
import { oomwardenAgentFactory } from "../../src/host/sim/oomwarden-agent.js";
import { simulate } from "../../src/sim/kernel/simulate.js";
import { projectedScore } from "../../src/core/rank.js";
import { FULL_READ_CANDIDATES } from "../../src/engine/decision-listing.js";
import { parsedScenario } from "../support/scenario-text.js";

const IDLE = 12;

const TEXT = [
  "name: screening",
  "durationS: 20",
  "memory:",
  "  totalGiB: 1",
  "tasks:",
  "  - name: leak",
  "    mm: { anonMiB: 16 }",
  "    program: [ { loop: forever, steps: [ { allocMiB: 4 }, { sleepMs: 100 } ] } ]",
  "  - name: cache",
  "    innocent: true",
  "    mm: { anonMiB: 200 }",
  "    program: [ { loop: forever, steps: [ { sleepMs: 1000 } ] } ]",
  ...Array.from({ length: IDLE }, (_, i) => [
    `  - name: idle-${i}`,
    "    innocent: true",
    `    mm: { anonMiB: ${4 + i} }`,
    "    program: [ { loop: forever, steps: [ { sleepMs: 1000 } ] } ]",
  ]).flat(),
  "policies:",
  "  - kernel-today+oomwarden",
].join("\n");

test("a screened decision kills the leak, reads few in full, and journals what it left out", async () => {
  const scenario = parsedScenario(TEXT);
  const policy = scenario.policies.find((p) => p.userspace.kind === "oomwarden");
  assert.ok(policy && policy.userspace.kind === "oomwarden");
  const journal: JournalRecord[] = [];
  const run = await simulate(scenario, policy, { agent: oomwardenAgentFactory(policy.userspace, (r) => journal.push(r)) });
  assert.deepEqual(run.result.killed, ["leak"]);
  assert.equal(run.result.innocentKilled, 0);
  const decisions = joinDecisions(journal).filter((d) => d.victim !== null);
  assert.equal(decisions.length, 1, JSON.stringify(decisions));
  const decision = decisions[0]!;
  assert.equal(decision.victim?.comm, "leak");
  const screening = decision.screening;
  assert.ok(screening !== undefined, "the decision was screened");
  assert.ok(screening.screenedOut > 0, JSON.stringify(screening));
  // The victim's place (decision-listing.ts), and init and oomwarden where the simulated machine lists them.
  assert.ok(screening.readInFull <= FULL_READ_CANDIDATES + 2, JSON.stringify(screening));
  assert.equal(decision.phasesMs?.processes, screening.readInFull);
  // The record lists the journal's five: the candidates read in full first, then the best of those
  // left out, marked screened, below them.
  assert.equal(decision.candidates.length, 5, JSON.stringify(decision.candidates));
  const firstScreened = decision.candidates.findIndex((c) => c.screened === true);
  assert.ok(firstScreened > 0, JSON.stringify(decision.candidates));
  assert.ok(decision.candidates.slice(firstScreened).every((c) => c.screened === true), JSON.stringify(decision.candidates));
  assert.equal(decision.candidates[0]?.comm, "leak");
  // Everyone left out ranks below the last candidate read in full, at their best.
  const last = decision.candidates[firstScreened - 1];
  assert.ok(last !== undefined && screening.screenedOutAtMostPages !== null);
  assert.ok(screening.screenedOutAtMostPages < projectedScore(last) || last.idle === true, JSON.stringify({ screening, last }));
  for (const runnerUp of decision.candidates.slice(firstScreened)) assert.ok(projectedScore(runnerUp) <= screening.screenedOutAtMostPages, JSON.stringify({ screening, runnerUp }));
  console.log(`# read in full ${screening.readInFull}, screened out ${screening.screenedOut}: ${decision.candidates.map((c) => c.comm + (c.screened ? "*" : "")).join(", ")}`);
});
