#!/usr/bin/python3
"""File descriptors: many idle connections against a server with `ulimit -n 256`.

1. --max-connections 200: 150 idle connections (50 of them after one keep-alive request),
   then 250 more. The server keeps at most about 200 (the limit, plus at most one per worker
   thread racing on accept) and closes the rest at once; the connections it kept still get
   answers (GET and a send), a new connection at the limit is closed without an answer, and
   once the idle connections close, new connections are served and the server's open fds
   fall back to where they started.
2. The default --max-connections (1024) is more than the open-files limit allows: the server
   lowers it at start (says so on stderr), so 400 connections never make accept() fail with
   EMFILE ("Too many open files") and the kept connections are served.

Usage: fd_limit.py --bin build/asan/messenger
"""

import argparse
import http.client
import os
import resource
import socket
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "hardening"))
from server import HOST, Server, fail as _fail, request  # noqa: E402

NAME = "fd-limit"
NOFILE = 256
THREADS = 2


def fail(msg):
    _fail(NAME, msg)


def low_nofile():
    resource.setrlimit(resource.RLIMIT_NOFILE, (NOFILE, NOFILE))


def open_idle(port, n):
    return [socket.create_connection((HOST, port), timeout=5) for _ in range(n)]


def split_kept_shed(socks, settle_s=1.0):
    """Connections the server closed (EOF or reset, no bytes) versus those it keeps open."""
    time.sleep(settle_s)
    kept, shed = [], []
    for s in socks:
        s.setblocking(False)
        try:
            data = s.recv(1)
            if data:
                fail("an idle connection received bytes: %r" % data)
            shed.append(s)
        except BlockingIOError:
            kept.append(s)
        except OSError:
            shed.append(s)
        s.setblocking(True)
        s.settimeout(5)
    return kept, shed


def raw_get(sock, path):
    sock.sendall(("GET %s HTTP/1.1\r\nHost: t\r\n\r\n" % path).encode())
    head = sock.recv(65536)
    return head.split(b"\r\n", 1)[0]


def limited_server(binary, workdir):
    server = Server(binary, os.path.join(workdir, "fd.db"), workdir, NAME,
                    ["--threads", str(THREADS), "--max-connections", "200"], preexec_fn=low_nofile).start()
    baseline = server.open_fds()
    first = open_idle(server.port, 150)
    conns = []
    for s in first[:50]:  # keep-alive connections that already served a request
        if raw_get(s, "/health") != b"HTTP/1.1 200 OK":
            fail("a request on a fresh connection failed")
    more = open_idle(server.port, 250)
    kept, shed = split_kept_shed(first + more)
    if len(kept) > 200 + THREADS or len(kept) < 190:
        fail("%d of 400 connections kept open, expected about 200 (--max-connections)" % len(kept))
    if any(s in shed for s in first):
        fail("a connection accepted before the limit was reached got closed")
    fds_at_limit = server.open_fds()
    if fds_at_limit >= NOFILE:
        fail("the server has %d open fds, at its limit of %d" % (fds_at_limit, NOFILE))
    for s in first[:20]:  # connections within the limit keep being served
        if raw_get(s, "/health") != b"HTTP/1.1 200 OK":
            fail("an accepted connection was not served at the limit")
    c = http.client.HTTPConnection(HOST, server.port, timeout=5)
    c.sock = first[60]
    status, _ = request(None, "POST", "/api/messages/", {"sender_id": 1, "receiver_id": 2, "content": "at the limit"},
                        conn=c)
    if status != 201:
        fail("a send on an accepted connection at the limit answered %d" % status)
    probe = socket.create_connection((HOST, server.port), timeout=5)
    try:
        answer = raw_get(probe, "/health")
    except OSError:
        answer = b""
    probe.close()
    if answer:
        fail("a new connection at the limit was answered (%r) instead of closed" % answer)
    print("  limit 200, ulimit -n %d: %d of 400 connections kept, %d closed at once; kept ones served; "
          "server fds %d -> %d" % (NOFILE, len(kept), len(shed), baseline, fds_at_limit))
    for s in first + more:
        s.close()
    time.sleep(0.5)
    ok = sum(request(server.port, "GET", "/health", timeout=5)[0] == 200 for _ in range(50))
    if ok != 50:
        fail("after the idle connections closed only %d of 50 new connections were served" % ok)
    fds_after = server.open_fds()
    if fds_after > baseline + 2:
        fail("open fds did not come back: %d at start, %d after" % (baseline, fds_after))
    server.stop()
    print("  after closing them: 50 of 50 new connections served, server fds back to %d" % fds_after)
    return len(kept), len(shed)


def default_limit_server(binary, workdir):
    server = Server(binary, os.path.join(workdir, "fd2.db"), workdir, NAME + "-default", ["--threads", str(THREADS)],
                    preexec_fn=low_nofile).start()
    socks = open_idle(server.port, 400)
    kept, shed = split_kept_shed(socks)
    for s in kept[:20]:
        if raw_get(s, "/health") != b"HTTP/1.1 200 OK":
            fail("default limit: an accepted connection was not served")
    fds = server.open_fds()
    for s in socks:
        s.close()
    time.sleep(0.3)
    if request(server.port, "GET", "/health", timeout=5)[0] != 200:
        fail("default limit: not served after the connections closed")
    server.stop()
    err = server.stderr()
    if "Too many open files" in err or "resource limit" in err:
        fail("accept() ran out of file descriptors:\n" + err)
    if "max connections lowered from 1024" not in err:
        fail("the server did not say it lowered --max-connections:\n" + err)
    print("  default limit, ulimit -n %d: lowered at start; %d of 400 kept, %d closed, %d fds, no EMFILE"
          % (NOFILE, len(kept), len(shed), fds))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", required=True)
    args = ap.parse_args()
    if resource.getrlimit(resource.RLIMIT_NOFILE)[0] < 1024:
        resource.setrlimit(resource.RLIMIT_NOFILE, (1024, max(1024, resource.getrlimit(resource.RLIMIT_NOFILE)[1])))
    with tempfile.TemporaryDirectory(prefix="messenger-fd-") as workdir:
        kept, shed = limited_server(args.bin, workdir)
        default_limit_server(args.bin, workdir)
    print("%s: OK: served within the limit (%d kept), shed the rest at once (%d closed), recovered" % (NAME, kept, shed))


if __name__ == "__main__":
    main()
