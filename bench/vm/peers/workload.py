#!/usr/bin/env python3
# The processes of the peers benchmark (bench/peers.ts), one role per invocation, started by
# bench/vm/peers/peers.py in the guest:
#   hog        grows by --step-mib at --rate-mib-s (0: as fast as it can), up to --cap-mib (0: no end)
#   idle       holds --mib, touched once, and sleeps: an innocent bystander
#   heartbeat  wakes every --interval-ms and reports each late wake-up: the stall a
#              latency-sensitive process feels, with its time on a run queue and its major
#              faults since the wake-up before
#   reread     re-reads the first --mib of --device in 1 MiB reads, pass after pass, reporting
#              each pass's duration: a process with a working set in the page cache
#   small      forks --count workers that each grow by 1 MiB steps to --each-mib at
#              --rate-mib-s: many small processes, like a parallel build
# Every role names itself (prctl PR_SET_NAME), so the kernel log and the handlers' output name
# it, and prints "ready" when it is under way. Times are CLOCK_MONOTONIC seconds, the clock of
# the orchestrator. Memory is written page by page: a page never written is never allocated.
import argparse
import ctypes
import os
import resource
import signal
import sys
import time

MIB = 1 << 20
PAGE = 4096
PR_SET_NAME = 15
libc = ctypes.CDLL(None, use_errno=True)


def name_self(name):
    libc.prctl(PR_SET_NAME, name.encode()[:15], 0, 0, 0)


def say(*words):
    print(" ".join(str(w) for w in words), flush=True)


def block(mib):
    """mib MiB of anonymous memory, every page written."""
    b = bytearray(mib * MIB)
    b[::PAGE] = b"\x01" * (len(b) // PAGE)
    return b


def grow(step_mib, rate_mib_s, cap_mib, on_full):
    held = []
    start = time.monotonic()
    total = 0
    while cap_mib == 0 or total < cap_mib:
        if rate_mib_s > 0:
            # A fixed schedule: a hog slowed by reclaim catches up, as a real allocator would.
            delay = start + total / rate_mib_s - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        step = step_mib if cap_mib == 0 else min(step_mib, cap_mib - total)
        held.append(block(step))
        total += step
    on_full(total)
    while True:
        signal.pause()


def hog(args):
    name_self(args.name)
    say("ready", time.monotonic())
    grow(args.step_mib, args.rate_mib_s, args.cap_mib, lambda total: say("full", total, time.monotonic()))


def idle(args):
    name_self(args.name)
    held = block(args.mib)
    say("ready", time.monotonic())
    while True:
        signal.pause()
    del held


def run_queue_wait_ns(schedstat_fd):
    """How long this process has waited on a run queue in all (the second field of /proc/self/schedstat)."""
    return int(os.pread(schedstat_fd, 128, 0).split()[1])


def heartbeat(args):
    name_self(args.name)
    interval = args.interval_ms / 1000.0
    late_ms = args.report_over_ms
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    # Why a wake-up came late: waiting for a CPU (the run queue), or for memory (its own pages read
    # back in: major faults). Each late wake-up says how much of both it had since the last one.
    schedstat_fd = os.open("/proc/self/schedstat", os.O_RDONLY)
    say("ready", time.monotonic())
    last = time.monotonic()
    last_wait_ns = run_queue_wait_ns(schedstat_fd)
    last_faults = resource.getrusage(resource.RUSAGE_SELF).ru_majflt
    longest = 0.0
    while not stop:
        time.sleep(interval)
        now = time.monotonic()
        wait_ns = run_queue_wait_ns(schedstat_fd)
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_majflt
        gap_ms = (now - last) * 1000.0
        if gap_ms > late_ms:
            say("gap", round(gap_ms, 1), round(now, 4), round((wait_ns - last_wait_ns) / 1e6, 1), faults - last_faults)
        last, last_wait_ns, last_faults = now, wait_ns, faults
        longest = max(longest, gap_ms)
    say("done", round(longest, 1))


def reread(args):
    name_self(args.name)
    size = args.mib * MIB
    buf = bytearray(MIB)
    view = memoryview(buf)
    fd = os.open(args.device, os.O_RDONLY)
    say("ready", time.monotonic())
    n = 0
    while True:
        start = time.monotonic()
        offset = 0
        while offset < size:
            got = os.preadv(fd, [view], offset)
            if got <= 0:
                break
            offset += got
        end = time.monotonic()
        n += 1
        say("pass", n, round((end - start) * 1000.0, 1), round(end, 4))


def small(args):
    name_self(args.name)
    children = []
    for i in range(args.count):
        pid = os.fork()
        if pid == 0:
            name_self(f"{args.name}-{i:02d}")
            try:
                # Spread the starts a little: forty workers started in one instant are not a build.
                time.sleep(0.05 * i)
                grow(1, args.rate_mib_s, args.each_mib, lambda total, i=i: say("full", i, os.getpid(), time.monotonic()))
            finally:
                os._exit(0)
        children.append(pid)
        say("child", i, pid)
    say("ready", time.monotonic())
    # The workers' exit statuses: only their parent can read them.
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        if pid in children:
            children.remove(pid)
            sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0
            code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
            say("exit", pid, sig, code, time.monotonic())
    while True:
        signal.pause()


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="role", required=True)
    p = sub.add_parser("hog")
    p.add_argument("--name", default="hog")
    p.add_argument("--rate-mib-s", type=float, default=0)
    p.add_argument("--step-mib", type=int, default=4)
    p.add_argument("--cap-mib", type=int, default=0)
    p = sub.add_parser("idle")
    p.add_argument("--name", default="idle")
    p.add_argument("--mib", type=int, required=True)
    p = sub.add_parser("heartbeat")
    p.add_argument("--name", default="heartbeat")
    p.add_argument("--interval-ms", type=float, default=10)
    p.add_argument("--report-over-ms", type=float, default=50)
    p = sub.add_parser("reread")
    p.add_argument("--name", default="reread")
    p.add_argument("--device", required=True)
    p.add_argument("--mib", type=int, required=True)
    p = sub.add_parser("small")
    p.add_argument("--name", default="small")
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--each-mib", type=int, required=True)
    p.add_argument("--rate-mib-s", type=float, required=True)
    args = parser.parse_args()
    {"hog": hog, "idle": idle, "heartbeat": heartbeat, "reread": reread, "small": small}[args.role](args)


if __name__ == "__main__":
    sys.exit(main())
