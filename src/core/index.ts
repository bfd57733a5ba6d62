// The public API of the pure core: plain data types, typed results, badness, ranking, victim rules, growth, victim tracking.

export * from "./types.js";
export * from "./result.js";
export * from "./badness.js";
export * from "./rank.js";
export * from "./victim-tracker.js";
export * from "./victim-rules.js";
export * from "./process-growth.js";
