"""Hostile clients over raw sockets, against a server of their own: garbage, oversized headers
and bodies, request smuggling shapes, bad chunked encoding, slow clients, abrupt disconnects.
The server must answer or close (never hang), store nothing from a rejected request, keep
serving everyone else, and exit cleanly at the end (checked at teardown)."""

import concurrent.futures
import json
import socket
import struct
import time

import pytest

from helpers import TIME_FACTOR, assert_healthy, new_pair, raw_connect, raw_read_response, raw_send, stored_nothing


@pytest.fixture(scope="module")
def hostile(start_server):
    return start_server("hostile")


def _exchange(server, data, deadline_s=10.0):
    """Sends data on a fresh connection and returns (status or None when closed, headers, body)."""
    s = raw_connect(server)
    try:
        raw_send(s, data)
        status, headers, body, _ = raw_read_response(s, deadline_s)
        return status, headers, body
    finally:
        s.close()


def _message(a, b, content="smuggled"):
    return json.dumps({"sender_id": a, "receiver_id": b, "content": content}).encode()


GARBAGE = {
    "word": b"GARBAGE\r\n\r\n",
    "binary": bytes(range(256)) * 4 + b"\r\n\r\n",
    "no-target": b"GET\r\n\r\n",
    "header-without-colon": b"GET /health HTTP/1.1\r\nHost: x\r\nthis is not a header\r\n\r\n",
    "tls-client-hello": bytes.fromhex("16030100a5010000a10303") + b"\x00" * 150 + b"\r\n\r\n",
    "bad-content-length": b"POST /api/messages/ HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
    "negative-content-length": b"POST /api/messages/ HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
    "two-content-lengths": b"POST /api/messages/ HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                           b"Content-Length: 7\r\n\r\n{}{}{}{}",
}


@pytest.mark.parametrize("name", sorted(GARBAGE))
def test_garbage_gets_400_or_close(hostile, name):
    status, _, body = _exchange(hostile, GARBAGE[name])
    assert status in (None, 400), "%s: expected 400 or a closed connection, got %r %r" % (name, status, body[:200])
    assert_healthy(hostile)


def test_nul_bytes_closed_within_the_request_timeout(hostile):
    """A line of NUL bytes is no request line: answered 400, or at worst closed by the 10 s
    request timeout like any request that never completes (never held open forever)."""
    status, _, body = _exchange(hostile, b"\x00" * 64 + b"\r\n\r\n", deadline_s=13.0)
    assert status in (None, 400), (status, body[:200])
    assert_healthy(hostile)


@pytest.mark.parametrize("req", [b"GET /health HTTP/9.9\r\nHost: x\r\n\r\n", b"GET /health\r\n\r\n"],
                         ids=["HTTP/9.9", "no-version"])
def test_unsupported_http_version(hostile, req):
    status, _, _ = _exchange(hostile, req)
    assert status in (None, 400, 505), status
    assert_healthy(hostile)


@pytest.mark.parametrize("size_kib", [20, 100])
def test_oversized_header_431(hostile, size_kib):
    req = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (size_kib * 1024) + b"\r\n\r\n"
    status, headers, body = _exchange(hostile, req)
    assert status == 431, "%d KiB header: expected 431, got %r %r" % (size_kib, status, body[:200])
    assert_healthy(hostile)


def test_many_headers_over_16_KiB_431(hostile):
    req = b"GET /health HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 40) for i in range(500)) \
        + b"\r\n"
    assert len(req) > 20 * 1024
    status, _, body = _exchange(hostile, req)
    assert status == 431, "%d bytes of headers: expected 431, got %r %r" % (len(req), status, body[:200])


def test_oversized_request_line_rejected(hostile):
    req = b"GET /health?" + b"q" * (20 * 1024) + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    status, _, _ = _exchange(hostile, req)
    assert status in (414, 431), "a 20 KiB request line: expected 431 (or 414), got %r" % status


def test_431_body_is_json(hostile):
    req = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (20 * 1024) + b"\r\n\r\n"
    status, headers, body = _exchange(hostile, req)
    assert status == 431
    assert headers.get("content-type", "").startswith("application/json"), \
        "API.md: every error body is JSON; 431 came as %r: %r" % (headers.get("content-type"), body[:200])
    assert isinstance(json.loads(body).get("detail"), str)


def test_8_KiB_of_headers_accepted(hostile):
    req = b"GET /health HTTP/1.1\r\nHost: x\r\nCookie: " + b"c" * (8 * 1024) + b"\r\n\r\n"
    status, _, body = _exchange(hostile, req)
    assert status == 200, "8 KiB of headers (under the 16 KiB limit): got %r %r" % (status, body[:200])


