#!/usr/bin/env python3
# Guest side of bench/v2-guard-band.ts: runs in the test VM as root (cgroup v2 at /sys/fs/cgroup),
# in its output folder, and writes what it measured to results.json there; the host side turns it
# into percentiles and ratios. Python rather than Node: it starts in a second under emulation, and
# poll() over inotify and a pidfd with a 1 ms timeout is plain here.
#
# Two cgroups of the same memory.max (the host side says how much: 128 MiB), each with an
# innocent `sleep`:
#   bench-kernel     memory.high left at max, no daemon: the kernel's own killer at memory.max;
#   bench-oomwarden  managed by one `oomwarden run` (machine guard off) with its guard band.
# Trials alternate between them (a drift of the host hits both alike): `tail /dev/zero` in the
# cgroup, memory.events and memory.current read after every wake (inotify on memory.events, the
# hog's pidfd, or 1 ms passing), until the hog is dead and memory.current is below half the limit.
# Then the page-cache part: `dd` re-reading a brd RAM disk in each cgroup, a working set that fits
# below the band's memory.high and one that only fits below memory.max.
#
# Times are CLOCK_MONOTONIC ms from the hog's spawn; the first sight of each counter's rise also
# carries CLOCK_REALTIME (epochMs), the clock the daemon stamps journal records with.
import argparse, ctypes, json, os, re, select, signal, subprocess, time

CG_ROOT = "/sys/fs/cgroup"
MIB = 1 << 20
KERNEL_CG = f"{CG_ROOT}/bench-kernel"
WARDEN_CG = f"{CG_ROOT}/bench-oomwarden"
# The host side sets these (--limit-mib, --band-pct, --incident-above): the numbers live there.
LIMIT_BYTES = 0
INCIDENT_ABOVE_BYTES = 0
# No hog lives this long: the kernel's killer at memory.max ends it within seconds even in the band.
HOG_TIMEOUT_MS = 30_000
OUTCOME_TIMEOUT_MS = 20_000
DAEMON_READY_TIMEOUT_MS = 240_000
COUNTERS = ("high", "max", "oom", "oom_kill")
IN_MODIFY = 0x2
libc = ctypes.CDLL(None, use_errno=True)


def now_ms():
    return time.monotonic() * 1000.0


def epoch_ms():
    return time.time() * 1000.0


def high_bytes(cg):
    text = read(f"{cg}/memory.high").strip()
    return None if text == "max" else int(text)


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def read(path):
    with open(path) as f:
        return f.read()


def say(text):
    print(f"[{time.monotonic():9.1f}] {text}", flush=True)


class CgroupFiles:
    """memory.events and memory.current kept open and re-read from offset 0 (no open per sample)."""

    def __init__(self, path):
        self.path = path
        self.events_fd = os.open(f"{path}/memory.events", os.O_RDONLY)
        self.current_fd = os.open(f"{path}/memory.current", os.O_RDONLY)

    def events(self):
        out = {}
        for line in os.pread(self.events_fd, 4096, 0).decode().split("\n"):
            if line:
                key, value = line.split()
                out[key] = int(value)
        return out

    def current(self):
        return int(os.pread(self.current_fd, 64, 0))

    def close(self):
        os.close(self.events_fd)
        os.close(self.current_fd)


def make_cgroup(path):
    os.mkdir(path)
    write(f"{path}/memory.max", str(LIMIT_BYTES))
    return CgroupFiles(path)


def default_priority():
    # The poller runs at nice -10; what it starts runs at the default, as it would anywhere.
    os.setpriority(os.PRIO_PROCESS, 0, 0)


def spawn_in(cg, argv, **kw):
    def enter():
        default_priority()
        # Joined before exec: everything the program allocates is charged there.
        write(f"{cg}/cgroup.procs", "0")
    return subprocess.Popen(argv, preexec_fn=enter, **kw)


def start_innocent(cg):
    p = spawn_in(cg, ["sleep", "100000"])
    deadline = now_ms() + 30_000
    while str(p.pid) not in read(f"{cg}/cgroup.procs").split() and now_ms() < deadline:
        time.sleep(0.01)
    return p


def inotify_on(path):
    fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
    if fd < 0 or libc.inotify_add_watch(fd, path.encode(), IN_MODIFY) < 0:
        raise OSError(ctypes.get_errno(), f"inotify on {path}")
    return fd


