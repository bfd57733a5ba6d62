// `oomwarden simulate FILE [--policy NAME]... [--json] [--svg OUT] [--seed N]`: reads a scenario,
// runs it in the simulated kernel under each policy and reports one row per policy. Returns the
// exit code: 0 all runs done, 1 a run or the SVG failed, 2 bad arguments or an invalid scenario.
// The world it touches (files, output, the simulator) comes in as SimulateIo so tests can fake it.

import { writeFileSync } from "node:fs";
import { readRegularFile } from "../daemon/read-regular-file.js";
import { formatExpectations, formatResultTable, resultRow, type ResultRow } from "../sim/result-table.js";
import { builtinPolicySpec, checkWorkBudget, parseScenario } from "../sim/scenario-file.js";
import type { Expectation, PolicySpec, Scenario, SimulationRun, UserspaceSpec } from "../sim/scenario.js";
import { renderTimelineSvg } from "../sim/svg-timeline.js";
import type { UserspaceAgent, UserspaceApi } from "../sim/userspace-api.js";
import type { SimulateArgs } from "./args.js";

type AgentFactory = (api: UserspaceApi) => UserspaceAgent;

export interface SimulateIo {
  readFile(path: string): string;
  writeFile(path: string, text: string): void;
  stdout(text: string): void;
  stderr(text: string): void;
  simulate(scenario: Scenario, policy: PolicySpec, options?: { agent?: AgentFactory }): Promise<SimulationRun>;
  oomwardenAgent(spec: Extract<UserspaceSpec, { kind: "oomwarden" }>): AgentFactory;
}

/** 1 MiB: the shipped scenarios are a few KiB; parsing a file from elsewhere stays quick. */
export const MAX_SCENARIO_BYTES = 1024 * 1024;

/** The real files, streams, simulator and oomwarden agent. */
export async function processIo(): Promise<SimulateIo> {
  const [{ simulate }, { oomwardenAgentFactory }] = await Promise.all([import("../sim/kernel/simulate.js"), import("../host/sim/oomwarden-agent.js")]);
  return {
    readFile: (path) => {
      // The config file's reader: a regular file only, never more than the limit (a FIFO, /dev/zero).
      const read = readRegularFile(path, MAX_SCENARIO_BYTES, (sizeBytes, maxBytes, orMore) => `it is ${sizeBytes} bytes${orMore ? " or more" : ""}: a scenario file is at most ${maxBytes} bytes`);
      if (!read.ok) throw new Error(read.reason);
      return read.bytes.toString("utf8");
    },
    writeFile: (path, text) => writeFileSync(path, text),
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    simulate,
    oomwardenAgent: (spec) => oomwardenAgentFactory(spec),
  };
}

/** Errors of an invalid file printed before "... and N more errors". */
const MAX_SHOWN_ERRORS = 20;

