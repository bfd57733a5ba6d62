#!/usr/bin/env python3
# Guest side of bench/peers.ts: runs in the test VM (1 GiB, no swap) as root, in its output
# folder, and writes everything it saw to results.json there; the host side attributes the kills,
# takes medians and prints the table. One process does the watching: a poll() loop over the
# pidfds of every process it started, their output pipes, /dev/kmsg and systemd-oomd's
# notification socket, reading /proc/meminfo (kept open, pread) every SAMPLE_MS in between. All
# times are CLOCK_MONOTONIC ms, one clock for the samples, the deaths and the handlers' lines.
#
# Each run: memory back to a clean state, the handler started as its Debian unit would start it
# (its unit's cgroup limits, its packaged configuration) and waited for until it says it is
# ready, the innocents (an idle process holding 100 MiB and a 10 ms heartbeat) started beside
# it, then the workload, watched until its growing processes are dead or done and nothing has
# died for a while. Every process lives in its own scope under a desktop user's
# user@1000.service/app.slice, as a desktop session would place it, so that systemd-oomd, which
# acts on cgroups, sees the layout it is packaged for; the other handlers act on processes.
import argparse
import ctypes
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import time

CG = "/sys/fs/cgroup"
APP_SLICE = f"{CG}/user.slice/user-1000.slice/user@1000.service/app.slice"
USER_SERVICE = "/user.slice/user-1000.slice/user@1000.service"
MIB = 1 << 20
KIB = 1024
SAMPLE_MS = 10.0
PSI_EVERY_MS = 250.0
# Sampling gaps longer than this are recorded with MemAvailable on both sides.
GAP_RECORD_MS = 50.0
# The handler's CPU time, per thread (its main thread apart), this often: a late heartbeat wake-up
# is then set beside what the handler ran meanwhile.
HANDLER_CPU_EVERY_MS = 20.0
HANDLER_THREADS_EVERY_MS = 500.0
IDLE_MIB = 100
HEARTBEAT_INTERVAL_MS = 10
HEARTBEAT_REPORT_OVER_MS = 50
REREAD_MIB = 500
# The re-reader's first pass fills the page cache, the second is the warm baseline; the leak starts after it.
REREAD_PASSES_BEFORE_LEAK = 2
HANDLER_READY_TIMEOUT_S = 300
SETTLE_S = 2.0
# A run is over once no watched process has died for this long (and its growers are done).
QUIET_S = 2.5
PR_SET_CHILD_SUBREAPER = 36
MCL_CURRENT, MCL_FUTURE, MCL_ONFAULT = 1, 2, 4
OOM_LINE = re.compile(r"Out of memory|oom-kill:|Killed process|oom_reaper|invoked oom-killer|Memory cgroup out of memory")
libc = ctypes.CDLL(None, use_errno=True)

# What each workload starts: (role, name, cgroup scope, workload.py arguments). Growers are the
# processes whose end (death, or reaching their cap) ends the run.
WORKLOADS = {
    "steady-hog": {"timeout_s": 150, "procs": [("hog", ["hog", "--name", "hog", "--rate-mib-s", "40", "--step-mib", "4"])]},
    "fast-hog": {"timeout_s": 90, "procs": [("hog", ["hog", "--name", "hog", "--rate-mib-s", "0", "--step-mib", "64"])]},
    "two-hogs": {"timeout_s": 150, "procs": [
        ("hog-a", ["hog", "--name", "hog-a", "--rate-mib-s", "20", "--step-mib", "2", "--cap-mib", "500"]),
        ("hog-b", ["hog", "--name", "hog-b", "--rate-mib-s", "20", "--step-mib", "2", "--cap-mib", "500"]),
    ]},
    "thrash": {"timeout_s": 180, "procs": [("leak", ["hog", "--name", "leak", "--rate-mib-s", "20", "--step-mib", "2"])]},
    "many-small": {"timeout_s": 180, "procs": [("small", ["small", "--name", "small", "--count", "40", "--each-mib", "30", "--rate-mib-s", "1"])]},
}

HANDLER_CGROUPS = {
    # Each daemon's Debian unit: earlyoom.service MemoryMax=50M TasksMax=10; nohang.service
    # Slice=hostcritical.slice MemoryMax=100M MemorySwapMax=100M TasksMax=25; systemd-oomd.service
    # MemoryMin=64M MemoryLow=64M. oomwarden has no packaged unit: a plain service cgroup.
    "earlyoom": ("system.slice/earlyoom.service", {"memory.max": str(50 * MIB), "pids.max": "10"}),
    "nohang": ("hostcritical.slice/nohang.service", {"memory.max": str(100 * MIB), "memory.swap.max": str(100 * MIB), "pids.max": "25"}),
    "systemd-oomd": ("system.slice/systemd-oomd.service", {"memory.min": str(64 * MIB), "memory.low": str(64 * MIB)}),
    "oomwarden": ("system.slice/oomwarden.service", {}),
}
# systemd-oomd.service's OOMScoreAdjust=-900; the others' units set none.
HANDLER_OOM_SCORE_ADJ = {"systemd-oomd": -900}


