// The layering rule, made mechanical (the architecture in the README): dependencies point down, cli -> daemon -> engine -> core.
//   src/core    pure: no Node builtins, no imports out of src/core, no clock, no timers.
//   src/engine  no Node builtins, nothing from host, sim, daemon or cli; time and timers only from the Host.
//   src/host    nothing from daemon or cli.
//   src/sim     pure and deterministic: no Node builtins, no clock, no Math.random, nothing from engine, host, daemon or cli.
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
  /** Only imports that stay inside the layer's own folder (plus npm packages) are allowed. */
  selfContained: boolean;
  forbidBuiltins: boolean;
  /** Expressions that read the clock or start timers. */
  forbiddenExpressions: { pattern: RegExp; why: string }[];
}

const CLOCK: LayerRule["forbiddenExpressions"] = [
  { pattern: /\bDate\.now\b/, why: "reads the clock" },
  { pattern: /\bnew\s+Date\b/, why: "reads the clock" },
  { pattern: /\bperformance\.now\b/, why: "reads the clock" },
  { pattern: /\bprocess\.hrtime\b/, why: "reads the clock" },
  { pattern: /\b(setTimeout|setInterval|setImmediate)\s*\(/, why: "starts a real timer" },
];

const RULES: Partial<Record<Layer, LayerRule>> = {
  core: {
    forbiddenLayers: ["engine", "host", "daemon", "cli", "sim"],
    selfContained: true,
    forbidBuiltins: true,
    forbiddenExpressions: CLOCK,
  },
  engine: {
    forbiddenLayers: ["host", "sim", "daemon", "cli"],
    selfContained: false,
    forbidBuiltins: true,
    forbiddenExpressions: CLOCK,
  },
  host: { forbiddenLayers: ["daemon", "cli"], selfContained: false, forbidBuiltins: false, forbiddenExpressions: [] },
  // The simulated kernel is deterministic: virtual time only, no I/O, and it knows nothing of
  // oomwarden (user space reaches it only through src/sim/userspace-api.ts, via src/host/sim).
  sim: {
    forbiddenLayers: ["engine", "host", "daemon", "cli"],
    selfContained: false,
    forbidBuiltins: true,
    forbiddenExpressions: [...CLOCK, { pattern: /\bMath\.random\b/, why: "is not seeded" }],
  },
};

const BUILTINS = new Set(builtinModules);

export interface Violation {
  file: string;
  line: number;
  message: string;
}

/** Blanks comments (and, if asked, string contents) while keeping every offset and line break. */
export function blank(source: string, alsoStrings: boolean): string {
  let out = "";
  let i = 0;
  const keepNewlines = (text: string): string => text.replace(/[^\n]/g, " ");
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
    } else if (c === '"' || c === "'" || c === "`") {
      let j = i + 1;
      while (j < source.length && source[j] !== c) j += source[j] === "\\" ? 2 : 1;
      const literal = source.slice(i, j + 1);
      out += alsoStrings ? c + keepNewlines(literal.slice(1, -1)) + c : literal;
      i = j + 1;
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

/** The layer a resolved path belongs to, or null outside src/<layer>/. */
function layerOf(path: string): Layer | null {
  const inside = relative(SRC, path);
  if (inside.startsWith("..")) return null;
  const top = inside.split(sep)[0];
  return top === "core" || top === "engine" || top === "host" || top === "daemon" || top === "cli" || top === "sim" ? top : null;
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
    if (!specifier.startsWith(".")) continue; // an npm package
    const target = resolve(dirname(file), specifier);
    const targetLayer = layerOf(target);
    if (targetLayer !== null && rule.forbiddenLayers.includes(targetLayer)) {
      violations.push({ file: shown, line, message: `imports "${specifier}" from src/${targetLayer} (${layer} must not depend on ${targetLayer})` });
    } else if (rule.selfContained && targetLayer !== layer) {
      violations.push({ file: shown, line, message: `imports "${specifier}" from outside src/${layer}` });
    }
  }
  const code = blank(source, true);
  for (const { pattern, why } of rule.forbiddenExpressions) {
    for (const match of code.matchAll(new RegExp(pattern.source, "g"))) {
      violations.push({ file: shown, line: lineOf(code, match.index), message: `uses "${match[0]}": ${why} (${layer} must not)` });
    }
  }
  return violations;
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

function report(violations: Violation[]): string {
  return violations.map((v) => `${v.file}:${v.line}: ${v.message}`).join("\n");
}

describe("layering", () => {
  it("finds the source tree from the compiled test", () => {
    assert.ok(tsFilesUnder(join(SRC, "core")).length > 0, `no .ts files under ${join(SRC, "core")}`);
  });

  for (const [layer, rule] of Object.entries(RULES) as [Layer, LayerRule][]) {
    it(`src/${layer} keeps its rule`, () => {
      const violations = tsFilesUnder(join(SRC, layer)).flatMap((file) => checkSource(file, readFileSync(file, "utf8"), layer, rule));
      assert.equal(violations.length, 0, `layering broken:\n${report(violations)}`);
    });
  }
});

describe("the layering checker itself", () => {
  const core = RULES.core!;
  const engine = RULES.engine!;
  const host = RULES.host!;
  const check = (layer: Layer, source: string, rule: LayerRule): string[] =>
    checkSource(join(SRC, layer, "sample.ts"), source, layer, rule).map((v) => `${v.line}: ${v.message}`);

  it("flags builtins, bare and prefixed, static and dynamic", () => {
    const source = [
      'import { readFileSync } from "node:fs";',
      'import * as path from "path";',
      'import "fs/promises";',
      'const os = await import("os");',
      'export { x } from "child_process";',
    ].join("\n");
    assert.deepEqual(check("core", source, core), [
      '1: imports Node builtin "node:fs" (core must not)',
      '2: imports Node builtin "path" (core must not)',
      '3: imports Node builtin "fs/promises" (core must not)',
      '4: imports Node builtin "os" (core must not)',
      '5: imports Node builtin "child_process" (core must not)',
    ]);
  });

  it("flags upward imports, multi-line ones included", () => {
    const source = ['import type {\n  Host,\n} from "../engine/host.js";', 'import { x } from "../host/linux/procfs.js";'].join("\n");
    assert.deepEqual(check("core", source, core), [
      '3: imports "../engine/host.js" from src/engine (core must not depend on engine)',
      '4: imports "../host/linux/procfs.js" from src/host (core must not depend on host)',
    ]);
    assert.deepEqual(check("engine", 'import { a } from "../daemon/config.js";', engine), [
      '1: imports "../daemon/config.js" from src/daemon (engine must not depend on daemon)',
    ]);
    assert.deepEqual(check("host", 'import { a } from "../cli/main.js";', host), [
      '1: imports "../cli/main.js" from src/cli (host must not depend on cli)',
    ]);
  });

  it("flags clock reads and timers, not words in comments or strings", () => {
    const source = [
      "const t = Date.now();",
      "const d = new Date();",
      "// Date.now() in a comment is fine",
      'const s = "performance.now() in a string is fine";',
      "const h = process.hrtime.bigint();",
      "setTimeout(() => {}, 1);",
    ].join("\n");
    assert.deepEqual(check("engine", source, engine), [
      '1: uses "Date.now": reads the clock (engine must not)',
      '2: uses "new Date": reads the clock (engine must not)',
      '5: uses "process.hrtime": reads the clock (engine must not)',
      '6: uses "setTimeout(": starts a real timer (engine must not)',
    ]);
    // A ProcessSample parameter named "process" is ordinary data, not the Node global.
    assert.deepEqual(check("core", "const pid = process.pid;", core), []);
  });

  it("accepts what is allowed", () => {
    assert.deepEqual(check("core", 'import type { Snapshot } from "./types.js";\n// import x from "node:fs"', core), []);
    assert.deepEqual(check("engine", 'import type { Snapshot } from "../core/types.js";\nimport { parse } from "yaml";', engine), []);
    assert.deepEqual(check("host", 'import { readFileSync } from "node:fs";\nimport type { Host } from "../../engine/host.js";', host), []);
  });
});
