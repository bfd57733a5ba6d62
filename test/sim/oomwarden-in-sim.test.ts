// oomwarden's unchanged engine inside the simulated kernel, over src/host/sim: seed 004's memcg
// whose own handler is stuck is resolved by oomwarden at once, deterministically.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import test from "node:test";
import { fileURLToPath } from "node:url";
import { DEFAULT_ENGINE_OPTIONS } from "../../src/engine/engine-options.js";
import { oomwardenAgentFactory } from "../../src/host/sim/oomwarden-agent.js";
import { joinDecisions, type DecidedRecord, type JournalRecord } from "../../src/engine/journal-record.js";
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
  const decisions = joinDecisions(journal);
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

test("a global scenario: the machine guard acts, the root cgroup's killer is not taken over", async () => {
  const { run, journal } = await runWithOomwarden(load("000-reaper-gives-up.yaml"));
  assert.ok(!journal.some((r) => r.type === "error"), JSON.stringify(journal.filter((r) => r.type === "error")));
  assert.ok(journal.some((r) => r.type === "manage" && r.cgroup === "/" && /guarding the whole machine/.test(r.message)));
  const decisions = joinDecisions(journal);
  assert.equal(decisions.length, 1, JSON.stringify(decisions));
  assert.equal(decisions[0]?.incident.cgroup, "/");
  assert.equal(decisions[0]?.incident.kind, "low-memory");
  assert.equal(decisions[0]?.victim?.comm, "hog");
  assert.deepEqual(run.result.killed, ["hog"]);
  assert.ok(run.events.some((e) => e.kind === "userspace-kill" && e.subject === "hog"), "oomwarden's kill, not the kernel's");
  assert.ok(!run.events.some((e) => e.kind === "kill"), "the kernel killed nobody");
});

