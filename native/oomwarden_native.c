/*
 * oomwarden_native: the few Linux syscalls the daemon needs that Node does not expose.
 *
 * Conventions (shared with src/host/linux/native.ts):
 *  - Every fallible call returns a result object, never throws:
 *      { ok: true, value }  or  { ok: false, error: { code: "ESRCH", message: "pidfd_open(1234): No such process" } }
 *  - errno is copied into a local right after the syscall, before anything else can clobber it.
 *  - EINTR is retried here, so callers never see it.
 *  - Bad arguments give EINVAL results too. Only N-API internal failures, and watchStop given
 *    something other than a watch handle, throw.
 *
 * Syscall numbers. These three are in the kernel's generic syscall table, so x86_64 and aarch64
 * use the same numbers:
 *    pidfd_send_signal = 424   (Linux 5.1)
 *    pidfd_open        = 434   (Linux 5.3)
 *    process_mrelease  = 448   (Linux 5.15)
 * The libc SYS_ macros are used when the headers are new enough to define them.
 *
 * flock(2) is here because Node has no way to take an advisory lock: oomwarden uses it to be the
 * only daemon on a state directory and on a cgroup, and the kernel drops it when the holder dies.
 * mlock2(2) keeps the daemon's own code resident (src/host/linux/resident-code.ts), and lgetxattr(2)
 * reads the preferences oomd and systemd-oomd users set on cgroups (cgroup-preference.ts).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <node_api.h>
#include <uv.h>

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#ifdef SYS_pidfd_send_signal
#define NR_PIDFD_SEND_SIGNAL SYS_pidfd_send_signal
#else
#define NR_PIDFD_SEND_SIGNAL 424
#endif

#ifdef SYS_pidfd_open
#define NR_PIDFD_OPEN SYS_pidfd_open
#else
#define NR_PIDFD_OPEN 434
#endif

#ifdef SYS_process_mrelease
#define NR_PROCESS_MRELEASE SYS_process_mrelease
#else
#define NR_PROCESS_MRELEASE 448
#endif

#ifndef MCL_ONFAULT
#define MCL_ONFAULT 4 /* Linux 4.4; older libc headers lack it */
#endif

#ifndef MLOCK_ONFAULT
#define MLOCK_ONFAULT 1 /* mlock2 flag, Linux 4.4 */
#endif

/* mlock2 is in glibc only since 2.27: call it by number (x86_64 325, aarch64 284). */
#ifdef SYS_mlock2
#define NR_MLOCK2 SYS_mlock2
#elif defined(__x86_64__)
#define NR_MLOCK2 325
#elif defined(__aarch64__)
#define NR_MLOCK2 284
#endif

/* ------------------------------------------------------------------------------------------ */
/* N-API plumbing                                                                             */
/* ------------------------------------------------------------------------------------------ */

/* N-API calls only fail on internal errors (out of memory, wrong handle types). Surface them as
 * a JS exception rather than building a result, since no caller could act on them. */
#define NAPI_CALL(env, call)                                                     \
  do {                                                                           \
    if ((call) != napi_ok) {                                                     \
      throw_last_napi_error(env, #call);                                         \
      return NULL;                                                               \
    }                                                                            \
  } while (0)

static void throw_last_napi_error(napi_env env, const char *what) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) return;
  const napi_extended_error_info *info = NULL;
  napi_get_last_error_info(env, &info);
  char msg[256];
  snprintf(msg, sizeof msg, "oomwarden_native: %s failed: %s", what,
           info && info->error_message ? info->error_message : "unknown N-API error");
  napi_throw_error(env, NULL, msg);
}

/* "ESRCH" for ESRCH. glibc >= 2.32 knows every name; elsewhere cover the ones we expect. */
static const char *errno_name(int err) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
  const char *name = strerrorname_np(err);
  if (name) return name;
#endif
  switch (err) {
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case ESRCH: return "ESRCH";
    case EINTR: return "EINTR";
    case EIO: return "EIO";
    case EBADF: return "EBADF";
    case EAGAIN: return "EAGAIN";
    case ENOMEM: return "ENOMEM";
    case EACCES: return "EACCES";
    case EFAULT: return "EFAULT";
    case EBUSY: return "EBUSY";
    case EEXIST: return "EEXIST";
    case EINVAL: return "EINVAL";
    case EMFILE: return "EMFILE";
    case ENFILE: return "ENFILE";
    case ENOSYS: return "ENOSYS";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case ECANCELED: return "ECANCELED";
    case ENODATA: return "ENODATA";
    case ERANGE: return "ERANGE";
    default: return "EUNKNOWN";
  }
}

