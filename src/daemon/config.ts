// The daemon's configuration: YAML file, validated key by key; every error is one line naming the
// file, the line and the key.

import { parseCgroupSpec } from "./cgroup-spec.js";
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node, type Pair } from "yaml";
import { cutLine, quoted, suggest } from "../core/shown-text.js";
import { checkTunable, isTunableName, TUNABLE_NAMES, tunableKey, type TunableName } from "../core/tunable-keys.js";
import type { VictimRule } from "../core/victim-rules.js";
import { DEFAULT_ENGINE_OPTIONS, type EngineOptions } from "../engine/engine-options.js";
import { applyTunables } from "../engine/tunables.js";
import { readRegularFile } from "./read-regular-file.js";
import { parseRulesNode, RULES_HELP } from "./rules-config.js";
import { KILL_UNIT_HELP, parseKillUnitNode } from "./kill-unit-config.js";
import type { KillUnitConfig } from "../core/kill-unit.js";
import { shownNode as show } from "./shown-node.js";

export interface DaemonConfig {
  cgroups: string[];
  /** null: journal.jsonl in the state directory. */
  journal: string | null;
  /** null: the built-in default ($STATE_DIRECTORY, /var/lib/oomwarden as root, XDG state otherwise). */
  stateDir: string | null;
  /** Run when the machine first falls below the warn level (src/daemon/warn-command.ts); null: nothing. */
  warnCommand: string[] | null;
  engine: EngineOptions;
}

export const DEFAULT_CONFIG: DaemonConfig = {
  cgroups: [],
  journal: null,
  stateDir: null,
  warnCommand: null,
  engine: DEFAULT_ENGINE_OPTIONS,
};

export type ConfigResult = { ok: true; config: DaemonConfig } | { ok: false; message: string };

/** A config is a few KB; a limit keeps /dev/zero-like or huge files from exhausting memory. */
export const MAX_CONFIG_BYTES = 1024 * 1024;

/** Where a key's value is: its line, and the line of any node in it (for errors inside a list). */
interface KeyPlace {
  line: number;
  lineOf: (offset: number | undefined) => number;
}

/**
 * The daemon's own keys; what follows `key "name": ` in the message when the value is wrong. An
 * error inside the value may name a key within it (`rules[2].comm`) and its own line.
 */
interface DaemonKey {
  check: (node: Node | null, place: KeyPlace) => { value: unknown } | { error: string; key?: string; line?: number };
  apply: (c: DaemonConfig, v: unknown) => void;
  help: string;
}

const nonEmptyString = (node: Node | null): { value: unknown } | { error: string } => {
  const v = isScalar(node) ? node.value : undefined;
  return typeof v === "string" && v.length > 0 ? { value: v } : { error: `expected a path, got ${show(node)}` };
};

/** A Map, not an object: a key such as "constructor" must not find Object.prototype. */
const DAEMON_KEYS: ReadonlyMap<string, DaemonKey> = new Map<string, DaemonKey>([
  ["cgroups", { check: stringList, apply: (c, v) => (c.cgroups = v as string[]), help: "list of memory cgroup paths to manage; PATH=SIZE gives a v2 cgroup without memory.max the limit its guard band keeps it below" }],
  ["journal", { check: nonEmptyString, apply: (c, v) => (c.journal = v as string), help: "journal file path" }],
  ["stateDir", { check: nonEmptyString, apply: (c, v) => (c.stateDir = v as string), help: "directory for the journal and the takeover ledger" }],
  [
    "warnCommand",
    {
      check: commandArgv,
      apply: (c, v) => (c.warnCommand = v as string[]),
      help: "command run when the machine first falls below the warn level: a list, the program then its arguments (no shell); OOMWARDEN_LEVEL and OOMWARDEN_MESSAGE are in its environment; one at a time, killed after 10 s",
    },
  ],
  ["killUnit", { check: (node, place) => parseKillUnitNode(node, place.lineOf, place.line), apply: (c, v) => (c.engine = { ...c.engine, machineGuard: { ...c.engine.machineGuard, killUnit: v as KillUnitConfig } }), help: KILL_UNIT_HELP }],
  ["rules", { check: (node, place) => parseRulesNode(node, place.lineOf, place.line), apply: (c, v) => (c.engine = { ...c.engine, victimRules: v as VictimRule[] }), help: RULES_HELP }],
]);

const KNOWN_KEYS: string[] = [...DAEMON_KEYS.keys(), ...TUNABLE_NAMES];

export const CONFIG_KEYS_HELP: [string, string][] = [
  ...[...DAEMON_KEYS].map(([k, v]): [string, string] => [k, v.help]),
  ...TUNABLE_NAMES.map((k): [string, string] => [k, tunableKey(k).help]),
];

/** A command as a list: the program, then its arguments; every item a non-empty string. */
function commandArgv(node: Node | null): { value: unknown } | { error: string } {
  if (!isSeq(node) || node.items.length === 0) return { error: `expected a list: the program, then its arguments (e.g. [notify-send, "Memory low"]), got ${show(node)}` };
  const out: string[] = [];
  for (const item of node.items) {
    const v = isScalar(item) ? item.value : undefined;
    if (typeof v !== "string" || v.length === 0) return { error: `every item must be a non-empty string, got ${show(item as Node)}` };
    if (v.includes("\0")) return { error: "an item contains a NUL byte" };
    out.push(v);
  }
  return { value: out };
}

