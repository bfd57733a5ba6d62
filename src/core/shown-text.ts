// How user-supplied text appears inside an error message: escaped, so a newline in a key cannot
// split the message over two lines, and cut, so a 5 KB value does not drown the message.

/** Characters of a quoted key or value shown before the ellipsis. */
export const SHOWN_TEXT_MAX_CHARS = 60;
/** Words longer than this get no "did you mean". */
const SUGGEST_MAX_CHARS = 64;

/**
 * What JSON leaves as it is but a terminal or editor may show as a line break or hide: C1 controls
 * (NEL among them), the Unicode line and paragraph separators, zero-width and bidirectional marks.
 */
const INVISIBLE = /^[\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]$/;

function unicodeEscape(char: string): string {
  return `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`;
}

/**
 * The text JSON-quoted (`"a\nb"`) and cut after maxChars escaped characters with an ellipsis.
 * Escaping comes first and the cut never splits an escape or a surrogate pair, so the result
 * stays valid JSON up to the ellipsis and its length stays bounded whatever the text holds.
 */
export function quoted(text: string, maxChars: number = SHOWN_TEXT_MAX_CHARS): string {
  let body = "";
  for (const char of text) {
    const escaped = INVISIBLE.test(char) ? unicodeEscape(char) : JSON.stringify(char).slice(1, -1);
    if (body.length + escaped.length > maxChars) return `"${body}"…`;
    body += escaped;
  }
  return `"${body}"`;
}

/**
 * The first line of a text (a message quoted from a library, which may echo the input), its
 * control characters escaped, cut to maxChars with an ellipsis.
 */
export function cutLine(text: string, maxChars: number): string {
  const line = text.split(/[\n\r\u0085\u2028\u2029]/)[0] ?? "";
  let out = "";
  for (const char of line) {
    const shown = INVISIBLE.test(char) || char < " " ? unicodeEscape(char) : char;
    if (out.length + shown.length > maxChars) return `${out}…`;
    out += shown;
  }
  return out;
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
