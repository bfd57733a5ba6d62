// Scenario files (scenarios/*.yaml): a human YAML format read into the simulator's Scenario.
// Pure: text and a source name in, a Scenario or every error out; no fs, no clock.
// Sizes are written in GiB/MiB/KiB/pages and times in s/ms, the unit spelled in the key name
// (`anonMiB`, `durationS`), and converted here to pages and ms (src/sim/scenario.ts).
// Every error names the file, the line and the key path, e.g.
//   file.yaml:14: tasks[2].mm.anonMiB: expected a number >= 0, got "lots"
// The format is documented in docs/scenario-format.md: change both together.

import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node, type Pair, type YAMLMap } from "yaml";
import {
  PAGE_SIZE_BYTES,
  type CgroupSpec,
  type ChargeFailure,
  type GfpContext,
  type KernelProposal,
  type KernelVersion,
  type LockSpec,
  type MemorySpec,
  type PolicyResult,
  type PolicySpec,
  type Scenario,
  type Step,
  type TaskSpec,
  type ThreadSpec,
  type UserspaceSpec,
  type ZoneSpec,
} from "./scenario.js";

// ---------------------------------------------------------------------------------------------
// Public surface

export type ScenarioFileResult = { ok: true; scenario: Scenario } | { ok: false; errors: string[] };

/**
 * What a scenario may expect of one policy. The contract's fields (Scenario["expectations"])
 * plus lower bounds and failure counts, which the seeds' bad outcomes need ("more than one
 * kill", "syscalls fail with ENOMEM", "allocations stall"). Parsed scenarios carry this wider
 * object; src/sim/result-table.ts checks it.
 */
export type Expectation = Scenario["expectations"][string] & {
  minKilled?: number;
  minInnocentKilled?: number;
  /** Exactly these tasks killed, in this order. */
  killed?: string[];
  /** false: the OOM condition must never end (recoveredMs null); true: it must end. */
  recovered?: boolean;
  minAllocFailures?: PolicyResult["allocFailures"];
  maxAllocFailures?: PolicyResult["allocFailures"];
  minStallMs?: number;
  maxStallMs?: number;
  /** The first kill (kernel or user space) comes at or before this virtual time. */
  firstKillByMs?: number;
  /** The first kill comes after this virtual time (or never): the kernel acting late. */
  firstKillAfterMs?: number;
};

export const PAGES_PER_MIB = (1024 * 1024) / PAGE_SIZE_BYTES;

/** Defaults for keys a scenario leaves out; each carries the reason it has that value. */
export const SCENARIO_DEFAULTS = {
  randomSeed: 1,
  // One tick of 10 ms resolves the seeds' timings (reaper tries of 100 ms, handler reactions of
  // tens of ms) while an hour of virtual time stays at 360,000 ticks.
  tickMs: 10,
  swapPages: 0,
  fileCachePages: 0,
  // kswapd reclaims clean page cache at hundreds of MiB/s to GiB/s on current hardware.
  kswapdPagesPerMs: (512 * PAGES_PER_MIB) / 1000,
  // Direct reclaim runs in the allocating task, interleaved with its own work: slower than kswapd.
  directReclaimPagesPerMs: (128 * PAGES_PER_MIB) / 1000,
  // GUIDE §4: a 1 GiB victim gave its memory back in 64 ms without process_mrelease.
  exitMmapMsPerGiB: 64,
  // A page-faulting loop touching fresh anonymous memory runs at about 1 GiB/s or more.
  allocPagesPerMs: (1024 * PAGES_PER_MIB) / 1000,
  // A handler that wakes on the eventfd, reads a few /proc files and sends one signal.
  handlerReactMs: 20,
  oomScoreAdj: 0,
  cgroupVersion: 2 as const,
  chargeFailure: "enomem" as ChargeFailure,
  lockKind: "mutex" as const,
  context: "GFP_KERNEL" as GfpContext,
  charge: "fault" as const,
};

/** The policies a file compares when it lists none. */
export const DEFAULT_POLICY_NAMES = ["kernel-2018", "kernel-today", "kernel-today+oomwarden"];

interface BuiltinPolicy {
  name: string;
  summary: string;
  version: KernelVersion;
  userspace: "none" | "oomwarden";
  proposal?:
    | { kind: "victim-timeout"; param: "timeout"; defaultMs: number }
    | { kind: "overcharge-reconcile"; param: "reconcile"; defaultMs: number }
    | { kind: "oom-delay"; param: "delay"; defaultMs: number }
    | { kind: "victim-reserves" | "kill-below-half-min" };
}

// The proposals are applied to the 2018 kernel by default: the seeds argue against kernels of
// 2013-2020 and 2018 is the oldest we model. `kernel: today` applies one to today's kernel.
export const BUILTIN_POLICIES: readonly BuiltinPolicy[] = [
  { name: "kernel-2018", summary: "2018 kernel: reaper at once, 10 x 100 ms, skips mlocked memory", version: "2018", userspace: "none" },
  { name: "kernel-today", summary: "today's kernel: reaper after 2 s, 10 tries, reaps mlocked memory", version: "today", userspace: "none" },
  {
    name: "kernel-today+oomwarden",
    summary: "today's kernel + oomwarden on the limited cgroups (else on /)",
    version: "today",
    userspace: "oomwarden",
  },
  {
    name: "proposal-victim-timeout",
    summary: "000: a victim blocks new kills for timeoutMs (10 s)",
    version: "2018",
    userspace: "none",
    // Long enough for a victim behind queued mmap_sem readers to reach exit_mmap, short enough
    // that a truly stuck victim does not hold the machine for minutes.
    proposal: { kind: "victim-timeout", param: "timeout", defaultMs: 10_000 },
  },
  {
    name: "proposal-victim-reserves",
    summary: "001: the OOM victim may use reserves, also in NOFAIL loops",
    version: "2018",
    userspace: "none",
    proposal: { kind: "victim-reserves" },
  },
  {
    name: "proposal-overcharge",
    summary: "002: memcg overcharge, reconciled after reconcileMs (10 ms)",
    version: "2018",
    userspace: "none",
    // The thread reconciles in mem_cgroup_oom_synchronize() on return to user space: about a tick.
    proposal: { kind: "overcharge-reconcile", param: "reconcile", defaultMs: 10 },
  },
  {
    name: "proposal-kill-below-half-min",
    summary: "003: OOM-kill instead of looping while free < min/2",
    version: "2018",
    userspace: "none",
    proposal: { kind: "kill-below-half-min" },
  },
  {
    name: "proposal-oom-delay",
    summary: "004: memcg OOM waits delayMs (1 s) for a user handler",
    version: "2018",
    userspace: "none",
    // An example value: the patch left it to the administrator (0 = no delay).
    proposal: { kind: "oom-delay", param: "delay", defaultMs: 1000 },
  },
];

/** Parses and validates scenario text; `source` names the file in every message. */
export function parseScenario(text: string, source: string): ScenarioFileResult {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const d = new Diagnostics(source, lines, doc);
  for (const error of doc.errors) d.reportAt(lines.linePos(error.pos[0]).line, "", `YAML syntax error: ${error.message.split("\n")[0]}`);
  if (doc.errors.length > 0) return d.result(null);
  if (doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null)) {
    d.reportAt(1, "", "the file is empty: expected a scenario (a mapping with memory, tasks, durationS, ...)");
    return d.result(null);
  }
  const top = d.map(doc.contents as Node, "");
  if (!top) return d.result(null);
  // Top-level keys starting with "x-" hold YAML anchors to reuse (`x-handler: &h {...}`, then `*h`).
  for (const key of top.keys()) if (key.startsWith("x-")) top.get(key);
  return d.result(readScenario(top, source));
}

// ---------------------------------------------------------------------------------------------
// Diagnostics and typed access to YAML nodes

/** Unit spelled as a key suffix, and how many base units (pages, ms, pages/ms) one of it is. */
interface Unit {
  suffix: string;
  factor: number;
}

