// The daemon's configuration: YAML file, validated key by key; every error names the key and its line.

import { readFileSync } from "node:fs";
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node, type Pair } from "yaml";
import { copyEngineOptions, DEFAULT_ENGINE_OPTIONS, type EngineOptions } from "../engine/engine-options.js";
import { checkTunable, crossCheck, TUNABLES, type TunableKind } from "../engine/tunables.js";

export interface DaemonConfig {
  cgroups: string[];
  /** null: journal.jsonl in the state directory. */
  journal: string | null;
  /** null: the built-in default ($STATE_DIRECTORY, /var/lib/oomwarden as root, XDG state otherwise). */
  stateDir: string | null;
  engine: EngineOptions;
}

export const DEFAULT_CONFIG: DaemonConfig = {
  cgroups: [],
  journal: null,
  stateDir: null,
  engine: DEFAULT_ENGINE_OPTIONS,
};

export type ConfigResult = { ok: true; config: DaemonConfig } | { ok: false; message: string };

type Check = (node: Node, key: string, where: string) => { value: unknown } | { error: string };

/** A check for one scalar: the predicate it must pass and what the error says was expected. */
function scalar(accepts: (v: unknown) => boolean, expected: string): Check {
  return (node, key, where) => {
    const v = isScalar(node) ? node.value : undefined;
    return accepts(v) ? { value: v } : { error: `${where}: key "${key}": expected ${expected}, got ${show(node)}` };
  };
}

const nonEmptyString = scalar((v) => typeof v === "string" && v.length > 0, "a path");

/** Known keys, the check each value must pass, and where the value goes. Engine tunables come from src/engine/tunables.ts. */
const KEYS: Record<string, { check: Check; apply: (c: DaemonConfig, v: unknown) => void; help: string }> = {
  cgroups: {
    check: stringList,
    apply: (c, v) => (c.cgroups = v as string[]),
    help: "list of memory cgroup paths to manage",
  },
  journal: { check: nonEmptyString, apply: (c, v) => (c.journal = v as string), help: "journal file path" },
  stateDir: { check: nonEmptyString, apply: (c, v) => (c.stateDir = v as string), help: "directory for the journal and the takeover ledger" },
  ...Object.fromEntries(
    Object.entries(TUNABLES).map(([key, tunable]) => [
      key,
      {
        check: tunableCheck(tunable.kind),
        apply: (c: DaemonConfig, v: unknown) => tunable.apply(c.engine, v),
        help: tunable.help,
      },
    ]),
  ),
};

function tunableCheck(kind: TunableKind): Check {
  return (node, key, where) => {
    const v = isScalar(node) ? node.value : undefined;
    const checked = checkTunable(kind, v);
    return checked.ok ? { value: v } : { error: `${where}: key "${key}": expected ${checked.expected}, got ${show(node)}` };
  };
}

export const CONFIG_KEYS_HELP: [string, string][] = Object.entries(KEYS).map(([k, v]) => [k, v.help]);

function stringList(node: Node, key: string, where: string): { value: unknown } | { error: string } {
  if (!isSeq(node)) return { error: `${where}: key "${key}": expected a list of paths, got ${show(node)}` };
  const out: string[] = [];
  for (const item of node.items) {
    const v = isScalar(item) ? item.value : undefined;
    if (typeof v !== "string" || v.length === 0) {
      return { error: `${where}: key "${key}": every item must be a path, got ${show(item as Node)}` };
    }
    out.push(v);
  }
  return { value: out };
}

function show(node: Node | null | undefined): string {
  if (node === null || node === undefined) return "nothing";
  if (isScalar(node)) return JSON.stringify(node.value);
  if (isSeq(node)) return "a list";
  if (isMap(node)) return "a mapping";
  return "an unsupported value";
}

/** Parses config text; `source` names the file in messages. */
export function parseConfig(text: string, source: string): ConfigResult {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const lineOf = (offset: number | undefined): number => (offset === undefined ? 0 : lines.linePos(offset).line);
  const firstError = doc.errors[0];
  if (firstError) {
    return { ok: false, message: `${source}:${lineOf(firstError.pos[0])}: YAML syntax error: ${firstError.message.split("\n")[0]}` };
  }
  const config: DaemonConfig = {
    cgroups: [],
    journal: null,
    stateDir: null,
    engine: copyEngineOptions(DEFAULT_ENGINE_OPTIONS),
  };
  if (doc.contents === null) return { ok: true, config };
  if (!isMap(doc.contents)) {
    return { ok: false, message: `${source}:${lineOf(doc.contents.range?.[0])}: expected a mapping of keys at the top level` };
  }
  for (const pair of doc.contents.items as Pair<Node, Node>[]) {
    const key = isScalar(pair.key) ? String(pair.key.value) : "?";
    const where = `${source}:${lineOf(pair.key?.range?.[0])}`;
    const spec = KEYS[key];
    if (!spec) {
      return { ok: false, message: `${where}: unknown key "${key}" (known keys: ${Object.keys(KEYS).join(", ")})` };
    }
    const checked = spec.check(pair.value as Node, key, where);
    if ("error" in checked) return { ok: false, message: checked.error };
    spec.apply(config, checked.value);
  }
  const crossed = crossCheck(config.engine);
  if (crossed !== null) return { ok: false, message: `${source}: ${crossed}` };
  return { ok: true, config };
}

export function loadConfigFile(path: string): ConfigResult {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    return { ok: false, message: `cannot read config ${path}: ${(error as Error).message}` };
  }
  return parseConfig(text, path);
}