def test_content_length_and_transfer_encoding_400(hostile):
    a, b = new_pair()
    body = _message(a, b)
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    for cl in (len(body), len(chunked)):
        req = (b"POST /api/messages/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               b"Content-Length: %d\r\nTransfer-Encoding: chunked\r\n\r\n" % cl) + chunked
        status, _, resp = _exchange(hostile, req)
        assert status == 400, "Content-Length + Transfer-Encoding: expected 400, got %r %r" % (status, resp[:200])
    stored_nothing(hostile, a)
    assert_healthy(hostile)


def test_chunked_body_accepted(hostile):
    a, b = new_pair()
    body = _message(a, b, "chunked upload")
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 7]), body[i:i + 7]) for i in range(0, len(body), 7))
    req = (b"POST /api/messages/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
           b"Transfer-Encoding: chunked\r\n\r\n") + chunks + b"0\r\n\r\n"
    status, _, resp = _exchange(hostile, req)
    assert status == 201, (status, resp[:300])
    assert json.loads(resp)["content"] == "chunked upload"


BAD_CHUNKED = {
    "non-hex-size": lambda body: b"zz\r\n" + body + b"\r\n0\r\n\r\n",
    "size-too-small": lambda body: b"3\r\n" + body + b"\r\n0\r\n\r\n",
    "negative-size": lambda body: b"-5\r\n" + body + b"\r\n0\r\n\r\n",
    "huge-size": lambda body: b"ffffffffffffffffffff\r\n" + body + b"\r\n0\r\n\r\n",
    "missing-crlf": lambda body: b"%x\r\n" % len(body) + body + b"0\r\n\r\n",
    "truncated": lambda body: b"%x\r\n" % (len(body) + 50) + body,
}


@pytest.mark.parametrize("name", sorted(BAD_CHUNKED))
def test_bad_chunked_encoding_400_or_close(hostile, name):
    a, b = new_pair()
    payload = BAD_CHUNKED[name](_message(a, b))
    req = (b"POST /api/messages/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
           b"Transfer-Encoding: chunked\r\n\r\n") + payload
    s = raw_connect(hostile)
    try:
        raw_send(s, req)
        try:
            s.shutdown(socket.SHUT_WR)  # no more bytes will come: the server must decide
        except OSError:
            pass  # already reset by the server
        status, _, resp, _ = raw_read_response(s, 12.0)
    finally:
        s.close()
    assert status in (None, 400, 413), "%s: expected 400 or close, got %r %r" % (name, status, resp[:200])
    stored_nothing(hostile, a)
    assert_healthy(hostile)


def test_chunked_body_over_64_KiB_413(hostile):
    a, b = new_pair()
    body = _message(a, b, "x" * 100)
    body = body[:-1] + b" " * (72 * 1024) + b"}"
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 8192]), body[i:i + 8192]) for i in range(0, len(body), 8192))
    req = (b"POST /api/messages/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
           b"Transfer-Encoding: chunked\r\n\r\n") + chunks + b"0\r\n\r\n"
    status, headers, resp = _exchange(hostile, req)
    assert status == 413, (status, resp[:200])
    assert headers.get("content-type", "").startswith("application/json")
    assert json.loads(resp) == {"detail": "Request body too large"}
    stored_nothing(hostile, a)


def test_declared_oversized_content_length_413_without_body(hostile):
    """The server can refuse from the header alone: no need to upload 10 MB first."""
    req = (b"POST /api/messages/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
           b"Content-Length: 10485760\r\n\r\n")
    status, headers, resp = _exchange(hostile, req, deadline_s=5.0)
    assert status == 413, (status, resp[:200])
    assert json.loads(resp) == {"detail": "Request body too large"}


def test_abrupt_disconnects_do_not_hurt(hostile):
    a, b = new_pair()
    body = _message(a, b, "cut")
    cases = [
        b"GET /health HTTP/1.1\r\nHo",                                                   # mid headers
        b"POST /api/messages/ HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body[:10]),  # mid body
        b"GET /openapi.json HTTP/1.1\r\nHost: x\r\n\r\n",                                 # before reading the answer
        b"GET /docs HTTP/1.1\r\nHost: x\r\n\r\n" * 20,                                    # pipelined, then gone
    ]
    for data in cases:
        for reset in (False, True):
            s = raw_connect(hostile)
            raw_send(s, data)
            if reset:  # RST instead of FIN
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()
    time.sleep(0.2)
    stored_nothing(hostile, a)
    assert_healthy(hostile)


