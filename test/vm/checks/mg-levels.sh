# The machine guard's levels on a guest that really runs out (1 GiB, no swap), with the daemon's
# defaults: an idle innocent holding 100 MiB, then two hogs one after the other, each growing at
# 40 MiB/s after a head start that leaves it about 100 MiB above the warn level. The first ignores
# SIGTERM: the warn level is journaled, the terminate level sends it SIGTERM, and SIGKILL must
# follow (memory reaching the kill level within the 3 s grace, or the grace ending while memory is
# still short). The second exits on SIGTERM (its default action): SIGTERM alone must end it. The
# kernel's OOM killer must never fire, and the innocent must live.
set -eu
. "$VM_IN/v2-lib.sh"
. "$VM_IN/mg-lib.sh"
begin mg-levels
dir=$(work_dir mg-levels)

hold_idle innocent 100
innocent=$HELD

guard "$dir"
daemon=$DAEMON
kernel_mark

# a: ignores SIGTERM.
python3 "$PROC" --ignore-term --head-start "$(head_start_mib 100)" "$ALLOC" 0 40 > hog-a-progress 2> hog-a.err &
hog=$!
tracked hog-a "$hog"
mark "hog a $hog started"
hog_status "$hog" > hog-a-status
outcomes_in "$dir/journal.jsonl" 1
memory_back

# b: SIGTERM's default action.
python3 "$PROC" --head-start "$(head_start_mib 100)" "$ALLOC" 0 40 > hog-b-progress 2> hog-b.err &
hog=$!
tracked hog-b "$hog"
mark "hog b $hog started"
hog_status "$hog" > hog-b-status
outcomes_in "$dir/journal.jsonl" 2

alive_or_gone "$innocent" > innocent-state
grep VmRSS "/proc/$innocent/status" > innocent-rss || true
kernel_report
stop_daemon "$daemon" TERM > daemon-status
