// `npm run bench`: runs every benchmark (or those named on the command line), writes each one's
// JSON under bench/results/ and prints its table. Needs root and the cgroup v1 memory controller.

import { v1MemoryUnavailableReason } from "../src/host/linux/scratch-cgroup.js";
import * as daemonFootprint from "./daemon-footprint.js";
import * as oomLatency from "./oom-latency.js";
import { writeResults, type BenchOutcome } from "./report.js";

const BENCHMARKS: Record<string, { run: () => Promise<BenchOutcome> }> = {
  "oom-latency": oomLatency,
  "daemon-footprint": daemonFootprint,
};

async function main(names: string[]): Promise<number> {
  const unavailable = v1MemoryUnavailableReason();
  if (unavailable !== null) {
    process.stderr.write(`benchmarks need real memory cgroups: ${unavailable}\n`);
    return 1;
  }
  const chosen = names.length > 0 ? names : Object.keys(BENCHMARKS);
  for (const name of chosen) {
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
