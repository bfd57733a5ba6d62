// The peers bench's --reanalyse: it reads a guest record and writes its table beside it, and it
// refuses a results file (which keeps no samples) instead of writing an empty table over it.

import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { guestRecordProblem, parseOptions, reanalysedName, run } from "../../bench/peers.js";

describe("peers --reanalyse", () => {
  it("names its output after the record, never after the day's results", () => {
    assert.equal(reanalysedName("bench/results/peers-2026-12-04-guest.json"), "peers-2026-12-04-reanalysed");
    assert.equal(reanalysedName("/tmp/peers-2026-12-04-all-runs5-guest.json"), "peers-2026-12-04-all-runs5-reanalysed");
  });

  it("tells a results file from a guest record", () => {
    assert.match(guestRecordProblem({ benchmark: "peers", runs: [{ workload: "fast-hog" }] }) ?? "", /results file.*guest record/);
    assert.match(guestRecordProblem([]) ?? "", /has no runs/);
    assert.match(guestRecordProblem("text") ?? "", /not a JSON object/);
    assert.match(guestRecordProblem({ runs: [{ processes: [] }, { workload: "x" }] }) ?? "", /run 1 has no processes/);
    assert.equal(guestRecordProblem({ runs: [{ processes: [] }] }), null);
  });

  it("refuses a results file and leaves it as it was", async () => {
    const dir = mkdtempSync(join(tmpdir(), "oomwarden-reanalyse-"));
    try {
      const path = join(dir, "peers-2026-12-04.json");
      const text = `${JSON.stringify({ benchmark: "peers", runs: [], raw: [] })}\n`;
      writeFileSync(path, text);
      const options = parseOptions(["--reanalyse", path]);
      assert.ok(typeof options !== "string");
      const outcome = await run(options);
      assert.ok("error" in outcome);
      assert.match(outcome.error, /results file/);
      assert.equal(readFileSync(path, "utf8"), text);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
