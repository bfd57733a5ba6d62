# Shared by the v2-*.sh sections (sourced): cgroups, processes placed in them, oomwarden started
# and stopped, and waits with a deadline. Everything a section records goes to a file in its folder
# (the current directory) for the test to read.
#
# oomwarden's state directory and journal live on the guest's own tmpfs, not in the section's
# folder: that folder is a 9p share whose files belong to whoever runs qemu on the host (a CI user,
# not root), and oomwarden refuses a state directory or journal that is not its own user's. The
# section copies them into its folder when it ends.
#
# A section calls `begin NAME` first. Whatever way it ends (done, a failed command under set -e,
# its time limit's SIGTERM), the exit trap stops the daemons it started with SIGTERM (so they give
# their cgroups back), SIGKILLs the other processes it started, removes its cgroups and saves
# oomwarden's files: nothing of it is left to disturb the next section.
#
# sh has no local variables: the helpers' own start with "_", so they cannot overwrite a section's.

MiB=$((1024 * 1024))
OOMWARDEN="$OOMWARDEN_ROOT/dist/src/cli/main.js"
ALLOC="$VM_IN/v2-alloc.py"
CGROUP_ROOT=/sys/fs/cgroup

SECTION=""
STARTED=""
DAEMONS=""
CGROUPS=""

# begin NAME: the section's name (its cgroups are NAME and NAME-*, its files under work_dir NAME).
begin() {
  SECTION=$1
  trap finish EXIT
  trap 'exit 143' TERM INT
}

# new_cgroup PATH [MAX_BYTES]: makes the cgroup, with memory.max if given; removed at the end.
new_cgroup() {
  mkdir "$1"
  CGROUPS="$1 $CGROUPS"
  if [ -n "${2:-}" ]; then echo "$2" > "$1/memory.max"; fi
}

# start_in CGROUP_PATH COMMAND...: runs the command in the cgroup, in the background ($! is its
# pid). It joins before exec'ing, so everything the command allocates is charged there.
start_in() {
  _cg=$1
  shift
  sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$_cg" "$@" &
  STARTED="$STARTED $!"
}

# running PID: the process exists and is not a zombie (kill -0 succeeds on an unreaped child too).
# Shell builtins only: it is polled, and every fork costs under TCG.
running() {
  _stat=""
  { read -r _stat < "/proc/$1/stat"; } 2>/dev/null || return 1
  case $_stat in *") Z "*) return 1 ;; esac
  return 0
}

not_running() {
  ! running "$1"
}

# alive_or_gone PID: "alive" or "gone", for a file.
alive_or_gone() {
  if running "$1"; then echo alive; else echo gone; fi
}

# poll_until STEP SECONDS COMMAND...: runs the command every STEP seconds until it succeeds; fails
# once SECONDS have passed.
poll_until() {
  _step=$1
  _tries=$(awk -v limit="$2" -v step="$1" 'BEGIN { printf "%d\n", limit / step }')
  shift 2
  _n=0
  until "$@"; do
    _n=$((_n + 1))
    if [ "$_n" -ge "$_tries" ]; then return 1; fi
    sleep "$_step"
  done
}

# wait_until SECONDS COMMAND...: poll_until every 0.1 s.
wait_until() {
  poll_until 0.1 "$@"
}

# exit_status PID SECONDS: waits for the child to end (at most SECONDS, then SIGKILL) and prints
# its exit status (137: SIGKILL; "timeout" if it had to be killed here).
exit_status() {
  if wait_until "$2" not_running "$1"; then
    _st=0
    wait "$1" || _st=$?
    mark "$1 exited $_st"
    echo "$_st"
  else
    mark "$1 still running after $2 s: killed here"
    kill -9 "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
    echo timeout
  fi
}

# now_ms: the guest's monotonic clock in ms (uptime), for durations recorded in files.
now_ms() {
  awk '{ printf "%d\n", $1 * 1000 }' /proc/uptime
}

# mark WHAT: a line "<guest ms> WHAT" in the section's timeline, for diagnosis.
mark() {
  echo "$(now_ms) $*" >> timeline
}

# memory_high CGROUP_PATH
memory_high() {
  cat "$1/memory.high"
}

# usage_above CGROUP_PATH BYTES: memory.current is above BYTES (builtins only: it is polled).
usage_above() {
  read -r _usage < "$1/memory.current"
  [ "$_usage" -gt "$2" ]
}