export async function runSimulate(args: SimulateArgs, io?: SimulateIo): Promise<number> {
  io ??= await processIo();
  let text: string;
  try {
    text = io.readFile(args.file);
  } catch (error) {
    io.stderr(`oomwarden simulate: cannot read ${args.file}: ${messageOf(error)}\n`);
    return 2;
  }
  // A malformed scenario is reported as errors; anything the parser did not foresee still
  // becomes one line and exit code 2, never a stack trace.
  let parsed: ReturnType<typeof parseScenario>;
  try {
    parsed = parseScenario(text, args.file);
  } catch (error) {
    io.stderr(`oomwarden simulate: ${args.file}: ${messageOf(error)}\n`);
    return 2;
  }
  if (!parsed.ok) {
    // The first errors say what is wrong; a file from elsewhere may hold thousands.
    const shown = parsed.errors.slice(0, MAX_SHOWN_ERRORS);
    io.stderr(shown.map((e) => `${e}\n`).join(""));
    if (parsed.errors.length > shown.length) io.stderr(`... and ${parsed.errors.length - shown.length} more errors\n`);
    io.stderr(`oomwarden simulate: ${args.file} is not a valid scenario (${parsed.errors.length} error${parsed.errors.length === 1 ? "" : "s"}); see docs/scenario-format.md\n`);
    return 2;
  }
  const scenario: Scenario = args.seed === null ? parsed.scenario : { ...parsed.scenario, randomSeed: args.seed };
  let policies: ReturnType<typeof selectPolicies>;
  try {
    policies = selectPolicies(scenario, args.policies);
  } catch (error) {
    io.stderr(`oomwarden simulate: ${args.file}: ${messageOf(error)}\n`);
    return 2;
  }
  if ("error" in policies) {
    io.stderr(`oomwarden simulate: ${policies.error}\n`);
    return 2;
  }
  // The file's own policies were checked when it was read; --policy may name others, or more.
  const overBudget = args.policies.length === 0 ? null : checkWorkBudget(scenario, policies.value);
  if (overBudget !== null) {
    io.stderr(`oomwarden simulate: ${args.file}: with --policy ${args.policies.join(", ")}: ${overBudget.message}\n`);
    return 2;
  }

  const runs: SimulationRun[] = [];
  const failures: string[] = [];
  for (const policy of policies.value) {
    try {
      const agent = policy.userspace.kind === "oomwarden" ? io.oomwardenAgent(policy.userspace) : undefined;
      runs.push(await io.simulate(scenario, policy, agent ? { agent } : {}));
    } catch (error) {
      // A failed run is reported in one line, never as a stack trace; the other policies still run.
      failures.push(`policy ${policy.name}: ${messageOf(error)}`);
    }
  }

  // Own keys only: a policy named "constructor" has no expectation unless the file gives one.
  const expectationOf = (policy: string): Expectation | undefined => (Object.hasOwn(scenario.expectations, policy) ? scenario.expectations[policy] : undefined);
  const rows: ResultRow[] = runs.map((run) => resultRow(run.result, expectationOf(run.result.policy), run.events));
  if (args.json) io.stdout(`${JSON.stringify(rows, null, 2)}\n`);
  else if (rows.length > 0) {
    io.stdout(`${scenario.name}${scenario.seed !== null ? ` (kernel problem ${scenario.seed}, see docs/kernel-problems.md)` : ""}: ${formatMs(scenario.durationMs)} of virtual time, random seed ${scenario.randomSeed}\n\n`);
    io.stdout(formatResultTable(rows));
    const lines = formatExpectations(rows);
    if (lines !== "") io.stdout(`\n${lines}`);
  }
  for (const f of failures) io.stderr(`oomwarden simulate: ${f}\n`);

  let code = failures.length > 0 ? 1 : 0;
  if (args.svg !== null && runs.length > 0) {
    try {
      io.writeFile(args.svg, renderTimelineSvg(runs, { title: scenario.name, subtitle: scenario.description }));
      io.stderr(`oomwarden simulate: timeline written to ${args.svg}\n`);
    } catch (error) {
      io.stderr(`oomwarden simulate: cannot write ${args.svg}: ${messageOf(error)}\n`);
      code = 1;
    }
  }
  return code;
}

/**
 * The policies to run: the file's, or those named with --policy. A built-in name the file does
 * not list runs with its defaults, so any scenario can be tried under any built-in policy.
 */
export function selectPolicies(scenario: Scenario, names: string[]): { value: PolicySpec[] } | { error: string } {
  if (names.length === 0) return { value: scenario.policies };
  const out: PolicySpec[] = [];
  for (const name of names) {
    const spec = scenario.policies.find((p) => p.name === name) ?? builtinPolicySpec(name, scenario.cgroups);
    if (!spec) {
      return { error: `unknown policy "${name}": the scenario lists ${scenario.policies.map((p) => p.name).join(", ")} (any built-in policy may also be named)` };
    }
    if (!out.some((p) => p.name === spec.name)) out.push(spec);
  }
  return { value: out };
}

function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}

/** One line: the first line of an error's message, without its stack. */
function messageOf(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split("\n")[0] || (error instanceof Error ? error.name : "unknown error");
}
