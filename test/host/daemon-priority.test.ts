// The daemon's priority: raised while an incident is handled, the start priority otherwise, and
// routine listings at the start priority always (real kernel: raising a thread's priority needs
// CAP_SYS_NICE, which root has here and on CI).

import assert from "node:assert/strict";
import { getPriority, setPriority } from "node:os";
import { describe, it } from "node:test";
import { COURTESY_PAUSE_MS } from "../../src/host/linux/cpu-courtesy.js";
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
  it("stays at the start priority until an incident begins, is raised until the last one ends, and routine work steps down", { skip: needsRoot }, () => {
    restoringPriority(() => {
      const start = getPriority();
      const priority = new DaemonPriority();
      assert.equal(priority.prepare(), `scheduling priority: nice ${DAEMON_NICENESS} while an incident is handled, nice ${start} otherwise`);
      assert.equal(getPriority(), start, "shown to work, then back: nothing is urgent yet");
      assert.equal(priority.raisedNow(), false);
      const first = priority.beginUrgent();
      assert.equal(getPriority(), DAEMON_NICENESS);
      assert.equal(priority.raisedNow(), true);
      const second = priority.beginUrgent(); // a second scope's incident
      assert.equal(priority.atStartPriority(() => [getPriority(), priority.raisedNow()]).join(), [start, false].join(), "routine work at the start priority");
      assert.equal(getPriority(), DAEMON_NICENESS, "raised again afterwards");
      assert.throws(() => priority.atStartPriority(() => assert.fail("thrown inside")), /thrown inside/);
      assert.equal(getPriority(), DAEMON_NICENESS, "raised again after a throw too");
      first();
      first(); // a release counts once
      assert.equal(getPriority(), DAEMON_NICENESS, "the second incident still runs");
      second();
      assert.equal(getPriority(), start);
      assert.equal(priority.raisedNow(), false);
      assert.equal(priority.pausesForOthers(), false, "at the start priority nothing needs pausing");
      const plain = priority.beginUrgent();
      assert.equal(priority.pausesForOthers(), true, "raised: long work pauses for others");
      const racing = priority.beginUrgent(true);
      assert.equal(getPriority(), DAEMON_NICENESS);
      assert.equal(priority.pausesForOthers(), false, "an incident racing memory running out: no pauses while it lasts");
      racing();
      racing(); // a release counts once
      assert.equal(priority.pausesForOthers(), true, "the plain incident goes on, pausing again");
      plain();
      assert.equal(priority.atStartPriority(() => getPriority()), start);
      assert.equal(priority.changeFailure(), null);
    });
  });

  it("cannot be raised (not prepared, or no CAP_SYS_NICE): nothing is ever changed", () => {
    restoringPriority(() => {
      const now = getPriority();
      const priority = new DaemonPriority();
      const release = priority.beginUrgent();
      assert.equal(getPriority(), now);
      assert.equal(
        priority.atStartPriority(() => getPriority()),
        now,
      );
      release();
      assert.equal(getPriority(), now);
      assert.equal(priority.raisedNow(), false);
    });
  });

  it("the Linux host lists at the start priority, at the raised one during an incident, and routine listings at the start one always", { skip: needsRoot }, () => {
    restoringPriority(() => {
      const start = getPriority();
      let seen = new Set<number>();
      // The priorities at which a listing reads this process's own files (by path: no fds kept).
      const fs: LinuxFs = {
        ...nodeLinuxFs,
        readText: (path) => {
          if (path.startsWith(`/proc/${process.pid}/`)) seen.add(getPriority());
          return nodeLinuxFs.readText(path);
        },
      };
      const host = new LinuxHost({ fs, maxKeptProcessFds: 0 });
      assert.match(host.protectSelf({ residentCode: "off" }).join("\n"), /scheduling priority: nice -20 while an incident is handled/);
      const listedAt = (list: () => void): number[] => {
        seen = new Set();
        list();
        return [...seen];
      };
      assert.deepEqual(listedAt(() => assert.ok(host.listAllProcesses().ok)), [start]);
      const release = host.beginUrgentWork();
      const routine = listedAt(() => {
        const listing = host.beginRoutineListing();
        assert.ok(listing.ok);
        while (listing.value.next(0) === null);
      });
      assert.deepEqual(routine, [start], "every slice of a routine listing at the start priority");
      assert.deepEqual(listedAt(() => assert.ok(host.listAllProcesses().ok)), [DAEMON_NICENESS]);
      release();
      assert.equal(getPriority(), start);
    });
  });

  it("a long listing during an incident gives the CPU back between processes; at the start priority it does not", { skip: needsRoot }, () => {
    restoringPriority(() => {
      // Every read of a process's stat (by path: no fds kept) takes 2 ms of this thread's time.
      const busy = (ms: number): void => {
        const until = performance.now() + ms;
        while (performance.now() < until);
      };
      let statReads = 0;
      const fs: LinuxFs = {
        ...nodeLinuxFs,
        readText: (path) => {
          if (/\/proc\/\d+\/stat$/.test(path)) {
            busy(2);
            statReads++;
          }
          return nodeLinuxFs.readText(path);
        },
      };
      const host = new LinuxHost({ fs, maxKeptProcessFds: 0 });
      host.protectSelf({ residentCode: "off" });
      const before = host.cpuGivenBackMs();
      assert.ok(host.listAllProcesses().ok);
      assert.equal(host.cpuGivenBackMs(), before, "at the start priority the listing competes as an equal: no pauses");
      const release = host.beginUrgentWork();
      statReads = 0;
      assert.ok(host.listAllProcesses().ok);
      release();
      const givenBack = host.cpuGivenBackMs() - before;
      // A stat read of each of the machine's processes, 2 ms each: a pause after each 10 ms slice of that.
      assert.ok(statReads >= 10, `${statReads} stat reads`);
      const slices = Math.floor((2 * statReads) / 10);
      assert.ok(givenBack >= (slices / 2) * COURTESY_PAUSE_MS && givenBack < 200, `${givenBack.toFixed(2)} ms given back over ${statReads} stat reads`);
      // An incident racing memory running out: the same listing, raised as high, never pauses.
      const racing = host.beginUrgentWork(true);
      assert.equal(getPriority(), DAEMON_NICENESS);
      const beforeRacing = host.cpuGivenBackMs();
      statReads = 0;
      assert.ok(host.listAllProcesses().ok);
      racing();
      assert.ok(statReads >= 10, `${statReads} stat reads`);
      assert.equal(host.cpuGivenBackMs(), beforeRacing, "a racing incident's listing gave the CPU back");
    });
  });
});
