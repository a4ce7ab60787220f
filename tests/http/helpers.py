"""Shared helpers of the black-box HTTP suite: a small HTTP client, raw-socket tools and the
checks every test uses (shapes of Message/Conversation/pages and of error bodies).

Stdlib only. The client keeps one keep-alive connection; it retries a request only when it is
idempotent (GET/HEAD) and failed on a reused connection before any answer arrived, so a POST is
never sent twice behind a test's back.
"""

import datetime as _dt
import http.client
import itertools
import json
import os
import re
import socket
import threading
import time
import urllib.parse

ID_MAX = 2**53 - 1
TS_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")

# Slow-down factor for time limits when the server runs under a wrapper such as valgrind.
TIME_FACTOR = float(os.environ.get("MESSENGER_TEST_TIME_FACTOR") or (20 if os.environ.get("MESSENGER_WRAPPER") else 1))


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # list of (name, value)
        self.body = body
        self._json = None

    def header(self, name):
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return None

    @property
    def json(self):
        if self._json is None:
            try:
                self._json = json.loads(self.body.decode("utf-8"))
            except ValueError as e:  # pragma: no cover - reported as a failure
                raise AssertionError("response body is not JSON (%s): %r" % (e, self.body[:300]))
        return self._json

    def __repr__(self):
        return "<Response %d %r>" % (self.status, self.body[:300])


class Client:
    """One keep-alive HTTP/1.1 connection to the server under test."""

    def __init__(self, host, port, timeout=None, source_address=None):
        self.host = host
        self.port = port
        self.timeout = timeout if timeout is not None else 30 * TIME_FACTOR
        self.source_address = source_address
        self.conn = None
        self.used = False

    def close(self):
        if self.conn is not None:
            self.conn.close()
        self.conn = None

    def _connect(self):
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout,
                                               source_address=self.source_address)
        self.used = False

    def request(self, method, path, body=None, headers=None, expect_json=True):
        """Sends one request. body: dict/list (JSON-encoded), str or bytes. Checks that every
        response except /docs is JSON (API.md: all bodies are JSON, including every error)."""
        hdrs = {}
        if body is not None and not isinstance(body, (bytes, bytearray)):
            if isinstance(body, str):
                body = body.encode("utf-8")
            else:
                body = json.dumps(body, ensure_ascii=False).encode("utf-8")
            hdrs["Content-Type"] = "application/json"
        hdrs.update(headers or {})
        for attempt in (0, 1):
            if self.conn is None:
                self._connect()
            reused = self.used
            try:
                self.conn.request(method, path, body=body, headers=hdrs)
                r = self.conn.getresponse()
                data = r.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.close()
                if attempt == 0 and reused and method in ("GET", "HEAD"):
                    continue
                raise
            except Exception:
                self.close()
                raise
            self.used = True
            resp = Response(r.status, r.getheaders(), data)
            if r.will_close:
                self.close()
            if expect_json:
                ct = resp.header("Content-Type") or ""
                assert ct.lower().startswith("application/json"), \
                    "%s %s -> %d with Content-Type %r, expected application/json" % (method, path, resp.status, ct)
                resp.json  # parses or fails
            return resp
        raise AssertionError("unreachable")

    def get(self, path, params=None, **kw):
        if params:
            path = path + "?" + urllib.parse.urlencode(params, quote_via=urllib.parse.quote)
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body=body, **kw)

    # --- API shortcuts -------------------------------------------------------------------

    def send(self, sender, receiver, content="hello", key=None, path="/api/messages/"):
        headers = {"Idempotency-Key": key} if key is not None else None
        r = self.post(path, {"sender_id": sender, "receiver_id": receiver, "content": content}, headers=headers)
        assert r.status == 201, "send %d->%d: expected 201, got %r" % (sender, receiver, r)
        check_message(r.json)
        return r.json

    def messages(self, conv_id, **params):
        return self.get("/api/messages/conversation/%s" % conv_id, params or None)

    def before(self, conv_id, **params):
        return self.get("/api/messages/conversation/%s/before" % conv_id, params or None)

    def conversations(self, user_id, **params):
        return self.get("/api/conversations/user/%s" % user_id, params or None)

    def conversation(self, conv_id):
        return self.get("/api/conversations/%s" % conv_id)

    def mark_read(self, conv_id, user_id, message_id):
        return self.post("/api/conversations/%s/read" % conv_id, {"user_id": user_id, "message_id": message_id})


# --- users --------------------------------------------------------------------------------

