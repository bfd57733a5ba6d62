// Reading the journal back (tools, tests, benchmarks). A line counts only when it is complete and
// parses as one record; anything else is skipped and reported, never thrown: a crash or a full disk
// can leave a fragment, and a reader racing the daemon can see a record half written.

import { readFileSync } from "node:fs";
import type { JournalRecord } from "../engine/journal-record.js";

/** A record as the file holds it: the daemon stamps each with the wall-clock time. */
export type JournalEntry = JournalRecord & { time: string };

export interface SkippedLine {
  /** 1-based, counting every line of the file. */
  lineNumber: number;
  sizeBytes: number;
  /**
   * "torn tail": the file ends without a line end after it (cut, or still being written);
   * "not a record": a complete line that is not one JSON record (a fragment an older daemon
   * left, or two records glued together).
   */
  why: "torn tail" | "not a record";
}

export interface ParsedJournal {
  records: JournalEntry[];
  skipped: SkippedLine[];
}

export function parseJournalText(text: string): ParsedJournal {
  const records: JournalEntry[] = [];
  const skipped: SkippedLine[] = [];
  const lines = text.split("\n");
  // After the last "\n" comes either nothing (a clean end) or a line nobody finished.
  const tail = lines.pop() ?? "";
  lines.forEach((line, index) => {
    if (line === "") return; // a torn tail closed by the next daemon can leave an empty line; nothing is lost
    const record = parseRecord(line);
    if (record === null) skipped.push({ lineNumber: index + 1, sizeBytes: Buffer.byteLength(line), why: "not a record" });
    else records.push(record);
  });
  if (tail !== "") skipped.push({ lineNumber: lines.length + 1, sizeBytes: Buffer.byteLength(tail), why: "torn tail" });
  return { records, skipped };
}

export function readJournal(path: string): ({ ok: true } & ParsedJournal) | { ok: false; message: string } {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    return { ok: false, message: `cannot read journal ${path}: ${(error as Error).message}` };
  }
  return { ok: true, ...parseJournalText(text) };
}

/** One JSON object with a string `type` and `time`, or null. */
function parseRecord(line: string): JournalEntry | null {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return null;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return null;
  const fields = value as Record<string, unknown>;
  if (typeof fields.type !== "string" || typeof fields.time !== "string") return null;
  return value as JournalEntry;
}
