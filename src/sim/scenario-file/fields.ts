// The keys of one YAML mapping, read by name with their key paths; quantities read with the unit
// in the key (`anonMiB`) and converted; done() reports every key nobody asked for.

import { isScalar, type Node, type Pair, type YAMLMap } from "yaml";
import type { Diagnostics, NumberRule } from "./diagnostics.js";
import { joinPath, suggest } from "./messages.js";
import { PAGE_SIZE_BYTES } from "../scenario.js";
import { familyName, RATE, SIZE, TIME, type Unit } from "./units.js";

const BASE_UNIT = new Map<Unit[], string>([
  [SIZE, "pages"],
  [TIME, "ms"],
  [RATE, "pages per ms"],
]);

/** The keys of one YAML mapping: read by name, the rest reported as unknown by done(). */
export class Fields {
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
    return joinPath(this.path, key);
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
    const valueNode = this.entries.get(key)!.value;
    const v = this.d.number(valueNode, this.at(key), rule);
    if (v === undefined) return undefined;
    // Checked again after conversion: a finite number of GiB or seconds may overflow to
    // Infinity, and a positive one may underflow to 0 (or round to 0 pages).
    const converted = v * unit.factor;
    if (!Number.isFinite(converted)) {
      this.d.report(valueNode, this.at(key), `${v} is too large: it does not fit in a number of ${BASE_UNIT.get(units) ?? "base units"}`);
      return undefined;
    }
    // Sizes become whole pages (rounded to the nearest); times and rates keep their fraction.
    const value = units === SIZE ? Math.round(converted) : converted;
    if (units === SIZE && value > Number.MAX_SAFE_INTEGER) {
      this.d.report(valueNode, this.at(key), `${v} is too large: at most ${Number.MAX_SAFE_INTEGER} pages`);
      return undefined;
    }
    if (v !== 0 && value === 0) {
      const what = units === SIZE ? `less than half a page (${PAGE_SIZE_BYTES / 1024} KiB); sizes are whole pages` : `too small: it is 0 ${BASE_UNIT.get(units) ?? "base units"}`;
      this.d.report(valueNode, this.at(key), `${v} is ${what}`);
      return undefined;
    }
    return value;
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
