// Diagnostics: every error of a scenario file, as `file:line: key.path: message`, sorted by line;
// and typed reads of single YAML nodes (mapping, list, number, string, ...) that report what they
// expected and what they got. Keys of a mapping are read through Fields (fields.ts).

import { isAlias, isMap, isScalar, isSeq, type Document, type LineCounter, type Node } from "yaml";
import type { Scenario } from "../scenario.js";
import { Fields } from "./fields.js";
import { joinPath, show, suggest } from "./messages.js";

export type ScenarioFileResult = { ok: true; scenario: Scenario } | { ok: false; errors: string[] };

export interface NumberRule {
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

export class Diagnostics {
  private readonly errors: { line: number; order: number; text: string }[] = [];
  private readonly resolved = new Map<Node, Node | null>();

  constructor(
    private readonly source: string,
    private readonly lines: LineCounter,
    private readonly doc: Document,
  ) {}

  /** The node an alias (`*name`) stands for, so anchored programs can be reused; others as they are. */
  deref(node: Node | null | undefined): Node | null | undefined {
    if (!node || !isAlias(node)) return node;
    // Resolving walks the document: remembered, since one alias may be read many times.
    let target = this.resolved.get(node);
    if (target === undefined) {
      target = (node.resolve(this.doc) as Node | undefined) ?? null;
      this.resolved.set(node, target);
    }
    return target;
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
      const s = this.string(item, joinPath(path, i));
      if (s !== undefined) out.push(s);
    });
    return out;
  }
}
