// The layering rule, made mechanical (the architecture in the README). Dependencies point down,
// core <- engine <- host (linux, sim) <- daemon <- cli (`a <- b`: b may import a);
// sim, the simulated kernel, stands alone, with core's pure helpers and nothing else of oomwarden.
//   src/core    pure: relative imports inside src/core only (no Node builtins, no npm packages), no Date
//               in any form, no timers, no Math.random, no console, no process.
//   src/engine  no Node builtins, no npm packages, nothing from host, sim, daemon or cli; no Date, no
//               timers, no Math.random, no console, no process: time and timers come from the Host,
//               what happened goes to the journal.
//   src/host    nothing from daemon or cli (src/host/linux and src/host/sim alike).
//   src/sim     pure and deterministic: no Node builtins, no clock, no Math.random, nothing from
//               engine, host, daemon or cli (user space reaches it through src/host/sim).
//   src/daemon  nothing from cli.
//   src/cli     the top: anything in src.
// Every folder of src/ has a rule, inherited by its subfolders; a folder without one fails the test,
// so a new folder cannot slip past. A text check cannot tell Node's `process` global from a variable
// of that name, so core and engine refuse the identifier itself and name their variables otherwise
// (proc, sample); a property name (`snapshot.process`) is not the global and is allowed.
// Every broken rule is reported with the file, the line and the import or expression.

import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { builtinModules } from "node:module";
import { dirname, join, relative, resolve, sep } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

/** dist/test/layering.test.js -> the repository root. */
const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const SRC = join(REPO_ROOT, "src");

type Layer = "core" | "engine" | "host" | "daemon" | "cli" | "sim";

interface LayerRule {
  /** Layers this one must not import from. */
  forbiddenLayers: Layer[];
  /** Only imports that stay inside the layer's own folder are allowed. */
  selfContained: boolean;
  forbidBuiltins: boolean;
  /** npm packages: any specifier that is neither relative nor a Node builtin. */
  forbidPackages: boolean;
  /** Globals refused as identifiers anywhere in code; a property of that name (`x.process`) is allowed. */
  forbiddenGlobals: { name: string; why: string }[];
  /** Expressions that read the clock, start timers or draw unseeded numbers. */
  forbiddenExpressions: { pattern: RegExp; why: string }[];
}