const SIZE: Unit[] = [
  { suffix: "GiB", factor: 1024 * PAGES_PER_MIB },
  { suffix: "MiB", factor: PAGES_PER_MIB },
  { suffix: "KiB", factor: 1024 / PAGE_SIZE_BYTES },
  { suffix: "Pages", factor: 1 },
];
const TIME: Unit[] = [
  { suffix: "S", factor: 1000 },
  { suffix: "Ms", factor: 1 },
];
const RATE: Unit[] = [
  { suffix: "GiBPerS", factor: (1024 * PAGES_PER_MIB) / 1000 },
  { suffix: "MiBPerS", factor: PAGES_PER_MIB / 1000 },
  { suffix: "PagesPerMs", factor: 1 },
];

interface NumberRule {
  min?: number;
  /** The value must be strictly greater than min. */
  above?: boolean;
  max?: number;
  integer?: boolean;
}

function describeRule(rule: NumberRule): string {
  const kind = rule.integer ? "an integer" : "a number";
  if (rule.min !== undefined && rule.max !== undefined) return `${kind} from ${rule.min} to ${rule.max}`;
  if (rule.min !== undefined) return `${kind} ${rule.above ? ">" : ">="} ${rule.min}`;
  return kind;
}

function show(node: Node | null | undefined): string {
  if (node === null || node === undefined) return "nothing";
  if (isScalar(node)) return node.value === null ? "nothing" : JSON.stringify(node.value);
  if (isSeq(node)) return "a list";
  if (isMap(node)) return "a mapping";
  return "an unsupported value";
}

function join(path: string, key: string | number): string {
  if (typeof key === "number") return `${path}[${key}]`;
  return path === "" ? key : `${path}.${key}`;
}

class Diagnostics {
  private readonly errors: { line: number; order: number; text: string }[] = [];

  constructor(
    private readonly source: string,
    private readonly lines: LineCounter,
    private readonly doc: Document,
  ) {}

  /** The node an alias (`*name`) stands for, so anchored programs can be reused; others as they are. */
  deref(node: Node | null | undefined): Node | null | undefined {
    return node && isAlias(node) ? (node.resolve(this.doc) ?? null) : node;
  }

  lineOf(node: Node | null | undefined): number {
    const offset = node?.range?.[0];
    return offset === undefined ? 1 : this.lines.linePos(offset).line;
  }

  report(node: Node | null | undefined, path: string, message: string): void {
    this.reportAt(this.lineOf(node), path, message);
  }

  reportAt(line: number, path: string, message: string): void {
    const where = path === "" ? "" : `${path}: `;
    this.errors.push({ line, order: this.errors.length, text: `${this.source}:${line}: ${where}${message}` });
  }

  get failed(): boolean {
    return this.errors.length > 0;
  }

  result(scenario: Scenario | null): ScenarioFileResult {
    if (scenario !== null && !this.failed) return { ok: true, scenario };
    const sorted = [...this.errors].sort((a, b) => a.line - b.line || a.order - b.order);
    return { ok: false, errors: sorted.map((e) => e.text) };
  }

  map(node: Node | null | undefined, path: string): Fields | null {
    node = this.deref(node);
    if (node && isMap(node)) return new Fields(this, node, path);
    this.report(node, path, `expected a mapping of keys, got ${show(node)}`);
    return null;
  }

  list(node: Node | null | undefined, path: string): Node[] | null {
    node = this.deref(node);
    if (node && isSeq(node)) return node.items as Node[];
    this.report(node, path, `expected a list, got ${show(node)}`);
    return null;
  }

  number(node: Node | null | undefined, path: string, rule: NumberRule): number | undefined {
    node = this.deref(node);
    const v = node && isScalar(node) ? node.value : undefined;
    const fits =
      typeof v === "number" &&
      Number.isFinite(v) &&
      (!rule.integer || Number.isInteger(v)) &&
      (rule.min === undefined || (rule.above ? v > rule.min : v >= rule.min)) &&
      (rule.max === undefined || v <= rule.max);
    if (fits) return v;
    this.report(node, path, `expected ${describeRule(rule)}, got ${show(node)}`);
    return undefined;
  }

  string(node: Node | null | undefined, path: string): string | undefined {
    node = this.deref(node);
    const v = node && isScalar(node) ? node.value : undefined;
    if (typeof v === "string" && v.trim().length > 0) return v;
    this.report(node, path, `expected a non-empty string, got ${show(node)}`);
    return undefined;
  }

  boolean(node: Node | null | undefined, path: string): boolean | undefined {
    node = this.deref(node);
    const v = node && isScalar(node) ? node.value : undefined;
    if (typeof v === "boolean") return v;
    this.report(node, path, `expected true or false, got ${show(node)}`);
    return undefined;
  }

  oneOf<T extends string | number>(node: Node | null | undefined, path: string, allowed: readonly T[]): T | undefined {
    node = this.deref(node);
    const v = node && isScalar(node) ? node.value : undefined;
    const found = allowed.find((a) => a === v || String(a) === String(v));
    if (found !== undefined && v !== null) return found;
    this.report(node, path, `expected one of ${allowed.map((a) => JSON.stringify(a)).join(", ")}, got ${show(node)}${suggest(String(v), allowed.map(String))}`);
    return undefined;
  }

  stringList(node: Node | null | undefined, path: string): string[] | undefined {
    const items = this.list(node, path);
    if (!items) return undefined;
    const out: string[] = [];
    items.forEach((item, i) => {
      const s = this.string(item, join(path, i));
      if (s !== undefined) out.push(s);
    });
    return out;
  }
}

/** The keys of one YAML mapping: read by name, the rest reported as unknown by done(). */
class Fields {
  private readonly entries = new Map<string, { key: Node; value: Node | null }>();
  private readonly known: string[] = [];
  private readonly knownKeys = new Set<string>();

  constructor(
    readonly d: Diagnostics,
    readonly node: YAMLMap,
    readonly path: string,
  ) {
    for (const pair of node.items as Pair<Node, Node | null>[]) {
      const key = isScalar(pair.key) ? String(pair.key.value) : null;
      if (key === null) {
        d.report(pair.key, path, "keys must be plain names");
        continue;
      }
      this.entries.set(key, { key: pair.key, value: pair.value });
    }
  }

  at(key: string): string {
    return join(this.path, key);
  }

  /** Declares a key and returns its value node (undefined when absent). */
  get(key: string): Node | null | undefined {
    this.declare(key, key);
    const entry = this.entries.get(key);
    return entry === undefined ? undefined : entry.value;
  }

  has(key: string): boolean {
    return this.entries.has(key);
  }

  keys(): string[] {
    return [...this.entries.keys()];
  }

  /** Line of a key, or of the mapping when the key is absent (for "missing key" errors). */
  lineNode(key?: string): Node {
    return (key !== undefined ? this.entries.get(key)?.key : undefined) ?? this.node;
  }

  missing(what: string): void {
    this.d.report(this.node, this.path, `missing required key ${what}`);
  }

  number(key: string, rule: NumberRule): number | undefined {
    const node = this.get(key);
    return node === undefined ? undefined : this.d.number(node, this.at(key), rule);
  }

  string(key: string): string | undefined {
    const node = this.get(key);
    return node === undefined ? undefined : this.d.string(node, this.at(key));
  }

  requiredString(key: string): string | undefined {
    if (!this.has(key)) {
      this.get(key);
      this.missing(`"${key}"`);
      return undefined;
    }
    return this.string(key);
  }

  boolean(key: string): boolean | undefined {
    const node = this.get(key);
    return node === undefined ? undefined : this.d.boolean(node, this.at(key));
  }

  oneOf<T extends string | number>(key: string, allowed: readonly T[]): T | undefined {
    const node = this.get(key);
    return node === undefined ? undefined : this.d.oneOf(node, this.at(key), allowed);
  }

