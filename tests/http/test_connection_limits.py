"""Connection limits enforced at accept (MESSENGER_PER_IP_CONNECTIONS, MESSENGER_MAX_CONNECTIONS):
a connection over a limit is closed at once, without an answer; everyone under the limits keeps
being served; a slot is free again as soon as a connection closes."""

import socket
import time

import pytest

from helpers import TIME_FACTOR, raw_connect

PER_IP = 4
TOTAL = 10


@pytest.fixture(scope="module")
def limited(start_server):
    return start_server("conn-limits", env={"MESSENGER_PER_IP_CONNECTIONS": str(PER_IP),
                                            "MESSENGER_MAX_CONNECTIONS": str(TOTAL)})


HEALTH = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"


def _serves(s, timeout=5.0):
    """True when a keep-alive /health on this connection is answered 200."""
    try:
        s.settimeout(timeout * TIME_FACTOR)
        s.sendall(HEALTH)
        data = b""
        while b"\r\n\r\n" not in data or not data.rstrip().endswith(b"}"):
            chunk = s.recv(4096)
            if not chunk:
                return False
            data += chunk
        return data.startswith(b"HTTP/1.1 200")
    except (ConnectionResetError, BrokenPipeError, socket.timeout):
        return False


def _refused(s, timeout=3.0):
    """True when the server closes the connection without answering."""
    try:
        s.settimeout(timeout * TIME_FACTOR)
        try:
            s.sendall(HEALTH)
        except (BrokenPipeError, ConnectionResetError):
            return True
        return s.recv(4096) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def _eventually_serves(server, ip):
    deadline = time.monotonic() + 5.0 * TIME_FACTOR
    while time.monotonic() < deadline:
        s = raw_connect(server, source_ip=ip)
        if _serves(s):
            return s
        s.close()
        time.sleep(0.05)
    raise AssertionError("no slot came back for %s" % ip)


def _open(server, ip, n):
    """n served connections from ip (a slot an earlier test just freed may take a moment)."""
    return [_eventually_serves(server, ip) for _ in range(n)]


def _close_all(conns):
    for s in conns:
        s.close()


def test_per_address_limit(limited):
    held = _open(limited, "127.0.9.2", PER_IP)
    try:
        extra = raw_connect(limited, source_ip="127.0.9.2")
        assert _refused(extra), "a connection over the per-address limit was served"
        extra.close()
        for s in held:  # the ones already open are not disturbed
            assert _serves(s)
        other = _open(limited, "127.0.9.3", 1)  # another address has slots of its own
        _close_all(other)
        held.pop().close()
        held.append(_eventually_serves(limited, "127.0.9.2"))  # freed by the close
    finally:
        _close_all(held)


def test_total_limit(limited):
    held = []
    try:
        for i in range(TOTAL // PER_IP):
            held += _open(limited, "127.0.10.%d" % (2 + i), PER_IP)
        held += _open(limited, "127.0.10.9", TOTAL - len(held))
        assert len(held) == TOTAL
        extra = raw_connect(limited, source_ip="127.0.10.20")
        assert _refused(extra), "a connection over the total limit was served"
        extra.close()
        for s in held:
            assert _serves(s)
        held.pop().close()
        held.append(_eventually_serves(limited, "127.0.10.20"))
    finally:
        _close_all(held)
