// Line-level mutations shared by the fuzzers of text formats: drop a line, double it, or cut the
// text after it (a file truncated mid-way).

import fc from "fast-check";

export type LineEdit = { kind: "drop" | "double" | "cut"; at: number };

export const lineEdit: fc.Arbitrary<LineEdit> = fc.record({ kind: fc.constantFrom("drop" as const, "double" as const, "cut" as const), at: fc.nat() });

export function applyLineEdit(text: string, e: LineEdit): string {
  const lines = text.split("\n");
  const i = e.at % lines.length;
  if (e.kind === "drop") lines.splice(i, 1);
  else if (e.kind === "double") lines.splice(i, 0, lines[i]!);
  else return lines.slice(0, i).join("\n");
  return lines.join("\n");
}
