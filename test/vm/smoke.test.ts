// The VM test bed's smoke tests: one boot of a real kernel (Debian 12's, cgroup v2, a 1 GiB
// guest that may run out of memory) running the checks in test/vm/checks/ one after another, and
// a test per check asserting what the guest recorded. These are the baselines later work compares
// against: the kernel's own memcg killer on v2, and its global killer on a whole-machine OOM.
// Without qemu or the built kernel every test skips and says why (scripts/vm/setup.sh builds it).

import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { release } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { projectRoot } from "../fixtures/captured.js";
import { vmUnavailableReason } from "./artifacts.js";
import { keptHostPaths, runInGuest, shellQuote, type GuestRun } from "./harness.js";
import { check, file, flatKeyed, section as sectionOf, sectionTimes, type Section } from "./section-checks.js";
import { sectionResult, sectionsScript, type GuestSection } from "./sections.js";

const skip = vmUnavailableReason();
if (skip !== null) console.log(`# VM tests skipped: ${skip}`);

// A host folder under /tmp, where the guest mounts a fresh tmpfs, as a CI clone of the checkout
// would be: the run asks for it to stay visible.
const hostFolder = mkdtempSync("/tmp/oomwarden-vm-host-");
const hostMarker = randomUUID();
writeFileSync(join(hostFolder, "marker"), hostMarker);
after(() => rmSync(hostFolder, { recursive: true, force: true }));

const SECTIONS: GuestSection[] = [
  { name: "host-paths", script: `cat ${shellQuote(join(hostFolder, "marker"))} > seen\nls -A /tmp > guest-tmp\n`, timeoutSec: 30 },
  { name: "cgroup-v2", script: check("cgroup-v2.sh"), timeoutSec: 60 },
  { name: "memcg-oom", script: check("memcg-oom.sh"), timeoutSec: 120 },
  { name: "node-addon", script: check("node-addon.sh"), timeoutSec: 180 },
  // Last: whatever a whole-guest OOM leaves behind cannot disturb the checks before it.
  { name: "global-oom", script: check("global-oom.sh"), timeoutSec: 180 },
];
// A status only the script produces, so the test sees the guest's exit status travel back.
const SCRIPT_EXIT_STATUS = 42;

let run: GuestRun | undefined;

before(
  async () => {
    if (skip !== null) return;
    const { script, inputs } = sectionsScript(SECTIONS);
    run = await runInGuest({
      script: `${script}exit ${SCRIPT_EXIT_STATUS}\n`,
      inputs: { ...inputs, "node-addon.mjs": check("node-addon.mjs") },
      hostPaths: [hostFolder],
      memMiB: 1024,
      cpus: 2,
      timeoutMs: 600_000,
    });
    const nodeStartMs = sectionResult(run, "node-addon").files.get("node-start-ms")?.trim() ?? "?";
    console.log(
      `# vm: boot to script ${run.bootMs ?? "?"} ms (guest uptime ${run.bootGuestUptimeSec ?? "?"} s), node start ${nodeStartMs} ms, ` +
        `whole run ${run.totalMs} ms; sections: ${sectionTimes(run, SECTIONS)}`,
    );
  },
  { timeout: 660_000 },
);

const options = { skip: skip ?? false };

/** The section's result, with everything it printed in the message of any failing assertion. */
const section = (name: string): Section => sectionOf(run, name, { consoleLines: 30 });

/** The kernel's "oom-kill:" summary line for `pid`, from a dmesg dump. */
function oomKillSummary(dmesg: string, pid: string): string | undefined {
  return dmesg.split("\n").find((line) => line.includes("oom-kill:") && line.includes(`,pid=${pid},`));
}

test("the guest boots, runs the script as root and brings its exit status back", options, () => {
  assert.ok(run);
  assert.equal(run.timedOut, false, run.console);
  assert.equal(run.qemuStderr, "");
  assert.notEqual(run.bootMs, null, "the guest never said it was ready");
  assert.equal(run.exitCode, SCRIPT_EXIT_STATUS, run.console);
  assert.match(run.console, /oomwarden-vm: script exited 42/);
});

test("a host folder under /tmp stays visible at its own path over the guest's fresh /tmp", options, () => {
  const result = section("host-paths");
  assert.equal(file(result, "seen"), hostMarker);
  // What shows in the guest's /tmp is what the run kept (the checkout too, when it is a clone in /tmp).
  const kept = new Set(keptHostPaths(projectRoot(), [hostFolder]).filter((path) => path.startsWith("/tmp/")).map((path) => path.split("/")[2]));
  assert.deepEqual(new Set(file(result, "guest-tmp").split("\n")), kept, "nothing else of the host's /tmp shows through");
});

