# The kernel's killer acting first, in a cgroup oomwarden manages: a Python holding 80 MiB beside
# an innocent `sleep` in a 128 MiB cgroup, below the guard band; then memory.max is lowered to
# 48 MiB. The kernel reclaims and, finding nothing to reclaim, OOM-kills inside the write itself,
# before any notification can reach user space: no race a user-space handler could win. (A fast
# hog is no reliable way to get there: with a 2% band, oomwarden killed a `tail /dev/zero`, four of
# them at once and a single 200 MiB read() before the kernel did, except once of two with four
# tails.) oomwarden must journal the kernel's kill with its victim named from the kernel log, and
# kill nobody itself.
set -eu
. "$VM_IN/v2-lib.sh"
begin v2-kfirst
dir=$(work_dir v2-kfirst)
cg=$CGROUP_ROOT/v2-kfirst
new_cgroup "$cg" $((128 * MiB))

start_in "$cg" sleep 600
innocent=$!
echo "$innocent" > innocent-pid
start_in "$cg" python3 "$ALLOC" 80 0 "$PWD/holder-ready" > /dev/null
holder=$!
echo "$holder" > holder-pid
wait_until 60 test -e holder-ready

manage "$dir" "$cg"
daemon=$DAEMON
cat "$cg/memory.current" > usage-before
memory_high "$cg" > high-managed

mark "memory.max lowered"
echo $((48 * MiB)) > "$cg/memory.max"
mark "memory.max write returned"
# The band was planned for the old memory.max.
memory_high "$cg" > high-after-lowering
exit_status "$holder" 30 > holder-status
await_journal "$dir/journal.jsonl" '"type":"kernel-kill"' || echo "no kernel-kill record" >&2
# Time for a wrong decision to show, had oomwarden one to make.
sleep 2
alive_or_gone "$innocent" > innocent-state
cat "$cg/cgroup.procs" > procs-after
cat "$cg/memory.events" > memory.events
dmesg > dmesg
stop_daemon "$daemon" TERM > daemon-status
