#!/usr/bin/env python3
# Plays PID 1's one part that systemd-oomd cannot start without. systemd-oomd learns which cgroups
# to watch only from the service manager: at start it connects to PID 1's varlink socket
# /run/systemd/io.system.ManagedOOM, calls io.systemd.ManagedOOM.SubscribeManagedOOMCGroups,
# and PID 1 answers with every active unit that has ManagedOOMSwap= or ManagedOOMMemoryPressure=
# set; without that socket systemd-oomd exits ("Failed to start up daemon"). The guest's PID 1 is
# the test bed's busybox init, so this script listens there and answers what systemd would for
# the units Debian's systemd-oomd package configures (its drop-ins, passed in --cgroups as JSON):
# -.slice with ManagedOOMSwap=kill, user@.service with ManagedOOMMemoryPressure=kill at 50%.
# The wire format is varlink's: JSON objects, each ended by a NUL byte; "limit" is a fraction of
# UINT32_MAX, as PID 1 sends it. It keeps the connection open, as PID 1 does, and prints one line
# per call so the orchestrator knows systemd-oomd is subscribed.
import argparse
import json
import os
import socket
import sys


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--socket", required=True)
    parser.add_argument("--cgroups", required=True, help="JSON array of {mode, path, property[, limit]}")
    args = parser.parse_args()
    cgroups = json.loads(args.cgroups)
    os.makedirs(os.path.dirname(args.socket), exist_ok=True)
    try:
        os.unlink(args.socket)
    except FileNotFoundError:
        pass
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(args.socket)
    server.listen(4)
    print("listening", args.socket, flush=True)
    connections = []
    while True:
        conn, _ = server.accept()
        connections.append(conn)  # kept open: closing it would make systemd-oomd reconnect
        data = b""
        while b"\0" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
        if b"\0" not in data:
            continue
        call = json.loads(data.split(b"\0", 1)[0])
        if call.get("method") == "io.systemd.ManagedOOM.SubscribeManagedOOMCGroups":
            reply = {"parameters": {"cgroups": cgroups}}
            if call.get("more"):
                reply["continues"] = True
        else:
            reply = {"error": "org.varlink.service.MethodNotFound", "parameters": {"method": call.get("method")}}
        conn.sendall(json.dumps(reply).encode() + b"\0")
        print("answered", call.get("method"), json.dumps(cgroups), flush=True)


if __name__ == "__main__":
    sys.exit(main())
