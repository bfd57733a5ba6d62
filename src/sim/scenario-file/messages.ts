// Pieces of error messages shared by the readers: how a value is shown, key paths, suggestions.
// Whatever the file holds is shown escaped and cut (src/core/shown-text.ts), so every message stays
// one short line: a key with a newline in it, or a 5 KB value, cannot split or drown it.

import { isMap, isScalar, isSeq, type Node } from "yaml";
import { quoted } from "../../core/shown-text.js";

export { quoted };

/** Characters of a key shown in a key path before the ellipsis. */
const SHOWN_KEY_MAX_CHARS = 40;
/** Words longer than this get no "did you mean". */
const SUGGEST_MAX_CHARS = 64;
/** Names listed in a message ("declared: ...") before "and N more". */
const LISTED_NAMES_MAX = 10;

/** A YAML value as an error message shows it: `"lots"`, `12`, `a list`, `nothing`. */
export function show(node: Node | null | undefined): string {
  if (node === null || node === undefined) return "nothing";
  if (isScalar(node)) {
    const v = node.value;
    if (v === null) return "nothing";
    // String(), not JSON: JSON shows NaN and Infinity (`.nan`, `.inf`) as null.
    return typeof v === "string" ? quoted(v) : String(v);
  }
  if (isSeq(node)) return "a list";
  if (isMap(node)) return "a mapping";
  return "an unsupported value";
}

/** Names the file declared, as a message shows them: plain ones as they are, others quoted. */
export function shownName(name: string): string {
  return /^[\w./:+-]{1,60}$/.test(name) ? name : quoted(name);
}

/** The key path of a child: `tasks[2]`, `tasks[2].mm`; a key that is not a plain name as `x["a b"]`. */
export function joinPath(path: string, key: string | number): string {
  if (typeof key === "number") return `${path}[${key}]`;
  if (!/^[\w$+-]{1,60}$/.test(key)) return `${path}[${quoted(key, SHOWN_KEY_MAX_CHARS)}]`;
  return path === "" ? key : `${path}.${key}`;
}

/** ` (did you mean "x"?)` for the closest candidate within a small edit distance, else "". */
export function suggest(word: string, candidates: string[]): string {
  // A misspelling is short; comparing a long text with every candidate would only cost time.
  if (word.length > SUGGEST_MAX_CHARS) return "";
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const dist = editDistance(word.toLowerCase(), c.toLowerCase());
    if (dist < bestDistance) {
      best = c;
      bestDistance = dist;
    }
  }
  return best !== null && bestDistance <= Math.max(2, Math.floor(word.length / 4)) ? ` (did you mean ${quoted(best)}?)` : "";
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

/** `a, b, c`, at most LISTED_NAMES_MAX of them (then `and N more`), or `none`. */
export function listOrNone(items: readonly string[], format: (item: string) => string = shownName): string {
  if (items.length === 0) return "none";
  const shown = items.slice(0, LISTED_NAMES_MAX).map((item) => format(item));
  return items.length > LISTED_NAMES_MAX ? `${shown.join(", ")} and ${items.length - LISTED_NAMES_MAX} more` : shown.join(", ");
}
