// Boots the test VM (qemu, Debian's stock kernel, the host's root read-only over 9p) and runs one
// shell script in it as root with cgroup v2 mounted and the memory and pids controllers enabled
// for children. A fresh temporary directory is the guest's writable share (/run/vm): the script,
// its inputs, its environment and guest-init.sh go in; the exit status and whatever the script
// wrote under its working directory (/run/vm/out) come back. Boot plus a Node start cost seconds
// under TCG, so tests batch their checks into one run (see sections.ts) and the runs are serial.

import { spawn } from "node:child_process";
import { copyFileSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, isAbsolute, join, relative } from "node:path";
import { projectRoot } from "../fixtures/captured.js";
import { QEMU_BINARY, vmArtifacts } from "./artifacts.js";
import { parseConsole, readyTime, type ConsoleLine } from "./console-lines.js";

export interface GuestRunOptions {
  /** POSIX sh, run by the host's /bin/sh in the guest, in /run/vm/out. $OOMWARDEN_ROOT is the
   * checkout (same path as on the host), $NODE the host's node binary, $VM_IN the inputs. */
  script: string;
  /** Extra files for the script, by relative path: they appear under $VM_IN (/run/vm/in). */
  inputs?: Record<string, string>;
  /** Host folders the script reads at their own paths, kept visible even under /tmp or /var/lib,
   * which the guest mounts fresh. The checkout and node's folder always are. */
  hostPaths?: string[];
  memMiB?: number;
  cpus?: number;
  /** Host-side limit: past it qemu is killed (by its pid) and the run reports timedOut. */
  timeoutMs?: number;
  /** Called with each piece of the serial console as it arrives (a long run's progress). */
  onConsole?: (text: string) => void;
}

export interface GuestRun {
  /** The script's exit status; null if the guest never reported one (timeout, panic, qemu failed). */
  exitCode: number | null;
  timedOut: boolean;
  /** The serial console (kernel messages at warning level and up, and the script's output). */
  console: string;
  /** The console line by line, each with the host time it arrived, in ms since qemu started. */
  lines: ConsoleLine[];
  /** Host ms from starting qemu to the guest being ready to run the script; null if it never was. */
  bootMs: number | null;
  /** The guest's own uptime at that moment (the kernel's clock starts after the BIOS and the kernel's decompression). */
  bootGuestUptimeSec: number | null;
  /** Host ms from starting qemu to its exit. */
  totalMs: number;
  /** Files the script wrote under /run/vm/out, by relative path. */
  files: Map<string, string>;
  /** qemu's own error output (bad options, missing devices); "" normally. */
  qemuStderr: string;
}

const DEFAULT_MEM_MIB = 1024;
// Our test machines must never run out of memory themselves: a guest gets at most this much.
export const MAX_MEM_MIB = 1024;
const DEFAULT_CPUS = 2;
const DEFAULT_TIMEOUT_MS = 240_000;
// The host's root spans several filesystems; remap keeps their inode numbers apart in the guest.
const SHARE_OPTIONS = "security_model=none,multidevs=remap";
// qemu's option syntax: a comma inside a value is written twice.
const optionValue = (value: string): string => value.replaceAll(",", ",,");

function qemuArguments(options: { kernel: string; initramfs: string; sharePath: string; memMiB: number; cpus: number }): string[] {
  return [
    // KVM cannot boot stock kernels on our machines (the guest hangs in the BIOS), so emulate;
    // thread=multi gives each vCPU its own host thread. The translated-code cache defaults to
    // 1 GiB and grew qemu to 1.5 GiB beside a full 1 GiB guest; 128 MiB kept it at 1.2 GiB.
    "-accel", "tcg,thread=multi,tb-size=128",
    "-m", String(options.memMiB),
    "-smp", String(options.cpus),
    "-nographic",
    "-no-reboot",
    "-nic", "none",
    "-kernel", optionValue(options.kernel),
    "-initrd", optionValue(options.initramfs),
    // panic=-1 turns a guest panic into a reboot, and -no-reboot turns that into qemu exiting.
    "-append", "console=ttyS0 panic=-1 quiet",
    "-virtfs", `local,path=/,mount_tag=hostroot,readonly=on,${SHARE_OPTIONS}`,
    "-virtfs", `local,path=${optionValue(options.sharePath)},mount_tag=results,${SHARE_OPTIONS}`,
  ];
}

export function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/** The host folders a run keeps visible at their own paths in the guest. */
export function keptHostPaths(root: string, hostPaths: readonly string[]): string[] {
  return [root, dirname(process.execPath), ...hostPaths];
}

