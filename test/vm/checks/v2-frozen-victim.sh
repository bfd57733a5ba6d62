# A victim that cannot run: the biggest process of a managed 128 MiB cgroup sits frozen in a child
# cgroup (cgroup.freeze 1), holding 80 MiB. A second child holds an innocent `sleep` and an
# allocator that takes 60 MiB at 40 MiB/s and then holds them: it pushes the parent into the guard
# band while the frozen process cannot allocate (nor exit by itself). oomwarden must kill the
# frozen one, see its memory come back, and kill nothing else (the allocator then finishes below
# the band).
set -eu
. "$VM_IN/v2-lib.sh"
begin v2-frozen
dir=$(work_dir v2-frozen)
cg=$CGROUP_ROOT/v2-frozen
new_cgroup "$cg" $((128 * MiB))
new_cgroup "$cg/frozen"
new_cgroup "$cg/work"

start_in "$cg/frozen" python3 "$ALLOC" 80 0 "$PWD/frozen-ready" > /dev/null
frozen=$!
echo "$frozen" > frozen-pid
wait_until 60 test -e frozen-ready
echo 1 > "$cg/frozen/cgroup.freeze"
wait_until 10 grep -qx "frozen 1" "$cg/frozen/cgroup.events"
# What the frozen process looks like to oomwarden: its state and where it waits.
grep State "/proc/$frozen/status" > frozen-state-before
cat "/proc/$frozen/wchan" > frozen-wchan-before
cat "$cg/frozen/cgroup.events" > frozen-cgroup.events-before
cat "$cg/memory.current" > usage-frozen

start_in "$cg/work" sleep 600
innocent=$!
echo "$innocent" > innocent-pid

manage "$dir" "$cg"
daemon=$DAEMON

start_in "$cg/work" python3 "$ALLOC" 60 40 "$PWD/alloc-ready" > /dev/null
alloc=$!
echo "$alloc" > alloc-pid
exit_status "$frozen" 60 > frozen-status
await_journal "$dir/journal.jsonl" '"type":"outcome"' || echo "no outcome record" >&2
wait_until 30 test -e alloc-ready || echo "the allocator did not finish" >&2
alive_or_gone "$alloc" > alloc-state
alive_or_gone "$innocent" > innocent-state
cat "$cg/memory.current" > usage-after
cat "$cg/memory.events" > memory.events
cat "$cg/frozen/cgroup.events" > frozen-cgroup.events
stop_daemon "$daemon" TERM > daemon-status
