// Without root the daemon still starts, says plainly what it cannot do and why, and keeps observing.
// Run as root (CI is), dropping to `nobody` for the daemon; skipped where that is impossible.

import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { chownSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import test from "node:test";
import { fileURLToPath } from "node:url";
import { createScratchMemoryCgroup, v1MemoryUnavailableReason } from "../../src/host/linux/scratch-cgroup.js";
import { MIB, oomControl, waitFor } from "./support.js";

const CLI = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "src", "cli", "main.js");
const NOBODY = 65534;

function skipReason(): string | null {
  const v1 = v1MemoryUnavailableReason();
  if (v1 !== null) return v1;
  const readable = spawnSync(process.execPath, ["-e", `require("fs").accessSync(${JSON.stringify(CLI)}, require("fs").constants.R_OK)`], { uid: NOBODY, gid: NOBODY });
  if (readable.status !== 0) return `user nobody cannot read ${CLI} in this checkout`;
  return null;
}

const skip = skipReason();
if (skip !== null) console.log(`# non-root daemon test skipped: ${skip}`);

test("as an unprivileged user the daemon starts, says what it cannot do, leaves the cgroup alone, keeps running", { skip: skip ?? false, timeout: 30_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "oomwarden-nonroot-"));
  // The state directory must be the daemon's user's own.
  chownSync(dir, NOBODY, NOBODY);
  const cgroup = createScratchMemoryCgroup("nonroot", 64 * MIB);
  try {
    // The machine guard runs but can never fire: as nobody it could signal other nobody processes of this machine.
    const config = join(dir, "inert-guard.yaml");
    writeFileSync(config, "lowAvailablePct: 0\nstarvationWindowMs: 0\npsiFullPct: 0\n", { mode: 0o644 });
    const child = spawn(process.execPath, [CLI, "run", "--config", config, "--cgroup", cgroup.path, "--state-dir", dir], {
      uid: NOBODY,
      gid: NOBODY,
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    await waitFor("the daemon's report", () => stderr.includes("to manage a cgroup") || child.exitCode !== null);
    assert.match(stderr, /running as uid 65534, not root: cannot change memory\.oom_control/);
    assert.match(stderr, new RegExp(`cannot manage: cannot write "1" to ${cgroup.path}/memory\\.oom_control: EACCES`));
    assert.match(stderr, /cannot lower oom_score_adj/);
    assert.match(stderr, /machine guard: not root, so it can kill only processes of uid 65534/);
    // The report offers nothing this user cannot take over, and says that it takes root.
    assert.match(stderr, /none of the \d+ memory cgroups here can be managed by uid 65534: .*; run oomwarden as root/);
    assert.doesNotMatch(stderr, new RegExp(`^oomwarden:   ${cgroup.path}  `, "m"));
    assert.equal(oomControl(cgroup.path).oomKillDisable, 0, "nothing changed");
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(child.exitCode, null, "still running");
    child.kill("SIGTERM");
    assert.equal(await exited, 0);
  } finally {
    await cgroup.remove();
    rmSync(dir, { recursive: true, force: true });
  }
});
