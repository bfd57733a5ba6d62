# The guard band doing its job: a 128 MiB cgroup with a `tail /dev/zero` and an innocent `sleep`,
# managed by `oomwarden run --cgroup` (machine guard off). oomwarden sets memory.high 10% below
# memory.max; the tail is throttled there and oomwarden kills it before the kernel's killer at
# memory.max would. Records memory.high before, while managed and after SIGTERM, who lived, the
# cgroup's counters and the journal.
set -eu
. "$VM_IN/v2-lib.sh"
begin v2-band
dir=$(work_dir v2-band)
cg=$CGROUP_ROOT/v2-band
new_cgroup "$cg" $((128 * MiB))
memory_high "$cg" > high-before

start_in "$cg" sleep 600
innocent=$!
echo "$innocent" > innocent-pid

manage "$dir" "$cg"
daemon=$DAEMON
memory_high "$cg" > high-managed

start_in "$cg" tail /dev/zero
hog=$!
echo "$hog" > hog-pid
exit_status "$hog" 60 > hog-status
alive_or_gone "$innocent" > innocent-state
await_journal "$dir/journal.jsonl" '"type":"outcome"' || echo "no outcome record" >&2
cat "$cg/memory.events" > memory.events

stop_daemon "$daemon" TERM > daemon-status
memory_high "$cg" > high-after