  /**
   * A quantity written with its unit in the key (`anonMiB`, `durationS`, `rateMiBPerS`),
   * converted to base units. At most one spelling may be present.
   */
  quantity(base: string, units: Unit[], rule: NumberRule): number | undefined {
    this.declareFamily(base, units);
    const present = units.filter((u) => this.entries.has(base + u.suffix));
    if (present.length > 1) {
      const second = base + present[1]!.suffix;
      this.d.report(this.lineNode(second), this.at(second), `give only one of ${present.map((u) => base + u.suffix).join(", ")}`);
      return undefined;
    }
    const unit = present[0];
    if (!unit) return undefined;
    const key = base + unit.suffix;
    const v = this.d.number(this.entries.get(key)!.value, this.at(key), rule);
    if (v === undefined) return undefined;
    const converted = v * unit.factor;
    // Sizes become whole pages; times and rates keep their fraction.
    return units === SIZE ? Math.round(converted) : converted;
  }

  requiredQuantity(base: string, units: Unit[], rule: NumberRule): number | undefined {
    const v = this.quantity(base, units, rule);
    if (v === undefined && !units.some((u) => this.entries.has(base + u.suffix))) this.missing(`"${familyName(base, units)}"`);
    return v;
  }

  /** The key node and path of the spelling used for a quantity, for messages about its value. */
  spelled(base: string, units: Unit[]): { node: Node; path: string } {
    const unit = units.find((u) => this.entries.has(base + u.suffix));
    return unit ? { node: this.lineNode(base + unit.suffix), path: this.at(base + unit.suffix) } : { node: this.node, path: this.at(base) };
  }

  /** True when any spelling of the quantity is present. */
  hasQuantity(base: string, units: Unit[]): boolean {
    return units.some((u) => this.entries.has(base + u.suffix));
  }

  /** Reports every key nobody asked for, with a suggestion when one is close. */
  done(): void {
    for (const [key, entry] of this.entries) {
      if (this.knownKeys.has(key)) continue;
      this.d.report(entry.key, this.at(key), `unknown key${suggest(key, [...this.knownKeys])} (known keys here: ${this.known.join(", ")})`);
    }
  }

  private declare(key: string, shown: string): void {
    if (!this.knownKeys.has(key)) this.known.push(shown);
    this.knownKeys.add(key);
  }

  private declareFamily(base: string, units: Unit[]): void {
    const shown = familyName(base, units);
    units.forEach((u, i) => this.declare(base + u.suffix, i === 0 ? shown : ""));
    // Only the family name is listed in messages, not each spelling.
    for (let i = this.known.length - 1; i >= 0; i--) if (this.known[i] === "") this.known.splice(i, 1);
  }
}

function familyName(base: string, units: Unit[]): string {
  return `${base}{${units.map((u) => u.suffix).join(",")}}`;
}

/** ` (did you mean "x"?)` for the closest candidate within a small edit distance, else "". */
function suggest(word: string, candidates: string[]): string {
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const dist = editDistance(word.toLowerCase(), c.toLowerCase());
    if (dist < bestDistance) {
      best = c;
      bestDistance = dist;
    }
  }
  return best !== null && bestDistance <= Math.max(2, Math.floor(word.length / 4)) ? ` (did you mean "${best}"?)` : "";
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}

// ---------------------------------------------------------------------------------------------
// The scenario, section by section

/** What later sections need to know about earlier ones, to check references. */
interface Known {
  cgroups: Map<string, CgroupSpec>;
  locks: Map<string, LockSpec>;
  tasks: Map<string, TaskSpec>;
  /** Where each cgroup path and lock name was declared, for errors found after the whole list is read. */
  declaredAt: Map<string, { node: Node; path: string }>;
  /** Tasks named by "mmap_sem:TASK" lock steps, checked once every task is read. */
  taskRefs: { task: string; node: Node; path: string }[];
  durationMs: number;
}

function readScenario(top: Fields, source: string): Scenario | null {
  const d = top.d;
  const name = top.string("name") ?? source.split("/").pop()!.replace(/\.ya?ml$/, "");
  const seed = readSeedNumber(top);
  const description = top.string("description") ?? "";
  const randomSeed = top.number("randomSeed", { integer: true, min: 0 }) ?? SCENARIO_DEFAULTS.randomSeed;
  const durationMs = top.requiredQuantity("duration", TIME, { min: 0, above: true }) ?? 0;
  const tickMs = top.quantity("tick", TIME, { min: 0, above: true }) ?? SCENARIO_DEFAULTS.tickMs;

  const memoryNode = top.get("memory");
  let memory: MemorySpec | null = null;
  if (memoryNode === undefined) top.missing('"memory"');
  else {
    const f = d.map(memoryNode, "memory");
    if (f) memory = readMemory(f);
  }

  const known: Known = { cgroups: new Map(), locks: new Map(), tasks: new Map(), declaredAt: new Map(), taskRefs: [], durationMs };
  const cgroups = readList(top, "cgroups", (f) => readCgroup(f, known));
  checkCgroupParents(d, cgroups, known);
  const locks = readList(top, "locks", (f) => readLock(f, known));
  const tasks = readList(top, "tasks", (f) => readTask(f, known));
  if (!top.has("tasks")) top.missing('"tasks"');
  else if (tasks.length === 0 && !d.failed) d.report(top.lineNode("tasks"), "tasks", "list at least one task");
  checkTaskRefs(d, known);
  if (memory !== null) checkInitialMemory(d, top, memory, known);
  const policies = readPolicies(top, known);
  const expectations = readExpectations(top, policies, known);
  top.done();

  if (d.failed || memory === null) return null;
  return {
    name,
    seed,
    description,
    randomSeed,
    durationMs,
    tickMs,
    memory,
    cgroups,
    locks,
    tasks,
    policies,
    expectations,
  };
}

/** `seed: "003"` (or 3: YAML reads an unquoted 003 as the number 3). */
function readSeedNumber(top: Fields): string | null {
  const node = top.get("seed");
  if (node === undefined) return null;
  const v = isScalar(node) ? node.value : undefined;
  if (v === null) return null;
  if (typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= 999) return String(v).padStart(3, "0");
  if (typeof v === "string" && /^\d{3}$/.test(v)) return v;
  top.d.report(node, "seed", `expected the seed's number, e.g. "003", got ${show(node)}`);
  return null;
}

/** Reads an optional list of mappings; bad items are reported and left out. */
function readList<T>(parent: Fields, key: string, read: (f: Fields) => T | null): T[] {
  const node = parent.get(key);
  if (node === undefined || (isScalar(node) && node.value === null)) return [];
  const items = parent.d.list(node, parent.at(key));
  if (!items) return [];
  const out: T[] = [];
  items.forEach((item, i) => {
    const f = parent.d.map(item, join(parent.at(key), i));
    if (!f) return;
    const value = read(f);
    f.done();
    if (value !== null) out.push(value);
  });
  return out;
}

// --- memory ---------------------------------------------------------------------------------