def now_ms():
    return time.monotonic() * 1000.0


def read(path):
    with open(path) as f:
        return f.read()


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


CONSOLE = None


def say(text):
    line = f"peers: {text}"
    print(line, flush=True)
    if CONSOLE is not None:
        try:
            CONSOLE.write(line + "\n")
            CONSOLE.flush()
        except OSError:
            pass


def meminfo():
    out = {}
    for line in read("/proc/meminfo").split("\n"):
        if ":" in line:
            key, value = line.split(":", 1)
            out[key] = int(value.split()[0])
    return out


def vmstat(key):
    for line in read("/proc/vmstat").split("\n"):
        if line.startswith(key + " "):
            return int(line.split()[1])
    return None


def min_watermark_kib():
    pages = sum(int(m.group(1)) for m in re.finditer(r"^\s+min\s+(\d+)$", read("/proc/zoneinfo"), re.M))
    return pages * 4


def proc_stat(pid):
    """(majflt, rss KiB) of a live process, or None."""
    try:
        fields = read(f"/proc/{pid}/stat").rsplit(")", 1)[1].split()
        status = read(f"/proc/{pid}/status")
    except OSError:
        return None
    rss = re.search(r"^VmRSS:\s+(\d+)", status, re.M)
    return {"majflt": int(fields[9]), "rssKib": int(rss.group(1)) if rss else None}


def make_cgroup(rel, settings=None):
    """Creates CG/rel with the memory and pids controllers enabled down to it."""
    path = CG
    for part in rel.split("/"):
        try:
            write(f"{path}/cgroup.subtree_control", "+memory +pids")
        except OSError:
            pass  # already on, or the root
        path = f"{path}/{part}"
        os.makedirs(path, exist_ok=True)
    for key, value in (settings or {}).items():
        try:
            write(f"{path}/{key}", value)
        except OSError as e:
            say(f"cannot set {key} of {rel}: {e}")
    return path


def remove_cgroup(path):
    for _ in range(50):
        try:
            os.rmdir(path)
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.1)


def child_setup(cgroup, oom_score_adj=0):
    def setup():
        # Started at the defaults any process gets, whatever the orchestrator's own.
        os.setpriority(os.PRIO_PROCESS, 0, 0)
        write("/proc/self/oom_score_adj", str(oom_score_adj))
        if cgroup is not None:
            write(f"{cgroup}/cgroup.procs", "0")
    return setup


class Tracked:
    """A process we watch: its death (pidfd), exit status and stamped output lines."""

    def __init__(self, loop, role, name, pid, popen=None, cgroup=None, keep_lines=True):
        self.role, self.name, self.pid, self.popen, self.cgroup = role, name, pid, popen, cgroup
        self.start_ms = now_ms()
        self.exit_ms = None
        self.signal = None
        self.code = None
        self.ended_by_bench_ms = None
        self.lines = []
        self.keep_lines = keep_lines
        self.on_line = None
        self.loop = loop
        try:
            self.pidfd = os.pidfd_open(pid)
            loop.add(self.pidfd, self._died)
        except OSError:
            self.pidfd = None
            self.exit_ms = now_ms()
        if popen is not None and popen.stdout is not None:
            self._buf = b""
            fd = popen.stdout.fileno()
            os.set_blocking(fd, False)
            loop.add(fd, self._readable)

    def alive(self):
        return self.exit_ms is None

    def _died(self, fd):
        self.exit_ms = now_ms()
        self.loop.remove(fd)
        os.close(fd)
        self.pidfd = None
        if self.popen is not None:
            self.popen.wait()
            rc = self.popen.returncode
            if rc < 0:
                self.signal = -rc
            else:
                self.code = rc
        else:
            # A grandchild orphaned to us (we are the subreaper) can be reaped here; one whose
            # parent lives is reaped by it, which reports the status in its output.
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
                if pid == self.pid:
                    self.set_status(status)
            except ChildProcessError:
                pass
        self.loop.deaths += 1
        self.loop.last_death_ms = self.exit_ms

    def set_status(self, status):
        if os.WIFSIGNALED(status):
            self.signal = os.WTERMSIG(status)
        elif os.WIFEXITED(status):
            self.code = os.WEXITSTATUS(status)

    def _readable(self, fd):
        while True:
            try:
                chunk = os.read(fd, 65536)
            except BlockingIOError:
                return
            if not chunk:
                self.loop.remove(fd)
                return
            self._buf += chunk
            *complete, self._buf = self._buf.split(b"\n")
            t = now_ms()
            for raw in complete:
                text = raw.decode(errors="replace")
                if self.keep_lines:
                    self.lines.append([round(t, 1), text])
                if self.on_line is not None:
                    self.on_line(t, text)

    def signal_it(self, sig):
        """The bench's own signal (teardown): a death after it is not a handler's kill."""
        if self.alive():
            if self.ended_by_bench_ms is None:
                self.ended_by_bench_ms = now_ms()
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass

    def record(self, extra=None):
        out = {"role": self.role, "name": self.name, "pid": self.pid, "cgroup": self.cgroup[len(CG):] if self.cgroup else None,
               "startMs": round(self.start_ms, 1), "exitMs": None if self.exit_ms is None else round(self.exit_ms, 1),
               "signal": self.signal, "code": self.code,
               "endedByBenchMs": None if self.ended_by_bench_ms is None else round(self.ended_by_bench_ms, 1)}
        out.update(extra or {})
        return out


