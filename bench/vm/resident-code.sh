# The daemon's own code under memory pressure, in the test VM (bench/resident-code.ts runs it):
# for each run, a fresh `oomwarden run` with its defaults (machine guard on) and the given
# resident-code mode, an innocent Python holding 64 MiB, then a hog that fills the guest. Recorded
# per run: the daemon's start (spawn to "guarding the whole machine"), its major faults, RSS and
# locked memory before the hog and after its death, its major faults and MemAvailable every half
# second while the hog grows, who killed the hog (the journal, the kernel log), and the journal.
#
# With EPISODES above 1, the same daemon meets that many hogs one after another (the files of the
# second are before-2, after-2, ...): what a daemon that lives on pays again at each episode.
#
# Inputs ($VM_IN): snapshot-root (a copy of dist/ and the addon, so a rebuild on the host during the
# run cannot change what the guest runs), launch.mjs, alloc.py, runs (one "MODE HOG NAME [EPISODES]" a line).
set -eu
SNAP=$(cat "$VM_IN/snapshot-root")
export SNAP
ALLOC="$VM_IN/alloc.py"
LAUNCH="$VM_IN/launch.mjs"

now_ms() { awk '{ printf "%d\n", $1 * 1000 }' /proc/uptime; }
# Field 12 of /proc/PID/stat (majflt); the comm in field 2 may hold spaces, so count after ") ".
majflt() { sed 's/.*) //' "/proc/$1/stat" | awk '{ print $10 }'; }
status_kib() { awk -v key="$2:" '$1 == key { print $2 }' "/proc/$1/status"; }
available_kib() { awk '$1 == "MemAvailable:" { print $2 }' /proc/meminfo; }
# Resident KiB per "perms path" of the daemon's mappings (smaps): what an episode touched first.
rss_by_mapping() { awk '/^[0-9a-f]+-[0-9a-f]+ / { key = $2 " " $6 } /^Rss:/ { rss[key] += $2 } END { for (k in rss) print k, rss[k] }' "/proc/$1/smaps" | sort; }
running() {
  _stat=""
  { read -r _stat < "/proc/$1/stat"; } 2>/dev/null || return 1
  case $_stat in *") Z "*) return 1 ;; esac
  return 0
}

# Which xattrs cgroupfs takes on this kernel (for the cgroup preference reader).
probe=/sys/fs/cgroup/rc-xattr-probe
mkdir "$probe"
for name in user.oomd_avoid user.oomd_omit trusted.oomd_prefer trusted.oomd_avoid; do
  if python3 -c "import os, sys; os.setxattr(sys.argv[1], sys.argv[2], b'1'); print(os.getxattr(sys.argv[1], sys.argv[2]).decode())" "$probe" "$name" > /dev/null 2>xattr-err; then
    echo "$name ok" >> xattr-probe
  else
    echo "$name refused: $(tail -n 1 xattr-err)" >> xattr-probe
  fi
done
rmdir "$probe"
uname -r > kernel

while read -r mode hog name episodes; do
  [ -n "$mode" ] || continue
  mkdir "$name"
  (
    cd "$name"
    state="/var/lib/rc-$name"
    mkdir -p "$state"
    python3 "$ALLOC" 64 0 "$PWD/innocent-ready" > /dev/null &
    innocent=$!
    until [ -e innocent-ready ]; do sleep 0.1; done
    logged_before=$(dmesg | wc -l)
    spawned=$(now_ms)
    RESIDENT_CODE=$mode "$NODE" "$LAUNCH" run --journal "$state/journal.jsonl" --state-dir "$state/state" 2> daemon.log &
    daemon=$!
    until grep -qF "guarding the whole machine" daemon.log; do
      running "$daemon" || { echo "daemon exited before guarding" >&2; break; }
      sleep 0.2
    done
    echo $(($(now_ms) - spawned)) > start-ms
    sleep 2
    episode=1
    while [ "$episode" -le "${episodes:-1}" ]; do
      if [ "$episode" -gt 1 ]; then sfx="-$episode"; sleep 5; else sfx=""; fi
      echo "$(majflt "$daemon") $(status_kib "$daemon" VmRSS) $(status_kib "$daemon" VmLck)" > "before$sfx"
      rss_by_mapping "$daemon" > "smaps-before$sfx"
      if [ "$hog" = fast ]; then
        tail /dev/zero &
      else
        python3 "$ALLOC" 0 40 > /dev/null &
      fi
      hogpid=$!
      hog_started=$(now_ms)
      while running "$hogpid"; do
        echo "$(($(now_ms) - hog_started)) $(majflt "$daemon" 2>/dev/null || echo -) $(available_kib)" >> "samples$sfx"
        if [ $(($(now_ms) - hog_started)) -gt 120000 ]; then kill -9 "$hogpid"; echo timeout > "hog-timeout$sfx"; fi
        sleep 0.5
      done
      hog_status=0
      wait "$hogpid" || hog_status=$?
      echo "$hog_status" > "hog-status$sfx"
      echo $(($(now_ms) - hog_started)) > "hog-ms$sfx"
      sleep 3
      echo "$(majflt "$daemon") $(status_kib "$daemon" VmRSS) $(status_kib "$daemon" VmLck)" > "after$sfx"
      rss_by_mapping "$daemon" > "smaps-after$sfx"
      episode=$((episode + 1))
    done
    if running "$innocent"; then echo alive > innocent; else echo gone > innocent; fi
    dmesg | tail -n +$((logged_before + 1)) | grep -E "Out of memory|oom-kill" > kernel-oom || true
    kill -TERM "$daemon" 2>/dev/null || true
    wait "$daemon" 2>/dev/null || true
    kill -9 "$innocent" 2>/dev/null || true
    wait "$innocent" 2>/dev/null || true
    cp "$state/journal.jsonl" . 2>/dev/null || true
    rm -rf "$state"
  )
  echo "run $name done"
done < "$VM_IN/runs"
