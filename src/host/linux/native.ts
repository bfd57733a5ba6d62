// Typed access to the oomwarden_native addon (native/oomwarden_native.c): eventfd, fd readiness
// on the main libuv loop, pidfd, process_mrelease, mlockall, mlock2 of one range, sysconf, flock,
// lgetxattr.
//
// Errors come back as Result values, never exceptions; errno is captured and EINTR retried in C.
// The addon is loaded lazily on first use, so importing this module never throws: if the build is
// missing, Result-returning calls fail with code "NATIVE_UNAVAILABLE" (see nativeStatus()).

import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import { fail, ok, type HostError, type Result } from "../../core/result.js";

/** Called on the JS thread whenever the fd is readable. `error` is set only if libuv reports a
 * poll error; the watch is then inactive and should be stopped. */
export type FdWatchCallback = (error?: HostError) => void;

export interface FdWatch {
  readonly fd: number;
  /** Stops watching and releases the event loop. Idempotent. Stop before closing the fd. */
  stop(): void;
}

export interface WatchFdOptions {
  /** "readable" (default): eventfd, pidfd. "priority": POLLPRI only, for PSI trigger fds, which
   * always poll as readable (watching readability on them would fire on every loop turn). */
  events?: "readable" | "priority";
}

export interface MlockallFlags {
  /** MCL_CURRENT: lock pages mapped now. */
  current: boolean;
  /** MCL_FUTURE: lock pages mapped later. */
  future: boolean;
  /** MCL_ONFAULT: lock pages only once touched (keeps RSS at the working set). Needs current or future. */
  onFault: boolean;
}

// What the C side exports. Kept private: the wrapper below adds the FdWatch object and the
// fallback when the addon is missing.
interface NativeBinding {
  eventfdCreate(): Result<number>;
  eventfdDrain(fd: number): Result<number>;
  watchFd(fd: number, callback: FdWatchCallback, priority: boolean): Result<unknown>;
  watchStop(handle: unknown): void;
  pidfdOpen(pid: number): Result<number>;
  pidfdSendSignal(pidfd: number, signal: number): Result<void>;
  processMrelease(pidfd: number): Promise<Result<{ durationMs: number }>>;
  mlockall(current: boolean, future: boolean, onFault: boolean): Result<void>;
  munlockall(): Result<void>;
  mlockRange(address: number, lengthBytes: number, onFault: boolean): Result<void>;
  munlockRange(address: number, lengthBytes: number): Result<void>;
  lgetxattr(path: string, name: string): Result<string | null>;
  sysconfPageSize(): number;
  sysconfClockTicks(): number;
  closeFd(fd: number): void;
  flock(fd: number, exclusive: boolean): Result<void>;
}

const ADDON_RELATIVE = join("build", "Release", "oomwarden_native.node");

/** The package root is the nearest ancestor holding binding.gyp. Walking up (rather than a fixed
 * "../../../..") works both for dist/src/host/linux/native.js and for the .ts source. */
function findPackageRoot(): string | null {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, "binding.gyp"))) return dir;
    const parent = dirname(dir);
    if (parent === dir) return null;
    dir = parent;
  }
}

let binding: NativeBinding | null = null;
let loadError: HostError | null = null;

function load(): NativeBinding | null {
  if (binding || loadError) return binding;
  const root = findPackageRoot();
  if (!root) {
    loadError = {
      code: "NATIVE_UNAVAILABLE",
      message: `cannot find the oomwarden package root (binding.gyp) above ${fileURLToPath(import.meta.url)}`,
    };
    return null;
  }
  const path = join(root, ADDON_RELATIVE);
  try {
    binding = createRequire(import.meta.url)(path) as NativeBinding;
  } catch (e) {
    loadError = {
      code: "NATIVE_UNAVAILABLE",
      message: `cannot load ${path} (run "npm run install" to build it): ${(e as Error).message}`,
    };
  }
  return binding;
}

function unavailable<T>(): Result<T> {
  load();
  return fail(loadError?.code ?? "NATIVE_UNAVAILABLE", loadError?.message ?? "native addon not loaded");
}

/** ok if the addon loads; otherwise the reason. Check once at startup to report a broken install. */
export function nativeStatus(): Result<void> {
  return load() ? ok(undefined) : unavailable();
}

/** eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC). */
export function eventfdCreate(): Result<number> {
  const b = load();
  return b ? b.eventfdCreate() : unavailable();
}

/** Reads and resets the eventfd counter; 0 if it was not signalled (EAGAIN). */
export function eventfdDrain(fd: number): Result<number> {
  const b = load();
  return b ? b.eventfdDrain(fd) : unavailable();
}

// Watches by fd, so closeFd can stop a forgotten one first. Closing a watched fd behind libuv's
// back leaves a stale entry in its fd table: every later watchFd on that fd number would fail with
// EEXIST, and the closed fd's epoll registration is gone without the handle knowing.
const activeWatches = new Map<number, FdWatch>();

/**
 * Calls `callback` on the JS thread each time `fd` is readable (uv_poll on the main loop: no thread,
 * no polling). Level-triggered: drain an eventfd in the callback, and stop a pidfd watch once it
 * fires (an exited process's pidfd stays readable). An active watch keeps the process alive, like
 * a socket; stop() releases it. One watch per fd (a second gives EEXIST). libuv sets O_NONBLOCK on
 * the fd. An exception thrown by the callback goes to process 'uncaughtException'. Stop the watch
 * before closing the fd (closeFd does it for you).
 */
