# One daemon, three managed cgroups in trouble at once: three 128 MiB cgroups, each with an
# innocent `sleep`, managed by one `oomwarden run`; then a `tail /dev/zero` in each, all started
# together. Each incident is its own: every tail must die by oomwarden's hand, every sleep live.
set -eu
. "$VM_IN/v2-lib.sh"
begin v2-three
dir=$(work_dir v2-three)
for x in a b c; do
  new_cgroup "$CGROUP_ROOT/v2-three-$x" $((128 * MiB))
  start_in "$CGROUP_ROOT/v2-three-$x" sleep 600
  echo $! > "innocent-$x-pid"
done

manage "$dir" "$CGROUP_ROOT/v2-three-a" "$CGROUP_ROOT/v2-three-b" "$CGROUP_ROOT/v2-three-c"
daemon=$DAEMON

for x in a b c; do
  start_in "$CGROUP_ROOT/v2-three-$x" tail /dev/zero
  echo $! > "hog-$x-pid"
done
for x in a b c; do exit_status "$(cat "hog-$x-pid")" 60 > "hog-$x-status"; done
for x in a b c; do alive_or_gone "$(cat "innocent-$x-pid")" > "innocent-$x-state"; done
poll_until 0.25 30 outcomes_at_least 3 "$dir/journal.jsonl" || echo "fewer than 3 outcome records" >&2
for x in a b c; do cat "$CGROUP_ROOT/v2-three-$x/memory.events" > "memory.events-$x"; done
stop_daemon "$daemon" TERM > daemon-status
for x in a b c; do memory_high "$CGROUP_ROOT/v2-three-$x" > "high-after-$x"; done
