// Keeps the daemon's compiled JavaScript compiled. V8 discards the bytecode of a function that has
// not run through a few major garbage collections (five in Node 20), and its optimised code with
// it, and compiles it again at its next call. A daemon's decision path runs only in an emergency,
// so by then it is always "old": the rehearsal at start (src/engine/machine-rehearsal.ts) compiled
// it in vain. On this project's hosts an idle daemon went through two or three major collections a
// hundred seconds, so within minutes of starting, the first real decision would again pay for
// compiling everything it runs, at the moment it must be quick. With flushing off, what ran once
// stays compiled; the cost is the bytecode of code that ran once and never again (module set-up),
// which stays in the heap.
//
// A V8 flag set at run time: V8 reads it at each collection, so it holds from here on (checked by
// test/daemon/compiled-code.test.ts with V8's own trace of what it discards).

import { setFlagsFromString } from "node:v8";

/** Turns off V8's bytecode flushing for this process; returns the line for the start-up notes. */
export function keepCompiledCode(): string {
  try {
    setFlagsFromString("--no-flush-bytecode");
    return "compiled code kept (V8 bytecode flushing off): the decision path compiled at start stays compiled";
  } catch (error) {
    return `cannot turn off V8's bytecode flushing (${String(error)}): a decision long after start compiles its code again`;
  }
}
