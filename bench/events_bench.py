#!/usr/bin/python3
"""make bench-events: what the event streams cost and how fast they deliver.

1. Idle streams: opens BENCH_EVENTS_STREAMS (50,000) SSE streams to one release server from
   source addresses 127.N.0.2 ... (25,000 connections each: an address has ~28,000 ephemeral
   ports; a fresh block N for each set of connections, whose closed ports linger in TIME_WAIT) and reports the
   server's RSS per stream, against the reference of the same number of plain idle connections
   to the same server measured in the same run.
2. Delivery latency: BENCH_EVENTS_RECEIVERS (10,000) users each with one stream; senders post at
   BENCH_EVENTS_RATE (5,000) messages/s for BENCH_EVENTS_SECONDS (10) to random receivers; for
   each message, time from its 201 arriving at the sender to its event arriving at the receiver
   (an event that arrives before the 201 counts 0). Reference in the same run: the round trip of
   GET /health on an idle connection. Then the same with two replicas sharing a redis-server
   (streams on one, posts to the other).
One Python process drives everything (selectors, non-blocking sockets), on the same 2 cores as
the server: the rate it reaches is reported next to the target. Prints a Markdown table.
"""

import itertools
import os
import random
import re
import resource
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import time

BIN = os.environ.get("BENCH_BIN", "build/release/messenger")
STREAMS = int(os.environ.get("BENCH_EVENTS_STREAMS", "50000"))
RECEIVERS = int(os.environ.get("BENCH_EVENTS_RECEIVERS", "10000"))
RATE = int(os.environ.get("BENCH_EVENTS_RATE", "5000"))
SECONDS = float(os.environ.get("BENCH_EVENTS_SECONDS", "10"))
SENDERS = int(os.environ.get("BENCH_EVENTS_SENDER_CONNECTIONS", "64"))
ID_RE = re.compile(rb'"message":\{"id":(\d+)')


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def raise_nofile():
    """Raises the open-files limit as far as allowed (children inherit it) and caps the number of
    streams to what fits: client and server each hold one descriptor per stream."""
    global STREAMS
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = max(STREAMS, RECEIVERS) + 1000
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, max(want, hard)))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if STREAMS > limit - 1000:
        print("note: open-files limit %d (hard limit, cannot be raised here): %d idle streams instead of %d"
              % (limit, limit - 1000, STREAMS), file=sys.stderr)
        STREAMS = limit - 1000


def start_server(work, name, extra_env=None, extra_args=()):
    port = free_port()
    env = dict(os.environ, MESSENGER_QUIET="1", MESSENGER_STORE="sqlite")
    env.update(extra_env or {})
    err = open(os.path.join(work, name + ".stderr"), "wb")
    proc = subprocess.Popen([BIN, "serve", "--host", "127.0.0.1", "--port", str(port), "--db",
                             os.path.join(work, name + ".db"), "--max-connections", str(STREAMS + 2000),
                             "--per-ip-connections", "0"] + list(extra_args),
                            env=env, stdout=subprocess.DEVNULL, stderr=err)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    raise SystemExit("server did not start: " + open(err.name).read()[-2000:])


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


_source_blocks = itertools.count(1)


