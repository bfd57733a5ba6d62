// Strict number parsing shared by the procfs and cgroupfs parsers. Number("") is 0 and
// parseInt("12abc") is 12; both would turn a truncated or garbled kernel file into a
// plausible-looking value, so every field goes through these instead. Each returns null for text
// a kernel cannot print in that field, and never Infinity: Number("9".repeat(400)) is.

/** 2^64 - 1: the largest value a kernel prints for an unsigned 64-bit field. */
const U64_MAX = 2n ** 64n - 1n;
/** Decimal digits of U64_MAX: text no longer than this (leading zeros aside) may be compared as a BigInt cheaply. */
const U64_MAX_DIGITS = 20;
/** Numbers of this many digits or fewer are below 2^53 (9007199254740992 has 16). */
const SAFE_DIGITS = 15;

/** A base-10 integer, optionally negative; null if text is anything else or not a safe integer. */
export function parseInteger(text: string): number | null {
  if (!/^-?\d+$/.test(text)) return null;
  const value = Number(text);
  return Number.isSafeInteger(value) ? value : null;
}

/**
 * A counter or an id: a non-negative safe integer (event counts, pids, thread counts, pages).
 * A kernel never prints a negative count, and one past 2^53 would not be exact: both are errors.
 */
export function parseCount(text: string): number | null {
  if (!/^\d+$/.test(text)) return null;
  const value = Number(text);
  return Number.isSafeInteger(value) ? value : null;
}

/**
 * A non-negative size of at most 2^64 - 1 (bytes, a limit). Values above 2^53 (the v1 "no limit"
 * sentinel 9223372036854771712, for one) are returned rounded to the nearest double: exact
 * enough for byte counts, and limit files are checked against a threshold, not an exact value.
 */
export function parseUnsigned(text: string): number | null {
  if (!/^\d+$/.test(text)) return null;
  // Up to 15 digits is below 2^53: exact as a double, and no BigInt (a decision parses one a process).
  if (text.length <= SAFE_DIGITS) return Number(text);
  const digits = text.replace(/^0+(?=\d)/, "");
  if (digits.length > U64_MAX_DIGITS || BigInt(digits) > U64_MAX) return null;
  return Number(digits);
}