export function watchFd(fd: number, callback: FdWatchCallback, options: WatchFdOptions = {}): Result<FdWatch> {
  const b = load();
  if (!b) return unavailable();
  const r = b.watchFd(fd, callback, options.events === "priority");
  if (!r.ok) return r;
  const handle = r.value;
  let stopped = false;
  const watch: FdWatch = {
    fd,
    stop(): void {
      if (stopped) return;
      stopped = true;
      if (activeWatches.get(fd) === watch) activeWatches.delete(fd);
      b.watchStop(handle);
    },
  };
  activeWatches.set(fd, watch);
  return ok(watch);
}

/** pidfd_open(pid, 0). The fd has O_CLOEXEC. */
export function pidfdOpen(pid: number): Result<number> {
  const b = load();
  return b ? b.pidfdOpen(pid) : unavailable();
}

/** pidfd_send_signal(pidfd, signal, NULL, 0). */
export function pidfdSendSignal(pidfd: number, signal: number): Result<void> {
  const b = load();
  return b ? b.pidfdSendSignal(pidfd, signal) : unavailable();
}

/**
 * process_mrelease(pidfd, 0) on the libuv threadpool (it blocks ~40-70 ms/GiB). Send a fatal signal
 * first (SIGKILL, or a SIGTERM the process leaves to its default action), else EINVAL. ESRCH means
 * there is no mm left to reap: the victim is reaped, or is already freeing its memory itself, which
 * can still take tens of ms (measured: ESRCH 4-18 ms after SIGKILL for a 1 GiB victim whose exit
 * completed ~50-60 ms after it). Confirm recovery from the cgroup's usage, not from ESRCH. durationMs is measured in C around the syscall (CLOCK_MONOTONIC). Keep the pidfd
 * open until the promise settles.
 */
export function processMrelease(pidfd: number): Promise<Result<{ durationMs: number }>> {
  const b = load();
  return b ? b.processMrelease(pidfd) : Promise.resolve(unavailable());
}

/**
 * mlockall with MCL_CURRENT / MCL_FUTURE / MCL_ONFAULT. EPERM or ENOMEM without CAP_IPC_LOCK or
 * enough RLIMIT_MEMLOCK.
 *
 * Caution (measured on Node 20.20, Linux 6.18): Linux refuses madvise(MADV_DONTNEED) on locked
 * mappings (EINVAL), and V8 treats that failure as fatal (SIGTRAP, exit code 133). It always happens
 * when the isolate is torn down on a natural exit (process.exit() skips the teardown), and it can
 * happen at run time when V8 recycles code-space pages (reproduced with MCL_CURRENT under heavy
 * JIT churn). Call munlockall() before letting the process end.
 */
export function mlockall(flags: MlockallFlags): Result<void> {
  const b = load();
  return b ? b.mlockall(flags.current, flags.future, flags.onFault) : unavailable();
}

/** munlockall(): releases every lock taken by mlockall (see the caution there). */
export function munlockall(): Result<void> {
  const b = load();
  return b ? b.munlockall() : unavailable();
}

/**
 * mlock2(address, lengthBytes, onFault ? MLOCK_ONFAULT : 0) on one range (plain mlock where the
 * kernel predates mlock2). onFault locks the pages resident now, and the rest as they are first
 * touched; without it every page of the range is read in at once. The whole length counts against
 * RLIMIT_MEMLOCK either way: ENOMEM past it, EPERM when it is 0 (CAP_IPC_LOCK lifts both). Only for
 * file-backed mappings: see the caution at mlockall for what locked anonymous memory does to V8.
 */
export function mlockRange(address: number, lengthBytes: number, options: { onFault: boolean }): Result<void> {
  const b = load();
  return b ? b.mlockRange(address, lengthBytes, options.onFault) : unavailable();
}

/** munlock(address, lengthBytes). */
export function munlockRange(address: number, lengthBytes: number): Result<void> {
  const b = load();
  return b ? b.munlockRange(address, lengthBytes) : unavailable();
}

/**
 * lgetxattr(path, name): the value as text, null when it is not set (ENODATA). Other failures keep
 * their code: ENOTSUP (no such namespace on this filesystem), ENOENT, EACCES, ERANGE (over 4 KiB).
 * A symbolic link at path is read itself, not followed.
 */
export function lgetxattr(path: string, name: string): Result<string | null> {
  const b = load();
  return b ? b.lgetxattr(path, name) : unavailable();
}

function required(): NativeBinding {
  const b = load();
  if (!b) throw new Error(loadError?.message ?? "native addon not loaded");
  return b;
}

/** sysconf(_SC_PAGESIZE). Throws only if the addon is missing (check nativeStatus() at startup). */
export function sysconfPageSize(): number {
  return required().sysconfPageSize();
}

/** sysconf(_SC_CLK_TCK): the unit of /proc/PID/stat times. Throws only if the addon is missing. */
export function sysconfClockTicks(): number {
  return required().sysconfClockTicks();
}

/** close(fd), errors ignored (not retried on EINTR: Linux releases the fd anyway). Stops a watch
 * still active on the fd first; if you close a watched fd another way, stop its watch before. */
export function closeFd(fd: number): void {
  activeWatches.get(fd)?.stop();
  load()?.closeFd(fd);
}

/**
 * flock(fd, LOCK_EX | LOCK_NB): never waits. Held through another open file description (another
 * process, or another open() of the same file in this one): code "EWOULDBLOCK". The lock lives as
 * long as the open file: closing the fd releases it, and so does the holder's death, SIGKILL
 * included, so no lock outlives its process. Works on directories too (kernfs, tmpfs, ext4).
 */
export function flockExclusive(fd: number): Result<void> {
  const b = load();
  return b ? b.flock(fd, true) : unavailable();
}

/** flock(fd, LOCK_UN): gives the lock back without closing the fd. */
export function flockUnlock(fd: number): Result<void> {
  const b = load();
  return b ? b.flock(fd, false) : unavailable();
}
