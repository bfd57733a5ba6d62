// The `oomwarden` command as a user runs it: the daemon process, its journal file, SIGTERM and
// the restored kernel settings; the built-in default; a malformed config.

import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import test from "node:test";
import { fileURLToPath } from "node:url";
import { readJournal } from "../../src/daemon/journal-reader.js";
import { createScratchMemoryCgroup, V1_MEMORY_ROOT, v1MemoryUnavailableReason } from "../../src/host/linux/scratch-cgroup.js";
import { isAlive, killQuietly, MIB, oomControl, startInside, UNBOUNDED_HOG, waitFor } from "./support.js";

const CLI = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "src", "cli", "main.js");
const skip = v1MemoryUnavailableReason();
if (skip !== null) console.log(`# real-kernel daemon tests skipped: ${skip}`);

interface Daemon {
  child: ChildProcess;
  stderr: () => string;
  exited: Promise<number | null>;
}

function startDaemon(args: string[]): Daemon {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return { child, stderr: () => stderr, exited };
}

/** The records so far; a line the daemon is still writing is skipped, not a parse error. */
function journalLines(path: string): Array<Record<string, unknown>> {
  if (!existsSync(path)) return [];
  const read = readJournal(path);
  if (!read.ok) assert.fail(read.message);
  return read.records as unknown as Array<Record<string, unknown>>;
}

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "oomwarden-cli-"));
}

/**
 * A config whose machine guard runs but can never fire: a test daemon must not kill a process of
 * this shared machine that the test did not start, should the machine run low meanwhile.
 */
function inertGuardConfig(dir: string): string {
  const path = join(dir, "inert-guard.yaml");
  writeFileSync(path, "lowAvailablePct: 0\nstarvationWindowMs: 0\npsiFullPct: 0\n");
  return path;
}

