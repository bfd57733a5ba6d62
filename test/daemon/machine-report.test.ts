// The built-in default's report offers only cgroups this user could take over, and says plainly
// when that needs root.

import assert from "node:assert/strict";
import test from "node:test";
import { describeMachine } from "../../src/daemon/machine-report.js";
import type { LinuxHost, ManageableCgroup } from "../../src/host/linux/linux-host.js";

const MIB = 1024 * 1024;

function hostWith(cgroups: ManageableCgroup[], mounts: Pick<LinuxHost["mounts"], "v1Memory" | "v2"> = { v1Memory: "/sys/fs/cgroup/memory", v2: null }): LinuxHost {
  const stub: Pick<LinuxHost, "readMachineMemory" | "listMemoryCgroups" | "mounts"> = {
    readMachineMemory: () => ({ ok: true, value: { totalBytes: 8192 * MIB, availableBytes: 4096 * MIB, swapTotalBytes: 0, swapFreeBytes: 0 } }),
    listMemoryCgroups: () => cgroups,
    mounts: { ...mounts, v1Freezer: null, all: [] },
  };
  return stub as LinuxHost;
}

const cgroup = (path: string, writable: boolean): ManageableCgroup => ({ path, version: 1, usageBytes: MIB, limitBytes: 64 * MIB, writable });

test("root: every cgroup is listed as before", () => {
  const lines = describeMachine(hostWith([cgroup("/sys/fs/cgroup/memory/a", true), cgroup("/sys/fs/cgroup/memory/b", true)]), 0);
  assert.ok(lines.includes("memory cgroups that could be managed (2):"), lines.join("\n"));
  assert.ok(lines.some((l) => l.startsWith("  /sys/fs/cgroup/memory/b  (v1")));
});

test("a user who can take over none of them is told that it takes root, and none is offered", () => {
  const lines = describeMachine(hostWith([cgroup("/sys/fs/cgroup/memory/a", false), cgroup("/sys/fs/cgroup/memory/b", false)]), 1000);
  assert.ok(
    lines.includes(
      "none of the 2 memory cgroups here can be managed by uid 1000: taking one over writes its memory.oom_control (v1) or needs it delegated to this user (v2); run oomwarden as root",
    ),
    lines.join("\n"),
  );
  assert.ok(!lines.some((l) => l.includes("/sys/fs/cgroup/memory/a")));
});

test("a user with some delegated cgroups is offered those only", () => {
  const lines = describeMachine(hostWith([cgroup("/sys/fs/cgroup/memory/a", false), cgroup("/sys/fs/cgroup/memory/mine", true)]), 1000);
  assert.ok(lines.includes("memory cgroups that could be managed by uid 1000 (1 of 2):"), lines.join("\n"));
  assert.ok(lines.some((l) => l.startsWith("  /sys/fs/cgroup/memory/mine  (v1")));
  assert.ok(!lines.some((l) => l.includes("/sys/fs/cgroup/memory/a ")));
});

test("the way to manage a cgroup is shown with this machine's own hierarchy: v1 where memory is bound there, else v2", () => {
  const v1 = describeMachine(hostWith([]), 0);
  assert.ok(v1.some((l) => l.includes("oomwarden run --cgroup /sys/fs/cgroup/memory/NAME (repeatable)")), v1.join("\n"));
  const v2 = describeMachine(hostWith([], { v1Memory: null, v2: "/sys/fs/cgroup" }), 0);
  assert.ok(v2.some((l) => l.includes("oomwarden run --cgroup /sys/fs/cgroup/NAME (a v2 cgroup with memory.max; NAME=SIZE for one without) (repeatable)")), v2.join("\n"));
  assert.ok(!v2.some((l) => l.includes("/memory/NAME")), "no v1 path on a v2 machine");
});

