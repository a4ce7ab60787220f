"""Connection timeouts (API.md limits), checked last so that the waiting overlaps the rest of
the session: the probes are opened by the `server` fixture as soon as the server starts.

- a request whose headers stop arriving is closed after the 10 s request timeout;
- an idle keep-alive connection is kept longer than that (idle limit: 60 s)."""

import socket
import time

from helpers import TIME_FACTOR

REQUEST_TIMEOUT_S = 10.0
IDLE_TIMEOUT_S = 60.0


def test_half_sent_request_closed_after_timeout_idle_keep_alive_kept(server):
    probes = server.probes
    wait_until = probes["opened_at"] + REQUEST_TIMEOUT_S + 3.0 * TIME_FACTOR
    while time.monotonic() < wait_until:
        time.sleep(0.1)

    slow = probes["slow"]
    slow.settimeout(5.0 * TIME_FACTOR)
    try:
        data = slow.recv(4096)
    except ConnectionResetError:
        data = b""
    except socket.timeout:
        raise AssertionError("a connection with half-sent headers is still open %.0f s after its last byte "
                             "(request timeout: 10 s)" % (time.monotonic() - probes["opened_at"]))
    # Closed; a 408 answer before closing is fine too.
    assert data == b"" or data.startswith(b"HTTP/1.1 408"), data[:200]

    idle = probes["idle"]
    idle_s = time.monotonic() - probes["opened_at"]
    r = idle.get("/health")  # the client retries GETs on a dead reused connection: check the socket
    assert r.status == 200
    assert idle.conn is not None and idle.conn.sock is not None
    # A session slower than the idle limit (e.g. on a Cassandra cluster) rightly loses the probe.
    if idle_s < IDLE_TIMEOUT_S - 2.0:
        assert probes["idle_sock"] is idle.conn.sock, \
            "the idle keep-alive connection was closed after %.0f s (idle limit: 60 s)" % idle_s