const TIMERS: LayerRule["forbiddenExpressions"] = [
  { pattern: /\bperformance\.now\b/, why: "reads the clock" },
  { pattern: /\b(setTimeout|setInterval|setImmediate)\s*\(/, why: "starts a real timer" },
];

const CLOCK: LayerRule["forbiddenExpressions"] = [
  { pattern: /\bDate\.now\b/, why: "reads the clock" },
  { pattern: /\bnew\s+Date\b/, why: "reads the clock" },
  { pattern: /\bprocess\.hrtime\b/, why: "reads the clock" },
  ...TIMERS,
];

const UNSEEDED = { pattern: /\bMath\.random\b/, why: "is not seeded" };

/** What core and engine must not touch: the clock (every use of Date), output, and Node's process. */
const PURE_GLOBALS: LayerRule["forbiddenGlobals"] = [
  { name: "Date", why: "the clock and calendar (time comes from the caller or the Host)" },
  { name: "console", why: "output (what happened goes to the journal)" },
  { name: "process", why: "Node's process global, which a variable of that name cannot be told apart from (name it proc or sample)" },
];

const NO_GLOBALS: LayerRule["forbiddenGlobals"] = [];

/** One rule per top folder of src/; its subfolders (src/host/linux, src/sim/kernel) inherit it. */
const RULES: Record<Layer, LayerRule> = {
  core: {
    forbiddenLayers: ["engine", "host", "daemon", "cli", "sim"],
    selfContained: true,
    forbidBuiltins: true,
    forbidPackages: true,
    forbiddenGlobals: PURE_GLOBALS,
    forbiddenExpressions: [...TIMERS, UNSEEDED],
  },
  engine: {
    forbiddenLayers: ["host", "sim", "daemon", "cli"],
    selfContained: false,
    forbidBuiltins: true,
    forbidPackages: true,
    forbiddenGlobals: PURE_GLOBALS,
    forbiddenExpressions: [...TIMERS, UNSEEDED],
  },
  host: { forbiddenLayers: ["daemon", "cli"], selfContained: false, forbidBuiltins: false, forbidPackages: false, forbiddenGlobals: NO_GLOBALS, forbiddenExpressions: [] },
  // The simulated kernel is deterministic: virtual time only, no I/O, and it knows nothing of
  // oomwarden (user space reaches it only through src/sim/userspace-api.ts, via src/host/sim).
  sim: {
    forbiddenLayers: ["engine", "host", "daemon", "cli"],
    selfContained: false,
    forbidBuiltins: true,
    forbidPackages: false,
    forbiddenGlobals: NO_GLOBALS,
    forbiddenExpressions: [...CLOCK, UNSEEDED],
  },
  // The daemon runs the engine over the Linux host; the simulator is reached only through its own host (src/host/sim).
  daemon: { forbiddenLayers: ["cli", "sim"], selfContained: false, forbidBuiltins: false, forbidPackages: false, forbiddenGlobals: NO_GLOBALS, forbiddenExpressions: [] },
  // The top: the command may import anything in src.
  cli: { forbiddenLayers: [], selfContained: false, forbidBuiltins: false, forbidPackages: false, forbiddenGlobals: NO_GLOBALS, forbiddenExpressions: [] },
};

const BUILTINS = new Set(builtinModules);
const LAYERS = Object.keys(RULES) as Layer[];

export interface Violation {
  file: string;
  line: number;
  message: string;
  /** The forbidden global used, for a violation of forbiddenGlobals. */
  global?: string;
}

/**
 * Blanks comments (and, if asked, string contents) while keeping every offset and line break. A
 * template literal's text is a string, its substitutions (`${...}`) are code and stay.
 */
export function blank(source: string, alsoStrings: boolean): string {
  const keepNewlines = (text: string): string => text.replace(/[^\n]/g, " ");
  /** Brace depth inside each open substitution, innermost last: its own "}" closes it. */
  const substitutions: number[] = [];
  let out = "";
  let i = 0;
  /** Copies template text from i to the template's end (a backtick) or its next substitution. */
  const templateText = (): void => {
    let j = i;
    while (j < source.length && source[j] !== "`" && !(source[j] === "$" && source[j + 1] === "{")) j += source[j] === "\\" ? 2 : 1;
    const text = source.slice(i, j);
    out += alsoStrings ? keepNewlines(text) : text;
    if (source[j] === "`") {
      out += "`";
      i = j + 1;
    } else if (j < source.length) {
      out += "${";
      substitutions.push(0);
      i = j + 2;
    } else {
      i = j;
    }
  };
  while (i < source.length) {
    const c = source[i]!;
    const next = source[i + 1];
    if (c === "/" && next === "/") {
      const end = source.indexOf("\n", i);
      const stop = end === -1 ? source.length : end;
      out += keepNewlines(source.slice(i, stop));
      i = stop;
    } else if (c === "/" && next === "*") {
      const end = source.indexOf("*/", i + 2);
      const stop = end === -1 ? source.length : end + 2;
      out += keepNewlines(source.slice(i, stop));
      i = stop;
    } else if (c === '"' || c === "'") {
      let j = i + 1;
      while (j < source.length && source[j] !== c) j += source[j] === "\\" ? 2 : 1;
      const literal = source.slice(i, j + 1);
      out += alsoStrings ? c + keepNewlines(literal.slice(1, -1)) + c : literal;
      i = j + 1;
    } else if (c === "`") {
      out += c;
      i++;
      templateText();
    } else if (c === "{" && substitutions.length > 0) {
      substitutions[substitutions.length - 1]!++;
      out += c;
      i++;
    } else if (c === "}" && substitutions.length > 0) {
      out += c;
      i++;
      if (substitutions[substitutions.length - 1] === 0) {
        substitutions.pop();
        templateText();
      } else {
        substitutions[substitutions.length - 1]!--;
      }
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

/** Every module specifier in static imports and re-exports, dynamic import() and require(). */
export function importSpecifiers(source: string): { specifier: string; line: number }[] {
  const code = blank(source, false);
  const found: { specifier: string; line: number }[] = [];
  const patterns = [
    /\b(?:import|export)\s[^;]*?\bfrom\s*(["'])([^"']+)\1/g,
    /\bimport\s*(["'])([^"']+)\1/g,
    /\b(?:import|require)\s*\(\s*(["'])([^"']+)\1\s*\)/g,
  ];
  for (const pattern of patterns) {
    for (const match of code.matchAll(pattern)) {
      found.push({ specifier: match[2]!, line: lineOf(code, match.index + match[0].length) });
    }
  }
  return found.sort((a, b) => a.line - b.line);
}

export function isBuiltin(specifier: string): boolean {
  return specifier.startsWith("node:") || BUILTINS.has(specifier) || BUILTINS.has(specifier.split("/")[0]!);
}

/**
 * Offsets in blanked code where `name` is an identifier: not part of a longer one (`processes`),
 * and not a property name after "." or "?." (`snapshot.process`), except on globalThis or global,
 * which is the global itself. A spread (`...process`) is a use of the variable.
 */
export function identifierUses(code: string, name: string): number[] {
  const offsets: number[] = [];
  for (const match of code.matchAll(new RegExp(`(?<![\\w$])${name}(?![\\w$])`, "g"))) {
    let k = match.index - 1;
    while (k >= 0 && /\s/.test(code[k]!)) k--;
    const isProperty = code[k] === "." && code[k - 1] !== ".";
    const onGlobalObject = isProperty && /(?<![\w$.])(globalThis|global)\s*\??$/.test(code.slice(Math.max(0, k - 40), k));
    if (!isProperty || onGlobalObject) offsets.push(match.index);
  }
  return offsets;
}

/** The layer a resolved path belongs to, or null outside src/<layer>/. */
function layerOf(path: string): Layer | null {
  const inside = relative(SRC, path);
  if (inside.startsWith("..")) return null;
  const top = inside.split(sep)[0]!;
  return LAYERS.find((layer) => layer === top) ?? null;
}

/** Checks one source file of a layer against that layer's rule. */
export function checkSource(file: string, source: string, layer: Layer, rule: LayerRule): Violation[] {
  const violations: Violation[] = [];
  const shown = relative(REPO_ROOT, file);
  for (const { specifier, line } of importSpecifiers(source)) {
    if (isBuiltin(specifier)) {
      if (rule.forbidBuiltins) violations.push({ file: shown, line, message: `imports Node builtin "${specifier}" (${layer} must not)` });
      continue;
    }
    if (!specifier.startsWith(".")) {
      if (rule.forbidPackages) violations.push({ file: shown, line, message: `imports npm package "${specifier}" (${layer} must not)` });
      continue;
    }
    const target = resolve(dirname(file), specifier);
    const targetLayer = layerOf(target);
    if (targetLayer !== null && rule.forbiddenLayers.includes(targetLayer)) {
      violations.push({ file: shown, line, message: `imports "${specifier}" from src/${targetLayer} (${layer} must not depend on ${targetLayer})` });
    } else if (rule.selfContained && targetLayer !== layer) {
      violations.push({ file: shown, line, message: `imports "${specifier}" from outside src/${layer}` });
    }
  }
  const code = blank(source, true);
  for (const { name, why } of rule.forbiddenGlobals) {
    for (const offset of identifierUses(code, name)) {
      violations.push({ file: shown, line: lineOf(code, offset), message: `uses "${name}": ${why} (${layer} must not)`, global: name });
    }
  }
  for (const { pattern, why } of rule.forbiddenExpressions) {
    for (const match of code.matchAll(new RegExp(pattern.source, "g"))) {
      violations.push({ file: shown, line: lineOf(code, match.index), message: `uses "${match[0]}": ${why} (${layer} must not)` });
    }
  }
  return violations.sort((a, b) => a.line - b.line);
}

function lineOf(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

function tsFilesUnder(dir: string): string[] {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return [];
  }
  return entries.flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return tsFilesUnder(path);
    return name.endsWith(".ts") && !name.endsWith(".d.ts") ? [path] : [];
  });
}

function foldersIn(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort();
}

function report(violations: Violation[]): string {
  return violations.map((v) => `${v.file}:${v.line}: ${v.message}`).join("\n");
}

function violationsOf(layer: Layer): Violation[] {
  return tsFilesUnder(join(SRC, layer)).flatMap((file) => checkSource(file, readFileSync(file, "utf8"), layer, RULES[layer]));
}

describe("layering", () => {
  it("finds the source tree from the compiled test", () => {
    assert.ok(tsFilesUnder(join(SRC, "core")).length > 0, `no .ts files under ${join(SRC, "core")}`);
  });

  it("has a rule for every folder of src/, and a folder for every rule", () => {
    const folders = foldersIn(SRC);
    const unruled = folders.filter((folder) => !LAYERS.some((layer) => layer === folder));
    assert.deepEqual(unruled, [], `src/${unruled.join(", src/")}: no layering rule; add one to RULES in test/layering.test.ts`);
    assert.deepEqual([...LAYERS].sort(), folders);
  });

  it("checks every .ts file of src/ under the rule of its top folder, subfolders included", () => {
    const checked = LAYERS.flatMap((layer) => tsFilesUnder(join(SRC, layer)));
    assert.deepEqual([...checked].sort(), tsFilesUnder(SRC).sort(), "a .ts file outside every ruled folder (directly in src/?)");
    const hostFolders = foldersIn(join(SRC, "host"));
    assert.ok(hostFolders.includes("linux") && hostFolders.includes("sim"), `src/host holds ${hostFolders.join(", ")}`);
    for (const folder of hostFolders) {
      const files = tsFilesUnder(join(SRC, "host", folder));
      assert.ok(files.length > 0, `no .ts files in src/host/${folder}`);
      for (const file of files) {
        assert.ok(checked.includes(file), `${file} is not checked`);
        assert.equal(layerOf(file), "host", file);
      }
    }
  });

  for (const layer of LAYERS) {
    it(`src/${layer} keeps its rule`, () => {
      const violations = violationsOf(layer);
      assert.equal(violations.length, 0, `layering broken:\n${report(violations)}`);
    });
  }
});

describe("the layering checker itself", () => {
  const check = (layer: Layer, source: string): string[] =>
    checkSource(join(SRC, layer, "sample.ts"), source, layer, RULES[layer]).map((v) => `${v.line}: ${v.message}`);
  const PROCESS_WHY = RULES.core.forbiddenGlobals.find((g) => g.name === "process")!.why;

  it("flags builtins, bare and prefixed, static and dynamic", () => {
    const source = [
      'import { readFileSync } from "node:fs";',
      'import * as path from "path";',
      'import "fs/promises";',
      'const os = await import("os");',
      'export { x } from "child_process";',
    ].join("\n");
    assert.deepEqual(check("core", source), [
      '1: imports Node builtin "node:fs" (core must not)',
      '2: imports Node builtin "path" (core must not)',
      '3: imports Node builtin "fs/promises" (core must not)',
      '4: imports Node builtin "os" (core must not)',
      '5: imports Node builtin "child_process" (core must not)',
    ]);
  });

  it("flags npm packages in core and engine, not relative imports", () => {
    const source = ['import { parse } from "yaml";', 'import type { X } from "@scope/pkg/sub";', 'const m = await import("left-pad");', 'import { ok } from "../core/result.js";'].join("\n");
    assert.deepEqual(check("engine", source), [
      '1: imports npm package "yaml" (engine must not)',
      '2: imports npm package "@scope/pkg/sub" (engine must not)',
      '3: imports npm package "left-pad" (engine must not)',
    ]);
    assert.deepEqual(check("core", 'import { parse } from "yaml";\nimport { ok } from "./result.js";'), ['1: imports npm package "yaml" (core must not)']);
  });

  it("flags upward imports, multi-line ones included", () => {
    const source = ['import type {\n  Host,\n} from "../engine/host.js";', 'import { x } from "../host/linux/procfs.js";'].join("\n");
    assert.deepEqual(check("core", source), [
      '3: imports "../engine/host.js" from src/engine (core must not depend on engine)',
      '4: imports "../host/linux/procfs.js" from src/host (core must not depend on host)',
    ]);
    assert.deepEqual(check("engine", 'import { a } from "../daemon/config.js";'), [
      '1: imports "../daemon/config.js" from src/daemon (engine must not depend on daemon)',
    ]);
    assert.deepEqual(check("host", 'import { a } from "../cli/main.js";'), ['1: imports "../cli/main.js" from src/cli (host must not depend on cli)']);
    assert.deepEqual(check("daemon", 'import type { SimulateArgs } from "../cli/args.js";'), [
      '1: imports "../cli/args.js" from src/cli (daemon must not depend on cli)',
    ]);
  });

  it("flags the clock and timers in the simulator, not words in comments or strings", () => {
    const source = [
      "const t = Date.now();",
      "const d = new Date();",
      "// Date.now() in a comment is fine",
      'const s = "performance.now() in a string is fine";',
      "const h = process.hrtime.bigint();",
      "setTimeout(() => {}, 1);",
      "const r = Math.random();",
    ].join("\n");
    assert.deepEqual(check("sim", source), [
      '1: uses "Date.now": reads the clock (sim must not)',
      '2: uses "new Date": reads the clock (sim must not)',
      '5: uses "process.hrtime": reads the clock (sim must not)',
      '6: uses "setTimeout(": starts a real timer (sim must not)',
      '7: uses "Math.random": is not seeded (sim must not)',
    ]);
  });

  it("flags Date in any form in core and engine, not in comments, strings or longer names", () => {
    const flagged = ["const t = Date.now();", "const d = new Date();", "const p = Date.parse(s);", "const u = Date.UTC(2024, 0);", "const D = Date;", "if (x instanceof Date) {}", "let when: Date;", "const s = `at ${Date.now()} ms`;"];
    for (const line of flagged) {
      const why = RULES.engine.forbiddenGlobals.find((g) => g.name === "Date")!.why;
      assert.deepEqual(check("engine", line), [`1: uses "Date": ${why} (engine must not)`], line);
    }
    const allowed = ["// Date.now() in a comment", "/* new Date() */", 'const s = "Date.parse in a string";', "const s = `Date ${x} in a template`;", "const updatedAt = toDate(x);", "type DateRange = number;", "const y = record.Date;"];
    for (const line of allowed) assert.deepEqual(check("core", line), [], line);
  });

  it("flags process in core and engine, the variable as well as the global", () => {
    // Node's global and a variable named process cannot be told apart by a text check, so core and
    // engine name their variables otherwise (a ProcessSample is proc or sample) and any process is flagged.
    const flagged = [
      "const pid = process.pid;",
      "process.exit(1);",
      "function badness(process: ProcessSample) {}",
      "for (const process of snapshot.processes) {}",
      "const copy = { ...process };",
      "const { process } = scope;",
      "const o = { process: sample };",
      "globalThis.process.exit(1);",
      "const s = `pid ${process.pid}`;",
    ];
    for (const line of flagged) assert.deepEqual(check("core", line), [`1: uses "process": ${PROCESS_WHY} (core must not)`], line);
    assert.deepEqual(check("engine", "const env = process.env;"), [`1: uses "process": ${PROCESS_WHY} (engine must not)`]);
    const allowed = [
      '// process.exit() in a comment',
      'const s = "process in a string";',
      "const s = `the process ${pid}`;",
      "for (const proc of snapshot.processes) {}",
      "const owner = snapshot.process;",
      "const owner = snapshot?.process.pid;",
      "const owner = snapshot\n  .process;",
      "type P = ProcessSample;",
      "const processSample = 1, $process = 2, process_ = 3;",
    ];
    for (const line of allowed) assert.deepEqual(check("core", line), [], line);
  });

  it("flags console and Math.random in core and engine", () => {
    const consoleWhy = RULES.core.forbiddenGlobals.find((g) => g.name === "console")!.why;
    assert.deepEqual(check("core", 'console.log("x");\nconsole.error(e);'), [`1: uses "console": ${consoleWhy} (core must not)`, `2: uses "console": ${consoleWhy} (core must not)`]);
    assert.deepEqual(check("engine", "const r = Math.random();"), ['1: uses "Math.random": is not seeded (engine must not)']);
    assert.deepEqual(check("core", "const r = Math.random;"), ['1: uses "Math.random": is not seeded (core must not)']);
    const allowed = ["// console.log(x)", 'const s = "Math.random()";', "const c = host.console;", "const myconsole = 1;", "const r = Math.round(x);", "const n = random();"];
    for (const line of allowed) {
      assert.deepEqual(check("core", line), [], line);
      assert.deepEqual(check("engine", line), [], line);
    }
  });

  it("reads template literals: text is a string, substitutions are code", () => {
    const source = "const a = `x ${f(`y ${g({ k: 1 })}`)} /* not a comment */ ${h} z`;";
    const code = blank(source, true);
    assert.equal(code.length, source.length);
    assert.equal(code, "const a = `  ${f(`  ${g({ k: 1 })}`)}                     ${h}  `;");
  });

  it("accepts what is allowed", () => {
    assert.deepEqual(check("core", 'import type { Snapshot } from "./types.js";\n// import x from "node:fs"'), []);
    assert.deepEqual(check("engine", 'import type { Snapshot } from "../core/types.js";\nimport { ok } from "../core/result.js";'), []);
    assert.deepEqual(check("host", 'import { readFileSync } from "node:fs";\nimport type { Host } from "../../engine/host.js";\nimport type { UserspaceApi } from "../../sim/userspace-api.js";'), []);
    assert.deepEqual(check("daemon", 'import { parse } from "yaml";\nimport { Engine } from "../engine/engine.js";\nimport { createLinuxHost } from "../host/linux/linux-host.js";\nconsole.log(Date.now(), process.pid);'), []);
    assert.deepEqual(check("cli", 'import { runDaemon } from "../daemon/daemon.js";\nimport { parseScenario } from "../sim/scenario-file.js";\nimport { parseArgs } from "node:util";'), []);
  });
});
