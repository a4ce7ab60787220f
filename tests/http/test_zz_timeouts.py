"""Connection timeouts (API.md limits), checked last so that the waiting overlaps the rest of
the session: the probes are opened by the `server` fixture as soon as the server starts.

- a request whose headers stop arriving is closed after the 10 s request timeout;
- an idle keep-alive connection is kept longer than that (idle limit: 60 s);
- a client that reads none of its responses is dropped by the 30 s send deadline."""

import socket
import time

from conftest import UNREAD_REQUESTS
from helpers import TIME_FACTOR

REQUEST_TIMEOUT_S = 10.0
IDLE_TIMEOUT_S = 60.0
SEND_TIMEOUT_S = 30.0


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


def test_a_client_that_does_not_read_is_dropped_by_the_send_deadline(server):
    probes = server.probes
    wait_until = probes["opened_at"] + SEND_TIMEOUT_S + 5.0 * TIME_FACTOR
    while time.monotonic() < wait_until:
        time.sleep(0.1)
    c = server.client()
    full = len(c.get("/openapi.json", expect_json=False).body)
    c.close()
    unread = probes["unread"]
    unread.settimeout(10.0 * TIME_FACTOR)
    got, closed = 0, False
    deadline = time.monotonic() + 60.0 * TIME_FACTOR
    while time.monotonic() < deadline:
        try:
            chunk = unread.recv(1 << 20)
        except ConnectionResetError:
            closed = True
            break
        except socket.timeout:
            break
        if not chunk:
            closed = True
            break
        got += len(chunk)
    assert closed, "still open %.0f s after the request, %d bytes read" % (
        time.monotonic() - probes["opened_at"], got)
    assert got < UNREAD_REQUESTS * full, "every response went out: the client was never blocked"