def _split_responses(buf):
    """The complete responses at the start of buf: ([(status, body)], the bytes after them)."""
    out = []
    while True:
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            return out, buf
        head = buf[:end].decode("latin-1")
        clen = next((int(v) for k, _, v in (ln.partition(":") for ln in head.split("\r\n")[1:])
                     if k.strip().lower() == "content-length"), 0)
        if len(buf) < end + 4 + clen:
            return out, buf
        out.append((int(head.split()[1]), buf[end + 4:end + 4 + clen]))
        buf = buf[end + 4 + clen:]


def _read_responses(s, n=None, deadline_s=10.0):
    """Reads n responses (the connection stays open), or with n None until the server closes:
    [(status, body)] in order."""
    buf, out = b"", []
    deadline = time.monotonic() + deadline_s * TIME_FACTOR
    while (n is None or len(out) < n) and time.monotonic() < deadline:
        s.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            break
        if not chunk:
            break
        got, buf = _split_responses(buf + chunk)
        out += got
    assert n is not None or not buf, "a partial response at the close: %r" % buf[:200]
    return out


def test_pipelined_requests_answered_in_order(hostile):
    s = raw_connect(hostile)
    try:
        raw_send(s, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n"
                    b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n")
        got = [status for status, _ in _read_responses(s, 3)]
        assert got == [200, 200, 404], got
    finally:
        s.close()


def test_pipelined_sends_then_reads_then_half_close(hostile):
    """A pipelined burst (sends, then a read of their conversation, then far more bytes than the
    server reads ahead while a response is pending) followed by a half close: every request is
    answered, in order, the read sees the sends before it, and then the server closes."""
    a, b = new_pair()
    sends = b"".join(b"POST /api/messages/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
                     for body in (json.dumps({"sender_id": a, "receiver_id": b, "content": "p%d" % i}).encode()
                                  for i in range(3)))
    s = raw_connect(hostile)
    try:
        raw_send(s, sends)
        first = _read_responses(s, 3)
        cid = json.loads(first[0][1])["conversation_id"]
        health = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
        burst = (sends + b"GET /api/messages/conversation/%d?limit=10 HTTP/1.1\r\nHost: x\r\n\r\n" % cid
                 + health * 4000)  # about 130 KiB after the read
        assert len(burst) > 100 * 1024
        raw_send(s, burst)
        s.shutdown(socket.SHUT_WR)
        got = _read_responses(s, deadline_s=30.0)
    finally:
        s.close()
    assert [st for st, _ in got[:4]] == [201, 201, 201, 200], [st for st, _ in got[:8]]
    page = json.loads(got[3][1])
    assert page["total"] == 6 and [m["content"] for m in page["data"]] == ["p2", "p1", "p0", "p2", "p1", "p0"]
    assert len(got) == 4 + 4000 and all(st == 200 for st, _ in got[4:])
    assert_healthy(hostile)


SLOW_CLIENTS = 60
NORMAL_REQUESTS = 20


def test_slow_clients_do_not_block_others(hostile):
    """60 clients from 60 addresses hold half-sent headers; 20 normal requests each finish < 1 s."""
    slow = []
    try:
        for i in range(SLOW_CLIENTS):
            ip = "127.0.%d.%d" % (1 + i // 200, 2 + i % 200)
            s = raw_connect(hostile, source_ip=ip)
            slow.append(s)
            raw_send(s, b"POST /api/messages/ HTTP/1.1\r\nHost: x\r\nContent-Type: appli")
        time.sleep(0.3)
        for s in slow[::3]:  # and some trickle more bytes meanwhile
            raw_send(s, b"cat")

        def normal(k):
            a, b = new_pair()
            c = hostile.client(timeout=5 * TIME_FACTOR)
            t0 = time.monotonic()
            try:
                if k % 2:
                    r = c.post("/api/messages/", {"sender_id": a, "receiver_id": b, "content": "still here"})
                    ok = r.status == 201
                else:
                    r = c.get("/health")
                    ok = r.status == 200
            finally:
                c.close()
            return ok, time.monotonic() - t0, r

        with concurrent.futures.ThreadPoolExecutor(4) as ex:
            results = list(ex.map(normal, range(NORMAL_REQUESTS)))
        for ok, elapsed, r in results:
            assert ok, r
            assert elapsed < 1.0 * TIME_FACTOR, "a normal request took %.2f s while slow clients wait" % elapsed
    finally:
        for s in slow:
            s.close()
    assert_healthy(hostile)


def test_connection_churn(hostile):
    for _ in range(100):
        s = raw_connect(hostile)
        s.close()
    assert_healthy(hostile)


def test_still_serving_after_everything(hostile):
    a, b = new_pair()
    c = hostile.client()
    try:
        m = c.send(a, b, "after the storm")
        p = c.messages(m["conversation_id"]).json
        assert p["total"] == 1 and p["data"][0] == m
        assert c.get("/ready").status == 200
    finally:
        c.close()
