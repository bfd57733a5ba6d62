// Bounding what a victim rule's pattern can cost. A pattern is tested against command lines any user
// can write, in the daemon, while the machine is out of memory: with V8's ordinary backtracking
// engine, `.*a.*b` took 9 s here against a 4096-character command line, and `(a+)+$` 17 s against
// 29 characters. V8 also has a linear-time engine, and can hand it a match once the ordinary one
// has backtracked too long (50000 backtracks): `.*a.*a.*b` against 4096 characters then took 44 ms,
// `(a+)+$` about 1 ms. The ordinary engine stays in charge of ordinary text, where it is the faster:
// 500 processes against two dozen rules took 2-5 ms, 64 ms on the linear engine alone.
//
// Node 20 has both behind V8 flags, set here once, before the rules are compiled: one makes V8
// accept the "l" flag, which the rules' compiler uses to refuse what the linear engine cannot run
// (lookaround, backreferences), since V8 can hand only such patterns over; the other turns the
// hand-over on. It changes no regular expression's result, only how long the worst of them takes.

import { setFlagsFromString } from "node:v8";

let available: boolean | null = null;

/** Whether the linear-time fallback is on (turning it on at the first call). */
export function linearRegexFallback(): boolean {
  available ??= enable();
  return available;
}

function enable(): boolean {
  try {
    setFlagsFromString("--enable-experimental-regexp-engine");
    setFlagsFromString("--enable-experimental-regexp-engine-on-excessive-backtracks");
  } catch {
    return false;
  }
  // The flags exist where "l" is accepted: V8 ignores flags it does not know.
  try {
    new RegExp("a", "l");
    return true;
  } catch {
    return false;
  }
}
