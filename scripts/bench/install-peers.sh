#!/usr/bin/env bash
# Puts the peers of `npm run bench -- peers` where the VM guest finds them. The guest runs the
# host's root read-only, so a package installed here is there too; but these daemons must never
# run on this host (they would kill its processes), so:
# - earlyoom and nohang (Debian 12) are installed with a policy-rc.d that refuses to start
#   services (one already there is kept; ours is removed afterwards), without recommends (their
#   configs and binaries are the same either way);
# - systemd-oomd is only downloaded and unpacked into build-vm/peers/systemd-oomd, never
#   installed: its package requires a libsystemd-shared of its own version, and installing it
#   would upgrade this host's systemd to match. The guest runs it from there, with the
#   libsystemd-shared unpacked beside it.
# Afterwards no earlyoom, nohang or systemd-oomd may run here; one this script finds started
# since it began is stopped by its pid and reported.
# Idempotent: installed packages and an unpacked oomd of the current version are left as they are.
set -euo pipefail
cd "$(dirname "$0")/../.."

OUT=build-vm/peers
OOMD_DIR=$OUT/systemd-oomd
POLICY=/usr/sbin/policy-rc.d
PEER_NAMES=(earlyoom nohang systemd-oomd)

fail() { echo "install-peers: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fail "needs root (apt-get install)"
command -v apt-get >/dev/null || fail "apt-get not found: the peers are Debian packages"

# Processes named like a peer that already run (none should), so that only new ones count below.
peer_pids() { for name in "${PEER_NAMES[@]}"; do pgrep -x "$name" || true; done; pgrep -f '/usr/sbin/nohang' || true; }
before=$(peer_pids | sort -u)

created_policy=0
if [ ! -e "$POLICY" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$POLICY"
  chmod +x "$POLICY"
  created_policy=1
fi
remove_policy() { if [ "$created_policy" = 1 ]; then rm -f "$POLICY"; fi; }
trap remove_policy EXIT
# A policy-rc.d that allows starting services would start the daemons here.
policy_status=0
"$POLICY" earlyoom start >/dev/null 2>&1 || policy_status=$?
[ "$policy_status" = 101 ] || fail "$POLICY answers $policy_status, not 101 (deny): refusing to install daemons that would start on this host"

echo "install-peers: apt-get update"
apt-get update -q >/dev/null
missing=()
for package in earlyoom nohang; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "install-peers: installing ${missing[*]} (services not started: $POLICY)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "install-peers: earlyoom and nohang already installed"
fi

version=$(apt-cache policy systemd-oomd | awk '$1 == "Candidate:" { print $2; exit }')
[ -n "$version" ] && [ "$version" != "(none)" ] || fail "no systemd-oomd in the package lists"
if [ -f "$OOMD_DIR/stamp" ] && [ "$(cat "$OOMD_DIR/stamp")" = "$version" ] && [ -x "$OOMD_DIR/root/lib/systemd/systemd-oomd" ]; then
  echo "install-peers: systemd-oomd $version already unpacked in $OOMD_DIR"
else
  work=$(mktemp -d)
  echo "install-peers: unpacking systemd-oomd $version and its libsystemd-shared into $OOMD_DIR (not installed)"
  (cd "$work" && apt-get download -q -o APT::Sandbox::User=root "systemd-oomd=$version" "libsystemd-shared=$version" >/dev/null)
  rm -rf "$OOMD_DIR"
  mkdir -p "$OOMD_DIR/root"
  for deb in "$work"/*.deb; do dpkg-deb -x "$deb" "$OOMD_DIR/root"; done
  rm -rf "$work"
  echo "$version" > "$OOMD_DIR/stamp"
fi

# None of them may be running here now; one that appeared since we began is ours to stop.
after=$(peer_pids | sort -u)
started=$(comm -13 <(echo "$before") <(echo "$after") | grep . || true)
if [ -n "$started" ]; then
  for pid in $started; do
    echo "install-peers: a peer started on this host (pid $pid: $(cat /proc/"$pid"/cmdline 2>/dev/null | tr '\0' ' ')); stopping it" >&2
    kill "$pid" 2>/dev/null || true
  done
  fail "a peer daemon started on the host despite $POLICY"
fi
[ -z "$after" ] || echo "install-peers: note: peer-named processes were already running before this script: $after" >&2
echo "install-peers: done: $(dpkg-query -W -f='${Package} ${Version}, ' earlyoom nohang)systemd-oomd $version (unpacked); none running here"