def drain(fd):
    try:
        while os.read(fd, 65536):
            pass
    except BlockingIOError:
        pass


def run_hog(files):
    """One hog from spawn to death and memory back; what the poller saw, in ms from the spawn."""
    base = files.events()
    ino = inotify_on(f"{files.path}/memory.events")
    t0 = now_ms()
    hog = spawn_in(files.path, ["tail", "/dev/zero"])
    pidfd = os.pidfd_open(hog.pid)
    poller = select.poll()
    poller.register(ino, select.POLLIN)
    poller.register(pidfd, select.POLLIN)
    first = {}
    # Memory is back when usage falls below half the limit, on both sides alike.
    back_below = LIMIT_BYTES // 2
    # Only the band has an incident threshold (usage past memory.high by what the kernel throttles).
    threshold = INCIDENT_ABOVE_BYTES if high_bytes(files.path) is not None else None
    peak = 0
    death_ms = None
    back_ms = None
    samples = 0
    timed_out = False
    while True:
        for fd, _ in poller.poll(1):
            if fd == ino:
                drain(ino)
            elif fd == pidfd and death_ms is None:
                death_ms = now_ms() - t0
                poller.unregister(pidfd)
        t = now_ms() - t0
        wall = epoch_ms()
        counters = files.events()
        current = files.current()
        samples += 1
        for key in COUNTERS:
            if key not in first and counters[key] > base[key]:
                first[key] = {"ms": round(t, 2), "epochMs": round(wall, 2)}
        if threshold is not None and "threshold" not in first and current > threshold:
            first["threshold"] = {"ms": round(t, 2), "epochMs": round(wall, 2)}
        peak = max(peak, current)
        # Back: below half after having been above it (the hog starts from nothing).
        if back_ms is None and peak > back_below and current < back_below:
            back_ms = t
        if death_ms is not None and back_ms is not None:
            break
        if t > HOG_TIMEOUT_MS:
            timed_out = True
            hog.kill()
            break
    hog.wait()
    end_ms = now_ms() - t0
    os.close(pidfd)
    os.close(ino)
    after = files.events()
    return {
        "hogPid": hog.pid,
        "hogExitSignal": -hog.returncode if hog.returncode < 0 else None,
        "hogExitCode": hog.returncode if hog.returncode >= 0 else None,
        "first": first,
        "deathMs": None if death_ms is None else round(death_ms, 2),
        "backMs": None if back_ms is None else round(back_ms, 2),
        "peakBytes": peak,
        "counterRise": {key: after[key] - base[key] for key in COUNTERS},
        "samples": samples,
        "meanSampleMs": round(end_ms / max(samples, 1), 3),
        "timedOut": timed_out,
    }


def journal_records(path):
    records = []
    try:
        text = read(path)
    except FileNotFoundError:
        return records
    for line in text.split("\n"):
        if line:
            try:
                records.append(json.loads(line))
            except ValueError:
                pass  # a line still being written
    return records


def wait_for_outcome(journal, pid):
    deadline = now_ms() + OUTCOME_TIMEOUT_MS
    while now_ms() < deadline:
        if any(r.get("type") == "outcome" and r.get("pid") == pid for r in journal_records(journal)):
            return True
        time.sleep(0.02)
    return False


class Daemon:
    def __init__(self, root, node, work, band_pct):
        os.makedirs(work, exist_ok=True)
        self.journal = f"{work}/journal.jsonl"
        self.stderr_path = f"{work}/daemon.stderr"
        config = f"{work}/config.yaml"
        # The machine guard is off: the guest's own memory is not what is measured.
        write(config, f"machineGuard: false\nguardBandPct: {band_pct}\n")
        t0 = now_ms()
        self.stderr = open(self.stderr_path, "w")
        self.process = subprocess.Popen(
            [node, f"{root}/dist/src/cli/main.js", "run", "--cgroup", WARDEN_CG, "--config", config, "--journal", self.journal, "--state-dir", f"{work}/state"],
            stdout=subprocess.DEVNULL, stderr=self.stderr, preexec_fn=default_priority)
        self.ready_ms = None
        while now_ms() - t0 < DAEMON_READY_TIMEOUT_MS and self.process.poll() is None:
            if re.search(r"^oomwarden: managing ", read(self.stderr_path), re.M):
                self.ready_ms = round(now_ms() - t0, 1)
                break
            time.sleep(0.1)

    def alive(self):
        return self.process.poll() is None

    def decisions(self):
        return sum(1 for r in journal_records(self.journal) if r.get("type") == "decision")

    def stop(self):
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        self.stderr.close()
        return code