function readMemory(f: Fields): MemorySpec | null {
  const d = f.d;
  const totalPages = f.quantity("total", SIZE, { min: 0, above: true });
  const zonesNode = f.get("zones");
  const given = { min: f.quantity("min", SIZE, { min: 0 }), low: f.quantity("low", SIZE, { min: 0 }), high: f.quantity("high", SIZE, { min: 0 }) };
  let zones: ZoneSpec[] = [];
  if (totalPages !== undefined && zonesNode !== undefined) {
    d.report(zonesNode, f.at("zones"), `give either ${familyName("total", SIZE)} (one zone) or zones, not both`);
  } else if (zonesNode !== undefined) {
    for (const k of ["min", "low", "high"]) {
      const at = f.spelled(k, SIZE);
      if (f.hasQuantity(k, SIZE)) d.report(at.node, at.path, "with zones listed, watermarks go in each zone");
    }
    zones = readZones(f, zonesNode);
  } else if (totalPages !== undefined) {
    const zone = withWatermarks("Normal", totalPages, totalPages, given);
    checkZone(f, zone, "memory");
    zones = [zone];
  } else {
    f.missing(`"${familyName("total", SIZE)}" (or zones)`);
  }
  const swapPages = f.quantity("swap", SIZE, { min: 0 }) ?? SCENARIO_DEFAULTS.swapPages;
  const fileCachePages = f.quantity("fileCache", SIZE, { min: 0 }) ?? SCENARIO_DEFAULTS.fileCachePages;
  const kswapdPagesPerMs = f.quantity("kswapd", RATE, { min: 0 }) ?? SCENARIO_DEFAULTS.kswapdPagesPerMs;
  const directReclaimPagesPerMs = f.quantity("directReclaim", RATE, { min: 0 }) ?? SCENARIO_DEFAULTS.directReclaimPagesPerMs;
  const exitMmapMsPerGiB = f.number("exitMmapMsPerGiB", { min: 0 }) ?? SCENARIO_DEFAULTS.exitMmapMsPerGiB;
  f.done();
  const zonePages = zones.reduce((sum, z) => sum + z.pages, 0);
  if (fileCachePages > zonePages && zones.length > 0) {
    const at = f.spelled("fileCache", SIZE);
    d.report(at.node, at.path, `page cache (${fileCachePages} pages) does not fit in memory (${zonePages} pages)`);
  }
  if (zones.length === 0) return null;
  // One KiPage is 1024 pages; a GiB is 256 KiPages.
  const kiPagesPerGiB = (1024 * PAGES_PER_MIB) / 1024;
  return { zones, swapPages, fileCachePages, kswapdPagesPerMs, directReclaimPagesPerMs, exitMmapMsPerKiPage: exitMmapMsPerGiB / kiPagesPerGiB };
}

function readZones(f: Fields, node: Node | null): ZoneSpec[] {
  const d = f.d;
  const items = d.list(node, "memory.zones");
  if (!items) return [];
  const raw: { f: Fields; name: string; pages: number; given: Record<"min" | "low" | "high", number | undefined> }[] = [];
  const names = new Set<string>();
  items.forEach((item, i) => {
    const path = `memory.zones[${i}]`;
    const z = d.map(item, path);
    if (!z) return;
    const name = z.requiredString("name");
    const pages = z.requiredQuantity("size", SIZE, { min: 0, above: true });
    const given = { min: z.quantity("min", SIZE, { min: 0 }), low: z.quantity("low", SIZE, { min: 0 }), high: z.quantity("high", SIZE, { min: 0 }) };
    z.done();
    if (name !== undefined && names.has(name)) d.report(z.lineNode("name"), z.at("name"), `zone "${name}" is listed twice`);
    if (name !== undefined) names.add(name);
    if (name !== undefined && pages !== undefined) raw.push({ f: z, name, pages, given });
  });
  const totalPages = raw.reduce((sum, z) => sum + z.pages, 0);
  return raw.map((z) => {
    const zone = withWatermarks(z.name, z.pages, totalPages, z.given);
    checkZone(z.f, zone, z.f.path);
    return zone;
  });
}

/**
 * Watermarks as the kernel sets them when not given: min_free_kbytes = sqrt(16 x lowmem KiB)
 * clamped to [128 KiB, 256 MiB], shared by zones in proportion to their size; low and high are
 * min plus one and two times max(min/4, 0.1% of the zone) (watermark_scale_factor = 10).
 */
export function defaultWatermarks(zonePages: number, totalPages: number): { minPages: number; lowPages: number; highPages: number } {
  const totalKiB = (totalPages * PAGE_SIZE_BYTES) / 1024;
  const minFreeKiB = Math.min(262_144, Math.max(128, Math.floor(Math.sqrt(totalKiB * 16))));
  const minPages = Math.floor(((minFreeKiB * 1024) / PAGE_SIZE_BYTES) * (zonePages / totalPages));
  const distance = Math.max(Math.floor(minPages / 4), Math.floor((zonePages * 10) / 10_000));
  return { minPages, lowPages: minPages + distance, highPages: minPages + 2 * distance };
}

function withWatermarks(name: string, pages: number, totalPages: number, given: Record<"min" | "low" | "high", number | undefined>): ZoneSpec {
  const defaults = defaultWatermarks(pages, totalPages);
  return {
    name,
    pages,
    minPages: given.min ?? defaults.minPages,
    lowPages: given.low ?? defaults.lowPages,
    highPages: given.high ?? defaults.highPages,
  };
}

function checkZone(f: Fields, z: ZoneSpec, path: string): void {
  if (!(z.minPages <= z.lowPages && z.lowPages <= z.highPages && z.highPages < z.pages)) {
    f.d.report(f.node, path, `watermarks must satisfy min <= low <= high < size, got min ${z.minPages}, low ${z.lowPages}, high ${z.highPages}, size ${z.pages} pages`);
  }
}

// --- cgroups and locks ------------------------------------------------------------------------

function readCgroup(f: Fields, known: Known): CgroupSpec | null {
  const d = f.d;
  const path = f.requiredString("path");
  if (path !== undefined) {
    if (path === "/") d.report(f.lineNode("path"), f.at("path"), `the root cgroup "/" is implicit and has no limit; do not list it`);
    else if (!/^(\/[^/\s]+)+$/.test(path)) d.report(f.lineNode("path"), f.at("path"), `expected an absolute cgroup path like "/jobs/a", got ${JSON.stringify(path)}`);
    else if (known.cgroups.has(path)) d.report(f.lineNode("path"), f.at("path"), `cgroup "${path}" is listed twice`);
  }
  const limitPages = f.quantity("limit", SIZE, { min: 0, above: true }) ?? null;
  const version = f.oneOf("version", [1, 2] as const) ?? SCENARIO_DEFAULTS.cgroupVersion;
  const oomKillDisable = f.boolean("oomKillDisable") ?? false;
  const oomGroup = f.boolean("oomGroup") ?? false;
  const chargeFailure = f.oneOf("chargeFailure", ["enomem", "overcharge"] as const) ?? SCENARIO_DEFAULTS.chargeFailure;
  if (oomKillDisable && version !== 1) d.report(f.lineNode("oomKillDisable"), f.at("oomKillDisable"), "oomKillDisable exists only in cgroup v1 (memory.oom_control); set version: 1");
  if (oomGroup && version !== 2) d.report(f.lineNode("oomGroup"), f.at("oomGroup"), "oomGroup exists only in cgroup v2 (memory.oom.group); set version: 2");
  if (path === undefined) return null;
  const spec: CgroupSpec = { path, limitPages, version, oomKillDisable, oomGroup, chargeFailure };
  if (!known.cgroups.has(path)) {
    known.cgroups.set(path, spec);
    known.declaredAt.set(`cgroup:${path}`, { node: f.lineNode("path"), path: f.at("path") });
  }
  return spec;
}

function checkCgroupParents(d: Diagnostics, cgroups: CgroupSpec[], known: Known): void {
  for (const c of cgroups) {
    const parent = c.path.slice(0, c.path.lastIndexOf("/"));
    if (parent === "" || known.cgroups.has(parent)) continue;
    const at = known.declaredAt.get(`cgroup:${c.path}`);
    d.report(at?.node, at?.path ?? "cgroups", `parent cgroup "${parent}" is not listed; list every level of the hierarchy`);
  }
}

function readLock(f: Fields, known: Known): LockSpec | null {
  const name = f.requiredString("name");
  const kind = f.oneOf("kind", ["rwsem", "mutex"] as const) ?? SCENARIO_DEFAULTS.lockKind;
  if (name === undefined) return null;
  if (name === MMAP_SEM || name.startsWith(`${MMAP_SEM}:`)) {
    f.d.report(f.lineNode("name"), f.at("name"), `every task has its own mmap_sem: lock it as "${MMAP_SEM}" (its own) or "${MMAP_SEM}:TASK" (another task's), without listing it`);
    return null;
  }
  if (known.locks.has(name)) {
    f.d.report(f.lineNode("name"), f.at("name"), `lock "${name}" is listed twice`);
    return null;
  }
  const spec = { name, kind };
  known.locks.set(name, spec);
  known.declaredAt.set(`lock:${name}`, { node: f.lineNode("name"), path: f.at("name") });
  return spec;
}

