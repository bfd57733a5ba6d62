// Tests for the native addon against the real kernel (Linux, run as root here).
// Every child process is killed by pid in a finally block.

import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, fstatSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync, constants as fsc } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

import type { Result } from "../../src/core/result.js";
import {
  closeFd,
  eventfdCreate,
  eventfdDrain,
  flockExclusive,
  flockUnlock,
  mlockall,
  munlockall,
  nativeStatus,
  pidfdOpen,
  pidfdSendSignal,
  processMrelease,
  sysconfClockTicks,
  sysconfPageSize,
  watchFd,
} from "../../src/host/linux/native.js";

const SIGKILL = 9;
const SIGTERM = 15;
const NATIVE_JS = fileURLToPath(new URL("../../src/host/linux/native.js", import.meta.url));

function unwrap<T>(r: Result<T>): T {
  if (!r.ok) assert.fail(`expected ok, got ${r.error.code}: ${r.error.message}`);
  return r.value;
}

function assertFails(r: Result<unknown>, code: string, messagePart?: string): void {
  assert.equal(r.ok, false, `expected ${code}, got ok`);
  if (r.ok) return;
  assert.equal(r.error.code, code, r.error.message);
  assert.equal(typeof r.error.message, "string");
  if (messagePart) assert.ok(r.error.message.includes(messagePart), r.error.message);
}