_user_lock = threading.Lock()
_user_counter = itertools.count()
# Spread runs apart so that users of one session never meet users of another (matters when a
# Cassandra keyspace is reused by hand); every id stays far below 2^53.
_user_base = 10**9 + (int.from_bytes(os.urandom(4), "big") % 10**6) * 10**6


def new_user():
    """A user id no other test uses (users are not registered anywhere)."""
    with _user_lock:
        return _user_base + next(_user_counter)


def new_pair():
    a, b = new_user(), new_user()
    return a, b


# --- shapes --------------------------------------------------------------------------------

def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def check_id(v, what="id"):
    assert is_int(v), "%s is not a JSON integer: %r" % (what, v)
    assert 1 <= v <= ID_MAX, "%s out of 1..2^53-1: %r" % (what, v)


def check_ts(v, what="timestamp"):
    assert isinstance(v, str) and TS_RE.match(v), "%s is not YYYY-MM-DDTHH:MM:SS.ffffffZ: %r" % (what, v)
    parse_ts(v)  # a real date


def check_message(m):
    assert isinstance(m, dict), m
    for k in ("id", "conversation_id", "sender_id", "receiver_id", "content", "created_at"):
        assert k in m, "Message lacks %r: %r" % (k, m)
    for k in ("id", "conversation_id", "sender_id", "receiver_id"):
        check_id(m[k], k)
    assert isinstance(m["content"], str), m
    check_ts(m["created_at"], "created_at")


def check_conversation(c):
    assert isinstance(c, dict), c
    for k in ("id", "user1_id", "user2_id", "last_message_at", "last_message_content"):
        assert k in c, "Conversation lacks %r: %r" % (k, c)
    for k in ("id", "user1_id", "user2_id"):
        check_id(c[k], k)
    assert c["user1_id"] < c["user2_id"], c
    check_ts(c["last_message_at"], "last_message_at")
    assert isinstance(c["last_message_content"], str), c


def check_page(p, item_check, page=None, limit=None):
    assert isinstance(p, dict), p
    for k in ("total", "page", "limit", "data", "next_cursor"):
        assert k in p, "page lacks %r: %r" % (k, p)
    assert is_int(p["total"]) and p["total"] >= 0, p
    assert is_int(p["page"]) and is_int(p["limit"]), p
    assert isinstance(p["data"], list), p
    assert p["next_cursor"] is None or (isinstance(p["next_cursor"], str) and p["next_cursor"]), p
    if page is not None:
        assert p["page"] == page, "page echoed %r, expected %r" % (p["page"], page)
    if limit is not None:
        assert p["limit"] == limit, "limit echoed %r, expected %r" % (p["limit"], limit)
    assert len(p["data"]) <= p["limit"], p
    for item in p["data"]:
        item_check(item)


def check_newest_first(msgs):
    """Messages newest first: created_at non-increasing, ties broken by id (ids decrease)."""
    for a, b in zip(msgs, msgs[1:]):
        assert a["id"] > b["id"], "not newest first by id: %r then %r" % (a, b)
        assert a["created_at"] >= b["created_at"], "not newest first by created_at: %r then %r" % (a, b)


def check_422(resp, loc=None, loc_prefix=None):
    """FastAPI's validation shape: {"detail": [{"loc": [...], "msg": str, "type": str}, ...]}.
    loc: an exact loc that must appear; loc_prefix: first element every loc must start with."""
    assert resp.status == 422, "expected 422, got %r" % resp
    d = resp.json
    assert isinstance(d, dict) and isinstance(d.get("detail"), list) and d["detail"], d
    for e in d["detail"]:
        assert isinstance(e, dict), d
        assert isinstance(e.get("loc"), list) and e["loc"], d
        assert e["loc"][0] in ("body", "query", "path", "header"), d
        assert isinstance(e.get("msg"), str) and e["msg"], d
        assert isinstance(e.get("type"), str) and e["type"], d
        if loc_prefix is not None:
            assert e["loc"][0] == loc_prefix, "loc %r does not start with %r" % (e["loc"], loc_prefix)
    if loc is not None:
        locs = [e["loc"] for e in d["detail"]]
        assert list(loc) in locs, "no detail with loc %r in %r" % (loc, locs)


def check_detail(resp, status, detail):
    assert resp.status == status, "expected %d, got %r" % (status, resp)
    assert resp.json == {"detail": detail}, "expected body %r, got %r" % ({"detail": detail}, resp.json)


# --- timestamps ----------------------------------------------------------------------------

def parse_ts(s):
    """Canonical response timestamp -> integer microseconds since the Unix epoch."""
    d = _dt.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=_dt.timezone.utc)
    return (d - _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)) // _dt.timedelta(microseconds=1)


