// A node:fs error in one line, without the path Node appends to it: the caller names the path
// once, in its own words ("cannot write the takeover ledger /x: EROFS: read-only file system").

export function systemReason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/, \w+ '[\s\S]*'$/, "").split("\n")[0] ?? message;
}
