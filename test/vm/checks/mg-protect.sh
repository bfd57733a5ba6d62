# A protect rule on a real machine running out: `bigdb` (a Python named so through its comm) holds
# 550 MiB, idle, the most of any process, and the config protects it (rules: keep-db, comm
# ^bigdb$, protect); a hog grows at 20 MiB/s after a head start, and at the guard's decision it is
# still smaller than bigdb, even counting the growth the ranking projects. The hog must go (by
# SIGTERM, its default action, or SIGKILL), bigdb must live, and the decision must list bigdb
# among the excluded, naming the rule.
set -eu
. "$VM_IN/v2-lib.sh"
. "$VM_IN/mg-lib.sh"
begin mg-protect
dir=$(work_dir mg-protect)

hold_idle bigdb 550 --comm bigdb
bigdb=$HELD
cat "/proc/$bigdb/comm" > bigdb-comm

guard "$dir" "rules:" "  - name: keep-db" "    comm: '^bigdb\$'" "    action: protect"
daemon=$DAEMON
kernel_mark

python3 "$PROC" --head-start "$(head_start_mib 60)" "$ALLOC" 0 20 > hog-progress 2> hog.err &
hog=$!
tracked hog "$hog"
mark "hog $hog started"
hog_status "$hog" > hog-status
outcomes_in "$dir/journal.jsonl" 1

alive_or_gone "$bigdb" > bigdb-state
grep VmRSS "/proc/$bigdb/status" > bigdb-rss || true
kernel_report
stop_daemon "$daemon" TERM > daemon-status