def fmt_us(us, tz_minutes=None, zone="Z"):
    """Microseconds -> ISO 8601. tz_minutes: render in that offset ("+HH:MM"); zone="" for none."""
    base = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc) + _dt.timedelta(microseconds=us)
    if tz_minutes is not None:
        tz = _dt.timezone(_dt.timedelta(minutes=tz_minutes))
        local = base.astimezone(tz)
        sign = "+" if tz_minutes >= 0 else "-"
        m = abs(tz_minutes)
        return local.strftime("%Y-%m-%dT%H:%M:%S.%f") + "%s%02d:%02d" % (sign, m // 60, m % 60)
    return base.strftime("%Y-%m-%dT%H:%M:%S.%f") + zone


def unix_decimal(us):
    return "%d.%06d" % divmod(us, 1000000)


# --- walks ---------------------------------------------------------------------------------

def page_walk(fetch, limit, item_check):
    """Reads pages 1, 2, ... until a page comes back short; returns (items, total)."""
    items, page, total = [], 1, None
    while True:
        r = fetch(page=page, limit=limit)
        assert r.status == 200, r
        p = r.json
        check_page(p, item_check, page=page, limit=limit)
        if total is None:
            total = p["total"]
        assert p["total"] == total, "total changed during a walk: %r" % p
        more = page * limit < total
        items.extend(p["data"])
        if not more:
            break
        assert len(p["data"]) == limit, "page %d of a %d-item list holds %d" % (page, total, len(p["data"]))
        page += 1
        assert page < 10000
    return items, total


def cursor_walk(fetch, limit, item_check, first_params=None):
    """Follows next_cursor from the first page to the end; returns (items, pages)."""
    items, pages = [], 0
    r = fetch(limit=limit, **(first_params or {}))
    while True:
        assert r.status == 200, r
        p = r.json
        check_page(p, item_check, limit=limit)
        pages += 1
        items.extend(p["data"])
        if p["next_cursor"] is None:
            break
        assert len(p["data"]) == limit, "a page with a next_cursor holds %d < %d" % (len(p["data"]), limit)
        assert pages < 10000
        r = fetch(limit=limit, cursor=p["next_cursor"])
    return items, pages


# --- raw sockets ---------------------------------------------------------------------------

def stored_nothing(server, user):
    """A rejected request must not have stored a message for `user` (a fresh user id)."""
    c = server.client()
    try:
        assert c.conversations(user).json["total"] == 0, "a rejected request stored a message"
    finally:
        c.close()


def raw_connect(server, timeout=5.0, source_ip=None):
    s = socket.create_connection((server.host, server.port), timeout=timeout * TIME_FACTOR,
                                 source_address=(source_ip, 0) if source_ip else None)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def raw_send(s, data):
    """Sends what the peer accepts; returns False when the peer closed or reset early."""
    try:
        s.sendall(data)
        return True
    except (BrokenPipeError, ConnectionResetError, socket.timeout):
        return False


def raw_read_response(s, deadline_s=10.0):
    """Reads until the peer closes or a complete response (headers + Content-Length body)
    arrived. Returns (status or None, headers dict, body bytes, closed flag). A status of None
    means the peer closed (or reset) without answering. Raises socket.timeout on a hang."""
    buf = b""
    end = time.monotonic() + deadline_s * TIME_FACTOR
    closed = False
    while True:
        head_end = buf.find(b"\r\n\r\n")
        if head_end >= 0:
            head = buf[:head_end].decode("latin-1")
            lines = head.split("\r\n")
            hdrs = {}
            for line in lines[1:]:
                if ":" in line:
                    k, v = line.split(":", 1)
                    hdrs[k.strip().lower()] = v.strip()
            clen = hdrs.get("content-length")
            if clen is not None and len(buf) - head_end - 4 >= int(clen):
                status = int(lines[0].split()[1])
                return status, hdrs, buf[head_end + 4:head_end + 4 + int(clen)], closed
            if closed:
                status = int(lines[0].split()[1])
                return status, hdrs, buf[head_end + 4:], closed
        elif closed:
            return None, {}, buf, closed
        remaining = end - time.monotonic()
        if remaining <= 0:
            raise socket.timeout("no complete response within %.1f s (got %r)" % (deadline_s, buf[:200]))
        s.settimeout(remaining)
        try:
            chunk = s.recv(65536)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            closed = True
        buf += chunk


def assert_healthy(server):
    """The server still answers GET /health on a new connection (after a hostile client)."""
    c = server.client(timeout=5 * TIME_FACTOR)
    try:
        r = c.get("/health")
        assert r.status == 200 and r.json == {"status": "ok"}, r
    finally:
        c.close()