test("cgroup v2: a child cgroup has the memory controller, memory.max and memory.high take writes, memory.events is the kernel's", options, () => {
  const result = section("cgroup-v2");
  assert.equal(file(result, "fstype"), "cgroup2fs");
  for (const controller of ["memory", "pids"]) {
    assert.ok(file(result, "root-controllers").split(" ").includes(controller), `${controller} available at the root`);
    assert.ok(file(result, "root-subtree-control").split(" ").includes(controller), `${controller} enabled for children`);
    assert.ok(file(result, "child-controllers").split(" ").includes(controller), `${controller} in the child`);
  }
  assert.equal(file(result, "memory.max"), String(64 * 1024 * 1024));
  assert.equal(file(result, "memory.high"), String(48 * 1024 * 1024));
  const events = flatKeyed(file(result, "memory.events"));
  for (const key of ["low", "high", "max", "oom", "oom_kill"]) assert.equal(events.get(key), 0, `a new cgroup's ${key} count`);
  assert.equal(file(result, "memory.events-mode"), "read-only");
});

test("memcg OOM on v2: the kernel kills the tail in a 64 MiB cgroup, the sleep beside it lives", options, () => {
  const result = section("memcg-oom");
  const hog = file(result, "hog-pid");
  const innocent = file(result, "innocent-pid");
  assert.equal(file(result, "hog-status"), String(128 + 9), "the hog died of SIGKILL");
  assert.equal(file(result, "innocent-state"), "alive");
  assert.deepEqual(file(result, "procs-after").split("\n"), [innocent], "only the innocent is left in the cgroup");
  const events = flatKeyed(file(result, "memory.events"));
  assert.equal(events.get("oom_kill"), 1, "one kill");
  assert.ok((events.get("oom") ?? 0) >= 1, "the cgroup went OOM");
  assert.ok((events.get("max") ?? 0) >= 1, "usage hit memory.max");
  const summary = oomKillSummary(file(result, "dmesg"), hog);
  assert.ok(summary, `no oom-kill line for the hog ${hog} in dmesg`);
  assert.match(summary, /constraint=CONSTRAINT_MEMCG/);
  assert.match(summary, /oom_memcg=\/smoke-memcg-oom,/);
});

test("node runs in the guest and loads dist/ and the native addon (pidfd_open on itself, cgroup v2 found)", options, () => {
  const result = section("node-addon");
  const facts = JSON.parse(file(result, "facts.json")) as {
    release: string;
    nativeStatus: { ok: boolean };
    pidfd: { ok: boolean; value?: number };
    mounts: { v2: string | null; v1Memory: string | null };
  };
  assert.notEqual(facts.release, release(), "the guest runs its own kernel, not the host's");
  assert.equal(facts.nativeStatus.ok, true, "the addon loads");
  assert.equal(facts.pidfd.ok, true, JSON.stringify(facts.pidfd));
  assert.ok(Number.isInteger(facts.pidfd.value) && (facts.pidfd.value ?? -1) >= 0, "pidfd_open gave a file descriptor");
  assert.deepEqual(facts.mounts, { v2: "/sys/fs/cgroup", v1Memory: null });
  assert.match(file(result, "node-start-ms"), /^\d+$/);
});

test("whole-guest OOM: the kernel's global killer takes the hog, the innocent and the guest survive", options, () => {
  const result = section("global-oom");
  const hog = file(result, "hog-pid");
  const dmesg = file(result, "dmesg");
  assert.equal(file(result, "hog-status"), String(128 + 9), "the hog died of SIGKILL");
  assert.equal(file(result, "innocent-state"), "alive");
  assert.match(dmesg, new RegExp(`\\] Out of memory: Killed process ${hog} \\(tail\\)`));
  const summary = oomKillSummary(dmesg, hog);
  assert.ok(summary, `no oom-kill line for the hog ${hog} in dmesg`);
  assert.match(summary, /constraint=CONSTRAINT_NONE/, "a global OOM, not a cgroup's");
  // Its 64 MiB stayed resident through the OOM (no swap: only a kill could have taken them).
  const innocentRssKb = Number(/VmRSS:\s+(\d+) kB/.exec(file(result, "innocent-rss"))?.[1]);
  assert.ok(innocentRssKb >= 64 * 1024, `innocent RSS ${innocentRssKb} kB`);
});
