#!/usr/bin/python3
"""Memory per connection: the server's RSS (VmRSS) idle, with N idle connections (default
1000), and with the same N connections each after one keep-alive request. Fails when a
connection costs more than the documented bound (docs/limits.md): 10 KiB on average, so that
10,000 idle keep-alive connections stay under 100 MB.

Usage: idle_memory.py --bin build/release/messenger [--connections 10000]
"""

import argparse
import os
import resource
import socket
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "hardening"))
from server import HOST, Server, fail as _fail, request  # noqa: E402

NAME = "idle-memory"
CONNECTIONS = 1000
BOUND_KIB = 10


def raise_nofile():
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    want = 2 * CONNECTIONS + 1000
    resource.setrlimit(resource.RLIMIT_NOFILE, (want if hard == resource.RLIM_INFINITY else min(want, hard), hard))


def main():
    global CONNECTIONS
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--connections", type=int, default=CONNECTIONS)
    args = ap.parse_args()
    CONNECTIONS = args.connections
    raise_nofile()
    with tempfile.TemporaryDirectory(prefix="messenger-mem-") as workdir:
        server = Server(args.bin, os.path.join(workdir, "mem.db"), workdir, NAME,
                        ["--max-connections", str(CONNECTIONS + 100), "--per-ip-connections", "0"], preexec_fn=raise_nofile).start()
        for i in range(200):  # warm up: every worker's read connection, the allocator's arenas
            request(server.port, "POST", "/api/messages/", {"sender_id": 1, "receiver_id": 2 + i % 5, "content": "warm"})
            request(server.port, "GET", "/api/messages/conversation/1?limit=20")
        time.sleep(0.5)
        idle = server.rss_kib()
        socks = [socket.create_connection((HOST, server.port), timeout=10) for _ in range(CONNECTIONS)]
        time.sleep(1)
        connected = server.rss_kib()
        for s in socks:
            s.sendall(b"GET /api/messages/conversation/1?limit=20 HTTP/1.1\r\nHost: m\r\n\r\n")
        for s in socks:
            if not s.recv(65536).startswith(b"HTTP/1.1 200"):
                _fail(NAME, "a request on an idle connection failed")
        time.sleep(1)
        after_request = server.rss_kib()
        fds = server.open_fds()
        for s in socks:
            s.close()
        server.stop()
    per_conn = (connected - idle) / CONNECTIONS
    per_used = (after_request - idle) / CONNECTIONS
    print("  RSS idle %d KiB; %d idle connections %d KiB (%.1f KiB each); after one request on each %d KiB "
          "(%.1f KiB each); %d fds" % (idle, CONNECTIONS, connected, per_conn, after_request, per_used, fds))
    if per_used > BOUND_KIB:
        _fail(NAME, "%.1f KiB per connection, above the %d KiB bound" % (per_used, BOUND_KIB))
    print("%s: OK: %.1f KiB per idle connection, %.1f KiB after a request (bound %d KiB)" % (NAME, per_conn, per_used,
                                                                                              BOUND_KIB))


if __name__ == "__main__":
    main()
