# A memory allocator for the v2 sections: v2-alloc.py MIB RATE [READY_FILE]
# Touches MIB MiB in 1 MiB blocks (real pages, not a lazy zero mapping), RATE blocks a second on a
# fixed schedule (0: as fast as it can), printing "<CLOCK_MONOTONIC ms> <blocks>" after each block;
# then creates READY_FILE (if given) and holds the memory until killed. MIB 0 means without end.
import os
import sys
import time

mib, rate = int(sys.argv[1]), float(sys.argv[2])
ready = sys.argv[3] if len(sys.argv) > 3 else None
out = os.fdopen(1, "w", buffering=1)
held = []
start = time.monotonic()
n = 0
while mib == 0 or n < mib:
    if rate > 0:
        delay = start + n / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    held.append(bytearray(b"x" * (1 << 20)))
    n += 1
    out.write("%.1f %d\n" % (time.monotonic() * 1000, n))
if ready is not None:
    open(ready, "w").close()
while True:
    time.sleep(3600)