function eventfdWrite(fd: number, n: number): void {
  const buf = Buffer.alloc(8);
  buf.writeBigUInt64LE(BigInt(n));
  assert.equal(writeSync(fd, buf), 8);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

function killChild(child: ChildProcess | undefined): void {
  if (child?.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(child.pid, "SIGKILL");
  } catch {
    // already gone
  }
}

function spawnSleeper(): ChildProcess & { pid: number } {
  const child = spawn("sleep", ["30"], { stdio: "ignore" });
  assert.equal(typeof child.pid, "number", "spawn sleep failed");
  return child as ChildProcess & { pid: number };
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
}

/** Runs an ES module snippet in a fresh node process with `native` imported; returns its exit and output. */
function runNode(
  body: string,
  timeoutMs: number,
): { child: ChildProcess; done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> } {
  const src = `import * as native from ${JSON.stringify(NATIVE_JS)};\n${body}`;
  const child = spawn(process.execPath, ["--input-type=module", "-e", src], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => killChild(child), timeoutMs);
  const done = exited(child).then((r) => {
    clearTimeout(timer);
    return { ...r, stdout, stderr };
  });
  return { child, done };
}

function nonexistentPid(): number {
  const pidMax = Number(readFileSync("/proc/sys/kernel/pid_max", "utf8").trim());
  for (let pid = pidMax - 1; pid > 1; pid--) {
    if (!existsSync(`/proc/${pid}`)) return pid;
  }
  throw new Error("no free pid found");
}

describe("native addon", () => {
  it("loads and reports sysconf values", () => {
    unwrap(nativeStatus());
    const page = sysconfPageSize();
    assert.ok(page >= 4096 && (page & (page - 1)) === 0, `page size ${page}`);
    // Cross-check against the kernel: /proc/self/smaps reports the page size of each mapping.
    const smaps = readFileSync("/proc/self/smaps", "utf8");
    const m = /^KernelPageSize:\s+(\d+) kB/m.exec(smaps);
    assert.ok(m, "KernelPageSize in smaps");
    assert.equal(page, Number(m[1]) * 1024);
    const ticks = sysconfClockTicks();
    assert.ok(Number.isInteger(ticks) && ticks > 0, `clock ticks ${ticks}`);
  });

  describe("eventfd", () => {
    it("creates a non-blocking, close-on-exec eventfd; drain sums writes and resets", () => {
      const fd = unwrap(eventfdCreate());
      try {
        assert.ok(Number.isInteger(fd) && fd >= 0);
        const flags = readFileSync(`/proc/self/fdinfo/${fd}`, "utf8");
        const octal = /^flags:\s+([0-7]+)/m.exec(flags);
        assert.ok(octal, flags);
        const f = parseInt(octal[1]!, 8);
        assert.ok(f & fsc.O_NONBLOCK, "O_NONBLOCK set");
        assert.ok(f & 0o2000000, "O_CLOEXEC set");
        assert.match(flags, /^eventfd-count:/m);

        assert.deepEqual(eventfdDrain(fd), { ok: true, value: 0 }, "unsignalled: EAGAIN reported as 0");
        eventfdWrite(fd, 3);
        eventfdWrite(fd, 4);
        assert.deepEqual(eventfdDrain(fd), { ok: true, value: 7 });
        assert.deepEqual(eventfdDrain(fd), { ok: true, value: 0 }, "counter reset by the read");
      } finally {
        closeFd(fd);
      }
    });

    it("closeFd closes the fd; later use gives EBADF as a result, not an exception", () => {
      const fd = unwrap(eventfdCreate());
      closeFd(fd);
      assert.throws(() => fstatSync(fd), { code: "EBADF" });
      assertFails(eventfdDrain(fd), "EBADF", `read(eventfd ${fd})`);
    });

    it("drain of a non-eventfd is an error result", () => {
      const fd = openSync("/dev/null", "r");
      try {
        assertFails(eventfdDrain(fd), "EIO");
      } finally {
        closeSync(fd);
      }
    });

    it("rejects bad arguments with EINVAL results", () => {
      assertFails(eventfdDrain(-1), "EINVAL");
      assertFails(eventfdDrain(1.5), "EINVAL");
      assertFails(pidfdOpen(0), "EINVAL");
      assertFails(pidfdSendSignal(0, 999), "EINVAL");
    });
  });

  describe("watchFd", () => {
    it("fires on the JS thread when an eventfd is written, and stop() ends it", async () => {
      const fd = unwrap(eventfdCreate());
      try {
        let calls = 0;
        let drained = 0;
        let wake: (() => void) | undefined;
        const watch = unwrap(
          watchFd(fd, (error) => {
            assert.equal(error, undefined);
            calls++;
            drained += unwrap(eventfdDrain(fd));
            wake?.();
          }),
        );
        assert.equal(watch.fd, fd);

        await sleep(30);
        assert.equal(calls, 0, "no callback before any write");

        const fired = new Promise<void>((resolve) => (wake = resolve));
        eventfdWrite(fd, 5);
        await withTimeout(fired, 2000, "watch callback");
        assert.equal(drained, 5);
        // Level-triggered but drained: no further calls without a new write.
        await sleep(30);
        assert.equal(calls, 1);

        const second = new Promise<void>((resolve) => (wake = resolve));
        eventfdWrite(fd, 2);
        await withTimeout(second, 2000, "second watch callback");
        assert.equal(calls, 2);
        assert.equal(drained, 7);

        watch.stop();
        watch.stop(); // idempotent
        eventfdWrite(fd, 1);
        await sleep(50);
        assert.equal(calls, 2, "no callback after stop()");
        assert.deepEqual(eventfdDrain(fd), { ok: true, value: 1 }, "nobody drained after stop()");
      } finally {
        closeFd(fd);
      }
    });

    it("stop() may be called from inside the callback", async () => {
      const fd = unwrap(eventfdCreate());
      try {
        let calls = 0;
        let wake: () => void = () => {};
        const fired = new Promise<void>((resolve) => (wake = resolve));
        const watch = unwrap(
          watchFd(fd, () => {
            calls++;
            watch.stop(); // not draining: a level-triggered watch would otherwise fire again
            wake();
          }),
        );
        eventfdWrite(fd, 1);
        await withTimeout(fired, 2000, "watch callback");
        await sleep(50);
        assert.equal(calls, 1);
      } finally {
        closeFd(fd);
      }
    });

    it("reports EEXIST for a second watch on the same fd, and allows a new watch after stop()", () => {
      const fd = unwrap(eventfdCreate());
      try {
        const first = unwrap(watchFd(fd, () => {}));
        assertFails(watchFd(fd, () => {}), "EEXIST", `fd ${fd}`);
        first.stop();
        const again = unwrap(watchFd(fd, () => {}));
        again.stop();
      } finally {
        closeFd(fd);
      }
    });

    it("closeFd stops a watch still active on the fd, so the fd number can be watched again", async () => {
      const fd = unwrap(eventfdCreate());
      let calls = 0;
      unwrap(watchFd(fd, () => calls++));
      closeFd(fd);
      assert.throws(() => fstatSync(fd), { code: "EBADF" });
      const reused = unwrap(eventfdCreate()); // lowest free number: the one just closed
      try {
        assert.equal(reused, fd);
        let wake: () => void = () => {};
        const fired = new Promise<void>((resolve) => (wake = resolve));
        const watch = unwrap(watchFd(reused, () => (unwrap(eventfdDrain(reused)), wake())));
        eventfdWrite(reused, 1);
        await withTimeout(fired, 2000, "watch on the reused fd number");
        watch.stop();
        assert.equal(calls, 0, "the old watch never fired");
      } finally {
        closeFd(reused);
      }
    });

    it("reports EBADF for a closed fd and EPERM for a regular file", () => {
      const fd = unwrap(eventfdCreate());
      closeFd(fd);
      assertFails(watchFd(fd, () => {}), "EBADF");

      const path = join(tmpdir(), `oomwarden-native-${process.pid}.txt`);
      const file = openSync(path, "w+");
      try {
        assertFails(watchFd(file, () => {}), "EPERM"); // epoll cannot watch regular files
      } finally {
        closeSync(file);
      }
    });

    it("watches a PSI trigger for POLLPRI only (it always polls readable)", async (t) => {
      let fd: number;
      try {
        fd = openSync("/proc/pressure/memory", fsc.O_RDWR | fsc.O_NONBLOCK);
        writeSync(fd, "some 150000 2000000\0");
      } catch (e) {
        t.skip(`PSI trigger unavailable: ${(e as Error).message}`);
        return;
      }
      try {
        // Without memory pressure the trigger does not fire; a readability watch would fire on
        // every loop turn (hundreds of thousands of calls in this window).
        let calls = 0;
        const watch = unwrap(watchFd(fd, () => calls++, { events: "priority" }));
        await sleep(100);
        watch.stop();
        assert.ok(calls <= 1, `${calls} callbacks without pressure`);
      } finally {
        closeSync(fd);
      }
    });

    it("keeps the process alive like a socket until stop()", async () => {
      // Stopped after 100 ms: the process must then exit on its own.
      const stopped = runNode(
        `const fd = native.eventfdCreate().value;
         const w = native.watchFd(fd, () => {});
         if (!w.ok) { console.error(w.error.message); process.exit(2); }
         setTimeout(() => { w.value.stop(); console.log("stopped"); }, 100);`,
        10_000,
      );
      // Never stopped: the process must still be running after 1 s.
      const kept = runNode(
        `const fd = native.eventfdCreate().value;
         const w = native.watchFd(fd, () => {});
         console.log(w.ok ? "watching" : w.error.message);`,
        10_000,
      );
      try {
        const s = await stopped.done;
        assert.equal(s.code, 0, s.stderr);
        assert.equal(s.stdout.trim(), "stopped");

        await sleep(1000);
        assert.equal(kept.child.exitCode, null, "an active watch keeps the loop alive");
        assert.equal(kept.child.signalCode, null);
        killChild(kept.child);
        const k = await kept.done;
        assert.equal(k.signal, "SIGKILL");
        assert.equal(k.stdout.trim(), "watching");
      } finally {
        killChild(stopped.child);
        killChild(kept.child);
      }
    });

    it("routes an exception thrown by the callback to process 'uncaughtException'", async () => {
      const run = runNode(
        `process.on("uncaughtException", (e) => { console.log("caught:" + e.message); w.value.stop(); });
         const fd = native.eventfdCreate().value;
         const w = native.watchFd(fd, () => { throw new Error("boom"); });
         const b = Buffer.alloc(8); b.writeBigUInt64LE(1n);
         (await import("node:fs")).writeSync(fd, b);`,
        10_000,
      );
      try {
        const r = await run.done;
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout.trim(), "caught:boom");
      } finally {
        killChild(run.child);
      }
    });
  });

  describe("pidfd", () => {
    it("pidfdOpen of a nonexistent pid gives ESRCH", () => {
      const pid = nonexistentPid();
      assertFails(pidfdOpen(pid), "ESRCH", `pidfd_open(${pid})`);
    });

    it("signals a child through its pidfd; a watch on the pidfd fires when it dies", async () => {
      let child: ChildProcess | undefined;
      let pidfd = -1;
      try {
        const sleeper = spawnSleeper();
        child = sleeper;
        const exit = exited(sleeper);
        pidfd = unwrap(pidfdOpen(sleeper.pid));
        assert.match(readFileSync(`/proc/self/fdinfo/${pidfd}`, "utf8"), new RegExp(`^Pid:\\s+${sleeper.pid}$`, "m"));

        let calls = 0;
        let wake: () => void = () => {};
        const died = new Promise<void>((resolve) => (wake = resolve));
        const watch = unwrap(
          watchFd(pidfd, () => {
            calls++;
            watch.stop(); // an exited process's pidfd stays readable
            wake();
          }),
        );
        await sleep(50);
        assert.equal(calls, 0, "pidfd not readable while the child runs");

        unwrap(pidfdSendSignal(pidfd, SIGKILL));
        await withTimeout(died, 5000, "pidfd readable after SIGKILL");
        assert.equal(calls, 1);
        assert.deepEqual(await withTimeout(exit, 5000, "child exit"), { code: null, signal: "SIGKILL" });

        // Reaped by node's SIGCHLD handler: the pidfd now refers to a gone process.
        await sleep(20);
        assertFails(pidfdSendSignal(pidfd, 0), "ESRCH", `pidfd_send_signal(pidfd ${pidfd}, 0)`);
      } finally {
        if (pidfd >= 0) closeFd(pidfd);
        killChild(child);
      }
    });

    it("processMrelease: EINVAL before the kill; ok (or ESRCH if already gone) after it", async () => {
      let child: ChildProcess | undefined;
      let pidfd = -1;
      try {
        // A victim with 256 MiB of touched anonymous memory, so there is something to reap.
        child = spawn(
          process.execPath,
          ["-e", "globalThis.b = Buffer.alloc(256 << 20, 1); process.stdout.write('ready'); setInterval(() => {}, 1000);"],
          { stdio: ["ignore", "pipe", "inherit"] },
        );
        const pid = child.pid;
        assert.ok(pid !== undefined, "spawn node failed");
        const exit = exited(child);
        await withTimeout(
          new Promise<void>((resolve) => child!.stdout!.once("data", () => resolve())),
          10_000,
          "victim ready",
        );
        pidfd = unwrap(pidfdOpen(pid));

        const early = processMrelease(pidfd);
        assert.ok(early instanceof Promise);
        assertFails(await early, "EINVAL", `process_mrelease(pidfd ${pidfd})`);
        assert.equal(child.exitCode, null, "mrelease without a kill does nothing to the process");

        unwrap(pidfdSendSignal(pidfd, SIGKILL));
        const r = await withTimeout(processMrelease(pidfd), 10_000, "processMrelease");
        if (r.ok) {
          assert.equal(typeof r.value.durationMs, "number");
          assert.ok(r.value.durationMs >= 0 && r.value.durationMs < 10_000, `durationMs ${r.value.durationMs}`);
        } else {
          assertFails(r, "ESRCH");
        }
        assert.equal((await withTimeout(exit, 5000, "victim exit")).signal, "SIGKILL");

        // After the reap the task is gone: ESRCH.
        await sleep(20);
        assertFails(await processMrelease(pidfd), "ESRCH");
      } finally {
        if (pidfd >= 0) closeFd(pidfd);
        killChild(child);
      }
    });

    it("processMrelease after SIGTERM: accepted at once when SIGTERM is left to its default action, EINVAL when it is caught", async () => {
      // The machine guard reaps a SIGTERMed victim at once: this is the kernel behaviour it relies on
      // (a fatal signal marks the whole process as exiting when it is sent, before the victim runs).
      for (const catches of [false, true]) {
        let child: ChildProcess | undefined;
        let pidfd = -1;
        try {
          // Python, because Node itself always catches SIGTERM (to restore the terminal before it exits).
          const handler = catches ? "signal.signal(signal.SIGTERM, lambda *_: print('caught', flush=True))\n" : "";
          const program = `import signal, sys\n${handler}b = bytearray(256 << 20)\nfor i in range(0, len(b), 4096): b[i] = 1\nprint('ready', flush=True)\nwhile True: signal.pause()\n`;
          child = spawn("python3", ["-c", program], { stdio: ["ignore", "pipe", "inherit"] });
          const pid = child.pid;
          assert.ok(pid !== undefined, "spawn node failed");
          const exit = exited(child);
          await withTimeout(new Promise<void>((resolve) => child!.stdout!.once("data", () => resolve())), 10_000, "victim ready");
          pidfd = unwrap(pidfdOpen(pid));
          unwrap(pidfdSendSignal(pidfd, SIGTERM));
          const r = await withTimeout(processMrelease(pidfd), 10_000, "processMrelease");
          if (catches) {
            assertFails(r, "EINVAL", `process_mrelease(pidfd ${pidfd})`);
            assert.equal(child.exitCode, null, "a victim that caught SIGTERM lives on");
            unwrap(pidfdSendSignal(pidfd, SIGKILL));
            assert.equal((await withTimeout(exit, 5000, "victim exit")).signal, "SIGKILL");
          } else {
            // ESRCH only if its exit had already released the mm: still accepted, never EINVAL.
            if (!r.ok) assertFails(r, "ESRCH");
            assert.equal((await withTimeout(exit, 5000, "victim exit")).signal, "SIGTERM");
          }
        } finally {
          if (pidfd >= 0) closeFd(pidfd);
          killChild(child);
        }
      }
    });

    it("processMrelease of a closed fd resolves to EBADF", async () => {
      const fd = unwrap(eventfdCreate());
      closeFd(fd);
      assertFails(await processMrelease(fd), "EBADF");
    });
  });

  describe("flock", () => {
    it("locks exclusively without waiting: a second open file is refused with EWOULDBLOCK until the first unlocks or closes", () => {
      const dir = mkdtempSync(join(tmpdir(), "oomwarden-flock-"));
      const path = join(dir, "lock");
      const first = openSync(path, "w");
      const second = openSync(path, "r");
      try {
        unwrap(flockExclusive(first));
        unwrap(flockExclusive(first)); // the holder may take it again
        assertFails(flockExclusive(second), "EWOULDBLOCK", `flock(fd ${second}, LOCK_EX|LOCK_NB)`);
        unwrap(flockUnlock(first));
        unwrap(flockExclusive(second));
        assertFails(flockExclusive(first), "EWOULDBLOCK");
        closeSync(second);
        unwrap(flockExclusive(first));
      } finally {
        closeSync(first);
        try {
          closeSync(second);
        } catch {
          // already closed above
        }
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it("locks a directory too, and a holder killed by SIGKILL leaves no lock behind", async () => {
      const dir = mkdtempSync(join(tmpdir(), "oomwarden-flock-"));
      const run = runNode(
        `const { openSync, constants } = await import("node:fs");
         const fd = openSync(${JSON.stringify(dir)}, constants.O_RDONLY | constants.O_DIRECTORY);
         const r = native.flockExclusive(fd);
         console.log(r.ok ? "locked" : r.error.message);
         setInterval(() => {}, 1000);`,
        20_000,
      );
      const mine = openSync(dir, fsc.O_RDONLY | fsc.O_DIRECTORY);
      try {
        await withTimeout(
          new Promise<void>((resolve) => run.child.stdout!.on("data", (d: Buffer) => d.toString().includes("locked") && resolve())),
          10_000,
          "the child to lock the directory",
        );
        assertFails(flockExclusive(mine), "EWOULDBLOCK");
        killChild(run.child);
        assert.equal((await run.done).signal, "SIGKILL");
        unwrap(flockExclusive(mine));
      } finally {
        closeSync(mine);
        killChild(run.child);
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it("rejects bad arguments and closed fds as results", () => {
      assertFails(flockExclusive(-1), "EINVAL");
      const fd = unwrap(eventfdCreate());
      closeFd(fd);
      assertFails(flockExclusive(fd), "EBADF", `flock(fd ${fd}, LOCK_EX|LOCK_NB)`);
    });
  });

  describe("mlockall", () => {
    it("rejects flag sets the kernel rejects", () => {
      assertFails(mlockall({ current: false, future: false, onFault: false }), "EINVAL", "mlockall(0)");
      assertFails(mlockall({ current: false, future: false, onFault: true }), "EINVAL", "mlockall(MCL_ONFAULT)");
      assert.deepEqual(munlockall(), { ok: true, value: undefined }, "munlockall with nothing locked");
    });

    it("locks on fault and unlocks (in a separate process, so the test runner stays unlocked)", async () => {
      // Also exits naturally after munlockall: V8 aborts on teardown if memory is still locked.
      const run = runNode(
        `const { readFileSync } = await import("node:fs");
         const kb = (k) => Number(new RegExp("^" + k + ":\\\\s+(\\\\d+) kB", "m").exec(readFileSync("/proc/self/status", "utf8"))[1]);
         const rssBefore = kb("VmRSS");
         const r = native.mlockall({ current: true, future: true, onFault: true });
         const lockedKb = kb("VmLck"), rssAfter = kb("VmRSS");
         const u = native.munlockall();
         console.log(JSON.stringify({ r, u, lockedKb, rssBefore, rssAfter, lockedAfterUnlock: kb("VmLck") }));`,
        20_000,
      );
      try {
        const out = await run.done;
        assert.equal(out.code, 0, out.stderr);
        const res = JSON.parse(out.stdout) as {
          r: Result<void>;
          u: Result<void>;
          lockedKb: number;
          rssBefore: number;
          rssAfter: number;
          lockedAfterUnlock: number;
        };
        assert.equal(typeof res.r.ok, "boolean");
        if (res.r.ok) {
          assert.equal(res.r.value, undefined);
          // VmLck counts whole locked mappings (hundreds of MB of reserved V8 heap)...
          assert.ok(res.lockedKb > res.rssAfter, `VmLck ${res.lockedKb} kB, VmRSS ${res.rssAfter} kB`);
          // ...but MCL_ONFAULT faults nothing in: RSS stays put (MCL_CURRENT alone adds ~100 MB).
          assert.ok(res.rssAfter - res.rssBefore < 32 * 1024, `RSS ${res.rssBefore} -> ${res.rssAfter} kB`);
        } else {
          assert.ok(["EPERM", "ENOMEM"].includes(res.r.error.code), `${res.r.error.code}: ${res.r.error.message}`);
          assert.match(res.r.error.message, /^mlockall\(MCL_CURRENT\|MCL_FUTURE\|MCL_ONFAULT\): /);
        }
        assert.deepEqual(res.u, { ok: true });
        assert.equal(res.lockedAfterUnlock, 0);
      } finally {
        killChild(run.child);
      }
    });
  });
});