def source_addresses():
    """A fresh block of loopback source addresses (127.N.0.2, 127.N.0.3, ... with 25,000
    connections each) for each set of connections: a set that was closed leaves its ports in
    TIME_WAIT on its addresses, and an address has only ~28,000 ephemeral ports."""
    block = next(_source_blocks)
    return lambda i: "127.%d.0.%d" % (block, 2 + i // 25000)


def open_plain(port, count):
    """count idle connections that send nothing."""
    socks = []
    source = source_addresses()
    for i in range(count):
        s = socket.socket()
        s.bind((source(i), 0))
        s.connect(("127.0.0.1", port))
        socks.append(s)
    return socks


def measure_idle(work):
    proc, port = start_server(work, "idle")
    try:
        return idle_figures(proc, port)
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(60)


def idle_figures(proc, port):
    time.sleep(0.5)
    base = rss_kib(proc.pid)
    plain = open_plain(port, STREAMS)
    time.sleep(1)
    plain_kib = (rss_kib(proc.pid) - base) / STREAMS
    for s in plain:
        s.close()
    time.sleep(2)
    base2 = rss_kib(proc.pid)
    t0 = time.monotonic()
    streams = []
    per_batch = 5000
    source = source_addresses()
    for start in range(0, STREAMS, per_batch):
        n = min(per_batch, STREAMS - start)
        reqs = [("GET /api/events?user_id=%d HTTP/1.1\r\nHost: b\r\nAccept: text/event-stream\r\n\r\n"
                 % (1 + start + i)).encode() for i in range(n)]
        batch = open_many_requests(port, reqs, start, source)
        streams += batch
    opened = time.monotonic() - t0
    time.sleep(1)
    rss = rss_kib(proc.pid)
    stream_kib = (rss - base2) / STREAMS
    for s in streams:
        s.close()
    return {"streams": len(streams), "rss_mib": rss / 1024, "stream_kib": stream_kib, "plain_kib": plain_kib,
            "open_s": opened}


def open_many_requests(port, reqs, offset, source):
    socks = []
    sel = selectors.DefaultSelector()
    for i, req in enumerate(reqs):
        s = socket.socket()
        s.setblocking(False)
        s.bind((source(offset + i), 0))
        try:
            s.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        socks.append(s)
        sel.register(s, selectors.EVENT_WRITE, [req, b""])
    pending = len(reqs)
    deadline = time.monotonic() + 120
    while pending and time.monotonic() < deadline:
        for key, ev in sel.select(timeout=5):
            st = key.data
            if ev & selectors.EVENT_WRITE:
                key.fileobj.send(st[0])
                sel.modify(key.fileobj, selectors.EVENT_READ, st)
            else:
                chunk = key.fileobj.recv(4096)
                if not chunk:
                    raise SystemExit("a stream was closed by the server while opening")
                st[1] += chunk
                if b"\r\n\r\n" in st[1]:
                    sel.unregister(key.fileobj)
                    pending -= 1
    sel.close()
    if pending:
        raise SystemExit("%d streams did not open" % pending)
    return socks


def percentile(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))]


def health_rtt(port, n=2000):
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    rtts = []
    for _ in range(n):
        t0 = time.perf_counter()
        s.sendall(b"GET /health HTTP/1.1\r\nHost: b\r\n\r\n")
        buf = b""
        while not buf.endswith(b'{"status":"ok"}'):
            buf += s.recv(4096)
        rtts.append(time.perf_counter() - t0)
    s.close()
    return percentile(rtts, 0.5), percentile(rtts, 0.99)


