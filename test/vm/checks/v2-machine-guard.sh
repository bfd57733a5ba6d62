# The machine guard end to end, on a guest that really runs out: 1 GiB, no swap, a hog growing
# at 40 MiB/s in no limited cgroup beside an innocent Python holding 64 MiB, and `oomwarden run`
# with its defaults (machine guard on, no cgroup). oomwarden must kill the hog before the
# kernel's global OOM killer fires, and the innocent must keep its memory. A hog as fast as the
# guest can fill memory (tail /dev/zero) is still won by the kernel in about a quarter of boots:
# the guard's reaction time is the next piece of work, measured, not assumed, by the bench.
set -eu
. "$VM_IN/v2-lib.sh"
begin v2-machine
dir=$(work_dir v2-machine)

start_in "$CGROUP_ROOT" python3 "$ALLOC" 64 0 "$PWD/innocent-ready" > /dev/null
innocent=$!
echo "$innocent" > innocent-pid
wait_until 60 test -e innocent-ready

start_daemon daemon.log --journal "$dir/journal.jsonl" --state-dir "$dir/state"
daemon=$!
await_line daemon.log "oomwarden: guarding the whole machine"
grep -E 'MemTotal|MemAvailable' /proc/meminfo > meminfo-before
# For diagnosis: the daemon's own page faults and the machine's reclaim counters around the episode.
cat "/proc/$daemon/stat" > daemon-stat-before
cat /proc/vmstat > vmstat-before

# Only what the kernel logs from here on is this section's.
logged_before=$(dmesg | wc -l)
start_in "$CGROUP_ROOT" python3 "$ALLOC" 0 40 > hog-progress
hog=$!
echo "$hog" > hog-pid
exit_status "$hog" 90 > hog-status
alive_or_gone "$innocent" > innocent-state
cat "/proc/$daemon/stat" > daemon-stat-after
cat /proc/vmstat > vmstat-after
grep VmRSS "/proc/$innocent/status" > innocent-rss || true
await_journal "$dir/journal.jsonl" '"type":"outcome"' || echo "no outcome record" >&2
dmesg | tail -n +$((logged_before + 1)) > dmesg
stop_daemon "$daemon" TERM > daemon-status