# oom_kills CGROUP_PATH: the oom_kill counter of memory.events.
oom_kills() {
  awk '$1 == "oom_kill" { print $2 }' "$1/memory.events"
}

# work_dir NAME: where the section keeps oomwarden's files (see the note at the top): config.yaml,
# journal.jsonl and the state directory state/ (takeover.json).
work_dir() {
  mkdir -p "/var/lib/oomwarden-$1"
  echo "/var/lib/oomwarden-$1"
}

# write_config FILE LINES...: a config file, one line per argument.
write_config() {
  _file=$1
  shift
  : > "$_file"
  for _line in "$@"; do echo "$_line" >> "$_file"; done
}

# start_daemon LOG ARGS...: `oomwarden run ARGS` in the background ($! is its pid), stderr to LOG.
start_daemon() {
  _log=$1
  shift
  "$NODE" "$OOMWARDEN" run "$@" 2> "$_log" &
  DAEMONS="$DAEMONS $!"
  mark "daemon $! started ($_log)"
}

# manage DIR CGROUP...: one daemon (machine guard off, journal and state under DIR) managing the
# cgroups, started and waited for until it manages each; its pid in $DAEMON.
manage() {
  _dir=$1
  shift
  write_config "$_dir/config.yaml" "machineGuard: false" "journal: $_dir/journal.jsonl" "stateDir: $_dir/state"
  _args=""
  for _cg in "$@"; do _args="$_args --cgroup $_cg"; done
  # Cgroup paths here are ours and have no spaces: word splitting of _args is safe.
  # shellcheck disable=SC2086
  start_daemon daemon.log --config "$_dir/config.yaml" $_args
  DAEMON=$!
  for _cg in "$@"; do await_managing daemon.log "$_cg"; done
}

# restore STATE_DIR: `oomwarden restore`, its stdout to restore.out, stderr to restore.err; prints its status.
restore() {
  _st=0
  mark "restore started"
  "$NODE" "$OOMWARDEN" restore --state-dir "$1" > restore.out 2> restore.err || _st=$?
  mark "restore exited $_st"
  echo "$_st"
}

# await_line LOG TEXT [SECONDS]: waits for oomwarden to log TEXT. Node needs seconds to start under
# TCG, a minute and more while the host is busy; polled every half second, to leave it the CPU.
await_line() {
  poll_until 0.5 "${3:-150}" grep -qF -- "$2" "$1"
  mark "logged in $1: $2"
}

# await_managing LOG CGROUP_PATH: oomwarden has set the cgroup's band and listens.
await_managing() {
  await_line "$1" "oomwarden: managing $2 ("
}

# await_journal JOURNAL TEXT [SECONDS]: a record containing TEXT is in the journal.
await_journal() {
  poll_until 0.25 "${3:-30}" grep -qF -- "$2" "$1"
}

# outcomes_at_least N JOURNAL: the journal holds N outcome records or more.
outcomes_at_least() {
  [ "$(grep -c '"type":"outcome"' "$2")" -ge "$1" ]
}

# stop_daemon PID SIGNAL: signals the daemon, waits for it and prints its exit status.
stop_daemon() {
  kill "-$2" "$1" 2>/dev/null || true
  exit_status "$1" 30
}

# The exit trap (see begin).
finish() {
  _status=$?
  set +e
  trap - EXIT TERM INT
  for _pid in $DAEMONS; do
    if running "$_pid"; then kill -TERM "$_pid" 2>/dev/null || true; fi
  done
  for _pid in $DAEMONS; do
    wait_until 10 not_running "$_pid" || kill -9 "$_pid" 2>/dev/null || true
  done
  for _pid in $STARTED; do
    if running "$_pid"; then kill -9 "$_pid" 2>/dev/null || true; fi
  done
  for _pid in $DAEMONS $STARTED; do wait "$_pid" 2>/dev/null || true; done
  for _cg in $CGROUPS; do
    # A victim may still be leaving: give it a moment.
    wait_until 10 rmdir "$_cg" 2>/dev/null || echo "could not remove $_cg" >&2
  done
  _dir=/var/lib/oomwarden-$SECTION
  for _file in "$_dir"/*.jsonl "$_dir"/*.yaml; do
    if [ -f "$_file" ]; then cp "$_file" .; fi
  done
  for _ledger in "$_dir"/*/takeover.json; do
    if [ -f "$_ledger" ]; then cp "$_ledger" "./$(basename "$(dirname "$_ledger")").takeover.json"; fi
  done
  exit "$_status"
}
