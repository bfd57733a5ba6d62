# memory.oom.group: a managed 128 MiB cgroup with memory.oom.group 1 holds a `tail /dev/zero`, a
# `sleep`, and a child cgroup with one more `sleep`; a sibling cgroup outside it holds an innocent
# `sleep`. The cgroup is one unit: oomwarden must kill all of it through cgroup.kill, and nothing
# outside it.
set -eu
. "$VM_IN/v2-lib.sh"
begin v2-group
dir=$(work_dir v2-group)
cg=$CGROUP_ROOT/v2-group
sibling=$CGROUP_ROOT/v2-group-sibling
new_cgroup "$cg" $((128 * MiB))
echo 1 > "$cg/memory.oom.group"
new_cgroup "$cg/child"
new_cgroup "$sibling"

start_in "$cg" sleep 600
member=$!
start_in "$cg/child" sleep 600
nested=$!
start_in "$sibling" sleep 600
outsider=$!
echo "$member" > member-pid
echo "$nested" > nested-pid
echo "$outsider" > outsider-pid

manage "$dir" "$cg"
daemon=$DAEMON

start_in "$cg" tail /dev/zero
hog=$!
echo "$hog" > hog-pid
exit_status "$hog" 60 > hog-status
exit_status "$member" 10 > member-status
exit_status "$nested" 10 > nested-status
alive_or_gone "$outsider" > outsider-state
await_journal "$dir/journal.jsonl" '"type":"outcome"' || echo "no outcome record" >&2
cat "$cg/memory.events" > memory.events
cat "$cg/cgroup.events" > cgroup.events
stop_daemon "$daemon" TERM > daemon-status
