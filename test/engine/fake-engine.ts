// An engine over a FakeHost with an in-memory journal, with the short patience engine tests use
// (5 observations of 100 ms) unless the options say otherwise.

import { MemoryJournal } from "../../src/daemon/journal.js";
import { Engine } from "../../src/engine/engine.js";
import type { EngineOptionsInput } from "../../src/engine/engine-options.js";
import { FakeHost } from "./fake-host.js";

export function fakeEngine(version: 1 | 2, options: EngineOptionsInput = {}): { host: FakeHost; journal: MemoryJournal; engine: Engine } {
  const host = new FakeHost(version);
  const journal = new MemoryJournal();
  const engine = new Engine(host, journal, { observeIntervalMs: 100, maxObservationsWithoutProgress: 5, ...options });
  return { host, journal, engine };
}