test("managing the root cgroup is still refused, as on Linux", async () => {
  const scenario = load("000-reaper-gives-up.yaml");
  const policy = scenario.policies.find((p) => p.userspace.kind === "oomwarden");
  assert.ok(policy && policy.userspace.kind === "oomwarden");
  const { SimHost } = await import("../../src/host/sim/sim-host.js");
  const { Engine } = await import("../../src/engine/engine.js");
  const journal: JournalRecord[] = [];
  let refusal = "";
  await simulate(scenario, { ...policy, userspace: { kind: "none" } }, {
    agent: (api) => ({
      start() {
        const engine = new Engine(new SimHost(api), { append: (r) => journal.push(r) });
        const managed = engine.manage("/");
        if (!managed.ok) refusal = managed.error.message;
        engine.stop();
      },
      stop() {},
    }),
  });
  assert.match(refusal, /cannot disable the kernel OOM killer of \//);
});

test("oomwarden options: the daemon's keys and checks, unknown keys refused", async () => {
  const { engineOptionsFrom } = await import("../../src/host/sim/oomwarden-agent.js");
  assert.throws(() => engineOptionsFrom({ observeIntervalMs: 1e-300 }), /observeIntervalMs must be a number of ms from 1 to/);
  assert.throws(() => engineOptionsFrom({ bogus: 1 }), /unknown oomwarden option "bogus"/);
  assert.throws(() => engineOptionsFrom({ lowAvailablePct: 150 }), /lowAvailablePct must be a percentage from 0 to 100/);
  const options = engineOptionsFrom({ observeIntervalMs: 50, maxObservationsWithoutProgress: 4, lowSwapFreePct: 100 });
  assert.equal(options.observeIntervalMs, 50);
  assert.equal(options.maxObservationsWithoutProgress, 4);
  assert.equal(options.machineGuard.lowSwapFreePct, 100);
  assert.equal(options.machineGuard.lowAvailablePct, 5, "the rest keeps the daemon's defaults");
});

/** Decisions oomwarden journaled for the machine ("/"). */
function machineDecisions(journal: JournalRecord[]): DecidedRecord[] {
  return joinDecisions(journal).filter((r) => r.incident.cgroup === "/");
}

test("seed 001 under kernel-today + oomwarden: the database is killed on low memory before the lock dependency forms; no livelock", async () => {
  const { run, journal } = await runWithOomwarden(load("001-memdie-lock-livelock.yaml"));
  assert.deepEqual(run.result.killed, ["database"]);
  assert.equal(run.result.livelock, false);
  assert.notEqual(run.result.recoveredMs, null);
  const decisions = machineDecisions(journal);
  assert.equal(decisions.length, 1);
  assert.equal(decisions[0]?.incident.kind, "low-memory");
  assert.match(decisions[0]?.incident.reason ?? "", /available .* < 5%/);
  assert.equal(decisions[0]?.outcome.result, "recovered");
  // The kernel's OOM killer never ran: oomwarden acted first.
  assert.ok(!run.events.some((e) => e.kind === "oom"), JSON.stringify(run.events.slice(0, 5)));
});

/** A policy of the scenario run without user space (a kernel or a proposal). */
async function runKernelPolicy(scenario: Scenario, name: string): Promise<Awaited<ReturnType<typeof simulate>>> {
  const policy = scenario.policies.find((p) => p.name === name);
  assert.ok(policy && policy.userspace.kind === "none", `the scenario lists ${name}`);
  return simulate(scenario, policy);
}

const atomicFailures = (run: Awaited<ReturnType<typeof simulate>>): number => run.result.allocFailures.GFP_ATOMIC ?? 0;

test("seed 003 under kernel-today + oomwarden: one kill, before free reaches min/2, no later and with no more atomic failures than the proposal", async () => {
  const scenario = load("003-atomic-watermark-starvation.yaml");
  const { run, journal } = await runWithOomwarden(scenario);
  assert.deepEqual(run.result.killed, ["app"]);
  assert.equal(run.result.innocentKilled, 0);
  const decisions = machineDecisions(journal);
  assert.equal(decisions.length, 1);
  assert.equal(decisions[0]?.incident.kind, "watermark-starvation");
  assert.match(decisions[0]?.incident.reason ?? "", /below the min watermark .* while reclaim freed \d+ pages/);
  const machine = decisions[0]?.incident.machine;
  assert.ok(machine && machine.freeBytes < machine.minWatermarkBytes, "the journal holds the numbers that decided");
  assert.ok(machine.freeBytes > machine.minWatermarkBytes / 2, "it acted on the way down, before atomic allocations fail");
  // The kernel patch proposed for this, on the same machine: oomwarden is at least as good on both counts.
  const proposal = await runKernelPolicy(scenario, "proposal-kill-below-half-min");
  assert.deepEqual(proposal.result.killed, ["app"]);
  assert.ok(run.result.recoveredMs !== null && proposal.result.recoveredMs !== null);
  assert.ok(run.result.recoveredMs <= proposal.result.recoveredMs, `recovered after ${run.result.recoveredMs} ms, the proposal after ${proposal.result.recoveredMs} ms`);
  assert.ok(atomicFailures(run) <= atomicFailures(proposal), `${atomicFailures(run)} GFP_ATOMIC failures, the proposal ${atomicFailures(proposal)}`);
  assert.ok(run.result.maxStallMs <= proposal.result.maxStallMs, `longest stall ${run.result.maxStallMs} ms, the proposal ${proposal.result.maxStallMs} ms`);
});

test("seed 003, bursts that end by themselves: oomwarden kills nobody where the proposal kills the application", async () => {
  const scenario = load("003-atomic-burst-dip.yaml");
  const { run, journal } = await runWithOomwarden(scenario);
  assert.deepEqual(run.result.killed, []);
  assert.deepEqual(machineDecisions(journal), []);
  assert.notEqual(run.result.recoveredMs, null);
  // The dips are real: below min, and at min/2 long enough for atomic allocations to fail, on the kernel alone too.
  const kernelAlone = await runKernelPolicy(scenario, "kernel-today");
  assert.deepEqual(kernelAlone.result.killed, []);
  assert.ok(atomicFailures(kernelAlone) > 0);
  assert.equal(atomicFailures(run), atomicFailures(kernelAlone), "oomwarden changed nothing");
  const proposal = await runKernelPolicy(scenario, "proposal-kill-below-half-min");
  assert.deepEqual(proposal.result.killed, ["app"]);
});

test("seed 003, a flood no kill can fix: oomwarden's starvation kills are at least starvationKillIntervalMs apart, the rest held back and said", async () => {
  const scenario = load("003-atomic-flood.yaml");
  const { run, journal } = await runWithOomwarden(scenario);
  const intervalMs = DEFAULT_ENGINE_OPTIONS.machineGuard.starvationKillIntervalMs;
  const kills = run.events.filter((e) => e.kind === "userspace-kill").map((e) => e.tMs);
  assert.ok(kills.length >= 1, "the flood starves the machine: oomwarden acts once");
  assert.ok(kills.length <= Math.floor(scenario.durationMs / intervalMs) + 1, `${kills.length} kills in ${scenario.durationMs} ms`);
  kills.slice(1).forEach((t, i) => assert.ok(t - (kills[i] as number) >= intervalMs, `kills at ${kills.join(", ")} ms`));
  assert.equal(run.result.innocentKilled, 0);
  assert.ok(!run.events.some((e) => e.kind === "kill"), "the kernel killed nobody");
  // Every kill was the starvation rule's: the stall the flood causes (PSI) was held back with it.
  assert.deepEqual(machineDecisions(journal).map((d) => d.incident.kind), kills.map(() => "watermark-starvation"));
  const heldBack = journal.filter((r) => r.type === "notice" && r.cgroup === "/" && /not acted on: one watermark-starvation kill per \d+ ms/.test(r.message));
  assert.ok(heldBack.length >= 1, "the starvation it did not act on is in the journal");
  // The proposal, which kills at every touch of min/2, takes one service after another and an innocent.
  const proposal = await runKernelPolicy(scenario, "proposal-kill-below-half-min");
  assert.ok(proposal.result.killed.length > kills.length, `the proposal killed ${proposal.result.killed.join(", ")}`);
  assert.ok(proposal.result.innocentKilled >= 1);
});

test("seed 000 (mmu notifier, global) under kernel-today + oomwarden: one victim, held while it exits slowly, no innocent", async () => {
  const { run, journal } = await runWithOomwarden(load("000-reaper-gives-up-mmu-notifier.yaml"));
  assert.deepEqual(run.result.killed, ["rdma-app"]);
  assert.equal(run.result.innocentKilled, 0);
  const decisions = machineDecisions(journal);
  assert.equal(decisions.length, 1);
  const outcome = decisions[0]?.outcome;
  assert.ok(outcome?.reap && "error" in outcome.reap && /EAGAIN/.test(outcome.reap.error), "process_mrelease cannot reap past the blockable notifier");
  // Available memory went back above 5% once the victim stopped allocating; it exits seconds later
  // (its registration holds mmap_sem), and nobody else is chosen meanwhile.
  assert.equal(outcome?.result, "recovered");
  const killAt = run.events.find((e) => e.kind === "userspace-kill")?.tMs ?? -1;
  const exitAt = run.events.find((e) => e.kind === "exit" && e.subject === "rdma-app")?.tMs ?? -1;
  assert.ok(killAt >= 0 && exitAt - killAt > 2000, `killed at ${killAt} ms, exited at ${exitAt} ms`);
});

test("desktop freeze under kernel-today + oomwarden (defaults): PSI sees the thrashing, the leaking tab goes about 20 s into it", async () => {
  const scenario = load("desktop-freeze.yaml");
  const { run, journal } = await runWithOomwarden(scenario);
  assert.deepEqual(run.result.killed, ["tab-leaky"]);
  const firstKill = run.events.find((e) => e.kind === "userspace-kill");
  assert.ok(firstKill && firstKill.tMs <= 140_000, `first kill at ${firstKill?.tMs} ms`);
  const decisions = machineDecisions(journal);
  assert.equal(decisions.length, 1, "one kill: the pressure measured before it does not count after it");
  assert.equal(decisions[0]?.incident.kind, "memory-pressure");
  assert.match(decisions[0]?.incident.reason ?? "", /every task stalled on memory [\d.]+% of the last \d+ ms \(PSI full, threshold 60%\)/);
  const kernelAlone = await simulate(scenario, scenario.policies.find((p) => p.name === "kernel-today")!);
  assert.ok(run.result.pressureFullMs * 4 < kernelAlone.result.pressureFullMs, `frozen ${run.result.pressureFullMs} ms with oomwarden, ${kernelAlone.result.pressureFullMs} ms without`);
});

test("seed 001 with oomwarden's threshold below the machine's state: the livelock forms, and the journal shows why the kill did not help", async () => {
  const scenario = load("001-memdie-lock-livelock.yaml");
  const policy = scenario.policies.find((p) => p.name === "kernel-today+oomwarden-late");
  assert.ok(policy && policy.userspace.kind === "oomwarden");
  const journal: JournalRecord[] = [];
  const run = await simulate(scenario, policy, { agent: oomwardenAgentFactory(policy.userspace, (r) => journal.push(r)) });
  assert.equal(run.result.livelock, true);
  const first = machineDecisions(journal)[0];
  assert.equal(first?.victim?.comm, "database");
  assert.equal(first?.outcome.result, "escalated", "critical (0% available) and no progress: the tracker gives up on it");
  assert.equal(first?.outcome.stall?.wchan, "mutex:inode_lock", "the stall evidence names the lock the victim waits on");
});

test("every shipped scenario: each oomwarden policy meets the expectation the file states for it", async () => {
  const { readdirSync } = await import("node:fs");
  const { checkExpectation } = await import("../../src/sim/result-table.js");
  let checked = 0;
  for (const file of readdirSync(SCENARIOS).filter((f) => f.endsWith(".yaml")).sort()) {
    const scenario = load(file);
    for (const policy of scenario.policies) {
      const expectation = scenario.expectations[policy.name];
      if (policy.userspace.kind !== "oomwarden" || expectation === undefined) continue;
      const run = await simulate(scenario, policy, { agent: oomwardenAgentFactory(policy.userspace) });
      assert.deepEqual(checkExpectation(expectation, run.result, run.events), [], `${file} ${policy.name}: ${JSON.stringify(run.result)}`);
      checked++;
    }
  }
  assert.ok(checked >= 9, `${checked} oomwarden policies checked`);
});

test("with the machine guard acting (seed 003) the same seed gives byte-identical runs and journals", async () => {
  const scenario = load("003-atomic-watermark-starvation.yaml");
  const first = await runWithOomwarden(scenario);
  const second = await runWithOomwarden(scenario);
  assert.ok(machineDecisions(first.journal).length > 0);
  assert.equal(JSON.stringify(second.run), JSON.stringify(first.run));
  assert.equal(JSON.stringify(second.journal), JSON.stringify(first.journal));
});

test("a hog that fills the machine in half a second: oomwarden takes it before the kernel, and nobody else dies", async () => {
  // Before the levels and the adaptive sampling, the kernel's global killer took this hog first
  // and the machine guard's job was to wait for it (test/engine/in-flight-edge-cases.test.ts
  // still holds that case); now the guard is first.
  const { run, journal } = await runWithOomwarden(load("kernel-kills-first.yaml"));
  assert.deepEqual(run.result.killed, ["hog"]);
  assert.equal(run.result.innocentKilled, 0);
  assert.ok(run.events.some((e) => e.kind === "userspace-kill" && e.subject === "hog"), "oomwarden's signal took the hog");
  assert.ok(!run.events.some((e) => e.kind === "oom" || e.kind === "kill"), "the kernel's OOM killer never had to act");
  const decisions = joinDecisions(journal);
  assert.equal(decisions.length, 1, JSON.stringify(decisions));
  // The terminate level or, had the hog crossed it between two samples, the kill level.
  assert.ok(decisions[0]?.action === "terminate" || decisions[0]?.action === "kill", decisions[0]?.action);
  assert.equal(decisions[0]?.victim?.comm, "hog");
  assert.notEqual(decisions[0]?.outcome.result, "survived-sigterm", "a victim exiting on SIGTERM is never spared");
});

test("growth-aware: a leak smaller than an idle cache is chosen over it, where badness alone (the kernel's) takes the cache", async () => {
  const scenario = load("growing-beats-idle.yaml");
  const kernel = await simulate(scenario, scenario.policies.find((p) => p.name === "kernel-today")!);
  assert.ok(kernel.result.killed.includes("cache"), `the kernel killed ${kernel.result.killed.join(", ")}`);
  const { run, journal } = await runWithOomwarden(scenario);
  assert.deepEqual(run.result.killed, ["leak"]);
  const [decision] = joinDecisions(journal);
  const leak = decision?.candidates.find((c) => c.comm === "leak");
  const cache = decision?.candidates.find((c) => c.comm === "cache");
  assert.ok(leak && cache);
  assert.ok(leak.score < cache.score, "by badness the cache is the worse victim");
  assert.ok((leak.growthPages ?? 0) > 0 && (cache.growthPages ?? 0) === 0, "only the leak grows");
  assert.match(leak.reason, /growing [\d.]+ MiB\/s, \+\d+ pages projected over 10 s/);
  assert.equal(decision?.victim?.comm, "leak");
});
