// Pieces of error messages shared by the readers: how a value is shown, key paths, suggestions.

import { isMap, isScalar, isSeq, type Node } from "yaml";

/** A YAML value as an error message shows it: `"lots"`, `a list`, `nothing`. */
export function show(node: Node | null | undefined): string {
  if (node === null || node === undefined) return "nothing";
  if (isScalar(node)) return node.value === null ? "nothing" : JSON.stringify(node.value);
  if (isSeq(node)) return "a list";
  if (isMap(node)) return "a mapping";
  return "an unsupported value";
}

/** The key path of a child: `tasks[2]`, `tasks[2].mm`. */
export function joinPath(path: string, key: string | number): string {
  if (typeof key === "number") return `${path}[${key}]`;
  return path === "" ? key : `${path}.${key}`;
}

/** ` (did you mean "x"?)` for the closest candidate within a small edit distance, else "". */
export function suggest(word: string, candidates: string[]): string {
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

export function listOrNone(items: string[]): string {
  return items.length === 0 ? "none" : items.join(", ");
}
