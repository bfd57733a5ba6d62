# A whole-guest OOM, the baseline for the machine guard: an innocent holding 64 MiB beside a
# `tail /dev/zero` that grows until the guest (1 GiB, no swap) runs out. The kernel's global OOM
# killer has to fire, and this script has to live on to record what happened.
set -eu
python3 -c '
import time
held = [b"x" * (1 << 20) for _ in range(64)]  # touched pages, not a lazy zero mapping
open("innocent-ready", "w").close()
time.sleep(600)
' &
innocent=$!
until [ -e innocent-ready ]; do sleep 0.1; done
echo "$innocent" > innocent-pid

tail /dev/zero &
hog=$!
echo "$hog" > hog-pid
status=0
wait "$hog" || status=$?
echo "$status" > hog-status

if kill -0 "$innocent" 2>/dev/null; then echo alive; else echo gone; fi > innocent-state
grep VmRSS "/proc/$innocent/status" > innocent-rss || true
dmesg > dmesg
kill "$innocent"
wait "$innocent" || true