function stringList(node: Node | null): { value: unknown } | { error: string } {
  if (!isSeq(node)) return { error: `expected a list of paths, got ${show(node)}` };
  const out: string[] = [];
  for (const item of node.items) {
    const v = isScalar(item) ? item.value : undefined;
    if (typeof v !== "string" || v.length === 0) return { error: `every item must be a path, got ${show(item as Node)}` };
    const spec = parseCgroupSpec(v);
    if ("error" in spec) return { error: spec.error };
    out.push(v);
  }
  return { value: out };
}

/** ` (did you mean "x"?)`, or where the keys are listed. */
function unknownKeyHint(key: string): string {
  // No known key is longer than 31 characters and a suggestion is within a quarter of the
  // length: a long key never gets one, and the edit distance of a huge key would take seconds.
  const suggestion = key.length <= 64 ? suggest(key, KNOWN_KEYS) : "";
  return suggestion !== "" ? suggestion : " (oomwarden help lists the config keys)";
}

/** Parses config text; `source` names the file in messages. */
export function parseConfig(text: string, source: string): ConfigResult {
  const lines = new LineCounter();
  const fail = (line: number | null, message: string): ConfigResult => ({ ok: false, message: `${source}${line === null ? "" : `:${line}`}: ${message}` });
  let doc: ReturnType<typeof parseDocument>;
  try {
    // Duplicate keys are found below, with a Map: the library's own check compares every key with
    // every other, minutes for the keys a 1 MiB file can hold.
    doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: false });
  } catch (error) {
    // The library reports what it finds as doc.errors (even its own stack overflows); this is
    // for anything else it might throw, so the daemon says one line instead of a stack trace.
    return fail(null, `YAML could not be parsed: ${cutLine(String(error), 120)}`);
  }
  const lineOf = (offset: number | undefined): number => (offset === undefined ? 0 : lines.linePos(offset).line);
  const firstError = doc.errors[0];
  if (firstError) return fail(lineOf(firstError.pos[0]), `YAML syntax error: ${cutLine(firstError.message, 120)}`);
  if (doc.contents !== null && !isMap(doc.contents)) return fail(lineOf(doc.contents.range?.[0]), "expected a mapping of keys at the top level");
  const pairs = (doc.contents?.items ?? []) as Pair<Node | null, Node | null>[];
  const config: DaemonConfig = { cgroups: [], journal: null, stateDir: null, warnCommand: null, engine: DEFAULT_ENGINE_OPTIONS };
  const tunables = new Map<TunableName, unknown>();
  const lineOfKey = new Map<string, number>();
  for (const pair of pairs) {
    const line = lineOf(pair.key?.range?.[0] ?? pair.value?.range?.[0]);
    if (!isScalar(pair.key)) return fail(line, "keys must be plain names");
    const key = String(pair.key.value);
    const firstLine = lineOfKey.get(key);
    if (firstLine !== undefined) return fail(line, `key ${quoted(key)} is given twice (first on line ${firstLine})`);
    const daemonKey = DAEMON_KEYS.get(key);
    if (daemonKey !== undefined) {
      const checked = daemonKey.check(pair.value, { line, lineOf });
      if ("error" in checked) return fail(checked.line ?? line, `key ${quoted(checked.key ?? key)}: ${checked.error}`);
      daemonKey.apply(config, checked.value);
    } else if (isTunableName(key)) {
      const value = isScalar(pair.value) ? pair.value.value : undefined;
      const checked = checkTunable(key, value);
      if (!checked.ok) return fail(line, `key ${quoted(key)}: expected ${checked.expected}, got ${show(pair.value)}`);
      tunables.set(key, value);
    } else {
      return fail(line, `unknown key ${quoted(key)}${unknownKeyHint(key)}`);
    }
    lineOfKey.set(key, line);
  }
  const applied = applyTunables(DEFAULT_ENGINE_OPTIONS, tunables);
  if (!applied.ok) {
    // A rule across keys is broken where the later of its keys was set (the earlier was fine then).
    const setLines = applied.keys.flatMap((k) => lineOfKey.get(k) ?? []);
    return fail(setLines.length > 0 ? Math.max(...setLines) : null, applied.message);
  }
  // applyTunables works on a copy: whoever changes this config cannot change the defaults.
  // The keys that are not flat tunables (rules, killUnit) were set on config.engine above.
  const engine = { ...applied.options, victimRules: config.engine.victimRules, machineGuard: { ...applied.options.machineGuard, killUnit: config.engine.machineGuard.killUnit } };
  return { ok: true, config: { ...config, engine } };
}

/** Reads and parses a config file: a regular file (or a link to one) of at most MAX_CONFIG_BYTES. */
export function loadConfigFile(path: string): ConfigResult {
  const shownPath = showPath(path);
  const read = readRegularFile(path, MAX_CONFIG_BYTES);
  if (!read.ok) return { ok: false, message: `cannot read config ${shownPath}: ${read.reason}` };
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(read.bytes);
  } catch {
    return { ok: false, message: `cannot read config ${shownPath}: not UTF-8 text` };
  }
  return parseConfig(text, shownPath);
}

/** A path as given, unless it holds characters that would break the one-line message. */
function showPath(path: string): string {
  const shown = quoted(path, 200);
  return shown === `"${path}"` ? path : shown;
}
