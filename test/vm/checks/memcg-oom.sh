# The kernel's own memcg OOM killer on cgroup v2, the baseline oomwarden's v2 handling will be
# compared against: a 64 MiB cgroup holding an idle `sleep` and a `tail /dev/zero` (which grows
# without bound). Records who died, how, and what the cgroup's counters say.
set -eu
cg=/sys/fs/cgroup/smoke-memcg-oom
mkdir "$cg"
echo $((64 * 1024 * 1024)) > "$cg/memory.max"

# Each joins the cgroup before exec'ing, so everything it allocates is charged there.
sh -c "echo \$\$ > $cg/cgroup.procs && exec sleep 600" &
innocent=$!
until grep -qx "$innocent" "$cg/cgroup.procs"; do sleep 0.1; done
echo "$innocent" > innocent-pid

sh -c "echo \$\$ > $cg/cgroup.procs && exec tail /dev/zero" &
hog=$!
echo "$hog" > hog-pid
status=0
wait "$hog" || status=$?
echo "$status" > hog-status

if kill -0 "$innocent" 2>/dev/null; then echo alive; else echo gone; fi > innocent-state
cat "$cg/cgroup.procs" > procs-after
cat "$cg/memory.events" > memory.events
dmesg > dmesg

kill "$innocent"
wait "$innocent" || true
rmdir "$cg"