static napi_value make_string(napi_env env, const char *s) {
  napi_value v;
  NAPI_CALL(env, napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &v));
  return v;
}

/* { code, message } — the HostError shape. */
static napi_value make_error(napi_env env, const char *code, const char *message) {
  napi_value err, v;
  NAPI_CALL(env, napi_create_object(env, &err));
  if (!(v = make_string(env, code))) return NULL;
  NAPI_CALL(env, napi_set_named_property(env, err, "code", v));
  if (!(v = make_string(env, message))) return NULL;
  NAPI_CALL(env, napi_set_named_property(env, err, "message", v));
  return err;
}

/* { ok: true, value }; value NULL means undefined (Result<void>). */
static napi_value result_ok(napi_env env, napi_value value) {
  napi_value res, flag;
  NAPI_CALL(env, napi_create_object(env, &res));
  NAPI_CALL(env, napi_get_boolean(env, true, &flag));
  NAPI_CALL(env, napi_set_named_property(env, res, "ok", flag));
  if (!value) NAPI_CALL(env, napi_get_undefined(env, &value));
  NAPI_CALL(env, napi_set_named_property(env, res, "value", value));
  return res;
}

static napi_value result_ok_number(napi_env env, double n) {
  napi_value v;
  NAPI_CALL(env, napi_create_double(env, n, &v));
  return result_ok(env, v);
}

static napi_value result_fail(napi_env env, const char *code, const char *message) {
  napi_value res, flag, err;
  NAPI_CALL(env, napi_create_object(env, &res));
  NAPI_CALL(env, napi_get_boolean(env, false, &flag));
  NAPI_CALL(env, napi_set_named_property(env, res, "ok", flag));
  if (!(err = make_error(env, code, message))) return NULL;
  NAPI_CALL(env, napi_set_named_property(env, res, "error", err));
  return res;
}

/* Failure named `code`, message "<what>: <reason>" with <what> formatted from fmt. */
static napi_value result_vfail(napi_env env, const char *code, const char *reason, const char *fmt, va_list ap) {
  char what[160], msg[320];
  vsnprintf(what, sizeof what, fmt, ap);
  snprintf(msg, sizeof msg, "%s: %s", what, reason);
  return result_fail(env, code, msg);
}

/* Failure from an errno value: message is "<what>: <strerror>", e.g. "pidfd_open(1234): No such process".
 * Only called on the JS thread, so the non-reentrant strerror() is fine. */
static napi_value result_errno(napi_env env, int err, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  napi_value res = result_vfail(env, errno_name(err), strerror(err), fmt, ap);
  va_end(ap);
  return res;
}

/* Failure from a libuv error (negative UV_E* value); uv_err_name gives "EEXIST", "EBADF", ... */
static napi_value result_uv(napi_env env, int uverr, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  napi_value res = result_vfail(env, uv_err_name(uverr), uv_strerror(uverr), fmt, ap);
  va_end(ap);
  return res;
}

/* Integer argument in [min, max]. Rejects non-numbers, NaN and fractions instead of truncating. */
static bool get_int(napi_env env, napi_value v, int64_t min, int64_t max, int64_t *out) {
  napi_valuetype t;
  double d;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_number) return false;
  if (napi_get_value_double(env, v, &d) != napi_ok) return false;
  if (!(d >= (double)min && d <= (double)max) || d != (double)(int64_t)d) return false;
  *out = (int64_t)d;
  return true;
}

static bool get_bool(napi_env env, napi_value v, bool *out) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return false;
  if (t == napi_undefined) { *out = false; return true; }
  return t == napi_boolean && napi_get_value_bool(env, v, out) == napi_ok;
}

#define ARGS(n)                                                                  \
  size_t argc = (n);                                                             \
  napi_value argv[(n) > 0 ? (n) : 1];                                            \
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL))