class Loop:
    """poll() over registered fds; reads /proc/meminfo every SAMPLE_MS while a sampler is set."""

    def __init__(self):
        self.poller = select.poll()
        self.handlers = {}
        self.sampler = None
        self.deaths = 0
        self.last_death_ms = None

    def add(self, fd, callback):
        self.handlers[fd] = callback
        self.poller.register(fd, select.POLLIN)

    def remove(self, fd):
        if fd in self.handlers:
            del self.handlers[fd]
            self.poller.unregister(fd)

    def run_until(self, done, timeout_s):
        deadline = now_ms() + timeout_s * 1000.0
        while True:
            for fd, _ in self.poller.poll(SAMPLE_MS):
                callback = self.handlers.get(fd)
                if callback is not None:
                    callback(fd)
            if self.sampler is not None:
                self.sampler.maybe_sample()
            if done():
                return True
            if now_ms() > deadline:
                return False


class Sampler:
    """MemAvailable every SAMPLE_MS: first falls below 10% and 5% of RAM, the lowest, a 100 ms series."""

    def __init__(self, total_kib, handler_pid=None):
        self.fd = os.open("/proc/meminfo", os.O_RDONLY)
        self.handler_pid = handler_pid
        self.handler_cpu = []
        self.handler_cpu_last = None
        self.handler_threads_at = -HANDLER_THREADS_EVERY_MS
        self.handler_thread_fds = {}
        self.handler_thread_last = {}
        self.handler_ended_ms = {True: 0.0, False: 0.0}
        # Memory pressure, every PSI_EVERY_MS: the machine's and the desktop user's (the cgroup
        # systemd-oomd watches), the highest full avg10 of each and the stall time over the run.
        self.psi_fds = {}
        for key, path in (("machine", "/proc/pressure/memory"), ("userService", f"{CG}{USER_SERVICE}/memory.pressure")):
            try:
                self.psi_fds[key] = os.open(path, os.O_RDONLY)
            except OSError:
                pass
        self.psi_peak = {key: 0.0 for key in self.psi_fds}
        self.psi_start = {key: self.psi_totals(key) for key in self.psi_fds}
        self.psi_last = None
        self.total_kib = total_kib
        self.lines_kib = {"10": total_kib * 10 // 100, "5": total_kib * 5 // 100}
        self.first_below = {}
        self.min_kib = None
        self.min_at = None
        self.series = []
        self.bucket = None
        self.samples = 0
        self.last = None
        self.max_interval = 0.0
        self.gaps = []
        self.last_kib = None
        self.started = now_ms()

    def available_kib(self):
        text = os.pread(self.fd, 8192, 0)
        i = text.index(b"MemAvailable:")
        return int(text[i + 13:text.index(b"kB", i)])

    def psi_totals(self, key):
        """{"some": us, "full": us, "fullAvg10": pct} of one pressure file."""
        out = {}
        for line in os.pread(self.psi_fds[key], 512, 0).decode().split("\n"):
            parts = line.split()
            if parts:
                fields = dict(p.split("=") for p in parts[1:])
                out[parts[0]] = int(fields["total"])
                if parts[0] == "full":
                    out["fullAvg10"] = float(fields["avg10"])
        return out

    def handler_cpu_ms(self, t):
        """(main thread, every other thread) CPU time so far in ms, from each thread's schedstat; None once gone.

        The watcher runs at nice -20 beside the handler, so this must cost it next to nothing: each
        thread's schedstat stays open and is read with pread, and the list of threads is read again
        only every HANDLER_THREADS_EVERY_MS (a thread started in between is counted from then on).
        """
        if t - self.handler_threads_at >= HANDLER_THREADS_EVERY_MS:
            self.handler_threads_at = t
            try:
                tids = os.listdir(f"/proc/{self.handler_pid}/task")
            except OSError:
                return None
            for tid in tids:
                if tid not in self.handler_thread_fds:
                    try:
                        self.handler_thread_fds[tid] = os.open(f"/proc/{self.handler_pid}/task/{tid}/schedstat", os.O_RDONLY)
                    except OSError:
                        pass
        main = others = 0.0
        for tid, fd in list(self.handler_thread_fds.items()):
            try:
                ns = int(os.pread(fd, 64, 0).split()[0])
            except (OSError, ValueError, IndexError):
                # Ended: what it ran is gone from the sums from now on, so keep its last count.
                os.close(fd)
                del self.handler_thread_fds[tid]
                self.handler_ended_ms[tid == str(self.handler_pid)] += self.handler_thread_last.pop(tid, 0.0)
                continue
            self.handler_thread_last[tid] = ns / 1e6
            if tid == str(self.handler_pid):
                main += ns / 1e6
            else:
                others += ns / 1e6
        if not self.handler_thread_fds:
            return None
        return main + self.handler_ended_ms[True], others + self.handler_ended_ms[False]

    def close_handler_cpu(self):
        for fd in self.handler_thread_fds.values():
            os.close(fd)
        self.handler_thread_fds = {}

    def maybe_sample(self):
        t = now_ms()
        if self.handler_pid is not None and (self.handler_cpu_last is None or t - self.handler_cpu_last >= HANDLER_CPU_EVERY_MS):
            self.handler_cpu_last = t
            cpu = self.handler_cpu_ms(t)
            if cpu is not None:
                self.handler_cpu.append([round(t, 1), round(cpu[0], 2), round(cpu[1], 2)])
        if self.psi_last is None or t - self.psi_last >= PSI_EVERY_MS:
            self.psi_last = t
            for key in self.psi_fds:
                self.psi_peak[key] = max(self.psi_peak[key], self.psi_totals(key).get("fullAvg10", 0.0))
        if self.last is not None and t - self.last < SAMPLE_MS:
            return
        kib = self.available_kib()
        if self.last is not None:
            self.max_interval = max(self.max_interval, t - self.last)
            # A long gap can hide a crossing: a fast hog eats 100 MiB and is killed between two samples.
            if t - self.last > GAP_RECORD_MS:
                self.gaps.append([round(self.last, 1), round(t, 1), self.last_kib, kib])
        self.last = t
        self.last_kib = kib
        self.samples += 1
        for key, line in self.lines_kib.items():
            if key not in self.first_below and kib < line:
                self.first_below[key] = round(t, 1)
        if self.min_kib is None or kib < self.min_kib:
            self.min_kib, self.min_at = kib, round(t, 1)
        # One point per 100 ms: the lowest in it.
        slot = int(t // 100)
        if self.bucket is None or self.bucket[0] != slot:
            if self.bucket is not None:
                self.series.append([self.bucket[0] * 100, self.bucket[1]])
            self.bucket = [slot, kib]
        else:
            self.bucket[1] = min(self.bucket[1], kib)

    def result(self):
        self.close_handler_cpu()
        if self.bucket is not None:
            self.series.append([self.bucket[0] * 100, self.bucket[1]])
        os.close(self.fd)
        psi = {}
        for key, fd in self.psi_fds.items():
            end = self.psi_totals(key)
            psi[key] = {"peakFullAvg10": self.psi_peak[key], "someStallMs": round((end.get("some", 0) - self.psi_start[key].get("some", 0)) / 1000),
                        "fullStallMs": round((end.get("full", 0) - self.psi_start[key].get("full", 0)) / 1000)}
            os.close(fd)
        span = (self.last or self.started) - self.started
        return {"firstBelowMs": self.first_below, "lineKib": self.lines_kib, "minKib": self.min_kib, "minAtMs": self.min_at,
                "samples": self.samples, "meanIntervalMs": round(span / max(self.samples - 1, 1), 2),
                "maxIntervalMs": round(self.max_interval, 1), "series": self.series, "psi": psi, "gaps": self.gaps,
                "handlerCpu": self.handler_cpu}


class KernelLog:
    """The OOM killer's lines from /dev/kmsg, from the moment of open on."""

    def __init__(self, loop):
        self.fd = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)
        os.lseek(self.fd, 0, os.SEEK_END)
        self.lines = []
        self.loop = loop
        loop.add(self.fd, self._readable)

    def _readable(self, fd):
        while True:
            try:
                record = os.read(fd, 8192)
            except BlockingIOError:
                return
            except BrokenPipeError:
                continue  # records overwritten before we read them
            if not record:
                return
            head, _, message = record.decode(errors="replace").partition(";")
            message = message.split("\n", 1)[0]
            if OOM_LINE.search(message):
                fields = head.split(",")
                self.lines.append([round(now_ms(), 1), int(fields[2]) if len(fields) > 2 else None, message])

    def close(self):
        self.loop.remove(self.fd)
        os.close(self.fd)


class Handler:
    """One OOM handler as its package would run it; kernel: none."""

    def __init__(self, kind, loop, args, workdir):
        self.kind, self.loop, self.args, self.workdir = kind, loop, args, workdir
        self.procs = []
        self.main = None
        self.ready_ms = None
        self.started_ms = now_ms()
        self.notes = []
        self.notify = None
        self.cgroup = None
        if kind != "kernel":
            rel, settings = HANDLER_CGROUPS[kind]
            self.cgroup = make_cgroup(rel, settings)
        getattr(self, "_start_" + kind.replace("-", "_"))()

    def _spawn(self, name, argv, env=None, cgroup=None, oom_score_adj=0, role="handler"):
        popen = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 env=env, cwd=self.workdir, preexec_fn=child_setup(cgroup, oom_score_adj))
        tracked = Tracked(self.loop, role, name, popen.pid, popen, cgroup)
        self.procs.append(tracked)
        return tracked

    def _ready_on(self, tracked, pattern):
        regex = re.compile(pattern)

        def on_line(t, text):
            if self.ready_ms is None and regex.search(text):
                self.ready_ms = t
        tracked.on_line = on_line

    def _start_kernel(self):
        self.ready_ms = now_ms()

    def _start_earlyoom(self):
        # earlyoom.service: EnvironmentFile=-/etc/default/earlyoom, ExecStart=/usr/bin/earlyoom $EARLYOOM_ARGS.
        argv = ["/bin/sh", "-c", 'EARLYOOM_ARGS=; [ -r /etc/default/earlyoom ] && . /etc/default/earlyoom; exec /usr/bin/earlyoom $EARLYOOM_ARGS']
        self.main = self._spawn("earlyoom", argv, cgroup=self.cgroup)
        # The first memory report follows the thresholds: it is watching.
        self._ready_on(self.main, r"^mem avail:")

    def _start_nohang(self):
        # nohang.service: ExecStart=/usr/sbin/nohang --monitor --config /etc/nohang/nohang.conf.
        self.main = self._spawn("nohang", ["/usr/sbin/nohang", "--monitor", "--config", "/etc/nohang/nohang.conf"], cgroup=self.cgroup)
        self._ready_on(self.main, r"Monitoring has started")

    def _start_systemd_oomd(self):
        root = self.args.oomd_root
        # Its packaged configuration: /etc/systemd/oomd.conf is all comments (the compiled-in
        # defaults); the package's drop-in sets DefaultMemoryPressureDurationSec=20s. The host has
        # neither (the package is unpacked, not installed), so the drop-in goes where systemd-oomd
        # also reads drop-ins, /run/systemd/oomd.conf.d.
        os.makedirs("/run/systemd/oomd.conf.d", exist_ok=True)
        os.makedirs("/run/systemd/oom", exist_ok=True)
        for name in os.listdir(f"{root}/usr/lib/systemd/oomd.conf.d"):
            shutil.copy(f"{root}/usr/lib/systemd/oomd.conf.d/{name}", f"/run/systemd/oomd.conf.d/{name}")
        units = self.packaged_units(root)
        self.notes.append(f"PID 1's ManagedOOM answer played by managed_oom.py: {json.dumps(units)}")
        standin = self._spawn("managed-oom", [sys.executable, self.args.standin, "--socket", "/run/systemd/io.system.ManagedOOM",
                                              "--cgroups", json.dumps(units)], oom_score_adj=-1000, role="helper")
        self.loop.run_until(lambda: any("listening" in text for _, text in standin.lines) or not standin.alive(), 60)
        # Type=notify: READY=1 on $NOTIFY_SOCKET is systemd-oomd saying it is up.
        path = "/run/peers-notify.sock"
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(path)
        self.notify.setblocking(False)
        state = self._oomd_state = {"notified": False, "answered": False}

        def on_notify(fd):
            try:
                data = self.notify.recv(4096).decode(errors="replace")
            except BlockingIOError:
                return
            if "READY=1" in data:
                state["notified"] = True
        self.loop.add(self.notify.fileno(), on_notify)

        def on_standin(t, text):
            if text.startswith("answered"):
                state["answered"] = True
        standin.on_line = on_standin
        env = dict(os.environ, LD_LIBRARY_PATH=f"{root}/usr/lib/x86_64-linux-gnu/systemd", NOTIFY_SOCKET=path,
                   SYSTEMD_LOG_TARGET="console", SYSTEMD_LOG_LEVEL=self.args.oomd_log_level)
        self.main = self._spawn("systemd-oomd", [f"{root}/lib/systemd/systemd-oomd"], env=env, cgroup=self.cgroup,
                                oom_score_adj=HANDLER_OOM_SCORE_ADJ["systemd-oomd"])
        # Ready once it said READY=1 and has been given its cgroups (either order): see is_ready.

    @staticmethod
    def packaged_units(root):
        """The ManagedOOM settings of the package's unit drop-ins, as PID 1 would send them."""
        units = []
        for unit_dir, path in (("-.slice.d", "/"), ("user@.service.d", USER_SERVICE)):
            base = f"{root}/usr/lib/systemd/system/{unit_dir}"
            if not os.path.isdir(base):
                continue
            settings = {}
            for name in sorted(os.listdir(base)):
                for line in read(f"{base}/{name}").split("\n"):
                    if "=" in line and not line.startswith("#"):
                        key, value = line.split("=", 1)
                        settings[key.strip()] = value.strip()
            for prop in ("ManagedOOMSwap", "ManagedOOMMemoryPressure"):
                if settings.get(prop, "auto") != "auto":
                    entry = {"mode": settings[prop], "path": path, "property": prop}
                    limit = settings.get("ManagedOOMMemoryPressureLimit")
                    if prop == "ManagedOOMMemoryPressure" and limit:
                        permyriad = round(float(limit.rstrip("%")) * 100)
                        entry["limit"] = (permyriad * 0xFFFFFFFF + 5000) // 10000
                    units.append(entry)
        return units

    def _start_oomwarden(self):
        # No config: the built-in defaults, the machine guard on; the state directory is root's
        # default (/var/lib/oomwarden, the guest's tmpfs), emptied before each run.
        shutil.rmtree("/var/lib/oomwarden", ignore_errors=True)
        self.main = self._spawn("oomwarden", [self.args.node, f"{self.args.root}/dist/src/cli/main.js", "run"], cgroup=self.cgroup)
        self._ready_on(self.main, r"oomwarden: guarding the whole machine")

    def is_ready(self):
        if self.kind == "systemd-oomd" and self.ready_ms is None and self._oomd_state["notified"] and self._oomd_state["answered"]:
            self.ready_ms = now_ms()
        return self.ready_ms is not None

    def failed(self):
        return self.main is not None and not self.main.alive()

    def stop(self):
        for p in self.procs:
            p.signal_it(signal.SIGTERM)
        self.loop.run_until(lambda: not any(p.alive() for p in self.procs), 30)
        for p in self.procs:
            p.signal_it(signal.SIGKILL)
        self.loop.run_until(lambda: not any(p.alive() for p in self.procs), 10)
        if self.notify is not None:
            self.loop.remove(self.notify.fileno())
            self.notify.close()
        if self.kind == "systemd-oomd":
            for path in ("/run/systemd/io.system.ManagedOOM", "/run/peers-notify.sock"):
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    pass
        if self.cgroup is not None:
            remove_cgroup(self.cgroup)

    def journal(self):
        if self.kind != "oomwarden":
            return None
        try:
            return read("/var/lib/oomwarden/journal.jsonl")
        except OSError:
            return None


