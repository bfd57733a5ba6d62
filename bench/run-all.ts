// `npm run bench`: runs every benchmark (or those named on the command line), writes each one's
// JSON under bench/results/ and prints its table. All but sim-scale and process-listing need root
// and cgroup v1.

import { v1MemoryUnavailableReason } from "../src/host/linux/scratch-cgroup.js";
import * as daemonFootprint from "./daemon-footprint.js";
import * as oomLatency from "./oom-latency.js";
import * as processListing from "./process-listing.js";
import * as simScale from "./sim-scale.js";
import { writeResults, type BenchOutcome } from "./report.js";

const BENCHMARKS: Record<string, { run: () => Promise<BenchOutcome> }> = {
  "oom-latency": oomLatency,
  "daemon-footprint": daemonFootprint,
  "process-listing": processListing,
  "sim-scale": simScale,
};

/** Benchmarks that run on any machine (no cgroups needed). */
const PORTABLE = new Set(["sim-scale", "process-listing"]);

async function main(names: string[]): Promise<number> {
  const unavailable = v1MemoryUnavailableReason();
  const chosen = names.length > 0 ? names : Object.keys(BENCHMARKS);
  for (const name of chosen) {
    if (unavailable !== null && !PORTABLE.has(name)) {
      process.stderr.write(`skipping ${name}: it needs real memory cgroups (${unavailable})\n`);
      continue;
    }
    const bench = BENCHMARKS[name];
    if (!bench) {
      process.stderr.write(`unknown benchmark "${name}" (known: ${Object.keys(BENCHMARKS).join(", ")})\n`);
      return 2;
    }
    const outcome = await bench.run();
    const path = writeResults(outcome.name, outcome.json);
    process.stdout.write(`${JSON.stringify(outcome.json)}\n\n${outcome.table}\n(written to ${path})\n\n`);
  }
  return 0;
}

main(process.argv.slice(2)).then((code) => (process.exitCode = code));
