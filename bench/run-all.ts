// `npm run bench`: runs every benchmark (or those named on the command line), writes each one's
// JSON under bench/results/ and prints its table. All but sim-scale need root and cgroup v1;
// `peers` runs in the VM test bed, only when named (a full run takes about 20 minutes), and takes
// its options after the names: `npm run bench -- peers --runs 3`.

import { v1MemoryUnavailableReason } from "../src/host/linux/scratch-cgroup.js";
import * as daemonFootprint from "./daemon-footprint.js";
import * as oomLatency from "./oom-latency.js";
import * as peers from "./peers.js";
import * as processListing from "./process-listing.js";
import * as simScale from "./sim-scale.js";
import { writeResults, type BenchOutcome } from "./report.js";

interface Benchmark {
  run: (options: string[]) => Promise<BenchOutcome | { error: string }>;
  /** What the machine needs: real v1 memory cgroups, the VM test bed, or nothing. */
  needs: "v1" | "vm" | "nothing";
  /** Run only when named. */
  onRequest?: boolean;
  /** Its JSON is printed beside the table (peers' holds every run's logs: the file only). */
  printJson: boolean;
}

const BENCHMARKS: Record<string, Benchmark> = {
  "oom-latency": { run: () => oomLatency.run(), needs: "v1", printJson: true },
  "daemon-footprint": { run: () => daemonFootprint.run(), needs: "v1", printJson: true },
  "sim-scale": { run: () => simScale.run(), needs: "nothing", printJson: true },
  "process-listing": { run: (options) => processListing.runWithOptions(options), needs: "nothing", printJson: true },
  peers: {
    run: async (options) => {
      const parsed = peers.parseOptions(options);
      return typeof parsed === "string" ? { error: parsed } : peers.run(parsed);
    },
    needs: "vm",
    onRequest: true,
    printJson: false,
  },
};

async function main(args: string[]): Promise<number> {
  const firstOption = args.findIndex((a) => a.startsWith("--"));
  const names = firstOption < 0 ? args : args.slice(0, firstOption);
  const options = firstOption < 0 ? [] : args.slice(firstOption);
  const unavailable = v1MemoryUnavailableReason();
  const chosen = names.length > 0 ? names : Object.keys(BENCHMARKS).filter((name) => BENCHMARKS[name]?.onRequest !== true);
  for (const name of chosen) {
    const bench = BENCHMARKS[name];
    if (!bench) {
      process.stderr.write(`unknown benchmark "${name}" (known: ${Object.keys(BENCHMARKS).join(", ")})\n`);
      return 2;
    }
    if (unavailable !== null && bench.needs === "v1") {
      process.stderr.write(`skipping ${name}: it needs real memory cgroups (${unavailable})\n`);
      continue;
    }
    const outcome = await bench.run(options);
    if ("error" in outcome) {
      process.stderr.write(`${name}: ${outcome.error}\n`);
      return 1;
    }
    const path = writeResults(outcome.name, outcome.json);
    process.stdout.write(`${bench.printJson ? `${JSON.stringify(outcome.json)}\n\n` : ""}${outcome.table}\n(written to ${path})\n\n`);
  }
  return 0;
}

main(process.argv.slice(2)).then((code) => (process.exitCode = code));