#define FD_ARG(i, name, var)                                                     \
  int64_t var;                                                                   \
  if (!get_int(env, argv[i], 0, INT32_MAX, &var))                                \
    return result_fail(env, "EINVAL", name ": argument " #i " must be a non-negative integer fd")

/* ------------------------------------------------------------------------------------------ */
/* eventfd                                                                                    */
/* ------------------------------------------------------------------------------------------ */

static napi_value js_eventfd_create(napi_env env, napi_callback_info info) {
  int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  int err = errno;
  if (fd < 0) return result_errno(env, err, "eventfd()");
  return result_ok_number(env, fd);
}

/* Reads (and so resets) the 64-bit counter. The fd is non-blocking: an unsignalled eventfd gives
 * EAGAIN, reported as 0 so a spurious wake-up is not an error. */
static napi_value js_eventfd_drain(napi_env env, napi_callback_info info) {
  ARGS(1);
  FD_ARG(0, "eventfdDrain", fd);
  uint64_t counter = 0;
  ssize_t n;
  int err;
  do {
    n = read((int)fd, &counter, sizeof counter);
    err = errno;
  } while (n < 0 && err == EINTR);
  if (n < 0) {
    if (err == EAGAIN || err == EWOULDBLOCK) return result_ok_number(env, 0);
    return result_errno(env, err, "read(eventfd %d)", (int)fd);
  }
  if (n != (ssize_t)sizeof counter) return result_fail(env, "EIO", "read(eventfd): short read; is the fd an eventfd?");
  /* Counts above 2^53 lose precision as a JS number; a notification counter never gets there. */
  return result_ok_number(env, (double)counter);
}

/* ------------------------------------------------------------------------------------------ */
/* watchFd: readiness callbacks from the main libuv loop                                      */
/* ------------------------------------------------------------------------------------------ */
/*
 * Why uv_poll_t and not a thread: the fd is added to the epoll set libuv already waits on, so a
 * notification costs one callback on the JS thread, with no extra thread and no polling interval.
 * A blocking poll()/read() in napi_async_work would pin one of libuv's 4 threadpool threads per
 * watch (starving fs and dns work, and process_mrelease below).
 *
 * Like a socket, an active watch keeps the event loop alive; stop() releases it.
 * epoll is level-triggered here: the callback repeats on every loop turn while the fd stays
 * readable, so the JS side must drain an eventfd, and stop a pidfd watch once it has fired
 * (an exited process's pidfd stays readable forever).
 *
 * Lifetime: the struct is shared by the uv handle (until its close callback) and the JS external
 * returned to the wrapper (until it is garbage-collected). It is freed when both are gone, so a
 * stop() after close, or a late finalizer, never touches freed memory.
 */
typedef struct {
  uv_poll_t poll;
  napi_env env;
  napi_ref callback;
  napi_async_context async_ctx; /* so async_hooks / AsyncLocalStorage see the callbacks */
  napi_async_cleanup_hook_handle cleanup_hook;
  int fd;
  int refs;
  bool closing;
} fd_watch;

static void watch_release(fd_watch *w) {
  if (--w->refs == 0) free(w);
}

static void watch_on_close(uv_handle_t *handle) {
  fd_watch *w = (fd_watch *)handle->data;
  if (w->callback) napi_delete_reference(w->env, w->callback);
  if (w->async_ctx) napi_async_destroy(w->env, w->async_ctx);
  /* Also acknowledges the hook if it was the environment teardown that closed us. */
  if (w->cleanup_hook) napi_remove_async_cleanup_hook(w->cleanup_hook);
  w->callback = NULL;
  w->async_ctx = NULL;
  w->cleanup_hook = NULL;
  watch_release(w);
}

static void watch_begin_close(fd_watch *w) {
  if (w->closing) return;
  w->closing = true;
  uv_poll_stop(&w->poll);
  uv_close((uv_handle_t *)&w->poll, watch_on_close);
}

/* Environment teardown (process exit, worker termination): close the handle so the loop can
 * finish. The hook is removed in watch_on_close, which tells Node we are done. */
static void watch_on_env_cleanup(napi_async_cleanup_hook_handle handle, void *arg) {
  watch_begin_close((fd_watch *)arg);
}

static void watch_on_finalize(napi_env env, void *data, void *hint) {
  watch_release((fd_watch *)data);
}

static void watch_on_poll(uv_poll_t *handle, int status, int events) {
  fd_watch *w = (fd_watch *)handle->data;
  napi_env env = w->env;
  napi_handle_scope scope;
  napi_value cb, recv, argv[1];
  size_t argc = 0;

  if (w->closing) return;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  /* napi_make_callback needs an object receiver (undefined fails ToObject): use globalThis. */
  if (napi_get_reference_value(env, w->callback, &cb) != napi_ok || !cb || napi_get_global(env, &recv) != napi_ok)
    goto out;
  if (status < 0) {
    /* libuv stops the handle after an error (e.g. POLLERR); tell JS, which should stop() it. */
    char msg[160];
    snprintf(msg, sizeof msg, "poll(fd %d): %s", w->fd, uv_strerror(status));
    if (!(argv[0] = make_error(env, uv_err_name(status), msg))) goto out;
    argc = 1;
  }
  /* napi_make_callback (not napi_call_function) so process.nextTick and promise jobs queued by
   * the callback run right after it, as for any other I/O callback. The callback may call
   * stop(); w stays allocated until watch_on_close, which libuv defers to a later phase. */
  if (napi_make_callback(env, w->async_ctx, recv, cb, argc, argv, NULL) == napi_pending_exception) {
    /* No JS frame to propagate to: route it to process 'uncaughtException' like other callbacks. */
    napi_value exc;
    if (napi_get_and_clear_last_exception(env, &exc) == napi_ok) napi_fatal_exception(env, exc);
  }
out:
  napi_close_handle_scope(env, scope);
}

/* watchFd(fd, callback, priority) -> Result<external>; priority: watch POLLPRI instead of readability. */
static napi_value js_watch_fd(napi_env env, napi_callback_info info) {
  ARGS(3);
  FD_ARG(0, "watchFd", fd);
  napi_valuetype t;
  NAPI_CALL(env, napi_typeof(env, argv[1], &t));
  if (t != napi_function) return result_fail(env, "EINVAL", "watchFd: argument 1 must be a function");
  bool priority = false;
  if (!get_bool(env, argv[2], &priority)) return result_fail(env, "EINVAL", "watchFd: argument 2 must be a boolean");

  uv_loop_t *loop;
  NAPI_CALL(env, napi_get_uv_event_loop(env, &loop));

  fd_watch *w = calloc(1, sizeof *w);
  if (!w) return result_errno(env, ENOMEM, "watchFd(fd %d)", (int)fd);
  w->env = env;
  w->fd = (int)fd;

  /* Fails with EEXIST if this loop already watches the fd, EBADF for a closed fd, EPERM for a
   * regular file. Note: it also sets O_NONBLOCK on the fd (harmless for eventfd and pidfd). */
  int rc = uv_poll_init(loop, &w->poll, (int)fd);
  if (rc != 0) {
    free(w); /* the handle was not registered with the loop */
    return result_uv(env, rc, "watchFd(fd %d)", (int)fd);
  }
  w->poll.data = w;
  w->refs = 1; /* the uv handle's share */

  /* From here on, every failure goes through watch_begin_close, which frees what was set up. */
  napi_value name, external, res;
  if (napi_create_reference(env, argv[1], 1, &w->callback) != napi_ok ||
      napi_create_string_utf8(env, "oomwarden.FdWatch", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_async_init(env, NULL, name, &w->async_ctx) != napi_ok ||
      napi_add_async_cleanup_hook(env, watch_on_env_cleanup, w, &w->cleanup_hook) != napi_ok) {
    watch_begin_close(w);
    throw_last_napi_error(env, "watchFd setup");
    return NULL;
  }

  /* eventfd and pidfd signal readability. PSI triggers signal POLLPRI, and must be watched for
   * POLLPRI alone: they always poll as readable, so adding UV_READABLE would fire on every loop turn. */
  rc = uv_poll_start(&w->poll, priority ? UV_PRIORITIZED : UV_READABLE, watch_on_poll);
  if (rc != 0) {
    watch_begin_close(w);
    return result_uv(env, rc, "watchFd(fd %d)", (int)fd);
  }

  if (napi_create_external(env, w, watch_on_finalize, NULL, &external) != napi_ok) {
    watch_begin_close(w);
    throw_last_napi_error(env, "napi_create_external");
    return NULL;
  }
  w->refs++; /* the external's share */
  if (!(res = result_ok(env, external))) watch_begin_close(w);
  return res;
}

/* watchStop(external): idempotent. */
static napi_value js_watch_stop(napi_env env, napi_callback_info info) {
  ARGS(1);
  napi_valuetype t;
  void *data = NULL;
  NAPI_CALL(env, napi_typeof(env, argv[0], &t));
  if (t != napi_external) {
    napi_throw_type_error(env, NULL, "watchStop: argument must be a watch handle");
    return NULL;
  }
  NAPI_CALL(env, napi_get_value_external(env, argv[0], &data));
  watch_begin_close((fd_watch *)data);
  return NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* pidfd                                                                                      */
/* ------------------------------------------------------------------------------------------ */

/* The pidfd always has O_CLOEXEC. It pins the process identity: signals sent through it cannot
 * hit a different process that reused the pid. */
static napi_value js_pidfd_open(napi_env env, napi_callback_info info) {
  ARGS(1);
  int64_t pid;
  if (!get_int(env, argv[0], 1, INT32_MAX, &pid))
    return result_fail(env, "EINVAL", "pidfdOpen: argument 0 must be a positive integer pid");
  long fd;
  int err;
  do {
    fd = syscall(NR_PIDFD_OPEN, (int)pid, 0);
    err = errno;
  } while (fd < 0 && err == EINTR);
  if (fd < 0) return result_errno(env, err, "pidfd_open(%d)", (int)pid);
  return result_ok_number(env, (double)fd);
}

static napi_value js_pidfd_send_signal(napi_env env, napi_callback_info info) {
  ARGS(2);
  FD_ARG(0, "pidfdSendSignal", pidfd);
  int64_t sig;
  if (!get_int(env, argv[1], 0, 64, &sig))
    return result_fail(env, "EINVAL", "pidfdSendSignal: argument 1 must be a signal number");
  long r;
  int err;
  do {
    r = syscall(NR_PIDFD_SEND_SIGNAL, (int)pidfd, (int)sig, NULL, 0);
    err = errno;
  } while (r < 0 && err == EINTR);
  if (r < 0) return result_errno(env, err, "pidfd_send_signal(pidfd %d, %d)", (int)pidfd, (int)sig);
  return result_ok(env, NULL);
}

/* ------------------------------------------------------------------------------------------ */
/* process_mrelease, off the JS thread                                                        */
/* ------------------------------------------------------------------------------------------ */
/*
 * process_mrelease reaps a killed process's address space in the caller's context, which takes
 * ~40-70 ms per GiB and blocks. On the JS thread that would stall every other event (including
 * the next OOM notification), so it runs in napi_async_work on libuv's threadpool. The caller
 * must keep the pidfd open until the promise settles.
 */
typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  int pidfd;
  int err;
  double duration_ms;
} mrelease_job;

static void mrelease_execute(napi_env env, void *data) {
  /* Threadpool thread: no N-API calls allowed here. */
  mrelease_job *job = data;
  struct timespec t0, t1;
  long r;
  int err = 0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  do {
    r = syscall(NR_PROCESS_MRELEASE, job->pidfd, 0);
    err = r < 0 ? errno : 0;
  } while (r < 0 && err == EINTR);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  job->err = err;
  job->duration_ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
}

static napi_value mrelease_result(napi_env env, mrelease_job *job, napi_status status) {
  if (status == napi_cancelled) return result_errno(env, ECANCELED, "process_mrelease(pidfd %d)", job->pidfd);
  /* ESRCH stays an error code. It means the task no longer has an mm: the victim is already
   * tearing down its own memory (which can still take tens of ms) or is reaped. Nothing to do. */
  if (job->err) return result_errno(env, job->err, "process_mrelease(pidfd %d)", job->pidfd);
  napi_value value, ms;
  NAPI_CALL(env, napi_create_object(env, &value));
  NAPI_CALL(env, napi_create_double(env, job->duration_ms, &ms));
  NAPI_CALL(env, napi_set_named_property(env, value, "durationMs", ms));
  return result_ok(env, value);
}

static void mrelease_complete(napi_env env, napi_status status, void *data) {
  mrelease_job *job = data;
  napi_value res = mrelease_result(env, job, status);
  if (res) {
    napi_resolve_deferred(env, job->deferred, res);
  } else {
    napi_value exc = NULL;
    napi_get_and_clear_last_exception(env, &exc);
    if (!exc) napi_get_undefined(env, &exc);
    napi_reject_deferred(env, job->deferred, exc);
  }
  napi_delete_async_work(env, job->work);
  free(job);
}

static napi_value js_process_mrelease(napi_env env, napi_callback_info info) {
  ARGS(1);
  napi_value promise, name, res;
  napi_deferred deferred;
  NAPI_CALL(env, napi_create_promise(env, &deferred, &promise));

  int64_t pidfd;
  if (!get_int(env, argv[0], 0, INT32_MAX, &pidfd)) {
    res = result_fail(env, "EINVAL", "processMrelease: argument 0 must be a non-negative integer pidfd");
    if (res) napi_resolve_deferred(env, deferred, res);
    return promise;
  }
  mrelease_job *job = calloc(1, sizeof *job);
  if (!job) {
    res = result_errno(env, ENOMEM, "process_mrelease(pidfd %d)", (int)pidfd);
    if (res) napi_resolve_deferred(env, deferred, res);
    return promise;
  }
  job->deferred = deferred;
  job->pidfd = (int)pidfd;
  NAPI_CALL(env, napi_create_string_utf8(env, "oomwarden.processMrelease", NAPI_AUTO_LENGTH, &name));
  NAPI_CALL(env, napi_create_async_work(env, NULL, name, mrelease_execute, mrelease_complete, job, &job->work));
  if (napi_queue_async_work(env, job->work) != napi_ok) {
    napi_delete_async_work(env, job->work);
    free(job);
    res = result_fail(env, "EAGAIN", "process_mrelease: could not queue work on the libuv threadpool");
    if (res) napi_resolve_deferred(env, deferred, res);
  }
  return promise;
}

/* ------------------------------------------------------------------------------------------ */
/* flock                                                                                      */
/* ------------------------------------------------------------------------------------------ */

/* flock(fd, exclusive ? LOCK_EX | LOCK_NB : LOCK_UN). Never waits: a lock held through another
 * open file description is the EWOULDBLOCK result (named so, not EAGAIN, the same number on Linux),
 * so the caller can tell "someone has it" from a real failure. The lock belongs to the open file
 * description, and the kernel releases it when the last fd to it closes, also when the holder is
 * killed by SIGKILL: a dead holder never leaves a stale lock. */
static napi_value js_flock(napi_env env, napi_callback_info info) {
  ARGS(2);
  FD_ARG(0, "flock", fd);
  bool exclusive = false;
  if (!get_bool(env, argv[1], &exclusive)) return result_fail(env, "EINVAL", "flock: argument 1 must be a boolean");
  const char *what = exclusive ? "LOCK_EX|LOCK_NB" : "LOCK_UN";
  int r, err;
  do {
    r = flock((int)fd, exclusive ? LOCK_EX | LOCK_NB : LOCK_UN);
    err = errno;
  } while (r < 0 && err == EINTR);
  if (r < 0 && err == EWOULDBLOCK) {
    char msg[160];
    snprintf(msg, sizeof msg, "flock(fd %d, %s): held through another open file", (int)fd, what);
    return result_fail(env, "EWOULDBLOCK", msg);
  }
  if (r < 0) return result_errno(env, err, "flock(fd %d, %s)", (int)fd, what);
  return result_ok(env, NULL);
}

/* ------------------------------------------------------------------------------------------ */
/* Misc                                                                                       */
/* ------------------------------------------------------------------------------------------ */

/* mlockall(current, future, onFault). MCL_ONFAULT locks pages only as they are touched, which
 * keeps the daemon's RSS near its working set instead of faulting in the whole node binary. */
static napi_value js_mlockall(napi_env env, napi_callback_info info) {
  ARGS(3);
  bool current, future, onfault;
  if (!get_bool(env, argv[0], &current) || !get_bool(env, argv[1], &future) || !get_bool(env, argv[2], &onfault))
    return result_fail(env, "EINVAL", "mlockall: flags must be booleans");
  int flags = (current ? MCL_CURRENT : 0) | (future ? MCL_FUTURE : 0) | (onfault ? MCL_ONFAULT : 0);
  char names[64] = "";
  if (current) strcat(names, "|MCL_CURRENT");
  if (future) strcat(names, "|MCL_FUTURE");
  if (onfault) strcat(names, "|MCL_ONFAULT");
  int r, err;
  do {
    r = mlockall(flags);
    err = errno;
  } while (r < 0 && err == EINTR);
  if (r < 0) return result_errno(env, err, "mlockall(%s)", names[0] ? names + 1 : "0");
  return result_ok(env, NULL);
}

/* Address and length arguments: user-space addresses (47 or 48 bits) are exact as doubles. */
#define MAX_ADDRESS ((int64_t)1 << 53)

/* mlockRange(addr, len, onFault): mlock2(addr, len, onFault ? MLOCK_ONFAULT : 0) on one range.
 * Locks whole pages; without MLOCK_ONFAULT every page is faulted in now (RSS grows by len), with it
 * the pages already resident are locked now and the others as they are first touched. Either way
 * the whole len counts against RLIMIT_MEMLOCK (ENOMEM past it without CAP_IPC_LOCK; EPERM when the
 * limit is 0). Used on file-backed mappings only: V8 frees anonymous pages with MADV_DONTNEED, which
 * Linux refuses on locked ranges, and Node aborts on that. */
static napi_value js_mlock_range(napi_env env, napi_callback_info info) {
  ARGS(3);
  int64_t addr, len;
  bool onfault = false;
  if (!get_int(env, argv[0], 0, MAX_ADDRESS, &addr) || !get_int(env, argv[1], 1, MAX_ADDRESS, &len) || !get_bool(env, argv[2], &onfault))
    return result_fail(env, "EINVAL", "mlockRange: arguments are an address, a positive length and a boolean");
#ifdef NR_MLOCK2
  long r;
  int err;
  do {
    r = syscall(NR_MLOCK2, (void *)(uintptr_t)addr, (size_t)len, onfault ? MLOCK_ONFAULT : 0);
    err = errno;
  } while (r < 0 && err == EINTR);
  /* mlock2 before Linux 4.4: plain mlock does the full lock (ONFAULT cannot be had there). */
  if (r < 0 && err == ENOSYS && !onfault) {
    do {
      r = mlock((void *)(uintptr_t)addr, (size_t)len);
      err = errno;
    } while (r < 0 && err == EINTR);
  }
  if (r < 0) return result_errno(env, err, "mlock2(0x%llx, %lld, %s)", (unsigned long long)addr, (long long)len, onfault ? "MLOCK_ONFAULT" : "0");
  return result_ok(env, NULL);
#else
  return result_fail(env, "ENOSYS", "mlock2: no syscall number for this architecture");
#endif
}

/* munlockRange(addr, len): munlock(2), so a test (or a caller giving a lock up) leaves nothing locked. */
static napi_value js_munlock_range(napi_env env, napi_callback_info info) {
  ARGS(2);
  int64_t addr, len;
  if (!get_int(env, argv[0], 0, MAX_ADDRESS, &addr) || !get_int(env, argv[1], 1, MAX_ADDRESS, &len))
    return result_fail(env, "EINVAL", "munlockRange: arguments are an address and a positive length");
  int r, err;
  do {
    r = munlock((void *)(uintptr_t)addr, (size_t)len);
    err = errno;
  } while (r < 0 && err == EINTR);
  if (r < 0) return result_errno(env, err, "munlock(0x%llx, %lld)", (unsigned long long)addr, (long long)len);
  return result_ok(env, NULL);
}

/* lgetxattr(path, name) -> Result<string | null>: the value as UTF-8 text, null when the attribute
 * is not set (ENODATA). ENOTSUP (the filesystem keeps no such namespace) stays an error, so the caller
 * can tell "not set" from "cannot be set here". Symbolic links are not followed: a cgroup is a
 * directory, and a link planted in its place must not redirect the read. A value above 4 KiB is
 * ERANGE (the buffer is that big): the preferences are a few bytes. */
#define XATTR_VALUE_MAX 4096
static napi_value js_lgetxattr(napi_env env, napi_callback_info info) {
  ARGS(2);
  char path[4096], name[256];
  size_t path_len = 0, name_len = 0;
  napi_valuetype t0, t1;
  NAPI_CALL(env, napi_typeof(env, argv[0], &t0));
  NAPI_CALL(env, napi_typeof(env, argv[1], &t1));
  if (t0 != napi_string || t1 != napi_string) return result_fail(env, "EINVAL", "lgetxattr: arguments are a path and an attribute name");
  NAPI_CALL(env, napi_get_value_string_utf8(env, argv[0], path, sizeof path, &path_len));
  NAPI_CALL(env, napi_get_value_string_utf8(env, argv[1], name, sizeof name, &name_len));
  if (path_len == 0 || path_len >= sizeof path - 1 || name_len == 0 || name_len >= sizeof name - 1)
    return result_fail(env, "EINVAL", "lgetxattr: path or attribute name empty or too long");
  if (strlen(path) != path_len || strlen(name) != name_len) return result_fail(env, "EINVAL", "lgetxattr: NUL inside the path or name");
  char value[XATTR_VALUE_MAX];
  ssize_t n;
  int err;
  do {
    n = lgetxattr(path, name, value, sizeof value);
    err = errno;
  } while (n < 0 && err == EINTR);
  if (n < 0 && err == ENODATA) {
    napi_value null_value;
    NAPI_CALL(env, napi_get_null(env, &null_value));
    return result_ok(env, null_value);
  }
  if (n < 0) return result_errno(env, err, "lgetxattr(%s, %s)", path, name);
  napi_value text;
  NAPI_CALL(env, napi_create_string_utf8(env, value, (size_t)n, &text));
  return result_ok(env, text);
}

/* munlockall(): undo mlockall. Node needs it before a natural exit: V8 frees its pages with
 * madvise(MADV_DONTNEED), which Linux refuses (EINVAL) on locked mappings, and V8 aborts on that. */
static napi_value js_munlockall(napi_env env, napi_callback_info info) {
  int r, err;
  do {
    r = munlockall();
    err = errno;
  } while (r < 0 && err == EINTR);
  if (r < 0) return result_errno(env, err, "munlockall()");
  return result_ok(env, NULL);
}

static napi_value js_sysconf_page_size(napi_env env, napi_callback_info info) {
  napi_value v;
  NAPI_CALL(env, napi_create_double(env, (double)sysconf(_SC_PAGESIZE), &v));
  return v;
}

static napi_value js_sysconf_clock_ticks(napi_env env, napi_callback_info info) {
  napi_value v;
  NAPI_CALL(env, napi_create_double(env, (double)sysconf(_SC_CLK_TCK), &v));
  return v;
}

/* close() is not retried on EINTR: on Linux the fd is released even then, and a retry could
 * close an fd another thread just received. */
static napi_value js_close_fd(napi_env env, napi_callback_info info) {
  ARGS(1);
  int64_t fd;
  if (get_int(env, argv[0], 0, INT32_MAX, &fd)) close((int)fd);
  return NULL;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
      {"eventfdCreate", NULL, js_eventfd_create, NULL, NULL, NULL, napi_enumerable, NULL},
      {"eventfdDrain", NULL, js_eventfd_drain, NULL, NULL, NULL, napi_enumerable, NULL},
      {"watchFd", NULL, js_watch_fd, NULL, NULL, NULL, napi_enumerable, NULL},
      {"watchStop", NULL, js_watch_stop, NULL, NULL, NULL, napi_enumerable, NULL},
      {"pidfdOpen", NULL, js_pidfd_open, NULL, NULL, NULL, napi_enumerable, NULL},
      {"pidfdSendSignal", NULL, js_pidfd_send_signal, NULL, NULL, NULL, napi_enumerable, NULL},
      {"processMrelease", NULL, js_process_mrelease, NULL, NULL, NULL, napi_enumerable, NULL},
      {"mlockall", NULL, js_mlockall, NULL, NULL, NULL, napi_enumerable, NULL},
      {"munlockall", NULL, js_munlockall, NULL, NULL, NULL, napi_enumerable, NULL},
      {"mlockRange", NULL, js_mlock_range, NULL, NULL, NULL, napi_enumerable, NULL},
      {"munlockRange", NULL, js_munlock_range, NULL, NULL, NULL, napi_enumerable, NULL},
      {"lgetxattr", NULL, js_lgetxattr, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sysconfPageSize", NULL, js_sysconf_page_size, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sysconfClockTicks", NULL, js_sysconf_clock_ticks, NULL, NULL, NULL, napi_enumerable, NULL},
      {"closeFd", NULL, js_close_fd, NULL, NULL, NULL, napi_enumerable, NULL},
      {"flock", NULL, js_flock, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  NAPI_CALL(env, napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  return exports;
}
