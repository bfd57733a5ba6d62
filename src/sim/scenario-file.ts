// Scenario files (scenarios/*.yaml): a human YAML format read into the simulator's Scenario.
// Pure: text and a source name in, a Scenario or every error out; no fs, no clock.
// Sizes are written in GiB/MiB/KiB/pages and times in s/ms, the unit spelled in the key name
// (`anonMiB`, `durationS`), and converted to pages and ms (src/sim/scenario.ts).
// Every error names the file, the line and the key path, e.g.
//   file.yaml:14: tasks[2].mm.anonMiB: expected a number >= 0, got "lots"
// The format is documented in docs/scenario-format.md: change both together.
//
// This module is the public entry; the parser lives in src/sim/scenario-file/:
//   parse.ts             parseScenario, the top level and the order of the sections
//   memory.ts cgroups.ts locks.ts tasks.ts programs.ts policies.ts userspace.ts expectations.ts
//                        one section (or part of one) each
//   diagnostics.ts fields.ts messages.ts known.ts
//                        typed reads of YAML nodes and keys, `file:line: key.path: message` errors
//   units.ts             GiB/MiB/KiB/Pages, S/Ms and rate suffixes
//   defaults.ts          SCENARIO_DEFAULTS, defaultWatermarks
//   program-cost.ts work.ts work-budget.ts
//                        the work budget: an upper bound of a run's work, checked for the file's policies
//   builtin-policies.ts  BUILTIN_POLICIES, DEFAULT_POLICY_NAMES, builtinPolicySpec

export type { Expectation } from "./scenario.js";
export type { ScenarioFileResult } from "./scenario-file/diagnostics.js";
export { parseScenario } from "./scenario-file/parse.js";
export { defaultWatermarks, SCENARIO_DEFAULTS } from "./scenario-file/defaults.js";
export { BUILTIN_POLICIES, builtinPolicySpec, DEFAULT_POLICY_NAMES } from "./scenario-file/builtin-policies.js";
export { MMAP_SEM } from "./scenario-file/locks.js";
export { PAGES_PER_MIB } from "./scenario-file/units.js";
export { checkWorkBudget, WORK_BUDGET_UNITS } from "./scenario-file/work-budget.js";
