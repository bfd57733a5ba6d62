# killUnit: cgroup, with its default pattern (a cgroup named *.service or *.scope). Two sibling
# cgroups under the v2 root: build.service holds a hog and a helper holding 8 MiB, both ignoring
# SIGTERM; db.service holds an innocent Python holding 100 MiB. The hog is the victim and its
# unit is build.service: SIGTERM to both, then cgroup.kill at the SIGKILL. build.service must be
# left empty, db.service's process must live.
set -eu
. "$VM_IN/v2-lib.sh"
. "$VM_IN/mg-lib.sh"
begin mg-cgroup
dir=$(work_dir mg-cgroup)
build=$CGROUP_ROOT/build.service
db=$CGROUP_ROOT/db.service
new_cgroup "$build"
new_cgroup "$db"

start_in "$db" python3 "$ALLOC" 100 0 "$PWD/db-ready" > /dev/null
innocent=$!
echo "$innocent" > innocent-pid
start_in "$build" python3 "$PROC" --ignore-term "$ALLOC" 8 0 "$PWD/helper-ready" > /dev/null
helper=$!
echo "$helper" > helper-pid
wait_until 60 test -e db-ready
wait_until 60 test -e helper-ready

guard "$dir" "killUnit: cgroup"
daemon=$DAEMON
kernel_mark

start_in "$build" python3 "$PROC" --ignore-term --head-start "$(head_start_mib 100)" "$ALLOC" 0 40 > hog-progress 2> hog.err
hog=$!
echo "$hog" > hog-pid
mark "hog $hog started"
hog_status "$hog" > hog-status
exit_status "$helper" 30 > helper-status
alive_or_gone "$innocent" > innocent-state
outcomes_in "$dir/journal.jsonl" 1
cat "$build/cgroup.procs" > build-procs-after
cat "$build/cgroup.events" > build-cgroup.events
cat "$db/cgroup.procs" > db-procs-after
kernel_report
stop_daemon "$daemon" TERM > daemon-status