def spawn_role(loop, args, role, name, argv):
    scope = make_cgroup(f"{APP_SLICE[len(CG) + 1:]}/{name}.scope")
    popen = subprocess.Popen([sys.executable, args.workload] + argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, preexec_fn=child_setup(scope))
    return Tracked(loop, role, name, popen.pid, popen, scope)


def clean_memory(total_kib):
    """Drops the page cache and waits (up to 20 s) until MemAvailable stops rising."""
    write("/proc/sys/vm/drop_caches", "3")
    last = 0
    for _ in range(40):
        avail = meminfo()["MemAvailable"]
        if avail - last < 1024:
            break
        last = avail
        time.sleep(0.5)
    return meminfo()["MemAvailable"]


def run_one(args, loop, workload, handler_kind, run_index):
    spec = WORKLOADS[workload]
    workdir = f"/tmp/peers/{workload}-{handler_kind}-{run_index}"
    os.makedirs(workdir, exist_ok=True)
    available_before = clean_memory(args.total_kib)
    loop.deaths, loop.last_death_ms = 0, None
    handler = Handler(handler_kind, loop, args, workdir)
    innocents = [
        spawn_role(loop, args, "innocent", "idle", ["idle", "--name", "idle", "--mib", str(IDLE_MIB)]),
        spawn_role(loop, args, "innocent", "heartbeat", ["heartbeat", "--name", "heartbeat", "--interval-ms", str(HEARTBEAT_INTERVAL_MS),
                                                        "--report-over-ms", str(HEARTBEAT_REPORT_OVER_MS)]),
    ]
    started = now_ms()
    ok = loop.run_until(lambda: handler.is_ready() and all(any(t.startswith("ready") for _, t in p.lines) for p in innocents)
                        or handler.failed(), HANDLER_READY_TIMEOUT_S)
    record = {"workload": workload, "handler": handler_kind, "run": run_index, "availableBeforeKib": available_before,
              "handlerReadyMs": None if handler.ready_ms is None else round(handler.ready_ms - handler.started_ms, 1), "notes": handler.notes}
    if not ok or handler.failed() or handler.ready_ms is None:
        record["error"] = f"{handler_kind} never became ready" + (" (it exited)" if handler.failed() else f" in {HANDLER_READY_TIMEOUT_S} s")
        say(f"{workload} x {handler_kind}: {record['error']}")
    else:
        loop.run_until(lambda: False, SETTLE_S)
        record.update(watch_workload(args, loop, spec, workload, handler, innocents))
    for p in innocents:
        if p.name == "heartbeat":
            p.signal_it(signal.SIGTERM)
    loop.run_until(lambda: not any(p.alive() for p in innocents if p.name == "heartbeat"), 5)
    for p in innocents:
        p.signal_it(signal.SIGKILL)
    loop.run_until(lambda: not any(p.alive() for p in innocents), 10)
    record.setdefault("processes", []).extend(p.record({"lines": p.lines[-400:]}) for p in innocents)
    handler_main = handler.main
    handler.stop()
    record["handlerProcess"] = None if handler_main is None else {
        "pid": handler_main.pid, "exitMs": handler_main.exit_ms, "signal": handler_main.signal, "code": handler_main.code,
        "startMs": round(handler.started_ms, 1)}
    record["handlerLines"] = [[t, p.name, text] for p in handler.procs for t, text in p.lines][-3000:]
    record["journal"] = handler.journal()
    for p in innocents:
        remove_cgroup(p.cgroup)
    record["wallMs"] = round(now_ms() - started, 1)
    return record


