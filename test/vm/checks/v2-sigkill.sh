# A daemon killed by SIGKILL cannot give its guard band back; the ledger can. Part a: oomwarden
# manages a 128 MiB cgroup in which an allocator grows at 20 MiB/s; the daemon is SIGKILLed while
# usage is still far below the band (32 MiB of the 115 where it starts), so that it cannot have
# killed the allocator first. memory.high stays at the band value: the allocator, alone now, is
# throttled there (what a workload sees while no daemon runs), until `oomwarden restore` puts the
# original back. Part b: a daemon managing another cgroup is SIGKILLed and a new daemon on the same
# state directory manages it again: it must take the recorded original ("max"), not the band it
# finds, as the value to give back at its SIGTERM. The parts overlap, since each Node start costs
# seconds here: both first daemons start together, and the second daemon of part b starts while
# part a goes on.
set -eu
. "$VM_IN/v2-lib.sh"
begin v2-sigkill
dir=$(work_dir v2-sigkill)
a=$CGROUP_ROOT/v2-sigkill-a
b=$CGROUP_ROOT/v2-sigkill-b
new_cgroup "$a" $((128 * MiB))
new_cgroup "$b" $((128 * MiB))
memory_high "$a" > high-before-a
memory_high "$b" > high-before-b
write_config "$dir/config.yaml" "machineGuard: false"
start_in "$a" sleep 600
start_in "$b" sleep 600

start_daemon daemon-a.log --config "$dir/config.yaml" --state-dir "$dir/a" --journal "$dir/journal-a.jsonl" --cgroup "$a"
daemon_a=$!
start_daemon daemon-b1.log --config "$dir/config.yaml" --state-dir "$dir/b" --journal "$dir/journal-b.jsonl" --cgroup "$b"
daemon_b=$!
await_managing daemon-a.log "$a"
await_managing daemon-b1.log "$b"
memory_high "$a" > high-managed-a
memory_high "$b" > high-managed-b1
band=$(cat high-managed-a)

# Part b, first half: SIGKILL, then the next daemon on the same state directory, starting in the background.
stop_daemon "$daemon_b" KILL > daemon-b1-status
memory_high "$b" > high-after-sigkill-b
start_daemon daemon-b2.log --config "$dir/config.yaml" --state-dir "$dir/b" --journal "$dir/journal-b.jsonl" --cgroup "$b"
daemon_b=$!

# Part a. The allocator writes a line per 1 MiB block: its rate below and in the band.
start_in "$a" python3 "$ALLOC" 0 20 > hog-blocks
hog=$!
wait_until 30 usage_above "$a" $((32 * MiB))
cat "$a/memory.current" > usage-at-sigkill
stop_daemon "$daemon_a" KILL > daemon-a-status
killed_at=$(now_ms)
memory_high "$a" > high-after-sigkill-a

# Alone in the band: usage past memory.high, then two seconds of throttling, memory.high read
# each half second.
wait_until 30 usage_above "$a" "$band"
in_band_at=$(now_ms)
mark "usage past memory.high"
blocks_start=$(wc -l < hog-blocks)
: > high-while-alone
for i in 1 2 3 4; do
  sleep 0.5
  memory_high "$a" >> high-while-alone
done
blocks_end=$(wc -l < hog-blocks)
in_band_end=$(now_ms)
echo "$((blocks_end - blocks_start)) $((in_band_end - in_band_at))" > blocks-in-band
cat "$a/memory.current" > usage-in-band
alive_or_gone "$hog" > hog-state-in-band
oom_kills "$a" > oom-kills-a
kill -9 "$hog"
wait "$hog" || true
mark "allocator stopped"

memory_high "$a" > high-before-restore-a
restore_at=$(now_ms)
echo "$((restore_at - killed_at))" > band-held-ms
restore "$dir/a" > restore-status
memory_high "$a" > high-after-restore-a

# Part b, second half.
await_managing daemon-b2.log "$b"
memory_high "$b" > high-managed-b2
stop_daemon "$daemon_b" TERM > daemon-b2-status
memory_high "$b" > high-after-b2
