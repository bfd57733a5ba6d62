// The VM test bed's host side without booting anything: when it says the VM tests must skip,
// how the console is cut into timed lines, and how sections are laid out and read back.

import assert from "node:assert/strict";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test from "node:test";
import { QEMU_BINARY, vmUnavailableReason, type VmEnvironment } from "./artifacts.js";
import { msBetween, parseConsole, readyTime } from "./console-lines.js";
import { runInGuest, type GuestRun } from "./harness.js";
import { sectionResult, sectionsScript } from "./sections.js";

function withFakeMachine(body: (environment: VmEnvironment, paths: { bin: string; kernel: string; initramfs: string }) => void): void {
  const dir = mkdtempSync(join(tmpdir(), "oomwarden-vm-env-"));
  try {
    const bin = join(dir, "bin");
    mkdirSync(bin);
    const paths = { bin, kernel: join(dir, "vmlinuz"), initramfs: join(dir, "initramfs.cpio.gz") };
    const guestInit = join(dir, "guest-init.sh");
    writeFileSync(guestInit, "");
    body({ platform: "linux", arch: "x64", pathList: `/nonexistent:${bin}`, skipVariable: undefined, artifacts: { kernel: paths.kernel, initramfs: paths.initramfs, guestInit } }, paths);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test("vmUnavailableReason names what is missing, in the order a new machine meets it, and null once all is there", () => {
  withFakeMachine((environment, { bin, kernel, initramfs }) => {
    assert.match(vmUnavailableReason({ ...environment, platform: "darwin" }) ?? "", /x86-64 Linux .*darwin\/x64/);
    assert.match(vmUnavailableReason(environment) ?? "", /qemu-system-x86_64 not found on PATH \(apt-get install qemu-system-x86\)/);

    const qemu = join(bin, QEMU_BINARY);
    writeFileSync(qemu, "#!/bin/sh\n");
    chmodSync(qemu, 0o644);
    assert.match(vmUnavailableReason(environment) ?? "", /not found on PATH/, "a file that is not executable is not qemu");
    chmodSync(qemu, 0o755);
    assert.equal(vmUnavailableReason(environment), `no VM kernel at ${kernel} (run scripts/vm/setup.sh)`);
    writeFileSync(kernel, "");
    assert.equal(vmUnavailableReason(environment), `no VM initramfs at ${initramfs} (run scripts/vm/setup.sh)`);
    writeFileSync(initramfs, "");
    assert.equal(vmUnavailableReason(environment), null);

    assert.equal(vmUnavailableReason({ ...environment, skipVariable: "1" }), "OOMWARDEN_SKIP_VM is set");
    assert.equal(vmUnavailableReason({ ...environment, skipVariable: "0" }), null, "0 means do not skip");
    for (const reason of [vmUnavailableReason({ ...environment, pathList: "" }), vmUnavailableReason({ ...environment, platform: "win32" })]) {
      assert.ok(reason !== null && !reason.includes("\n"), "one line");
    }
  });
});

test("the console: lines split across chunks are joined, terminal control sequences dropped, each line timed by its end", () => {
  const { console, lines } = parseConsole([
    { atMs: 5, text: "\x1bc\x1b[?7l\x1b[2JSeaBIOS (version 1)\r\nBooting from ROM.." },
    { atMs: 900, text: "\x1bc\x1b[?7l\x1b[2J\noomwarden-vm: re" },
    { atMs: 950, text: "ady 6.25\nhi\nno newline at the end" },
  ]);
  assert.deepEqual(lines, [
    { atMs: 5, text: "SeaBIOS (version 1)" },
    { atMs: 900, text: "Booting from ROM.." },
    { atMs: 950, text: "oomwarden-vm: ready 6.25" },
    { atMs: 950, text: "hi" },
    { atMs: 950, text: "no newline at the end" },
  ]);
  assert.equal(console, lines.map((line) => line.text).join("\n"));
  assert.deepEqual(readyTime(lines), { atMs: 950, guestUptimeSec: 6.25 });
  assert.equal(readyTime(lines.slice(0, 2)), null);
  assert.equal(msBetween(lines, "SeaBIOS", "hi"), 945);
  assert.equal(msBetween(lines, "hi", "SeaBIOS"), null, "the end has to come after the start");
});

test("sections: one folder, output, status and time each; a section that never ended has no status", () => {
  const { script, inputs } = sectionsScript([
    { name: "first", script: "echo one", timeoutSec: 10 },
    { name: "first-longer", script: "echo two", timeoutSec: 20 },
  ]);
  assert.deepEqual(inputs, { "sections/first.sh": "echo one", "sections/first-longer.sh": "echo two" });
  assert.match(script, /timeout -k 5 10 \/bin\/sh "\$VM_IN\/sections\/first\.sh"\) > first\.output 2>&1/);
  assert.ok(script.indexOf("sections/first.sh") < script.indexOf("sections/first-longer.sh"), "in the order given");

  const { lines } = parseConsole([
    { atMs: 100, text: "oomwarden-vm: section first start\n" },
    { atMs: 150, text: "oomwarden-vm: section first exited 0\noomwarden-vm: section first-longer start\n" },
  ]);
  const run: GuestRun = {
    exitCode: null, timedOut: true, console: "", lines, bootMs: 50, bootGuestUptimeSec: 1, totalMs: 400, qemuStderr: "",
    files: new Map([["first.status", "0\n"], ["first.output", "one\n"], ["first/fact", "x"], ["first-longer/partial", "y"]]),
  };
  assert.deepEqual(sectionResult(run, "first"), { status: 0, output: "one\n", files: new Map([["fact", "x"]]), durationMs: 50 });
  assert.deepEqual(sectionResult(run, "first-longer"), { status: null, output: "", files: new Map([["partial", "y"]]), durationMs: null });

  for (const [sections, message] of [
    [[{ name: "Bad Name", script: "", timeoutSec: 1 }], /section name "Bad Name": use lower-case letters, digits and dashes/],
    [[{ name: "twice", script: "", timeoutSec: 1 }, { name: "twice", script: "", timeoutSec: 1 }], /section twice appears twice/],
    [[{ name: "slow", script: "", timeoutSec: 0 }], /section slow: timeoutSec must be a positive whole number/],
  ] as const) {
    assert.throws(() => sectionsScript(sections), message);
  }
});

test("runInGuest refuses a guest bigger than the 1 GiB a test machine can spare, before starting qemu", async () => {
  await assert.rejects(runInGuest({ script: "true", memMiB: 4096 }), /runInGuest: memMiB 4096 is outside 128\.\.1024/);
  await assert.rejects(runInGuest({ script: "true", memMiB: 1.5 }), /memMiB 1\.5 is outside/);
});
