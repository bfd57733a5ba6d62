# A plain scan of /proc/*/oom_score in Python, the kind of whole-machine listing a Python OOM
# helper makes: the baseline bench/process-listing.ts compares oomwarden's listing with, on the
# host and in the VM. Prints {"ms": [...], "cpuMs": [...]}: wall and CPU time of each scan after
# the warm-up scans.
import json
import os
import sys
import time


def scan():
    read = 0
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/oom_score") as f:
                f.read()
            read += 1
        except OSError:
            pass  # gone meanwhile
    return read


rounds = int(sys.argv[1])
warmup = int(sys.argv[2]) if len(sys.argv) > 2 else 3
for _ in range(warmup):
    scan()
times = []
cpu_times = []
for _ in range(rounds):
    start = time.perf_counter()
    start_cpu = time.process_time()
    scan()
    cpu_times.append((time.process_time() - start_cpu) * 1000)
    times.append((time.perf_counter() - start) * 1000)
print(json.dumps({"ms": times, "cpuMs": cpu_times}))
