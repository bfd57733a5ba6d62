// Pieces of error messages shared by the readers: how a value is shown, key paths, suggestions.
// Whatever the file holds is shown escaped and cut (src/core/shown-text.ts), so every message stays
// one short line: a key with a newline in it, or a 5 KB value, cannot split or drown it.

import { isMap, isScalar, isSeq, type Node } from "yaml";
import { quoted, suggest } from "../../core/shown-text.js";

export { quoted, suggest };

/** Characters of a key shown in a key path before the ellipsis. */
const SHOWN_KEY_MAX_CHARS = 40;
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

/** `a, b, c`, at most LISTED_NAMES_MAX of them (then `and N more`), or `none`. */
export function listOrNone(items: readonly string[], format: (item: string) => string = shownName): string {
  if (items.length === 0) return "none";
  const shown = items.slice(0, LISTED_NAMES_MAX).map((item) => format(item));
  return items.length > LISTED_NAMES_MAX ? `${shown.join(", ")} and ${items.length - LISTED_NAMES_MAX} more` : shown.join(", ");
}
