#!/usr/bin/env python3
"""What unauthenticated connections cost `onevisit serve`: its resident memory (VmRSS) with N
clients that never log in, each holding a connection open.

  scripts/http_connection_memory.py --bin build/apps/onevisit --connections 100 --mode slow

Modes:
  idle  each client sends half a request head and waits (slowloris);
  slow  each client declares an 8 MB upload and sends --body-bytes of it, then waits.

Prints the server's RSS before and with the connections, the cost per connection, and the
statuses the clients got back (413 before the body, 503 beyond --max-connections). Extra
arguments after `--` go to `onevisit serve`.
"""
import argparse
import os
import re
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", default="build/apps/onevisit")
    parser.add_argument("--connections", type=int, default=100)
    parser.add_argument("--mode", choices=["idle", "slow"], default="slow")
    parser.add_argument("--body-bytes", type=int, default=7_800_000, help="slow mode: body bytes sent per client")
    parser.add_argument("--settle", type=float, default=2.0, help="seconds to wait before measuring")
    parser.add_argument("serve_args", nargs="*")
    args = parser.parse_args()

    workdir = tempfile.mkdtemp(prefix="onevisit-conn-memory-")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    server = subprocess.Popen([args.bin, "serve", "--db", os.path.join(workdir, "cases.db"), "--workflows",
                               os.path.join(root, "workflows"), "--listen", "127.0.0.1:0", *args.serve_args],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    port = None
    for line in server.stdout:
        found = re.search(r"listening on http://127\.0\.0\.1:(\d+)/", line)
        if found:
            port = int(found.group(1))
            break
    if port is None:
        sys.exit("the server did not start")
    time.sleep(1.0)
    baseline = rss_kib(server.pid)

    clients = []
    started = time.monotonic()
    for _ in range(args.connections):
        s = socket.create_connection(("127.0.0.1", port))
        s.settimeout(10)
        clients.append(s)
        try:
            if args.mode == "idle":
                s.sendall(b"GET /api/cases HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            else:
                s.sendall(b"PUT /api/cases/X1/materials/articles HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                          b"Content-Type: application/pdf\r\nContent-Length: 8000000\r\n\r\n")
                s.sendall(b"x" * args.body_bytes)
        except OSError:
            pass  # the server answered early and stopped reading: what it should do
    sent_in = time.monotonic() - started
    time.sleep(args.settle)
    held = rss_kib(server.pid)

    statuses = Counter()
    for s in clients:
        s.setblocking(False)
        try:
            if select.select([s], [], [], 0)[0]:
                data = s.recv(64)
                statuses[data[9:12].decode() if data.startswith(b"HTTP/1.1 ") else "closed"] += 1
            else:
                statuses["no answer (held)"] += 1
        except OSError:
            statuses["reset"] += 1
    for s in clients:
        s.close()
    server.send_signal(signal.SIGTERM)
    server.wait(timeout=30)

    print(f"mode {args.mode}, {args.connections} connections (sent in {sent_in:.1f} s)")
    print(f"server RSS: {baseline / 1024:.1f} MiB idle -> {held / 1024:.1f} MiB with the connections "
          f"({(held - baseline) / max(1, args.connections):.1f} KiB per connection)")
    print("clients got: " + ", ".join(f"{k} x{v}" for k, v in sorted(statuses.items())))


if __name__ == "__main__":
    main()