test("oomwarden run: manages a cgroup, journals the kill, restores oom_kill_disable on SIGTERM", { skip: skip ?? false, timeout: 60_000 }, async () => {
  const dir = tempDir();
  const cgroup = createScratchMemoryCgroup("cli", 64 * MIB);
  const journal = join(dir, "journal.jsonl");
  let daemon: Daemon | null = null;
  try {
    const innocent = await startInside(cgroup, ["sleep", "600"]);
    const missing = `${cgroup.path}-does-not-exist`;
    daemon = startDaemon(["run", "--config", inertGuardConfig(dir), "--cgroup", missing, "--cgroup", cgroup.path, "--journal", journal, "--state-dir", dir]);
    const d = daemon;
    await waitFor("the daemon to manage the cgroup", () => d.stderr().includes(`managing ${cgroup.path}`));
    assert.match(d.stderr(), new RegExp(`^oomwarden: cannot manage: cgroup path ${missing} does not exist$`, "m"));
    assert.equal(oomControl(cgroup.path).oomKillDisable, 1);

    const hog = await startInside(cgroup, UNBOUNDED_HOG);
    await waitFor("a decision and its outcome in the journal", () => journalLines(journal).some((r) => r.type === "outcome"));
    const lines = journalLines(journal);
    const decision = lines.find((r) => r.type === "decision") as { decisionId: number; victim: { pid: number }; msToKill: number; time: string };
    const outcome = lines.find((r) => r.type === "outcome") as { decisionId: number; pid: number; outcome: { result: string; msToMemoryBack: number } };
    assert.equal(decision.victim.pid, hog.pid);
    assert.ok(decision.msToKill >= 0);
    assert.equal(outcome.decisionId, decision.decisionId, "the outcome is linked to its decision");
    assert.equal(outcome.pid, hog.pid);
    assert.equal(outcome.outcome.result, "recovered");
    assert.ok(lines.indexOf(decision as never) < lines.indexOf(outcome as never), "the decision is on disk before its outcome");
    assert.ok(typeof decision.time === "string" && !Number.isNaN(Date.parse(decision.time)));
    assert.ok(isAlive(innocent.pid));

    d.child.kill("SIGTERM");
    assert.equal(await d.exited, 0);
    assert.equal(oomControl(cgroup.path).oomKillDisable, 0, "restored on SIGTERM");
    const records = journalLines(journal);
    // The machine guard is on by default: it starts before the cgroups and stops with them.
    assert.deepEqual(
      records.filter((r) => r.cgroup === "/").map((r) => r.type),
      ["manage", "release"],
    );
    const types = records.filter((r) => r.cgroup !== "/").map((r) => r.type);
    assert.deepEqual(types, ["daemon", "error", "manage", "decision", "outcome", "release", "daemon"]);
  } finally {
    if (daemon && daemon.child.exitCode === null) daemon.child.kill("SIGKILL");
    await cgroup.remove();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("oomwarden run with no options reports memory and manageable cgroups, keeps running, stops on SIGTERM", { timeout: 30_000 }, async () => {
  const dir = tempDir();
  try {
    const daemon = startDaemon(["run", "--state-dir", dir]);
    await waitFor("the report", () => daemon.stderr().includes("to manage a cgroup"));
    assert.match(daemon.stderr(), new RegExp(`journal: ${dir}/journal.jsonl`));
    assert.match(daemon.stderr(), /memory: [\d.]+ GiB available of [\d.]+ GiB/);
    assert.match(daemon.stderr(), /oomwarden run --cgroup/);
    assert.match(daemon.stderr(), /command lines not read \(no victim rule matches on one\)/);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(daemon.child.exitCode, null, "still running: it keeps observing");
    daemon.child.kill("SIGTERM");
    assert.equal(await daemon.exited, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a victim rule on command lines makes the daemon read them, and says so at start", { timeout: 30_000 }, async () => {
  const dir = tempDir();
  try {
    const config = join(dir, "oomwarden.yaml");
    writeFileSync(config, "lowAvailablePct: 0\nstarvationWindowMs: 0\npsiFullPct: 0\nrules:\n  - name: batch\n    cmdline: --batch\n    action: prefer\n");
    const daemon = startDaemon(["run", "--config", config, "--state-dir", dir]);
    // The report comes after the signal handlers are in place: SIGTERM then stops it cleanly.
    await waitFor("the report", () => daemon.stderr().includes("to manage a cgroup"));
    assert.match(daemon.stderr(), /command lines read \(a victim rule matches on them\)/);
    daemon.child.kill("SIGTERM");
    assert.equal(await daemon.exited, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("oomwarden run --config with a malformed file exits 2 naming the key and line", { timeout: 30_000 }, async () => {
  const dir = tempDir();
  try {
    const config = join(dir, "oomwarden.yaml");
    writeFileSync(config, "journal: /tmp/x.jsonl\nobserveIntervalMs: -5\n");
    const daemon = startDaemon(["run", "--config", config]);
    assert.equal(await daemon.exited, 2);
    assert.match(daemon.stderr(), new RegExp(`${config}:2: key "observeIntervalMs": expected a number of ms from 1 to 2147483647 .*, got -5`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("oomwarden with an unknown command or option exits 2 with the usage", { timeout: 30_000 }, async () => {
  for (const args of [["frobnicate"], ["run", "--cgroupz", "/x"]]) {
    const daemon = startDaemon(args);
    assert.equal(await daemon.exited, 2, args.join(" "));
    assert.match(daemon.stderr(), /Usage:/);
  }
});

test("oomwarden demo: the hog dies, the innocent lives, the timings are printed, nothing is left behind", { skip: skip ?? false, timeout: 60_000 }, async () => {
  const demo = startDaemon(["demo"]);
  assert.equal(await demo.exited, 0, demo.stderr());
  const out = demo.stderr();
  assert.match(out, /action: kill tail\[\d+\]/);
  assert.match(out, /SIGKILL sent\s+[\d.]+ ms after the kernel's notification/);
  assert.match(out, /memory back\s+[\d.]+ ms after the kernel's notification/);
  assert.match(out, /the hog was killed; the innocent process is alive/);
  const created = /created (\S+) with/.exec(out)?.[1];
  assert.ok(created && !existsSync(created), "the scratch cgroup is removed");
});

test("a daemon killed by SIGKILL leaves oom_kill_disable=1; `oomwarden restore` and the next daemon give the original back", { skip: skip ?? false, timeout: 60_000 }, async () => {
  const dir = tempDir();
  const cgroup = createScratchMemoryCgroup("crash", 64 * MIB);
  const running: Daemon[] = [];
  try {
    const first = startDaemon(["run", "--config", inertGuardConfig(dir), "--cgroup", cgroup.path, "--state-dir", dir]);
    running.push(first);
    await waitFor("the daemon to manage the cgroup", () => first.stderr().includes(`managing ${cgroup.path}`));
    const restoreWhileRunning = startDaemon(["restore", "--state-dir", dir]);
    assert.equal(await restoreWhileRunning.exited, 1);
    assert.match(restoreWhileRunning.stderr(), new RegExp(`^oomwarden run \\(pid ${first.child.pid}\\) holds the state directory ${dir}: .*stop it instead\n$`));
    assert.equal(oomControl(cgroup.path).oomKillDisable, 1, "a running daemon's cgroup is left alone");

    first.child.kill("SIGKILL");
    await first.exited;
    assert.equal(oomControl(cgroup.path).oomKillDisable, 1, "nobody restored it");

    // The next daemon finds 1, learns from the ledger that it was 0, and gives 0 back when it stops.
    const second = startDaemon(["run", "--config", inertGuardConfig(dir), "--cgroup", cgroup.path, "--state-dir", dir]);
    running.push(second);
    await waitFor("the second daemon to manage the cgroup", () => second.stderr().includes(`managing ${cgroup.path}`));
    assert.match(second.stderr(), /earlier oomwarden stopped without restoring it/);
    second.child.kill("SIGKILL");
    await second.exited;
    assert.equal(oomControl(cgroup.path).oomKillDisable, 1);

    const restore = startDaemon(["restore", "--state-dir", dir]);
    assert.equal(await restore.exited, 0, restore.stderr());
    assert.match(restore.stderr(), new RegExp(`${cgroup.path}: oom_kill_disable restored to 0`));
    assert.equal(oomControl(cgroup.path).oomKillDisable, 0);
    const again = startDaemon(["restore", "--state-dir", dir]);
    assert.equal(await again.exited, 0);
    assert.match(again.stderr(), /nothing to restore/);
  } finally {
    for (const d of running) if (d.child.exitCode === null && d.child.signalCode === null) d.child.kill("SIGKILL");
    await cgroup.remove();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("soft-limit mode from the config file: the raised limit survives a SIGKILL in the ledger and `oomwarden restore` puts 64 MiB back", { skip: skip ?? false, timeout: 60_000 }, async () => {
  const dir = tempDir();
  // memory+swap unlimited, or v1 refuses a memory limit above it.
  const cgroup = createScratchMemoryCgroup("softcli", -1);
  const running: Daemon[] = [];
  const limitOf = (): number => Number(readFileSync(join(cgroup.path, "memory.limit_in_bytes"), "utf8").trim());
  try {
    writeFileSync(join(cgroup.path, "memory.limit_in_bytes"), String(64 * MIB));
    const config = join(dir, "oomwarden.yaml");
    writeFileSync(config, `cgroups: [${cgroup.path}]\nsoftLimit: true\nmachineGuard: false\n`);
    const daemon = startDaemon(["run", "--config", config, "--state-dir", dir]);
    running.push(daemon);
    await waitFor("the daemon to manage the cgroup", () => daemon.stderr().includes(`managing ${cgroup.path}`));
    assert.match(daemon.stderr(), /soft-limit mode: logical limit 67108864 bytes/);
    assert.equal(limitOf(), 73822208, "64 MiB + 10%, in pages");
    daemon.child.kill("SIGKILL");
    await daemon.exited;
    assert.equal(limitOf(), 73822208, "nobody put it back");
    const restore = startDaemon(["restore", "--state-dir", dir]);
    assert.equal(await restore.exited, 0, restore.stderr());
    assert.match(restore.stderr(), new RegExp(`^${cgroup.path}: memory limit put back to 67108864 bytes: an earlier oomwarden raised it in soft-limit mode`, "m"));
    assert.equal(limitOf(), 64 * MIB);
  } finally {
    for (const d of running) if (d.child.exitCode === null && d.child.signalCode === null) d.child.kill("SIGKILL");
    await cgroup.remove();
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Lines of the daemon's output that look like a stack trace: users get one line per problem, never a trace. */
function stackLines(output: string): string[] {
  return output.split("\n").filter((line) => /^\s+at /.test(line));
}

test("a second daemon on the same state directory is refused (exit 2, one line naming the first); the first keeps its cgroup", { skip: skip ?? false, timeout: 60_000 }, async () => {
  const dir = tempDir();
  const cgroup = createScratchMemoryCgroup("samedir", 64 * MIB);
  const running: Daemon[] = [];
  try {
    const first = startDaemon(["run", "--config", inertGuardConfig(dir), "--cgroup", cgroup.path, "--state-dir", dir]);
    running.push(first);
    await waitFor("the first daemon to manage the cgroup", () => first.stderr().includes(`managing ${cgroup.path}`));
    const second = startDaemon(["run", "--config", inertGuardConfig(dir), "--state-dir", dir]);
    running.push(second);
    assert.equal(await second.exited, 2);
    assert.equal(
      second.stderr(),
      `oomwarden: the state directory ${dir} is in use by oomwarden run (pid ${first.child.pid}): one daemon per state directory; stop that one, or give this one another --state-dir\n`,
    );
    assert.equal(oomControl(cgroup.path).oomKillDisable, 1, "the first daemon still manages it");
    first.child.kill("SIGTERM");
    assert.equal(await first.exited, 0);
    assert.equal(oomControl(cgroup.path).oomKillDisable, 0);
  } finally {
    for (const d of running) if (d.child.exitCode === null && d.child.signalCode === null) d.child.kill("SIGKILL");
    await cgroup.remove();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a second daemon with another state directory is refused the first one's cgroup (naming its pid) and manages its other one", { skip: skip ?? false, timeout: 60_000 }, async () => {
  const firstDir = tempDir();
  const secondDir = tempDir();
  const shared = createScratchMemoryCgroup("shared", 64 * MIB);
  const own = createScratchMemoryCgroup("own", 64 * MIB);
  const running: Daemon[] = [];
  try {
    const first = startDaemon(["run", "--config", inertGuardConfig(firstDir), "--cgroup", shared.path, "--state-dir", firstDir]);
    running.push(first);
    await waitFor("the first daemon to manage the shared cgroup", () => first.stderr().includes(`managing ${shared.path}`));
    const second = startDaemon(["run", "--config", inertGuardConfig(secondDir), "--cgroup", shared.path, "--cgroup", own.path, "--state-dir", secondDir]);
    running.push(second);
    await waitFor("the second daemon to manage its own cgroup", () => second.stderr().includes(`managing ${own.path}`));
    assert.match(second.stderr(), new RegExp(`^oomwarden: cannot manage: another oomwarden manages ${shared.path} \\(pid ${first.child.pid} holds its lock\\), still after waiting 500 ms$`, "m"));
    assert.equal(oomControl(own.path).oomKillDisable, 1);

    // The second daemon's stop gives back only what it took: the shared cgroup stays the first one's.
    second.child.kill("SIGTERM");
    assert.equal(await second.exited, 0);
    assert.equal(oomControl(own.path).oomKillDisable, 0);
    assert.equal(oomControl(shared.path).oomKillDisable, 1, "still managed by the first daemon");

    // One handler per OOM: the hog dies once, by the first daemon's decision.
    const hog = await startInside(shared, UNBOUNDED_HOG);
    await waitFor("the hog to be killed", () => !isAlive(hog.pid));
    first.child.kill("SIGTERM");
    assert.equal(await first.exited, 0);
    assert.equal(oomControl(shared.path).oomKillDisable, 0);
    assert.equal(journalLines(join(firstDir, "journal.jsonl")).filter((r) => r.type === "decision").length, 1);
    assert.equal(journalLines(join(secondDir, "journal.jsonl")).filter((r) => r.type === "decision").length, 0);
  } finally {
    for (const d of running) if (d.child.exitCode === null && d.child.signalCode === null) d.child.kill("SIGKILL");
    await shared.remove();
    await own.remove();
    rmSync(firstDir, { recursive: true, force: true });
    rmSync(secondDir, { recursive: true, force: true });
  }
});

/** A tmpfs mounted for the test (read-only, or tiny), or the reason it cannot be. */
function mountScratchTmpfs(options: string): { dir: string; unmount: () => void } | string {
  const dir = tempDir();
  // mode=0700: a tmpfs root is 1777 otherwise, which the daemon refuses as a state directory.
  const mounted = spawnSync("mount", ["-t", "tmpfs", "-o", `mode=0700,${options}`, "oomwarden-test", dir]);
  if (mounted.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    return `cannot mount a tmpfs (${mounted.error?.message ?? mounted.stderr.toString().trim()})`;
  }
  return {
    dir,
    unmount: () => {
      spawnSync("umount", [dir]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Fills a tiny tmpfs to the last byte. */
function fill(dir: string): void {
  spawnSync("dd", ["if=/dev/zero", `of=${join(dir, "filler")}`, "bs=4096"]);
}

for (const state of [
  { name: "read-only", options: "ro,size=64k", prepare: (_dir: string) => {}, code: "EROFS" },
  { name: "full", options: "size=64k", prepare: fill, code: "ENOSPC" },
]) {
  test(`a ${state.name} state directory: no takeover, oom_kill_disable stays 0, and one line says why`, { skip: skip ?? false, timeout: 60_000 }, async (t) => {
    const mount = mountScratchTmpfs(state.options);
    if (typeof mount === "string") {
      t.skip(mount);
      return;
    }
    const configDir = tempDir();
    const cgroup = createScratchMemoryCgroup(`${state.name}-state`, 64 * MIB);
    let daemon: Daemon | null = null;
    try {
      state.prepare(mount.dir);
      daemon = startDaemon(["run", "--config", inertGuardConfig(configDir), "--cgroup", cgroup.path, "--state-dir", mount.dir]);
      const d = daemon;
      await waitFor("the daemon to refuse the cgroup", () => d.stderr().includes(`cannot manage ${cgroup.path}`) || d.child.exitCode !== null);
      const refusal = d.stderr().split("\n").find((line) => line.includes(`cannot manage ${cgroup.path}`));
      assert.match(
        refusal ?? d.stderr(),
        new RegExp(`^oomwarden: cannot manage ${cgroup.path}: not taking over: the original oom_kill_disable could not be recorded \\(cannot write the takeover ledger ${mount.dir}/takeover\\.json: ${state.code}\\b`),
      );
      assert.deepEqual(stackLines(d.stderr()), []);
      // Said once (journal records copied to stderr when the journal cannot be written aside).
      const told = d.stderr().split("\n").filter((line) => line.includes("takeover ledger") && !line.startsWith("oomwarden: {"));
      assert.deepEqual(told, [refusal]);
      assert.equal(oomControl(cgroup.path).oomKillDisable, 0, "the kernel killer was never turned off");
      assert.deepEqual(readdirSync(mount.dir).filter((name) => name.endsWith(".tmp")), [], "no temporary file left behind");
      d.child.kill("SIGTERM");
      assert.equal(await d.exited, 0);
      assert.equal(oomControl(cgroup.path).oomKillDisable, 0);
    } finally {
      if (daemon && daemon.child.exitCode === null) daemon.child.kill("SIGKILL");
      await cgroup.remove();
      mount.unmount();
      rmSync(configDir, { recursive: true, force: true });
    }
  });
}

test("`oomwarden restore` is not fooled by a live process named like oomwarden holding the dead daemon's pid: it restores", { skip: skip ?? false, timeout: 60_000 }, async () => {
  const dir = tempDir();
  const cgroup = createScratchMemoryCgroup("lookalike", 64 * MIB);
  let lookalike: ChildProcess | null = null;
  try {
    // What a daemon killed by SIGKILL leaves: oom_kill_disable 1, the original 0 in the ledger,
    // and its pid now used by something else whose command line says "oomwarden".
    lookalike = spawn("bash", ["-c", "exec -a oomwarden-tail sleep 30"], { stdio: "ignore" });
    const pid = lookalike.pid as number;
    await waitFor("the look-alike to exec", () => readFileSync(`/proc/${pid}/cmdline`, "utf8").startsWith("oomwarden-tail"));
    writeFileSync(join(cgroup.path, "memory.oom_control"), "1");
    writeFileSync(join(dir, "takeover.json"), JSON.stringify({ version: 1, ownerPid: pid, cgroups: { [cgroup.path]: false } }));
    const restore = startDaemon(["restore", "--state-dir", dir]);
    assert.equal(await restore.exited, 0, restore.stderr());
    assert.match(restore.stderr(), new RegExp(`${cgroup.path}: oom_kill_disable restored to 0`));
    assert.equal(oomControl(cgroup.path).oomKillDisable, 0);
  } finally {
    killQuietly(lookalike?.pid);
    await cgroup.remove();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("`oomwarden restore` leaves alone a listed cgroup that a daemon of another state directory manages now, and keeps it listed", { skip: skip ?? false, timeout: 60_000 }, async () => {
  const deadDir = tempDir();
  const liveDir = tempDir();
  const cgroup = createScratchMemoryCgroup("handedover", 64 * MIB);
  let live: Daemon | null = null;
  try {
    // A daemon of deadDir was killed, leaving its original behind; a daemon of liveDir manages the cgroup since.
    writeFileSync(join(deadDir, "takeover.json"), JSON.stringify({ version: 1, cgroups: { [cgroup.path]: false } }));
    live = startDaemon(["run", "--config", inertGuardConfig(liveDir), "--cgroup", cgroup.path, "--state-dir", liveDir]);
    const d = live;
    await waitFor("the live daemon to manage the cgroup", () => d.stderr().includes(`managing ${cgroup.path}`));
    const restore = startDaemon(["restore", "--state-dir", deadDir]);
    assert.equal(await restore.exited, 1);
    assert.equal(
      restore.stderr(),
      `another oomwarden manages ${cgroup.path} (pid ${d.child.pid} holds its lock), still after waiting 500 ms; not restored, still listed\n`,
    );
    assert.equal(oomControl(cgroup.path).oomKillDisable, 1, "the live daemon's takeover is left alone");
    assert.ok(cgroup.path in JSON.parse(readFileSync(join(deadDir, "takeover.json"), "utf8")).cgroups);
  } finally {
    if (live && live.child.exitCode === null) live.child.kill("SIGKILL");
    await cgroup.remove();
    rmSync(deadDir, { recursive: true, force: true });
    rmSync(liveDir, { recursive: true, force: true });
  }
});

test("a second daemon given the first one's journal (with another state directory) is refused: exit 2, one line naming the journal and its writer", { timeout: 30_000 }, async () => {
  const firstDir = tempDir();
  const secondDir = tempDir();
  const journal = join(firstDir, "shared.jsonl");
  let first: Daemon | null = null;
  try {
    first = startDaemon(["run", "--config", inertGuardConfig(firstDir), "--journal", journal, "--state-dir", firstDir]);
    const d = first;
    await waitFor("the first daemon's journal", () => d.stderr().includes(`journal: ${journal}`));
    const second = startDaemon(["run", "--config", inertGuardConfig(secondDir), "--journal", journal, "--state-dir", secondDir]);
    assert.equal(await second.exited, 2);
    assert.equal(
      second.stderr(),
      `oomwarden: the journal ${journal} is written by another process (pid ${d.child.pid}): one daemon per journal; give this one another --journal; not starting\n`,
    );
    d.child.kill("SIGTERM");
    assert.equal(await d.exited, 0);
    assert.deepEqual(
      journalLines(journal).filter((r) => r.type === "daemon").map((r) => r.message),
      [`started, pid ${d.child.pid}`, "stopped: SIGTERM"],
      "only the first daemon wrote it",
    );
  } finally {
    if (first && first.child.exitCode === null) first.child.kill("SIGKILL");
    rmSync(firstDir, { recursive: true, force: true });
    rmSync(secondDir, { recursive: true, force: true });
  }
});

test("a takeover ledger the daemon cannot read or trust stops it before anything is changed: exit 2, one line", { timeout: 30_000 }, async () => {
  const dir = tempDir();
  try {
    const ledger = join(dir, "takeover.json");
    writeFileSync(ledger, JSON.stringify({ version: 1, cgroups: { "/sys/fs/cgroup/memory/job": false } }));
    chmodSync(ledger, 0o666);
    const daemon = startDaemon(["run", "--config", inertGuardConfig(dir), "--state-dir", dir]);
    assert.equal(await daemon.exited, 2);
    assert.equal(
      daemon.stderr(),
      `oomwarden: the takeover ledger ${ledger} can be written by every user (mode 0666): the state files must be plain files of uid ${process.getuid?.()}, writable by it alone; not starting, since the originals it may hold would be lost\n`,
    );
    assert.ok(readFileSync(ledger, "utf8").includes("/sys/fs/cgroup/memory/job"), "left as it was");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("`oomwarden restore` where the v1 memory hierarchy is not mounted keeps the entry (exit 1); where it is, it restores", { skip: skip ?? false, timeout: 60_000 }, async (t) => {
  const dir = tempDir();
  const cgroup = createScratchMemoryCgroup("unmounted", 64 * MIB);
  try {
    // What a daemon killed by SIGKILL leaves behind.
    writeFileSync(join(cgroup.path, "memory.oom_control"), "1");
    writeFileSync(join(dir, "takeover.json"), JSON.stringify({ version: 1, cgroups: { [cgroup.path]: false } }));
    // A mount namespace of its own without the memory hierarchy, as in a container.
    const inside = spawnSync("unshare", ["-m", "--propagation", "private", "sh", "-c", 'umount "$0" && exec "$1" "$2" restore --state-dir "$3"', V1_MEMORY_ROOT, process.execPath, CLI, dir], { encoding: "utf8" });
    if (inside.error !== undefined || /^(unshare|umount):/m.test(inside.stderr)) {
      t.skip(`cannot unmount ${V1_MEMORY_ROOT} in a mount namespace: ${inside.error?.message ?? inside.stderr.trim()}`);
      return;
    }
    assert.equal(inside.status, 1, inside.stdout + inside.stderr);
    assert.match(inside.stdout + inside.stderr, new RegExp(`^cgroup path ${cgroup.path} does not exist here, and lies outside every mounted memory cgroup hierarchy .*; not restored, still listed$`, "m"));
    assert.equal(oomControl(cgroup.path).oomKillDisable, 1);
    assert.ok(cgroup.path in JSON.parse(readFileSync(join(dir, "takeover.json"), "utf8")).cgroups, "still listed");

    const restore = startDaemon(["restore", "--state-dir", dir]);
    assert.equal(await restore.exited, 0, restore.stderr());
    assert.match(restore.stderr(), new RegExp(`${cgroup.path}: oom_kill_disable restored to 0`));
    assert.equal(oomControl(cgroup.path).oomKillDisable, 0);
  } finally {
    await cgroup.remove();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a managed cgroup removed and made again at its path (a service restart) is let go and said so; at stop the new one keeps its own limit", { skip: skip ?? false, timeout: 60_000 }, async () => {
  const dir = tempDir();
  // memory+swap unlimited, or v1 refuses a memory limit above it.
  const cgroup = createScratchMemoryCgroup("recreated", -1);
  const limitOf = (): number => Number(readFileSync(join(cgroup.path, "memory.limit_in_bytes"), "utf8").trim());
  let daemon: Daemon | null = null;
  try {
    writeFileSync(join(cgroup.path, "memory.limit_in_bytes"), String(64 * MIB));
    const config = join(dir, "soft.yaml");
    writeFileSync(config, "softLimit: true\nmachineGuard: false\n");
    daemon = startDaemon(["run", "--config", config, "--cgroup", cgroup.path, "--state-dir", dir]);
    const d = daemon;
    await waitFor("the daemon to manage the cgroup", () => d.stderr().includes(`managing ${cgroup.path}`));
    assert.equal(limitOf(), 73822208, "raised by soft-limit mode");

    rmdirSync(cgroup.path);
    mkdirSync(cgroup.path);
    writeFileSync(join(cgroup.path, "memory.limit_in_bytes"), String(256 * MIB));
    await waitFor("the daemon to see the removal", () => d.stderr().includes(`${cgroup.path}: cgroup removed`));
    assert.match(d.stderr(), new RegExp(`^oomwarden: ${cgroup.path}: cgroup removed.*, no longer managed$`, "m"));
    assert.deepEqual(JSON.parse(readFileSync(join(dir, "takeover.json"), "utf8")), { version: 2, cgroups: {}, limits: {} }, "its entries went with it");

    d.child.kill("SIGTERM");
    assert.equal(await d.exited, 0);
    assert.equal(limitOf(), 256 * MIB, "the old cgroup's limit was not written into the new one");
    assert.equal(oomControl(cgroup.path).oomKillDisable, 0);
    assert.doesNotMatch(d.stderr(), /restored kernel OOM settings/);
  } finally {
    if (daemon && daemon.child.exitCode === null) daemon.child.kill("SIGKILL");
    await cgroup.remove();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("`oomwarden restore` drops, and says why, entries of a cgroup made again since or of an earlier boot: nothing is written into today's cgroup", { skip: skip ?? false, timeout: 60_000 }, async () => {
  const dir = tempDir();
  const recreated = createScratchMemoryCgroup("restore-recreated", 64 * MIB);
  const rebooted = createScratchMemoryCgroup("restore-rebooted", 64 * MIB);
  try {
    const bootId = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
    const inodeOf = (path: string): string => statSync(path, { bigint: true }).ino.toString();
    // Both are at 1 by their owners' wish; the entries say 0, but about other cgroups.
    for (const c of [recreated, rebooted]) writeFileSync(join(c.path, "memory.oom_control"), "1");
    writeFileSync(
      join(dir, "takeover.json"),
      JSON.stringify({
        version: 2,
        cgroups: {
          [recreated.path]: { oomKillDisable: false, bootId, inode: String(BigInt(inodeOf(recreated.path)) - 1n) },
          [rebooted.path]: { oomKillDisable: false, bootId: "00000000-0000-0000-0000-000000000000", inode: inodeOf(rebooted.path) },
        },
        limits: {},
      }),
    );
    const restore = startDaemon(["restore", "--state-dir", dir]);
    assert.equal(await restore.exited, 0, restore.stderr());
    assert.match(restore.stderr(), new RegExp(`^the takeover ledger's entry for ${recreated.path} is dropped: the cgroup it was written down for was removed, and the one there now was made since`, "m"));
    assert.match(restore.stderr(), new RegExp(`^the takeover ledger's entry for ${rebooted.path} is dropped: it was written down before the machine last booted`, "m"));
    assert.equal(oomControl(recreated.path).oomKillDisable, 1);
    assert.equal(oomControl(rebooted.path).oomKillDisable, 1);
    assert.deepEqual(JSON.parse(readFileSync(join(dir, "takeover.json"), "utf8")).cgroups, {});
  } finally {
    await recreated.remove();
    await rebooted.remove();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the next daemon on the state directory gives back at start what a killed one left in a cgroup it does not manage", { skip: skip ?? false, timeout: 60_000 }, async () => {
  const dir = tempDir();
  const left = createScratchMemoryCgroup("left", 64 * MIB);
  const other = createScratchMemoryCgroup("other", 64 * MIB);
  const running: Daemon[] = [];
  try {
    const first = startDaemon(["run", "--config", inertGuardConfig(dir), "--cgroup", left.path, "--state-dir", dir]);
    running.push(first);
    await waitFor("the first daemon to manage its cgroup", () => first.stderr().includes(`managing ${left.path}`));
    first.child.kill("SIGKILL");
    await first.exited;
    assert.equal(oomControl(left.path).oomKillDisable, 1, "nobody restored it");

    // The next daemon's config no longer lists the first one's cgroup.
    const second = startDaemon(["run", "--config", inertGuardConfig(dir), "--cgroup", other.path, "--state-dir", dir]);
    running.push(second);
    const given = `left taken over by an earlier oomwarden, not managed by this one: ${left.path}: oom_kill_disable restored to 0`;
    await waitFor("the second daemon to give it back", () => second.stderr().includes(given));
    assert.equal(oomControl(left.path).oomKillDisable, 0, "given back while the second daemon runs");
    assert.equal(oomControl(other.path).oomKillDisable, 1);
    assert.deepEqual(Object.keys(JSON.parse(readFileSync(join(dir, "takeover.json"), "utf8")).cgroups), [other.path]);
    assert.ok(journalLines(join(dir, "journal.jsonl")).some((r) => r.type === "release" && r.cgroup === left.path && r.message === given));
    second.child.kill("SIGTERM");
    assert.equal(await second.exited, 0);
    assert.equal(oomControl(other.path).oomKillDisable, 0);
    assert.deepEqual(JSON.parse(readFileSync(join(dir, "takeover.json"), "utf8")).cgroups, {}, "nothing left behind");
  } finally {
    for (const d of running) if (d.child.exitCode === null && d.child.signalCode === null) d.child.kill("SIGKILL");
    await left.remove();
    await other.remove();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a daemon starting while a restore holds its cgroup's claim for a moment waits it out and manages the cgroup", { skip: skip ?? false, timeout: 60_000 }, async () => {
  const dir = tempDir();
  const cgroup = createScratchMemoryCgroup("briefclaim", 64 * MIB);
  let daemon: Daemon | null = null;
  try {
    // As `oomwarden restore` holds it while it writes the settings back (flock(1) for 600 ms: past the daemon's start, within its wait).
    const holder = spawn("flock", ["--exclusive", cgroup.path, "sleep", "0.6"], { stdio: "ignore" });
    await waitFor("the brief claim", () => readFileSync("/proc/locks", "utf8").includes(`FLOCK  ADVISORY  WRITE ${holder.pid} `));
    daemon = startDaemon(["run", "--config", inertGuardConfig(dir), "--cgroup", cgroup.path, "--state-dir", dir]);
    const d = daemon;
    await waitFor("the daemon to manage the cgroup", () => d.stderr().includes(`managing ${cgroup.path}`) || d.stderr().includes("cannot manage"));
    assert.doesNotMatch(d.stderr(), /cannot manage/);
    assert.equal(oomControl(cgroup.path).oomKillDisable, 1);
    d.child.kill("SIGTERM");
    assert.equal(await d.exited, 0);
  } finally {
    if (daemon && daemon.child.exitCode === null) daemon.child.kill("SIGKILL");
    await cgroup.remove();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a state directory that cannot be created: the daemon runs on and says, once, that it will change no cgroup setting", { timeout: 30_000 }, async () => {
  const dir = tempDir();
  const stateDir = `/proc/oomwarden-state-${process.pid}`;
  try {
    const daemon = startDaemon(["run", "--config", inertGuardConfig(dir), "--state-dir", stateDir]);
    await waitFor("the report", () => daemon.stderr().includes("to manage a cgroup"));
    assert.match(
      daemon.stderr(),
      new RegExp(`^oomwarden: the state directory ${stateDir} cannot be created \\(ENOENT: no such file or directory\\): no original can be recorded, so no cgroup setting will be changed \\(no v1 takeover, no soft-limit mode\\)$`, "m"),
    );
    assert.match(daemon.stderr(), new RegExp(`^oomwarden: cannot open journal ${stateDir}/journal\\.jsonl: ENOENT: no such file or directory; decisions are printed here only$`, "m"));
    daemon.child.kill("SIGTERM");
    assert.equal(await daemon.exited, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