/** What guest-init.sh sources before anything else. */
function guestEnvironment(root: string, hostPaths: readonly string[]): string {
  const keptPaths = keptHostPaths(root, hostPaths);
  for (const path of keptPaths) {
    // guest-init.sh splits the list at ":".
    if (!isAbsolute(path) || /[:\n]/.test(path)) throw new Error(`runInGuest: host path ${JSON.stringify(path)} must be absolute, without ":" or a line break`);
  }
  const variables = { OOMWARDEN_ROOT: root, NODE: process.execPath, VM_IN: "/run/vm/in", VM_HOST_PATHS: keptPaths.join(":") };
  return Object.entries(variables).map(([name, value]) => `export ${name}=${shellQuote(value)}\n`).join("");
}

function writeShare(sharePath: string, options: GuestRunOptions, root: string): void {
  copyFileSync(vmArtifacts(root).guestInit, join(sharePath, "guest-init.sh"));
  writeFileSync(join(sharePath, "env"), guestEnvironment(root, options.hostPaths ?? []));
  writeFileSync(join(sharePath, "script.sh"), options.script);
  for (const [name, text] of Object.entries(options.inputs ?? {})) {
    const path = join(sharePath, "in", name);
    if (relative(join(sharePath, "in"), path).startsWith("..")) throw new Error(`guest input ${name} is outside the inputs folder`);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
  }
}

function readTree(directory: string): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (current: string): void => {
    let names: string[];
    try {
      names = readdirSync(current);
    } catch {
      return; // the guest never got as far as creating it
    }
    for (const name of names.sort()) {
      const path = join(current, name);
      // lstat: a link the guest made is not followed out of the share.
      const stat = lstatSync(path, { throwIfNoEntry: false });
      if (stat?.isDirectory()) walk(path);
      else if (stat?.isFile()) files.set(relative(directory, path), readFileSync(path, "utf8"));
    }
  };
  walk(directory);
  return files;
}

function readExitCode(sharePath: string): number | null {
  try {
    const text = readFileSync(join(sharePath, "exit-code"), "utf8").trim();
    return /^\d+$/.test(text) ? Number(text) : null;
  } catch {
    return null;
  }
}

export async function runInGuest(options: GuestRunOptions): Promise<GuestRun> {
  const memMiB = options.memMiB ?? DEFAULT_MEM_MIB;
  if (!Number.isInteger(memMiB) || memMiB < 128 || memMiB > MAX_MEM_MIB) throw new Error(`runInGuest: memMiB ${memMiB} is outside 128..${MAX_MEM_MIB}`);
  const root = projectRoot();
  const artifacts = vmArtifacts(root);
  const sharePath = mkdtempSync(join(tmpdir(), "oomwarden-vm-"));
  try {
    writeShare(sharePath, options, root);
    const args = qemuArguments({
      kernel: artifacts.kernel,
      initramfs: artifacts.initramfs,
      sharePath,
      memMiB,
      cpus: options.cpus ?? DEFAULT_CPUS,
    });
    const startedAt = Date.now();
    const chunks: Array<{ atMs: number; text: string }> = [];
    let qemuStderr = "";
    let timedOut = false;
    const qemu = spawn(QEMU_BINARY, args, { stdio: ["ignore", "pipe", "pipe"] });
    qemu.stdout.setEncoding("utf8").on("data", (text: string) => {
      chunks.push({ atMs: Date.now() - startedAt, text });
      options.onConsole?.(text);
    });
    qemu.stderr.setEncoding("utf8").on("data", (text: string) => (qemuStderr += text));
    // qemu must not outlive the test process when it exits early (a failed hook, process.exit);
    // a guest left behind otherwise still powers off when its script ends.
    const killQemu = (): void => {
      if (qemu.exitCode === null && qemu.signalCode === null) qemu.kill("SIGKILL");
    };
    process.once("exit", killQemu);
    const timer = setTimeout(() => {
      timedOut = true;
      killQemu();
    }, options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    await new Promise<void>((resolve) => {
      qemu.once("close", () => resolve());
      qemu.once("error", (error) => {
        qemuStderr += `${QEMU_BINARY}: ${error.message}\n`;
        resolve();
      });
    });
    const totalMs = Date.now() - startedAt;
    clearTimeout(timer);
    process.removeListener("exit", killQemu);

    const { console, lines } = parseConsole(chunks);
    const ready = readyTime(lines);
    return {
      exitCode: readExitCode(sharePath),
      timedOut,
      console,
      lines,
      bootMs: ready?.atMs ?? null,
      bootGuestUptimeSec: ready?.guestUptimeSec ?? null,
      totalMs,
      files: readTree(join(sharePath, "out")),
      qemuStderr,
    };
  } finally {
    rmSync(sharePath, { recursive: true, force: true });
  }
}
