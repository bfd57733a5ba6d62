# killUnit: process-group. The section's shell starts two things: a process group of three
# (mg-group.py: a leader that setpgid's itself and ignores SIGTERM, its children a hog that ignores
# SIGTERM too and a `sleep`), and an idle Python holding 100 MiB, which stays in the shell's own
# group. The hog is the victim; its whole group must die with it (SIGTERM, then SIGKILL for the
# two that ignore it) and the other group's process must live.
set -eu
. "$VM_IN/v2-lib.sh"
. "$VM_IN/mg-lib.sh"
begin mg-pgroup
dir=$(work_dir mg-pgroup)

hold_idle other 100
other=$HELD

guard "$dir" "killUnit: process-group"
daemon=$DAEMON
kernel_mark

python3 "$GROUP" --ignore-term "$PWD/group-pids" \
  python3 "$PROC" --ignore-term --head-start "$(head_start_mib 100)" "$ALLOC" 0 40 -- \
  sleep 600 > hog-progress 2> group.err &
leader=$!
STARTED="$STARTED $leader"
wait_until 30 test -e group-pids
hog=$(sed -n 2p group-pids)
sleeper=$(sed -n 3p group-pids)
STARTED="$STARTED $hog $sleeper"
echo "$leader" > leader-pid
echo "$hog" > hog-pid
echo "$sleeper" > sleeper-pid
{
  echo "leader $(pgid "$leader")"
  echo "hog $(pgid "$hog")"
  echo "sleeper $(pgid "$sleeper")"
  echo "other $(pgid "$other")"
  echo "shell $(pgid $$)"
} > pgids
mark "group $leader ($hog, $sleeper) started"

hog_status "$leader" > leader-status
wait_until 30 not_running "$hog" || true
wait_until 30 not_running "$sleeper" || true
alive_or_gone "$hog" > hog-state
alive_or_gone "$sleeper" > sleeper-state
alive_or_gone "$other" > other-state
outcomes_in "$dir/journal.jsonl" 1
kernel_report
stop_daemon "$daemon" TERM > daemon-status
