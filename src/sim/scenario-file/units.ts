// Units of scenario files. A quantity's unit is spelled as the suffix of its key (`anonMiB`,
// `durationS`, `rateMiBPerS`); the parser converts it to the Scenario's base units: pages, ms
// and pages per ms (src/sim/scenario.ts).

import { PAGE_SIZE_BYTES } from "../scenario.js";

export const PAGES_PER_MIB = (1024 * 1024) / PAGE_SIZE_BYTES;

/** Unit spelled as a key suffix, and how many base units (pages, ms, pages/ms) one of it is. */
export interface Unit {
  suffix: string;
  factor: number;
}

/** Sizes, in pages. */
export const SIZE: Unit[] = [
  { suffix: "GiB", factor: 1024 * PAGES_PER_MIB },
  { suffix: "MiB", factor: PAGES_PER_MIB },
  { suffix: "KiB", factor: 1024 / PAGE_SIZE_BYTES },
  { suffix: "Pages", factor: 1 },
];

/** Times, in ms. */
export const TIME: Unit[] = [
  { suffix: "S", factor: 1000 },
  { suffix: "Ms", factor: 1 },
];

/** Rates, in pages per ms. */
export const RATE: Unit[] = [
  { suffix: "GiBPerS", factor: (1024 * PAGES_PER_MIB) / 1000 },
  { suffix: "MiBPerS", factor: PAGES_PER_MIB / 1000 },
  { suffix: "PagesPerMs", factor: 1 },
];

/** How messages name every spelling of a quantity at once, e.g. `anon{GiB,MiB,KiB,Pages}`. */
export function familyName(base: string, units: Unit[]): string {
  return `${base}{${units.map((u) => u.suffix).join(",")}}`;
}

/** Pages as MiB with one decimal, for messages. */
export function mib(pages: number): string {
  return `${Math.round((pages / PAGES_PER_MIB) * 10) / 10} MiB`;
}
