# Shared by the mg-*.sh sections (sourced after v2-lib.sh, whose begin/finish, waits and process
# helpers they use): the machine guard's daemon with the section's own config file, the machine's
# memory, and what the kernel did meanwhile.
#
# The daemon runs with its defaults (machine guard on, dry run off, the levels of
# src/core/tunable-keys.ts: warn below 15% available, terminate below 10%, kill below 5%, a 3 s
# grace after SIGTERM) and whatever the section adds: out of the box is what is tested.

PROC="$VM_IN/mg-proc.py"
GROUP="$VM_IN/mg-group.py"
# The default warn level, for the hogs' head start (mg-proc.py): how far they may go at once.
WARN_PCT=15

# tracked NAME PID: a process the section started in the background: stopped at the section's
# end (v2-lib.sh's STARTED), its pid in the file NAME-pid for the tests.
tracked() {
  STARTED="$STARTED $2"
  echo "$2" > "$1-pid"
}

# hold_idle NAME MIB [MG_PROC_OPTION...]: a Python holding MIB MiB and nothing more (mg-proc.py
# with the options, around v2-alloc.py), waited for until it holds it; tracked as NAME, pid in $HELD.
hold_idle() {
  _name=$1
  _mib=$2
  shift 2
  python3 "$PROC" "$@" "$ALLOC" "$_mib" 0 "$PWD/$_name-ready" > /dev/null &
  HELD=$!
  tracked "$_name" "$HELD"
  wait_until 60 test -e "$_name-ready"
}

# guard DIR [CONFIG_LINE...]: DIR/config.yaml (journal and state directory in DIR, then the
# lines), `oomwarden run --config` with it, waited for until it guards the machine; pid in $DAEMON.
guard() {
  _dir=$1
  shift
  write_config "$_dir/config.yaml" "journal: $_dir/journal.jsonl" "stateDir: $_dir/state" "$@"
  start_daemon daemon.log --config "$_dir/config.yaml"
  DAEMON=$!
  await_line daemon.log "oomwarden: guarding the whole machine"
}

# head_start_mib RESERVE_MIB: the MiB a hog may take at once and still leave RESERVE_MIB of
# MemAvailable above the warn level (0 if there is no such room).
head_start_mib() {
  awk -v reserve="$1" -v pct="$WARN_PCT" '
    $1 == "MemTotal:" { total = $2 }
    $1 == "MemAvailable:" { available = $2 }
    END { mib = int((available - total * pct / 100) / 1024 - reserve); print (mib > 0 ? mib : 0) }' /proc/meminfo
}

# available_above_pct PCT: MemAvailable is above PCT% of MemTotal (polled: one awk).
available_above_pct() {
  awk -v pct="$1" '
    $1 == "MemTotal:" { total = $2 }
    $1 == "MemAvailable:" { available = $2 }
    END { exit !(available > total * pct / 100) }' /proc/meminfo
}

# memory_back: waits until memory is above the warn level again and the guard has had time to see
# it (it samples at least once a second), so the episode is over and the warn level armed again.
memory_back() {
  wait_until 60 available_above_pct $((WARN_PCT + 3))
  sleep 2
  mark "memory back above the warn level"
}

# kernel_mark: from here on, what the kernel does is the section's: vmstat oom_kill and the kernel
# log's length now, MemTotal and MemAvailable for diagnosis.
kernel_mark() {
  awk '$1 == "oom_kill" { print $2 }' /proc/vmstat > oom-kills-before
  KERNEL_LOG_LINES=$(dmesg | wc -l)
  grep -E '^(MemTotal|MemAvailable):' /proc/meminfo > meminfo-before
}

# kernel_report: vmstat oom_kill now, and the kernel's log since kernel_mark.
kernel_report() {
  awk '$1 == "oom_kill" { print $2 }' /proc/vmstat > oom-kills-after
  dmesg | tail -n +$((KERNEL_LOG_LINES + 1)) > dmesg
}

# pgid PID: the process group of a process (the 5th field of /proc/PID/stat; the ones after the
# comm, which may hold spaces, counted from its closing parenthesis).
pgid() {
  sed 's/.*) //' "/proc/$1/stat" | cut -d' ' -f3
}

# outcomes_in JOURNAL N [SECONDS]: waits for N outcome records (or more) in the journal.
outcomes_in() {
  poll_until 0.25 "${3:-30}" outcomes_at_least "$2" "$1" || echo "fewer than $2 outcome records in $1" >&2
}

# hog_status PID: waits for the child (the hog, or the group leader holding it) to end and prints
# its exit status (137: SIGKILL, 143: SIGTERM). A plain blocking wait, not exit_status's polling:
# while the hog runs the section forks nothing, because a process caught exiting at the guard's
# snapshot (a poll's `sleep 0.1`) is waited for before anyone is chosen, and the decisions the
# tests count are the guard's own. The section's time limit stands in for a deadline; a hog the
# guard never stops is stopped by the kernel's OOM killer, which the tests then report.
hog_status() {
  _st=0
  wait "$1" || _st=$?
  mark "$1 exited $_st"
  echo "$_st"
}