/** Every task's own mmap_sem is implicit: "mmap_sem" in its programs, "mmap_sem:TASK" in another task's. */
export const MMAP_SEM = "mmap_sem";

function checkTaskRefs(d: Diagnostics, known: Known): void {
  for (const ref of known.taskRefs) {
    if (!known.tasks.has(ref.task)) {
      d.report(ref.node, ref.path, `unknown task "${ref.task}" in "${MMAP_SEM}:${ref.task}"${suggest(ref.task, [...known.tasks.keys()])} (tasks: ${listOrNone([...known.tasks.keys()])})`);
    }
  }
}

/**
 * The memory held at t = 0 (tasks starting at 0, and the page cache) must fit in the zones, and
 * every cgroup's share under its limit: the simulator cannot start otherwise.
 */
function checkInitialMemory(d: Diagnostics, top: Fields, memory: MemorySpec, known: Known): void {
  const held = (t: TaskSpec): number => (t.startMs > 0 ? 0 : t.mm.anonPages + t.mm.sharedPages + t.mm.pageTablePages);
  const tasks = [...known.tasks.values()];
  const totalPages = memory.zones.reduce((sum, z) => sum + z.pages, 0);
  const initialPages = tasks.reduce((sum, t) => sum + held(t), 0) + memory.fileCachePages;
  if (initialPages > totalPages) {
    d.report(top.lineNode("memory"), "memory", `the tasks' memory at the start and the page cache (${mib(initialPages)}) do not fit in memory (${mib(totalPages)})`);
  }
  for (const c of known.cgroups.values()) {
    if (c.limitPages === null) continue;
    const usage = tasks.filter((t) => t.cgroup === c.path || t.cgroup.startsWith(`${c.path}/`)).reduce((sum, t) => sum + held(t), 0);
    if (usage > c.limitPages) {
      const at = known.declaredAt.get(`cgroup:${c.path}`);
      d.report(at?.node, at?.path ?? "cgroups", `the memory its tasks hold at the start (${mib(usage)}) is over its limit (${mib(c.limitPages)})`);
    }
  }
}

function mib(pages: number): string {
  return `${Math.round((pages / PAGES_PER_MIB) * 10) / 10} MiB`;
}

// --- tasks, threads, programs -----------------------------------------------------------------

function readTask(f: Fields, known: Known): TaskSpec | null {
  const d = f.d;
  const name = f.requiredString("name");
  if (name !== undefined && known.tasks.has(name)) d.report(f.lineNode("name"), f.at("name"), `task "${name}" is listed twice`);
  const cgroup = f.string("cgroup") ?? "/";
  if (cgroup !== "/" && !known.cgroups.has(cgroup)) {
    d.report(f.lineNode("cgroup"), f.at("cgroup"), `unknown cgroup "${cgroup}"${suggest(cgroup, [...known.cgroups.keys()])} (declared: ${listOrNone(["/", ...known.cgroups.keys()])})`);
  }
  const oomScoreAdj = f.number("oomScoreAdj", { integer: true, min: -1000, max: 1000 }) ?? SCENARIO_DEFAULTS.oomScoreAdj;
  const innocent = f.boolean("innocent") ?? false;
  const startMs = f.quantity("start", TIME, { min: 0 }) ?? 0;
  if (startMs >= known.durationMs && known.durationMs > 0) d.report(f.spelled("start", TIME).node, f.spelled("start", TIME).path, `starts at ${startMs} ms, after the run ends (${known.durationMs} ms)`);
  const mmNode = f.get("mm");
  const mm = mmNode === undefined ? emptyMm() : readMm(d, mmNode, f.at("mm"));
  const threads = readThreads(f, name ?? "task", known);
  if (name === undefined || mm === null) return null;
  const spec: TaskSpec = { name, cgroup, oomScoreAdj, mm, threads, innocent, startMs };
  if (!known.tasks.has(name)) known.tasks.set(name, spec);
  return spec;
}

function emptyMm(): TaskSpec["mm"] {
  return { anonPages: 0, mlockedPages: 0, sharedPages: 0, pageTablePages: 0, blockableMmuNotifier: false };
}

function readMm(d: Diagnostics, node: Node | null, path: string): TaskSpec["mm"] | null {
  const f = d.map(node, path);
  if (!f) return null;
  const mm: TaskSpec["mm"] = {
    anonPages: f.quantity("anon", SIZE, { min: 0 }) ?? 0,
    mlockedPages: f.quantity("mlocked", SIZE, { min: 0 }) ?? 0,
    sharedPages: f.quantity("shared", SIZE, { min: 0 }) ?? 0,
    pageTablePages: f.quantity("pageTable", SIZE, { min: 0 }) ?? 0,
    blockableMmuNotifier: f.boolean("blockableMmuNotifier") ?? false,
  };
  if (mm.mlockedPages > mm.anonPages) {
    const at = f.spelled("mlocked", SIZE);
    d.report(at.node, at.path, `mlocked memory is part of the anonymous memory: at most anon (${mm.anonPages} pages), got ${mm.mlockedPages} pages`);
  }
  f.done();
  return mm;
}

/** `program:` for a one-thread task, or `threads:`; neither means one idle thread. */
function readThreads(f: Fields, taskName: string, known: Known): ThreadSpec[] {
  const d = f.d;
  const programNode = f.get("program");
  const threadsNode = f.get("threads");
  if (programNode !== undefined && threadsNode !== undefined) {
    d.report(threadsNode, f.at("threads"), "give either program (one thread) or threads, not both");
    return [];
  }
  if (threadsNode === undefined) {
    const program = programNode === undefined ? idleProgram(known) : readProgram(d, programNode, f.at("program"), known);
    return [{ name: "main", program }];
  }
  const items = d.list(threadsNode, f.at("threads"));
  if (!items) return [];
  if (items.length === 0) d.report(threadsNode, f.at("threads"), "a task needs at least one thread");
  const threads: ThreadSpec[] = [];
  const names = new Set<string>();
  items.forEach((item, i) => {
    const path = join(f.at("threads"), i);
    const t = d.map(item, path);
    if (!t) return;
    const name = t.string("name") ?? `thread${i + 1}`;
    const count = t.number("count", { integer: true, min: 1 }) ?? 1;
    const pNode = t.get("program");
    const program = pNode === undefined ? idleProgram(known) : readProgram(d, pNode, t.at("program"), known);
    t.done();
    // `count: N` stands for N identical threads, named name-1 .. name-N.
    const expanded = count === 1 ? [name] : Array.from({ length: count }, (_, k) => `${name}-${k + 1}`);
    for (const n of expanded) {
      if (names.has(n)) d.report(t.lineNode("name"), t.at("name"), `task "${taskName}" has two threads named "${n}"`);
      names.add(n);
      threads.push({ name: n, program });
    }
  });
  return threads;
}

/**
 * A thread without a program holds its memory and sleeps past the end of the run (a sleep that
 * ended at the last instant would count as progress and hide a livelock).
 */
function idleProgram(known: Known): Step[] {
  return [{ op: "sleep", ms: 2 * known.durationMs }];
}

const GFP_CONTEXTS: readonly GfpContext[] = ["GFP_KERNEL", "GFP_NOFS", "GFP_NOFS_NOFAIL", "GFP_KERNEL_NOFAIL", "GFP_ATOMIC"];