def watch_workload(args, loop, spec, workload, handler, innocents):
    out = {}
    kmsg = KernelLog(loop)
    oom_before = vmstat("oom_kill")
    handler_before = None if handler.main is None else proc_stat(handler.main.pid)
    loop.sampler = Sampler(args.total_kib, None if handler.main is None else handler.main.pid)
    t0 = now_ms()
    procs = []
    growers = []
    extra_innocents = []
    phases = {}
    if workload == "thrash":
        reader = spawn_role(loop, args, "innocent", "reread", ["reread", "--name", "reread", "--device", args.device, "--mib", str(REREAD_MIB)])
        extra_innocents.append(reader)
        loop.run_until(lambda: sum(1 for _, t in reader.lines if t.startswith("pass")) >= REREAD_PASSES_BEFORE_LEAK or not reader.alive(), 120)
        phases["leakStartMs"] = round(now_ms(), 1)
    for name, argv in spec["procs"]:
        procs.append(spawn_role(loop, args, "workload", name, argv))
    workers = []
    if workload == "many-small":
        master = procs[0]

        def on_master(t, text, master=master):
            parts = text.split()
            if parts[:1] == ["child"]:
                workers.append(Tracked(loop, "workload", f"small-{int(parts[1]):02d}", int(parts[2]), None, master.cgroup, keep_lines=False))
            elif parts[:1] == ["exit"]:
                for w in workers:
                    if w.pid == int(parts[1]):
                        w.signal = int(parts[2]) or None
                        w.code = None if parts[3] == "None" else int(parts[3])
        master.on_line = on_master
        growers = workers
    else:
        growers = list(procs)

    def full(p):
        if p in workers:
            return any(t.startswith("full") and t.split()[2] == str(p.pid) for _, t in procs[0].lines)
        return any(t.startswith("full") for _, t in p.lines)

    def done():
        if workload == "many-small" and len(workers) < 40 and procs[0].alive():
            return False
        if any(p.alive() and not full(p) for p in growers):
            return False
        # Growers done: wait until nothing has died for QUIET_S (a handler may still be killing).
        last = loop.last_death_ms or 0
        if workload == "thrash":
            # and until the re-reader has finished a pass after the leak's end: its recovery.
            end = max((p.exit_ms or 0) for p in growers)
            passes = [float(t.split()[3]) * 1000 for _, t in extra_innocents[0].lines if t.startswith("pass")]
            if extra_innocents[0].alive() and not any(e > end for e in passes) and now_ms() - end < 20_000:
                return False
        return now_ms() - max(last, t0) > QUIET_S * 1000

    finished = loop.run_until(done, spec["timeout_s"])
    end_ms = now_ms()
    handler_after = None if handler.main is None else proc_stat(handler.main.pid)
    oom_after = vmstat("oom_kill")
    for p in procs + workers + extra_innocents:
        p.signal_it(signal.SIGKILL)
    loop.run_until(lambda: not any(p.alive() for p in procs + workers + extra_innocents), 15)
    loop.run_until(lambda: False, 0.3)  # the master's last exit lines
    mem = loop.sampler.result()
    loop.sampler = None
    kmsg.close()
    out["t0Ms"] = round(t0, 1)
    out["endMs"] = round(end_ms, 1)
    out["finished"] = finished
    out["phases"] = phases
    out["mem"] = mem
    out["oomKill"] = {"before": oom_before, "after": oom_after}
    out["kmsg"] = kmsg.lines
    out["handlerStat"] = {"atStart": handler_before, "atEnd": handler_after}
    out["processes"] = [p.record({"lines": p.lines[-400:]}) for p in procs + extra_innocents] + [p.record() for p in workers]
    for p in procs + extra_innocents:
        remove_cgroup(p.cgroup)
    return out


