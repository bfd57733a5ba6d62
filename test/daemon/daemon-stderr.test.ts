// A daemon whose stderr reader went away (a closed pipe: `oomwarden run 2>&1 | head`, a log
// collector restarted) keeps working and still stops on SIGTERM. Its log lines once came back as
// EPIPE errors whose own report failed the same way: it spun at 80% of a core, deaf to SIGTERM.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test from "node:test";

test("a closed stderr is not fatal: the daemon runs on and stops cleanly on SIGTERM", { timeout: 30_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "oomwarden-stderr-"));
  try {
    const config = join(dir, "oomwarden.yaml");
    // The machine guard inert: a test daemon never acts on the shared machine.
    writeFileSync(config, "lowAvailablePct: 0\nstarvationWindowMs: 0\npsiFullPct: 0\n");
    const child = spawn(process.execPath, ["dist/src/cli/main.js", "run", "--config", config, "--state-dir", dir], { stdio: ["ignore", "ignore", "pipe"] });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
    // The reader goes away before the daemon has said anything.
    child.stderr?.destroy();
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(child.exitCode, null, "still running: a closed stderr is not a reason to stop");
    child.kill("SIGTERM");
    const deadline = new Promise<"timeout">((r) => setTimeout(() => r("timeout"), 8000).unref());
    const result = await Promise.race([exited, deadline]);
    if (result === "timeout") child.kill("SIGKILL");
    assert.notEqual(result, "timeout", "stopped within 8 s of SIGTERM");
    assert.deepEqual(result, { code: 0, signal: null });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
