// Where the VM test bed's pieces are, and whether this machine can boot it. The kernel and
// initramfs are built by scripts/vm/setup.sh into build-vm/ (not build/: node-gyp deletes that
// folder whenever it rebuilds the addon).

import { accessSync, constants, existsSync } from "node:fs";
import { join } from "node:path";
import { projectRoot } from "../fixtures/captured.js";

export const QEMU_BINARY = "qemu-system-x86_64";
export const SETUP_SCRIPT = "scripts/vm/setup.sh";

export interface VmArtifacts {
  kernel: string;
  initramfs: string;
  /** Runs in the guest as root, chrooted into the host's root; copied into each run's share. */
  guestInit: string;
}

export function vmArtifacts(root = projectRoot()): VmArtifacts {
  return {
    kernel: join(root, "build-vm", "vmlinuz"),
    initramfs: join(root, "build-vm", "initramfs.cpio.gz"),
    guestInit: join(root, "test", "vm", "guest-init.sh"),
  };
}

/** The first executable named `name` in a PATH-style list, or null. */
export function findOnPath(name: string, pathList: string): string | null {
  for (const directory of pathList.split(":")) {
    if (directory === "") continue;
    const candidate = join(directory, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

export interface VmEnvironment {
  platform: string;
  arch: string;
  pathList: string;
  /** OOMWARDEN_SKIP_VM: set (to anything but "" or "0") to skip the VM tests on a machine that could run them. */
  skipVariable: string | undefined;
  artifacts: VmArtifacts;
}

function currentEnvironment(): VmEnvironment {
  return {
    platform: process.platform,
    arch: process.arch,
    pathList: process.env["PATH"] ?? "",
    skipVariable: process.env["OOMWARDEN_SKIP_VM"],
    artifacts: vmArtifacts(),
  };
}

/** null when the VM tests can run here; otherwise one line saying what is missing and how to get it. */
export function vmUnavailableReason(environment: VmEnvironment = currentEnvironment()): string | null {
  const { platform, arch, pathList, skipVariable, artifacts } = environment;
  if (skipVariable !== undefined && skipVariable !== "" && skipVariable !== "0") return "OOMWARDEN_SKIP_VM is set";
  if (platform !== "linux" || arch !== "x64") return `the VM test bed boots an x86-64 Linux guest from a Linux x86-64 host (this is ${platform}/${arch})`;
  if (findOnPath(QEMU_BINARY, pathList) === null) return `${QEMU_BINARY} not found on PATH (apt-get install qemu-system-x86)`;
  for (const [what, path] of [["kernel", artifacts.kernel], ["initramfs", artifacts.initramfs]] as const) {
    if (!existsSync(path)) return `no VM ${what} at ${path} (run ${SETUP_SCRIPT})`;
  }
  if (!existsSync(artifacts.guestInit)) return `no guest init script at ${artifacts.guestInit}`;
  return null;
}