def measure_latency(stream_port, post_port):
    """Receivers on stream_port, sends to post_port. Returns the figures."""
    receivers = list(range(10**9, 10**9 + RECEIVERS))
    reqs = [("GET /api/events?user_id=%d HTTP/1.1\r\nHost: b\r\nAccept: text/event-stream\r\n\r\n" % u).encode()
            for u in receivers]
    socks = open_many_requests(stream_port, reqs, 0, source_addresses())
    sel = selectors.DefaultSelector()
    for s in socks:
        sel.register(s, selectors.EVENT_READ, ("r", [b""]))
    senders = []
    for i in range(SENDERS):
        s = socket.create_connection(("127.0.0.1", post_port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.setblocking(False)
        st = {"busy": False, "buf": b""}
        senders.append((s, st))
        sel.register(s, selectors.EVENT_READ, ("s", st))
    got_201 = {}
    got_event = {}
    sent = 0
    rng = random.Random(1)
    t_start = time.monotonic()
    t_end = t_start + SECONDS
    free = list(range(SENDERS))
    while True:
        now = time.monotonic()
        due = int((min(now, t_end) - t_start) * RATE)
        while sent < due and free:
            i = free.pop()
            s, st = senders[i]
            body = ('{"sender_id":%d,"receiver_id":%d,"content":"bench"}'
                    % (2 * 10**9 + i, rng.choice(receivers))).encode()
            s.send(b"POST /api/messages/ HTTP/1.1\r\nHost: b\r\nContent-Type: application/json\r\n"
                   b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
            st["busy"] = True
            st["i"] = i
            sent += 1
        if now > t_end + 5 or (now > t_end and len(got_event) >= len(got_201) and not any(
                st["busy"] for _, st in senders)):
            break
        for key, _ in sel.select(timeout=0.001):
            kind, st = key.data
            try:
                chunk = key.fileobj.recv(262144)
            except BlockingIOError:
                continue
            t = time.monotonic()
            if kind == "r":
                data = st[0] + chunk
                cut = data.rfind(b"\n\n")
                if cut >= 0:
                    for m in ID_RE.finditer(data, 0, cut):
                        got_event.setdefault(int(m.group(1)), t)
                    st[0] = data[cut + 2:]
                else:
                    st[0] = data
            else:
                st["buf"] += chunk
                if st["buf"].endswith(b"}") and b"\r\n\r\n" in st["buf"]:
                    m = re.search(rb'\{"id":(\d+)', st["buf"])
                    if m:
                        got_201[int(m.group(1))] = t
                    st["buf"] = b""
                    st["busy"] = False
                    free.append(st["i"])
    elapsed = max(time.monotonic() - t_start, 1e-9)
    lat = [max(0.0, got_event[k] - t201) for k, t201 in got_201.items() if k in got_event]
    for s in socks:
        s.close()
    for s, _ in senders:
        s.close()
    sel.close()
    return {"rate": len(got_201) / min(elapsed, SECONDS + 5), "sent": len(got_201), "delivered": len(lat),
            "p50_ms": percentile(lat, 0.5) * 1000, "p99_ms": percentile(lat, 0.99) * 1000,
            "max_ms": (max(lat) if lat else float("nan")) * 1000}


def main():
    raise_nofile()
    procs = []
    try:
        with tempfile.TemporaryDirectory(prefix="messenger-bench-events-") as work:
            idle = measure_idle(work)
            proc, port = start_server(work, "latency")
            procs.append(proc)
            ref = health_rtt(port)
            single = measure_latency(port, port)
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)
            redis_port = free_port()
            redis = subprocess.Popen(["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save",
                                      "", "--appendonly", "no", "--dir", work],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            procs.append(redis)
            time.sleep(0.5)
            env = {"MESSENGER_REDIS_URL": "redis://127.0.0.1:%d" % redis_port}
            pa, port_a = start_server(work, "ra", env, ["--node-id", "1"])
            pb, port_b = start_server(work, "rb", env, ["--node-id", "2"])
            procs += [pa, pb]
            time.sleep(1)
            replicas = measure_latency(port_b, port_a)
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                p.wait(60)
    print("| measurement | result | reference (same run) |")
    print("|---|---|---|")
    print("| idle SSE streams held by one process | %d streams, RSS %.0f MiB, %.1f KiB per stream, opened in %.1f s"
          " | a plain idle connection: %.1f KiB |" % (idle["streams"], idle["rss_mib"], idle["stream_kib"],
                                                   idle["open_s"], idle["plain_kib"]))
    for name, r in (("one process (in-process log)", single), ("two replicas through Redis", replicas)):
        print("| delivery 201 → event, %s, %d receivers, target %d msg/s | reached %.0f msg/s, %d/%d delivered,"
              " p50 %.2f ms, p99 %.2f ms, max %.1f ms | GET /health round trip p50 %.2f ms, p99 %.2f ms |"
              % (name, RECEIVERS, RATE, r["rate"], r["delivered"], r["sent"], r["p50_ms"], r["p99_ms"], r["max_ms"],
                 ref[0] * 1000, ref[1] * 1000))
    return 0


if __name__ == "__main__":
    sys.exit(main())