def main():
    global CONSOLE
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--workloads", required=True)
    parser.add_argument("--handlers", required=True)
    parser.add_argument("--root", required=True)
    parser.add_argument("--node", required=True)
    parser.add_argument("--brd", required=True)
    parser.add_argument("--oomd-root", required=True)
    parser.add_argument("--oomd-log-level", default="info")
    parser.add_argument("--workload", required=True, help="workload.py")
    parser.add_argument("--standin", required=True, help="managed_oom.py")
    args = parser.parse_args()
    try:
        CONSOLE = open("/dev/console", "w")
    except OSError:
        CONSOLE = None
    # The watcher must outlive every OOM and see every death on time: never a victim, and ahead of
    # every handler as well as the workload (at the highest priority there is: behind a handler it
    # would see a line crossed late, and time that handler's kill short).
    write("/proc/self/oom_score_adj", "-1000")
    os.nice(-20)
    # and must not stall on its own page faults when memory runs out: without this, its code
    # (read over 9p) was evicted and the loop went up to 12 s without a sample. Pages are locked
    # as they are first used (MCL_ONFAULT), so it holds only what it touches, the same for every handler.
    if libc.mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) != 0:
        say(f"mlockall failed (errno {ctypes.get_errno()}): the watcher may stall under pressure")
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    info = meminfo()
    args.total_kib = info["MemTotal"]
    args.device = "/dev/ram0"
    out = {"uname": os.uname().release, "memTotalKib": info["MemTotal"], "swapTotalKib": info.get("SwapTotal"),
           "minWatermarkKib": min_watermark_kib(), "psi": os.path.exists("/proc/pressure/memory"), "epochMinusMonotonicMs": None,
           "versions": {}, "runs": []}
    # The re-reader's file: a brd RAM disk never written reads back zeros without storing a page,
    # so its page cache is the only memory it costs, and that cache is reclaimable.
    loaded = subprocess.run(["busybox", "insmod", args.brd, "rd_nr=1", f"rd_size={REREAD_MIB * 1024}"], capture_output=True, text=True)
    if loaded.returncode != 0:
        out["brdError"] = loaded.stderr.strip()
    for name, argv in (("earlyoom", ["earlyoom", "-v"]), ("nohang", ["/usr/sbin/nohang", "--version"]),
                       ("systemd-oomd", [f"{args.oomd_root}/lib/systemd/systemd-oomd", "--version"]),
                       ("python", [sys.executable, "--version"]), ("node", [args.node, "--version"])):
        try:
            env = dict(os.environ, LD_LIBRARY_PATH=f"{args.oomd_root}/usr/lib/x86_64-linux-gnu/systemd")
            r = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env)
            out["versions"][name] = (r.stdout + r.stderr).strip().split("\n")[0]
        except (OSError, subprocess.TimeoutExpired) as e:
            out["versions"][name] = f"unavailable: {e}"
    out["epochMinusMonotonicMs"] = round(time.time() * 1000.0 - now_ms(), 1)
    loop = Loop()
    workloads = args.workloads.split(",")
    handlers = args.handlers.split(",")
    total = args.runs * len(workloads) * len(handlers)
    n = 0
    began = now_ms()
    for run_index in range(args.runs):
        for wi, workload in enumerate(workloads):
            # The handlers take turns going first: a drift of the host over a workload's runs hits each alike.
            shift = (wi + run_index) % len(handlers)
            for handler_kind in handlers[shift:] + handlers[:shift]:
                n += 1
                if workload == "thrash" and "brdError" in out:
                    out["runs"].append({"workload": workload, "handler": handler_kind, "run": run_index, "error": f"no brd: {out['brdError']}"})
                    continue
                say(f"[{n}/{total}] {workload} x {handler_kind} (run {run_index + 1}) starting, {round((now_ms() - began) / 1000)} s in")
                record = run_one(args, loop, workload, handler_kind, run_index)
                out["runs"].append(record)
                say(f"[{n}/{total}] {workload} x {handler_kind}: {summary(record)}")
    out["wallMs"] = round(now_ms() - began, 1)
    write("results.json", json.dumps(out))
    say(f"done in {round(out['wallMs'] / 1000)} s")


def summary(record):
    """One progress line: who died and when, relative to MemAvailable < 10%."""
    if "error" in record:
        return record["error"]
    first10 = record["mem"]["firstBelowMs"].get("10")
    dead = [p for p in record["processes"] if p["exitMs"] is not None and p["signal"] is not None and p["exitMs"] <= record["endMs"]]
    dead.sort(key=lambda p: p["exitMs"])
    parts = []
    for p in dead[:4]:
        since = "" if first10 is None else f" {(p['exitMs'] - first10) / 1000:+.2f} s"
        parts.append(f"{p['name']} (sig {p['signal']}{since})")
    if len(dead) > 4:
        parts.append(f"+{len(dead) - 4} more")
    oom = record["oomKill"]["after"] - record["oomKill"]["before"]
    low = record["mem"]["minKib"]
    return (f"died: {', '.join(parts) or 'none'}; kernel oom_kill +{oom}; lowest MemAvailable {low // 1024 if low is not None else '-'} MiB; "
            f"ready after {record['handlerReadyMs']} ms; {round(record['wallMs'] / 1000)} s")


if __name__ == "__main__":
    main()
