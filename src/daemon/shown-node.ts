// How a YAML value of the config file appears inside an error message: escaped and cut, never the
// whole of a long value.

import { isMap, isScalar, isSeq, type Node } from "yaml";
import { cutLine, quoted, SHOWN_TEXT_MAX_CHARS } from "../core/shown-text.js";

export function shownNode(node: Node | null | undefined): string {
  if (node === null || node === undefined) return "nothing";
  if (isScalar(node)) {
    const v = node.value;
    if (v === null) return "nothing";
    // String(), not JSON: .nan and .inf would show as null.
    return typeof v === "string" ? quoted(v) : cutLine(String(v), SHOWN_TEXT_MAX_CHARS);
  }
  if (isSeq(node)) return "a list";
  if (isMap(node)) return "a mapping";
  return "an unsupported value";
}
