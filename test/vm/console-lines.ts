// The guest's serial console as text and as timed lines. qemu's output arrives in chunks that
// split lines anywhere, and the BIOS and kernel write terminal control sequences (screen clears,
// line-wrap toggles) that only get in the way of matching.

export interface ConsoleLine {
  /** Host ms since qemu started, when the line's end arrived. */
  atMs: number;
  text: string;
}

/** guest-init.sh prints this (then the guest's uptime in seconds) just before the test's script. */
export const READY_MARKER = "oomwarden-vm: ready";
const READY_LINE = new RegExp(`${READY_MARKER} (\\d+(?:\\.\\d+)?)`);

/** When the guest became ready, in host ms since qemu started and in guest uptime; null if it never did. */
export function readyTime(lines: readonly ConsoleLine[]): { atMs: number; guestUptimeSec: number } | null {
  for (const line of lines) {
    const match = READY_LINE.exec(line.text);
    if (match?.[1] !== undefined) return { atMs: line.atMs, guestUptimeSec: Number(match[1]) };
  }
  return null;
}

/** Host ms between the first line containing `from` and the next line after it containing `to`; null if either is missing. */
export function msBetween(lines: readonly ConsoleLine[], from: string, to: string): number | null {
  const start = lines.findIndex((line) => line.text.includes(from));
  if (start < 0) return null;
  const end = lines.slice(start + 1).find((line) => line.text.includes(to));
  return end === undefined ? null : end.atMs - (lines[start]?.atMs ?? 0);
}

// CSI sequences (ESC [ ... final byte), two-byte escapes (ESC c resets the terminal), carriage returns.
// eslint-disable-next-line no-control-regex
const CONTROL = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-Z\\-_c]|\r/g;

export function parseConsole(chunks: ReadonlyArray<{ atMs: number; text: string }>): { console: string; lines: ConsoleLine[] } {
  const lines: ConsoleLine[] = [];
  let pending = "";
  for (const chunk of chunks) {
    const parts = (pending + chunk.text).split("\n");
    pending = parts.pop() ?? "";
    for (const part of parts) lines.push({ atMs: chunk.atMs, text: part.replace(CONTROL, "") });
  }
  const last = chunks.at(-1);
  if (pending !== "" && last !== undefined) lines.push({ atMs: last.atMs, text: pending.replace(CONTROL, "") });
  return { console: lines.map((line) => line.text).join("\n"), lines };
}
