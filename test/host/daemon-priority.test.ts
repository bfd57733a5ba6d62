// The daemon's raised priority, and the routine listings that step down from it (real kernel:
// raising a thread's priority needs CAP_SYS_NICE, which root has here and on CI).

import assert from "node:assert/strict";
import { getPriority, setPriority } from "node:os";
import { describe, it } from "node:test";
import { DAEMON_NICENESS, DaemonPriority } from "../../src/host/linux/daemon-priority.js";
import { nodeLinuxFs, type LinuxFs } from "../../src/host/linux/linux-fs.js";
import { LinuxHost } from "../../src/host/linux/linux-host.js";

const needsRoot = process.getuid?.() !== 0 ? "needs root (CAP_SYS_NICE) to raise a thread's priority" : false;

/** Runs a test with this thread's nice value put back afterwards (lowering a priority needs no privilege). */
function restoringPriority(test: () => void): void {
  const before = getPriority();
  try {
    test();
  } finally {
    setPriority(before);
  }
}

describe("daemon priority", () => {
  it("raises the thread to nice -20, runs routine work at the start priority, and raises it again", { skip: needsRoot }, () => {
    restoringPriority(() => {
      const start = getPriority();
      const priority = new DaemonPriority();
      assert.match(priority.raise(), new RegExp(`^scheduling priority raised \\(nice ${DAEMON_NICENESS}; routine listings at nice ${start}\\)$`));
      assert.equal(getPriority(), DAEMON_NICENESS);
      assert.equal(
        priority.atStartPriority(() => getPriority()),
        start,
        "the work ran at the start priority",
      );
      assert.equal(getPriority(), DAEMON_NICENESS, "raised again afterwards");
      assert.throws(() => priority.atStartPriority(() => assert.fail("thrown inside")), /thrown inside/);
      assert.equal(getPriority(), DAEMON_NICENESS, "raised again after a throw too");
      assert.equal(priority.restoreFailure(), null);
    });
  });

  it("never raised: routine work runs as it is and nothing is changed", () => {
    restoringPriority(() => {
      const now = getPriority();
      const priority = new DaemonPriority();
      assert.equal(
        priority.atStartPriority(() => getPriority()),
        now,
      );
      assert.equal(getPriority(), now);
    });
  });

  it("the Linux host's routine listing runs at the start priority, a decision's listing at the raised one", { skip: needsRoot }, () => {
    restoringPriority(() => {
      const start = getPriority();
      const seen: number[] = [];
      // The priority at the moment the listing reads /proc.
      const fs: LinuxFs = {
        ...nodeLinuxFs,
        listEntries: (path) => {
          if (path === "/proc") seen.push(getPriority());
          return nodeLinuxFs.listEntries(path);
        },
      };
      const host = new LinuxHost({ fs });
      assert.match(host.protectSelf({ residentCode: "off" }).join("\n"), /scheduling priority raised/);
      assert.ok(host.listAllProcesses({ routine: true }).ok);
      assert.ok(host.listAllProcesses().ok);
      assert.deepEqual(seen, [start, DAEMON_NICENESS]);
      assert.equal(getPriority(), DAEMON_NICENESS);
    });
  });
});