/** The keys that decide a step's op; exactly one of them per step. */
const STEP_OPS: { op: Step["op"]; present: (f: Fields) => boolean; shown: string }[] = [
  { op: "alloc", present: (f) => f.hasQuantity("alloc", SIZE), shown: familyName("alloc", SIZE) },
  { op: "free", present: (f) => f.hasQuantity("free", SIZE), shown: familyName("free", SIZE) },
  { op: "lock", present: (f) => f.has("lock"), shown: "lock" },
  { op: "unlock", present: (f) => f.has("unlock"), shown: "unlock" },
  { op: "sleep", present: (f) => f.hasQuantity("sleep", TIME), shown: familyName("sleep", TIME) },
  { op: "loop", present: (f) => f.has("loop"), shown: "loop" },
  { op: "exit", present: (f) => f.has("exit"), shown: "exit" },
];

function readProgram(d: Diagnostics, node: Node | null, path: string, known: Known): Step[] {
  const items = d.list(node, path);
  if (!items) return [];
  const steps: Step[] = [];
  items.forEach((item, i) => {
    const step = readStep(d, item, join(path, i), known);
    if (step) steps.push(step);
  });
  return steps;
}

function readStep(d: Diagnostics, raw: Node, path: string, known: Known): Step | null {
  const node = d.deref(raw) ?? raw;
  // `- exit` is the one step written as a bare word.
  if (isScalar(node) && node.value === "exit") return { op: "exit" };
  if (!isMap(node)) {
    d.report(node, path, `expected a step (a mapping such as allocMiB: 64, or the word exit), got ${show(node)}`);
    return null;
  }
  const f = d.map(node, path);
  if (!f) return null;
  const ops = STEP_OPS.filter((o) => o.present(f));
  if (ops.length !== 1) {
    const spellings = [...SIZE.flatMap((u) => ["alloc" + u.suffix, "free" + u.suffix]), ...TIME.map((u) => "sleep" + u.suffix), "lock", "unlock", "loop", "exit"];
    const what =
      ops.length === 0
        ? `has none (keys: ${f.keys().map((k) => k + suggest(k, spellings)).join(", ")})`
        : `has ${ops.map((o) => o.shown).join(" and ")}`;
    d.report(f.node, path, `a step needs exactly one of ${STEP_OPS.map((o) => o.shown).join(", ")}; this one ${what}`);
    return null;
  }
  const step = readStepOp(f, ops[0]!.op, known);
  f.done();
  return step;
}

function readStepOp(f: Fields, op: Step["op"], known: Known): Step | null {
  const d = f.d;
  switch (op) {
    case "alloc": {
      const pages = f.quantity("alloc", SIZE, { min: 0, above: true });
      const pagesPerMs = f.quantity("rate", RATE, { min: 0, above: true }) ?? SCENARIO_DEFAULTS.allocPagesPerMs;
      const context = f.oneOf("context", GFP_CONTEXTS) ?? SCENARIO_DEFAULTS.context;
      const charge = f.oneOf("charge", ["fault", "syscall"] as const) ?? SCENARIO_DEFAULTS.charge;
      const mlocked = f.boolean("mlocked") ?? false;
      const fileBacked = f.boolean("fileBacked") ?? false;
      if (pages === undefined) return null;
      const step: Step = { op: "alloc", pages, pagesPerMs, context, charge };
      if (mlocked) step.mlocked = true;
      if (fileBacked) step.fileBacked = true;
      return step;
    }
    case "free": {
      const pages = f.quantity("free", SIZE, { min: 0, above: true });
      return pages === undefined ? null : { op: "free", pages };
    }
    case "lock": {
      const ref = readLockRef(f, "lock", known);
      const modeNode = f.get("mode");
      if (ref === undefined) return null;
      // A mutex has one mode; an rwsem must say which side it takes.
      if (modeNode === undefined) {
        if (ref.kind === "mutex") return { op: "lock", lock: ref.name, mode: "exclusive" };
        d.report(f.node, f.path, `lock "${ref.name}" is an rwsem: say mode: read or mode: write`);
        return null;
      }
      const modes: readonly ("read" | "write" | "exclusive")[] = ref.kind === "rwsem" ? ["read", "write"] : ["exclusive"];
      const mode = d.oneOf(modeNode, f.at("mode"), modes);
      return mode === undefined ? null : { op: "lock", lock: ref.name, mode };
    }
    case "unlock": {
      const ref = readLockRef(f, "unlock", known);
      return ref === undefined ? null : { op: "unlock", lock: ref.name };
    }
    case "sleep": {
      const ms = f.quantity("sleep", TIME, { min: 0 });
      return ms === undefined ? null : { op: "sleep", ms };
    }
    case "loop": {
      const timesNode = d.deref(f.get("loop"));
      let times: number | null | undefined;
      if (timesNode && isScalar(timesNode) && timesNode.value === "forever") times = null;
      else {
        const v = timesNode && isScalar(timesNode) ? timesNode.value : undefined;
        if (typeof v === "number" && Number.isInteger(v) && v >= 1) times = v;
        else d.report(timesNode, f.at("loop"), `expected "forever" or an integer >= 1, got ${show(timesNode)}`);
      }
      const stepsNode = d.deref(f.get("steps"));
      if (stepsNode === undefined) {
        f.missing('"steps"');
        return null;
      }
      const steps = readProgram(d, stepsNode, f.at("steps"), known);
      if (isSeq(stepsNode) && stepsNode.items.length === 0) d.report(stepsNode, f.at("steps"), "a loop needs at least one step");
      return times === undefined ? null : { op: "loop", times, steps };
    }
    case "exit": {
      const node = f.get("exit");
      if (d.boolean(node, f.at("exit")) === false) d.report(node, f.at("exit"), "write `- exit` (or exit: true), or leave the step out");
      return { op: "exit" };
    }
  }
}

/** A declared lock, the task's own "mmap_sem", or "mmap_sem:TASK" (another task's). */
function readLockRef(f: Fields, key: string, known: Known): { name: string; kind: LockSpec["kind"] } | undefined {
  const name = f.string(key);
  if (name === undefined) return undefined;
  const declared = known.locks.get(name);
  if (declared) return { name, kind: declared.kind };
  if (name === MMAP_SEM) return { name, kind: "rwsem" };
  if (name.startsWith(`${MMAP_SEM}:`)) {
    known.taskRefs.push({ task: name.slice(MMAP_SEM.length + 1), node: f.lineNode(key), path: f.at(key) });
    return { name, kind: "rwsem" };
  }
  const names = [...known.locks.keys()];
  f.d.report(
    f.lineNode(key),
    f.at(key),
    `unknown lock "${name}"${suggest(name, [...names, MMAP_SEM])} (declared in locks: ${listOrNone(names)}; every task also has "${MMAP_SEM}", and "${MMAP_SEM}:TASK" is another task's)`,
  );
  return undefined;
}

function listOrNone(items: string[]): string {
  return items.length === 0 ? "none" : items.join(", ");
}

// --- policies -------------------------------------------------------------------------------

function readPolicies(top: Fields, known: Known): PolicySpec[] {
  const d = top.d;
  const node = top.get("policies");
  const entries: Node[] | null = node === undefined ? null : d.list(node, "policies");
  const policies: PolicySpec[] = [];
  const seen = new Set<string>();
  const add = (policy: PolicySpec | null, at: Node | null | undefined, path: string): void => {
    if (!policy) return;
    if (seen.has(policy.name)) {
      d.report(at, path, `policy "${policy.name}" is listed twice (give the second one its own name and base: ${policy.name})`);
      return;
    }
    seen.add(policy.name);
    policies.push(policy);
  };
  if (entries === null) {
    if (node === undefined) for (const name of DEFAULT_POLICY_NAMES) add(fromBuiltin(builtin(name)!, known.cgroups.values()), top.node, "policies");
    return policies;
  }
  if (entries.length === 0) d.report(node, "policies", "list at least one policy");
  entries.forEach((entry, i) => {
    const path = `policies[${i}]`;
    if (isScalar(entry) && typeof entry.value === "string") {
      const b = builtin(entry.value);
      if (!b) d.report(entry, path, unknownPolicy(entry.value));
      else add(fromBuiltin(b, known.cgroups.values()), entry, path);
      return;
    }
    const f = d.map(entry, path);
    if (!f) return;
    add(readPolicyMapping(f, known), f.lineNode("name"), f.at("name"));
    f.done();
  });
  return policies;
}