def latency_trials(trials, daemon, kernel_files, warden_files):
    innocents = {KERNEL_CG: start_innocent(KERNEL_CG), WARDEN_CG: start_innocent(WARDEN_CG)}
    results = {"kernel": [], "oomwarden": []}
    for i in range(trials):
        # Each side goes first in every other pair.
        pair = (("kernel", kernel_files), ("oomwarden", warden_files))
        for side, files in pair if i % 2 == 0 else pair[::-1]:
            cg = files.path
            innocent = innocents[cg]
            before_high = high_bytes(cg)
            trial = run_hog(files)
            trial["innocentPid"] = innocent.pid
            if side == "oomwarden":
                trial["outcomeJournaled"] = wait_for_outcome(daemon.journal, trial["hogPid"])
                # The daemon recovers between trials: alive, its band still in place, usage under it.
                band = high_bytes(cg)
                trial["after"] = {"daemonAlive": daemon.alive(), "memoryHighBytes": band, "currentBytes": files.current(),
                                  "usageUnderBand": band is not None and files.current() < band}
            else:
                trial["memoryHighBytes"] = before_high
            trial["innocentAlive"] = innocent.poll() is None
            if not trial["innocentAlive"]:
                innocents[cg] = start_innocent(cg)
            results[side].append(trial)
            say(f"trial {i + 1} {side}: first {json.dumps(trial['first'])} death {trial['deathMs']} back {trial['backMs']} signal {trial['hogExitSignal']} innocent {'alive' if trial['innocentAlive'] else 'KILLED'}")
            if side == "oomwarden" and not daemon.alive():
                say("the daemon died: stopping the trials")
                return results, innocents
    return results, innocents


DD_COPIED = re.compile(r"(\d+) bytes .* copied, ([0-9.]+) s")


