# The machine guard's levels on a guest that really runs out (1 GiB, no swap), with the daemon's
# defaults: an idle innocent holding 100 MiB, then two hogs one after the other, each growing at
# 20 MiB/s after a head start that leaves it about 100 MiB above the warn level. The first ignores
# SIGTERM: the warn level is journaled, the terminate level sends it SIGTERM, and SIGKILL must
# follow (memory reaching the kill level within the 3 s grace, or the grace ending while memory is
# still short). The second exits on SIGTERM (its default action): SIGTERM alone must end it. The
# kernel's OOM killer must never fire, and the innocent must live.
# Why 20 MiB/s: the terminate and kill levels are 5% (48 MiB) apart, 2.4 s at that rate. At 40 MiB/s
# (1.2 s) one CI run ended the second hog by SIGKILL: a sample late by a second under emulation on a
# busy host finds memory at the kill level, where the daemon rightly skips SIGTERM, and the order of
# the levels is then not there to see.
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
python3 "$PROC" --ignore-term --head-start "$(head_start_mib 100)" "$ALLOC" 0 20 > hog-a-progress 2> hog-a.err &
hog=$!
tracked hog-a "$hog"
mark "hog a $hog started"
hog_status "$hog" > hog-a-status
outcomes_in "$dir/journal.jsonl" 1
memory_back

# b: SIGTERM's default action.
python3 "$PROC" --head-start "$(head_start_mib 100)" "$ALLOC" 0 20 > hog-b-progress 2> hog-b.err &
hog=$!
tracked hog-b "$hog"
mark "hog b $hog started"
hog_status "$hog" > hog-b-status
outcomes_in "$dir/journal.jsonl" 2

alive_or_gone "$innocent" > innocent-state
grep VmRSS "/proc/$innocent/status" > innocent-rss || true
kernel_report
stop_daemon "$daemon" TERM > daemon-status