function builtin(name: string): BuiltinPolicy | undefined {
  return BUILTIN_POLICIES.find((b) => b.name === name);
}

function unknownPolicy(name: string): string {
  const names = BUILTIN_POLICIES.map((b) => b.name);
  return `unknown policy "${name}"${suggest(name, names)}; built-in policies: ${names.join(", ")} (a custom policy is a mapping with name and kernel)`;
}

/** Managed by the oomwarden policies when not said: the limited cgroups, or the whole machine. */
function defaultManagedCgroups(cgroups: Iterable<CgroupSpec>): string[] {
  const limited = [...cgroups].filter((c) => c.limitPages !== null).map((c) => c.path);
  return limited.length > 0 ? limited : ["/"];
}

/** A built-in policy with its defaults for a scenario's cgroups (for `--policy NAME` not in the file); null if unknown. */
export function builtinPolicySpec(name: string, cgroups: CgroupSpec[]): PolicySpec | null {
  const b = builtin(name);
  return b ? fromBuiltin(b, cgroups) : null;
}

function fromBuiltin(b: BuiltinPolicy, cgroups: Iterable<CgroupSpec>, paramMs?: number): PolicySpec {
  const proposals: KernelProposal[] = [];
  const p = b.proposal;
  if (p) {
    if (p.kind === "victim-timeout") proposals.push({ kind: p.kind, timeoutMs: paramMs ?? p.defaultMs });
    else if (p.kind === "overcharge-reconcile") proposals.push({ kind: p.kind, reconcileMs: paramMs ?? p.defaultMs });
    else if (p.kind === "oom-delay") proposals.push({ kind: p.kind, delayMs: paramMs ?? p.defaultMs });
    else proposals.push({ kind: p.kind });
  }
  const userspace: UserspaceSpec = b.userspace === "oomwarden" ? { kind: "oomwarden", managedCgroups: defaultManagedCgroups(cgroups), options: {} } : { kind: "none" };
  return { name: b.name, kernel: { version: b.version, proposals }, userspace };
}

const PROPOSAL_PARAMS = ["timeout", "reconcile", "delay"] as const;

/**
 * A policy written as a mapping: a built-in with overrides (`name` a built-in, or `base`), or a
 * custom policy (`name` and `kernel`, optional `proposals` and `userspace`).
 */
function readPolicyMapping(f: Fields, known: Known): PolicySpec | null {
  const d = f.d;
  const name = f.requiredString("name");
  const baseName = f.string("base");
  const version = readKernelVersion(f);
  const base = builtin(baseName ?? name ?? "");
  if (baseName !== undefined && !base) d.report(f.lineNode("base"), f.at("base"), unknownPolicy(baseName));
  if (name !== undefined && /\s/.test(name)) d.report(f.lineNode("name"), f.at("name"), "policy names have no spaces (they are typed after --policy)");

  // Parameters of the base's proposal, e.g. timeoutMs for proposal-victim-timeout.
  let paramMs: number | undefined;
  for (const param of PROPOSAL_PARAMS) {
    const v = f.quantity(param, TIME, { min: 0 });
    if (v === undefined) continue;
    const p = base?.proposal;
    if (p && "param" in p && p.param === param) paramMs = v;
    else {
      const owner = BUILTIN_POLICIES.find((b) => b.proposal && "param" in b.proposal && b.proposal.param === param)!;
      const at = f.spelled(param, TIME);
      d.report(at.node, at.path, `applies only to ${owner.name} (or a policy with base: ${owner.name})`);
    }
  }

  const proposalsNode = f.get("proposals");
  const userspaceNode = f.get("userspace");
  const handlerNode = f.get("handler");
  const managedNode = f.get("managedCgroups");
  const optionsNode = f.get("options");

  if (!base && baseName === undefined && name !== undefined && version === undefined && !f.has("kernel")) {
    d.report(f.node, f.path, `"${name}" is not a built-in policy: a custom policy needs kernel: 2018 or kernel: today (built-in policies: ${BUILTIN_POLICIES.map((b) => b.name).join(", ")})`);
  }
  const spec = base ? fromBuiltin(base, known.cgroups.values(), paramMs) : { name: name ?? "", kernel: { version: version ?? "today", proposals: [] }, userspace: { kind: "none" } as UserspaceSpec };
  if (name !== undefined) spec.name = name;
  if (version !== undefined) spec.kernel.version = version;
  if (proposalsNode !== undefined) spec.kernel.proposals = readProposals(d, proposalsNode, f.at("proposals"));

  const shorthandCount = [userspaceNode, handlerNode].filter((n) => n !== undefined).length + (managedNode !== undefined || optionsNode !== undefined ? 1 : 0);
  if (shorthandCount > 1) d.report(f.node, f.path, "give the user-space side once: userspace, handler, or managedCgroups/options");
  if (userspaceNode !== undefined) {
    const u = readUserspace(d, userspaceNode, f.at("userspace"), known);
    if (u) spec.userspace = u;
  } else if (handlerNode !== undefined) {
    const h = d.map(handlerNode, f.at("handler"));
    if (h) {
      const u = readHandler(h, known);
      h.done();
      if (u) spec.userspace = u;
    }
  } else if (managedNode !== undefined || optionsNode !== undefined) {
    if (spec.userspace.kind !== "oomwarden") {
      d.report(f.lineNode(managedNode !== undefined ? "managedCgroups" : "options"), f.path, "managedCgroups and options apply to oomwarden policies only (base: kernel-today+oomwarden, or userspace: {kind: oomwarden})");
    } else {
      if (managedNode !== undefined) {
        const cgroups = readCgroupRefs(d, managedNode, f.at("managedCgroups"), known, true);
        if (cgroups) spec.userspace.managedCgroups = cgroups;
      }
      if (optionsNode !== undefined) spec.userspace.options = readOomwardenOptions(d, optionsNode, f.at("options"));
    }
  }
  return name === undefined ? null : spec;
}

function readKernelVersion(f: Fields): KernelVersion | undefined {
  const node = f.get("kernel");
  if (node === undefined) return undefined;
  const v = f.d.oneOf(node, f.at("kernel"), ["2018", "today"] as const);
  return v;
}

function readProposals(d: Diagnostics, node: Node | null, path: string): KernelProposal[] {
  const items = d.list(node, path);
  if (!items) return [];
  const out: KernelProposal[] = [];
  items.forEach((item, i) => {
    const f = d.map(item, join(path, i));
    if (!f) return;
    const kind = f.oneOf("kind", ["victim-timeout", "victim-reserves", "overcharge-reconcile", "kill-below-half-min", "oom-delay"] as const);
    if (!f.has("kind")) f.missing('"kind"');
    const withParam = (param: (typeof PROPOSAL_PARAMS)[number]): number | undefined => {
      const v = f.requiredQuantity(param, TIME, { min: 0 });
      return v;
    };
    if (kind === "victim-timeout") {
      const timeoutMs = withParam("timeout");
      if (timeoutMs !== undefined) out.push({ kind, timeoutMs });
    } else if (kind === "overcharge-reconcile") {
      const reconcileMs = withParam("reconcile");
      if (reconcileMs !== undefined) out.push({ kind, reconcileMs });
    } else if (kind === "oom-delay") {
      const delayMs = withParam("delay");
      if (delayMs !== undefined) out.push({ kind, delayMs });
    } else if (kind !== undefined) out.push({ kind });
    f.done();
  });
  return out;
}