def dd_pass(cg, mib):
    p = spawn_in(cg, ["dd", "if=/dev/ram0", "of=/dev/null", "bs=1M", f"count={mib}"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, err = p.communicate()
    match = DD_COPIED.search(err.decode(errors="replace"))
    if p.returncode != 0 or match is None:
        return {"exit": p.returncode, "mibPerSec": None, "error": err.decode(errors="replace")[-200:]}
    seconds = float(match.group(2))
    return {"exit": 0, "mibPerSec": round(int(match.group(1)) / MIB / seconds, 1) if seconds > 0 else None, "seconds": seconds}


def stat(cg):
    keys = ("file", "anon", "pgsteal", "workingset_refault_file")
    return {k: int(v) for k, v in (line.split() for line in read(f"{cg}/memory.stat").split("\n") if line) if k in keys}


def drop_cache(cg):
    # Each run starts cold and charged to its own cgroup: nothing of the last run's cache is left.
    try:
        write(f"{cg}/memory.reclaim", str(LIMIT_BYTES * 2))
    except OSError:
        pass  # EAGAIN: it reclaimed what it could
    write("/proc/sys/vm/drop_caches", "1")


def cache_runs(brd, reps, passes, sizes_mib, daemon, files_by_mode):
    loaded = subprocess.run(["busybox", "insmod", brd, "rd_nr=1", f"rd_size={max(sizes_mib) * 1024}"], capture_output=True, text=True)
    if loaded.returncode != 0:
        return {"skipped": f"insmod {brd} failed: {loaded.stderr.strip()}"}
    # Random bytes, written from the root cgroup: brd's own pages are charged to nobody.
    subprocess.run(["dd", "if=/dev/urandom", "of=/dev/ram0", "bs=1M", f"count={max(sizes_mib)}"], capture_output=True)
    os.sync()
    write("/proc/sys/vm/drop_caches", "3")
    # The block device's page cache goes when its last opener closes it: a holder outside the
    # cgroups keeps /dev/ram0 open, so the passes after the first can hit the cache.
    holder = subprocess.Popen(["sleep", "100000"], stdin=open("/dev/ram0", "rb"))
    runs = []
    try:
        for rep in range(reps):
            modes = ["none", "band"] if rep % 2 == 0 else ["band", "none"]
            for mib in sizes_mib:
                for mode in modes:
                    files = files_by_mode[mode]
                    cg = files.path
                    drop_cache(cg)
                    before, events_before, decisions_before = stat(cg), files.events(), daemon.decisions()
                    run = {"rep": rep + 1, "mode": mode, "workingSetMiB": mib, "memoryHighBytes": high_bytes(cg), "passes": []}
                    for _ in range(passes):
                        result = dd_pass(cg, mib)
                        result["fileBytes"] = stat(cg)["file"]
                        run["passes"].append(result)
                    after, events_after = stat(cg), files.events()
                    run["pgsteal"] = after["pgsteal"] - before["pgsteal"]
                    run["refaults"] = after["workingset_refault_file"] - before["workingset_refault_file"]
                    run["highEvents"] = events_after["high"] - events_before["high"]
                    run["oomKills"] = events_after["oom_kill"] - events_before["oom_kill"]
                    run["daemonDecisions"] = daemon.decisions() - decisions_before
                    runs.append(run)
                    say(f"cache rep {rep + 1} {mode} {mib} MiB: {[p['mibPerSec'] for p in run['passes']]} MiB/s, refaults {run['refaults']}, high {run['highEvents']}, decisions {run['daemonDecisions']}")
    finally:
        holder.kill()
        holder.wait()
    return {"runs": runs}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, required=True)
    parser.add_argument("--limit-mib", type=int, required=True)
    parser.add_argument("--band-pct", type=float, required=True)
    parser.add_argument("--incident-above", type=int, required=True)
    parser.add_argument("--cache-reps", type=int, required=True)
    parser.add_argument("--cache-passes", type=int, required=True)
    parser.add_argument("--brd", default="")
    parser.add_argument("--cache-mib", required=True, help="working sets, comma-separated")
    parser.add_argument("--root", required=True)
    parser.add_argument("--node", required=True)
    args = parser.parse_args()
    global LIMIT_BYTES, INCIDENT_ABOVE_BYTES
    LIMIT_BYTES = args.limit_mib * MIB
    INCIDENT_ABOVE_BYTES = args.incident_above
    # At the daemon's own priority (it raises itself to nice -10): below it, the poller saw the
    # first `high` up to 60 ms after the daemon had been notified of it, while the daemon worked.
    os.nice(-10)
    out = {"uname": os.uname().release, "limitBytes": LIMIT_BYTES, "backBelowBytes": LIMIT_BYTES // 2, "niceness": os.nice(0)}
    started = now_ms()
    kernel_files = make_cgroup(KERNEL_CG)
    warden_files = make_cgroup(WARDEN_CG)
    # Its own pages are not what is measured: the daemon runs in the root cgroup, outside both.
    daemon = Daemon(args.root, args.node, "/tmp/oomwarden-bench", args.band_pct)
    out["daemon"] = {"readyMs": daemon.ready_ms, "memoryHighBytes": high_bytes(WARDEN_CG)}
    if daemon.ready_ms is None:
        out["error"] = "the daemon never said it was managing the cgroup"
    else:
        say(f"daemon ready after {daemon.ready_ms} ms; memory.high {out['daemon']['memoryHighBytes']}")
        out["trials"], innocents = latency_trials(args.trials, daemon, kernel_files, warden_files)
        out["latencyMs"] = round(now_ms() - started, 1)
        if args.brd and daemon.alive():
            t = now_ms()
            sizes = [int(mib) for mib in args.cache_mib.split(",")]
            out["cache"] = cache_runs(args.brd, args.cache_reps, args.cache_passes, sizes, daemon, {"none": kernel_files, "band": warden_files})
            out["cache"]["ms"] = round(now_ms() - t, 1)
        elif not args.brd:
            out["cache"] = {"skipped": "no brd.ko given"}
        for cg, innocent in innocents.items():
            out.setdefault("innocentsAtEnd", {})[cg] = innocent.poll() is None
    out["daemon"]["aliveAtEnd"] = daemon.alive()
    out["daemon"]["exitOnSigterm"] = daemon.stop()
    # Given back at stop: memory.high as it was before the daemon (max).
    out["daemon"]["memoryHighAfterStop"] = read(f"{WARDEN_CG}/memory.high").strip()
    out["journal"] = read(daemon.journal) if os.path.exists(daemon.journal) else ""
    out["daemonStderr"] = read(daemon.stderr_path)
    out["totalMs"] = round(now_ms() - started, 1)
    write("results.json", json.dumps(out))
    say(f"done in {out['totalMs']} ms")


if __name__ == "__main__":
    main()
