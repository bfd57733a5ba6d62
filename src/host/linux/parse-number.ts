// Strict number parsing shared by the procfs and cgroupfs parsers. Number("") is 0 and
// parseInt("12abc") is 12; both would turn a truncated or garbled kernel file into a
// plausible-looking value, so every field goes through these instead.

/** A base-10 integer, optionally negative; null if text is anything else or not a safe integer. */
export function parseInteger(text: string): number | null {
  if (!/^-?\d+$/.test(text)) return null;
  const value = Number(text);
  return Number.isSafeInteger(value) ? value : null;
}

/**
 * A non-negative base-10 integer. Values above 2^53 (the v1 "no limit" sentinel, for one) are
 * returned rounded to the nearest double: exact enough for byte counts, and limit files are
 * checked against a threshold, not an exact value.
 */
export function parseUnsigned(text: string): number | null {
  if (!/^\d+$/.test(text)) return null;
  return Number(text);
}