function readUserspace(d: Diagnostics, node: Node | null, path: string, known: Known): UserspaceSpec | null {
  const f = d.map(node, path);
  if (!f) return null;
  const kind = f.oneOf("kind", ["none", "oomwarden", "handler"] as const);
  if (!f.has("kind")) f.missing('"kind" (none, oomwarden or handler)');
  let spec: UserspaceSpec | null = null;
  if (kind === "none") spec = { kind };
  else if (kind === "oomwarden") {
    const managedNode = f.get("managedCgroups");
    const managedCgroups = managedNode === undefined ? defaultManagedCgroups(known.cgroups.values()) : readCgroupRefs(d, managedNode, f.at("managedCgroups"), known, true);
    const optionsNode = f.get("options");
    const options = optionsNode === undefined ? {} : readOomwardenOptions(d, optionsNode, f.at("options"));
    if (managedCgroups) spec = { kind, managedCgroups, options };
  } else if (kind === "handler") spec = readHandler(f, known);
  f.done();
  return spec;
}

/** A user's own OOM handler task (seed 004): `task`, `cgroups`, `reactMs`, `actionSteps`. */
function readHandler(f: Fields, known: Known): UserspaceSpec | null {
  const d = f.d;
  const task = f.requiredString("task");
  if (task !== undefined && !known.tasks.has(task)) {
    d.report(f.lineNode("task"), f.at("task"), `unknown task "${task}"${suggest(task, [...known.tasks.keys()])} (tasks: ${listOrNone([...known.tasks.keys()])})`);
  }
  const cgroupsNode = f.get("cgroups");
  let cgroups: string[] | undefined;
  if (cgroupsNode !== undefined) cgroups = readCgroupRefs(d, cgroupsNode, f.at("cgroups"), known, false);
  else {
    // By default the handler manages the cgroups whose kernel killer is disabled for it.
    cgroups = [...known.cgroups.values()].filter((c) => c.oomKillDisable).map((c) => c.path);
    if (cgroups.length === 0) f.missing('"cgroups" (no cgroup has oomKillDisable: true to default to)');
  }
  const reactMs = f.quantity("react", TIME, { min: 0 }) ?? SCENARIO_DEFAULTS.handlerReactMs;
  // What the handler does before it can kill, in program steps (the kernel's default: fault in
  // one page, as reading a /proc file does).
  const actionNode = f.get("actionSteps");
  const actionSteps = actionNode === undefined ? undefined : readProgram(d, actionNode, f.at("actionSteps"), known);
  if (task === undefined || cgroups === undefined) return null;
  const spec: UserspaceSpec = { kind: "handler", task, cgroups, reactMs };
  if (actionSteps !== undefined) spec.actionSteps = actionSteps;
  return spec;
}

function readCgroupRefs(d: Diagnostics, node: Node | null, path: string, known: Known, rootAllowed: boolean): string[] | undefined {
  const items = d.list(node, path);
  if (!items) return undefined;
  const out: string[] = [];
  items.forEach((item, i) => {
    const p = d.string(item, join(path, i));
    if (p === undefined) return;
    if (p === "/" && rootAllowed) out.push(p);
    else if (!known.cgroups.has(p)) d.report(item, join(path, i), `unknown cgroup "${p}"${suggest(p, [...known.cgroups.keys()])} (declared: ${listOrNone([...(rootAllowed ? ["/"] : []), ...known.cgroups.keys()])})`);
    else out.push(p);
  });
  return out;
}

/**
 * oomwarden's engine options a scenario may set: the number and true/false tunables of the daemon
 * config, with its rules (src/daemon/config.ts). Listed here because the simulator does not
 * depend on the engine (test/layering.test.ts); src/daemon/sim-agent.ts applies them.
 */
export const OOMWARDEN_OPTIONS: Record<string, "boolean" | "positive" | "positive-integer" | "integer>=0"> = {
  dryRun: "boolean",
  journalCandidates: "positive-integer",
  observeIntervalMs: "positive",
  maxObservationsWithoutProgress: "positive-integer",
  minProgressBytes: "integer>=0",
};

function readOomwardenOptions(d: Diagnostics, node: Node | null, path: string): Record<string, unknown> {
  const f = d.map(node, path);
  if (!f) return {};
  const out: Record<string, unknown> = {};
  for (const [key, kind] of Object.entries(OOMWARDEN_OPTIONS)) {
    const v =
      kind === "boolean"
        ? f.boolean(key)
        : f.number(key, kind === "positive" ? { min: 0, above: true } : kind === "positive-integer" ? { integer: true, min: 1 } : { integer: true, min: 0 });
    if (v !== undefined) out[key] = v;
  }
  f.done();
  return out;
}

// --- expectations ---------------------------------------------------------------------------

const FAILURE_KEYS = [...GFP_CONTEXTS, "memcg-syscall-enomem"] as const;

function readExpectations(top: Fields, policies: PolicySpec[], known: Known): Record<string, Expectation> {
  const d = top.d;
  const node = top.get("expectations");
  const out: Record<string, Expectation> = {};
  if (node === undefined || (isScalar(node) && node.value === null)) return out;
  const f = d.map(node, "expectations");
  if (!f) return out;
  const names = policies.map((p) => p.name);
  for (const pair of f.node.items as Pair<Node, Node | null>[]) {
    const policy = isScalar(pair.key) ? String(pair.key.value) : "";
    f.get(policy);
    const path = f.at(policy);
    if (!names.includes(policy)) {
      d.report(pair.key, path, `no policy named "${policy}" in policies${suggest(policy, names)} (listed: ${listOrNone(names)})`);
      continue;
    }
    const e = d.map(pair.value, path);
    if (!e) continue;
    out[policy] = readExpectation(e, known);
    e.done();
  }
  f.done();
  return out;
}

function readExpectation(f: Fields, known: Known): Expectation {
  const count = { integer: true, min: 0 };
  const e: Expectation = {};
  const set = <K extends keyof Expectation>(key: K, value: Expectation[K] | undefined): void => {
    if (value !== undefined) e[key] = value;
  };
  set("maxKilled", f.number("maxKilled", count));
  set("minKilled", f.number("minKilled", count));
  set("innocentKilled", f.number("innocentKilled", count));
  set("minInnocentKilled", f.number("minInnocentKilled", count));
  set("livelock", f.boolean("livelock"));
  set("panic", f.boolean("panic"));
  set("recovered", f.boolean("recovered"));
  set("recoveredWithinMs", f.quantity("recoveredWithin", TIME, { min: 0 }));
  set("minStallMs", f.quantity("minStall", TIME, { min: 0 }));
  set("maxStallMs", f.quantity("maxStall", TIME, { min: 0 }));
  set("firstKillByMs", f.quantity("firstKillBy", TIME, { min: 0 }));
  set("firstKillAfterMs", f.quantity("firstKillAfter", TIME, { min: 0 }));
  const killedNode = f.get("killed");
  if (killedNode !== undefined) {
    const killed = f.d.stringList(killedNode, f.at("killed"));
    killed?.forEach((t, i) => {
      if (!known.tasks.has(t)) f.d.report(killedNode, join(f.at("killed"), i), `unknown task "${t}"${suggest(t, [...known.tasks.keys()])}`);
    });
    set("killed", killed);
  }
  for (const key of ["minAllocFailures", "maxAllocFailures"] as const) {
    const node = f.get(key);
    if (node === undefined) continue;
    const m = f.d.map(node, f.at(key));
    if (!m) continue;
    const counts: PolicyResult["allocFailures"] = {};
    for (const ctx of FAILURE_KEYS) {
      const v = m.number(ctx, count);
      if (v !== undefined) counts[ctx] = v;
    }
    m.done();
    set(key, counts);
  }
  if (e.minKilled !== undefined && e.maxKilled !== undefined && e.minKilled > e.maxKilled) {
    f.d.report(f.lineNode("minKilled"), f.at("minKilled"), `is more than maxKilled (${e.maxKilled})`);
  }
  return e;
}
