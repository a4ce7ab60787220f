"""GET /api/events (SSE and WebSocket), typing, and the message/read events: what API.md's
"Event stream" section promises, against the real binary. One server of this module runs with a
short heartbeat (300 ms) and a 64 KiB per-stream buffer so that the heartbeat and the slow-reader
drop can be observed quickly."""

import json
import random
import socket
import struct
import threading
import time

import pytest

from conftest import Server
from events_client import SseStream, WsClient, ws_accept, ws_frame
from helpers import TIME_FACTOR, check_422, new_pair, new_user


@pytest.fixture(scope="module")
def ev_server(workdir, server_env):
    env = dict(server_env, MESSENGER_EVENTS_HEARTBEAT_MS="300", MESSENGER_STREAM_BUFFER_BYTES="65536",
               MESSENGER_QUIET="1")
    s = Server(workdir, env, "events").start()
    yield s
    s.stop_and_check()


def metric(server, name):
    """The value of one unlabelled family in the server's /metrics exposition."""
    c = server.client()
    r = c.get("/metrics", expect_json=False)
    c.close()
    for line in r.body.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError("%s not exported" % name)


def pos(event_id):
    """An event id as a comparable tuple (ids are opaque to clients; the tests know the format)."""
    base = event_id.split("~")[0]
    hi, lo = base.split("-")
    return int(hi), int(lo)


def test_sse_stream_gets_message_read_and_typing(ev_server):
    a, b = new_pair()
    api = ev_server.client()
    sb = SseStream(ev_server, b)
    sa = SseStream(ev_server, a)
    assert sb.status == 200
    assert sb.headers["content-type"].startswith("text/event-stream")
    assert "content-length" not in sb.headers
    start = sb.wait_position()
    sa.wait_position()
    m = api.send(a, b, "hi there")
    ev = sb.next_event()
    assert ev["event"] == "message" and ev["data"]["type"] == "message"
    assert ev["data"]["id"] == ev["id"] and pos(ev["id"]) > pos(start)
    assert ev["data"]["message"] == m
    assert sa.next_event()["data"]["message"] == m  # the sender's streams too

    r = api.post("/api/conversations/%d/read" % m["conversation_id"], {"user_id": b, "message_id": m["id"]})
    assert r.status == 200
    for s in (sa, sb):
        ev = s.next_event()
        assert ev["event"] == "read"
        assert ev["data"] == {"type": "read", "id": ev["id"], "conversation_id": m["conversation_id"],
                              "user_id": b, "last_read_message_id": m["id"]}
    # an unchanged mark is no event: the next event is the typing one
    r = api.post("/api/conversations/%d/read" % m["conversation_id"], {"user_id": b, "message_id": m["id"]})
    assert r.status == 200
    r = api.post("/api/conversations/%d/typing" % m["conversation_id"], {"user_id": a})
    assert r.status == 202 and r.json == {"status": "accepted"}
    ev = sb.next_event()
    assert ev["event"] == "typing"
    assert ev["data"] == {"type": "typing", "id": ev["id"], "conversation_id": m["conversation_id"], "user_id": a}
    assert ev["id"].startswith(sb.last_id.split("~")[0])
    # typing goes to the other participant only: a's next event is the next message
    m2 = api.send(b, a, "second")
    assert sa.next_event()["data"]["message"] == m2
    # heartbeats: a ": ping" comment at least every 300 ms here
    assert sb.next_event()["data"]["message"] == m2
    pings = sb.pings
    time.sleep(1.0)
    m3 = api.send(b, a, "third")
    assert sb.next_event()["data"]["message"] == m3
    assert sb.pings > pings
    assert sb.retry == 2000
    sa.close()
    sb.close()
    api.close()


def test_typing_rules(ev_server):
    a, b = new_pair()
    c = new_user()
    api = ev_server.client()
    m = api.send(a, b)
    conv = m["conversation_id"]
    sb = SseStream(ev_server, b)
    sb.wait_position()
    for _ in range(3):  # one event per user and conversation per 2 s
        assert api.post("/api/conversations/%d/typing" % conv, {"user_id": a}).status == 202
    assert sb.next_event()["event"] == "typing"
    assert api.post("/api/conversations/%d/typing" % conv, {"user_id": c}).status == 404
    assert api.post("/api/conversations/999999999999/typing", {"user_id": a}).status == 404
    check_422(api.post("/api/conversations/%d/typing" % conv, {}), loc=["body", "user_id"])
    check_422(api.post("/api/conversations/%d/typing" % conv, {"user_id": "1"}), loc=["body", "user_id"])
    check_422(api.post("/api/conversations/x/typing", {"user_id": a}), loc=["path", "conversation_id"])
    m2 = api.send(a, b, "after typing")
    assert sb.next_event()["data"]["message"] == m2  # the extra typing posts were dropped
    time.sleep(2.1)
    assert api.post("/api/conversations/%d/typing" % conv, {"user_id": a}).status == 202
    assert sb.next_event()["event"] == "typing"
    sb.close()
    api.close()


def test_stream_validation(ev_server):
    api = ev_server.client()
    check_422(api.get("/api/events"), loc=["query", "user_id"])
    check_422(api.get("/api/events?user_id=0"), loc=["query", "user_id"])
    check_422(api.get("/api/events?user_id=abc"), loc=["query", "user_id"])
    api.close()


def test_resume_replays_exactly_once_then_live(ev_server):
    a, b = new_pair()
    api = ev_server.client()
    s = SseStream(ev_server, b)
    s.wait_position()
    sent = [api.send(a, b, "m%d" % i) for i in range(3)]
    got = [s.next_event() for _ in range(3)]
    assert [e["data"]["message"] for e in got] == sent
    s.close()
    missed = [api.send(a, b, "missed%d" % i) for i in range(4)]
    # header form
    s = SseStream(ev_server, b, last_event_id=got[1]["id"])
    replay = [s.next_event() for _ in range(5)]
    assert [e["data"]["message"] for e in replay] == [sent[2]] + missed
    live = api.send(a, b, "live")
    assert s.next_event()["data"]["message"] == live
    s.close()
    # query form, from the last event: only the live one... then nothing more
    s = SseStream(ev_server, b, query_last_id=replay[-1]["id"])
    assert s.next_event()["data"]["message"] == live
    s.close()
    # a stream that saw nothing resumes from its start position
    c = new_user()
    s = SseStream(ev_server, c)
    start = s.wait_position()
    s.close()
    m = api.send(a, c, "while away")
    s = SseStream(ev_server, c, last_event_id=start)
    assert s.next_event()["data"]["message"] == m
    s.close()
    api.close()


@pytest.mark.parametrize("bad", ["garbage", "1-2", "99999999999999-1", "1-2-3", "x" * 200])
def test_unknown_last_event_id_gets_reset_first(ev_server, bad):
    a, b = new_pair()
    api = ev_server.client()
    s = SseStream(ev_server, b, last_event_id=bad)
    ev = s.next_event()
    assert ev["event"] == "reset" and ev["data"] == {"type": "reset", "id": ev["id"]}
    m = api.send(a, b)
    nxt = s.next_event()
    assert nxt["data"]["message"] == m and pos(nxt["id"]) > pos(ev["id"])
    s.close()
    api.close()


def test_resume_under_16_concurrent_senders_with_forced_disconnects(ev_server):
    receiver = new_user()
    senders = [new_user() for _ in range(16)]
    per_sender = 25
    sent = {}
    sent_lock = threading.Lock()
    errors = []
    go = threading.Event()

    def send_all(sender):
        c = ev_server.client()
        try:
            go.wait()
            for i in range(per_sender):
                m = c.send(sender, receiver, "from %d #%d" % (sender, i))
                with sent_lock:
                    sent[m["id"]] = m
        except Exception as e:  # reported below
            errors.append(e)
        finally:
            c.close()

    s = SseStream(ev_server, receiver)
    last = s.wait_position()
    threads = [threading.Thread(target=send_all, args=(u,)) for u in senders]
    for t in threads:
        t.start()
    go.set()
    received = []
    reconnects = 0
    rng = random.Random(7)
    deadline = time.monotonic() + 120 * TIME_FACTOR
    total = len(senders) * per_sender
    while len(received) < total and time.monotonic() < deadline:
        budget = rng.randint(5, 40)
        try:
            for _ in range(budget):
                ev = s.next_event(timeout=20)
                assert ev is not None, "stream closed by the server"
                assert ev["event"] == "message", ev
                received.append(ev)
                last = ev["id"]
                if len(received) == total:
                    break
        finally:
            s.sock.shutdown(socket.SHUT_RDWR)  # a forced disconnect, mid-stream
            s.close()
        if len(received) < total:
            reconnects += 1
            s = SseStream(ev_server, receiver, last_event_id=last)
    s.close()
    for t in threads:
        t.join()
    assert not errors, errors
    ids = [e["data"]["message"]["id"] for e in received]
    assert len(ids) == len(set(ids)), "duplicates"
    assert set(ids) == set(sent), "missing %d" % len(set(sent) - set(ids))
    assert [pos(e["id"]) for e in received] == sorted(pos(e["id"]) for e in received), "event ids out of order"
    for u in senders:  # each sender waited for its 201 before sending again: its order is kept
        mine = [e["data"]["message"]["id"] for e in received if e["data"]["message"]["sender_id"] == u]
        assert mine == sorted(mine)
    assert reconnects >= 5


def test_open_streams_are_counted_in_metrics(ev_server):
    base = metric(ev_server, "messenger_event_streams")
    opened = metric(ev_server, "messenger_event_streams_opened_total")
    streams = [SseStream(ev_server, new_user()) for _ in range(3)]
    for s in streams:
        s.wait_position()
    assert metric(ev_server, "messenger_event_streams") == base + 3
    assert metric(ev_server, "messenger_event_streams_opened_total") == opened + 3
    for s in streams:
        s.close()
    deadline = time.monotonic() + 10 * TIME_FACTOR
    while metric(ev_server, "messenger_event_streams") != base and time.monotonic() < deadline:
        time.sleep(0.05)
    assert metric(ev_server, "messenger_event_streams") == base


def test_slow_reader_is_dropped_without_delaying_others(ev_server):
    a, b = new_pair()
    api = ev_server.client()
    dropped = metric(ev_server, "messenger_event_streams_dropped_total")
    slow = SseStream(ev_server, b, rcvbuf=4096)  # never reads
    slow.wait_position()
    fast = SseStream(ev_server, b)
    fast.wait_position()
    # 500 events of ~12 KB: more than the kernel's socket buffers (tcp_wmem max 4 MiB) plus the
    # server's 64 KiB per-stream buffer
    count = 500
    text = "\u20ac" * 4096
    got = []

    def read_fast():
        while len(got) < count:
            ev = fast.next_event(timeout=30)
            if ev is None:
                return
            got.append(ev)

    reader = threading.Thread(target=read_fast)
    reader.start()
    worst = 0.0
    for i in range(count):
        t0 = time.monotonic()
        api.send(a, b, text)
        worst = max(worst, time.monotonic() - t0)
    reader.join(60 * TIME_FACTOR)
    assert len(got) == count, "the fast reader got %d of %d" % (len(got), count)
    # the slow stream was closed: reading it now ends with EOF before all the events
    n = 0
    while True:
        ev = slow.next_event(timeout=30)
        if ev is None:
            break
        n += 1
    assert n < count, "the slow reader was never dropped"
    assert metric(ev_server, "messenger_event_streams_dropped_total") >= dropped + 1
    assert worst < 5 * TIME_FACTOR, "a send took %.2f s while a reader was stuck" % worst
    fast.close()
    slow.close()
    api.close()


# ---- WebSocket ----


@pytest.fixture
def ev_server_big_buffers(workdir, server_env):
    """A 1 MiB stream buffer (so a resume of the events a dropped reader missed fits in it) and
    room in the event history for the megabytes the slow reader falls behind by."""
    env = dict(server_env, MESSENGER_EVENTS_HEARTBEAT_MS="300", MESSENGER_STREAM_BUFFER_BYTES="1048576",
               MESSENGER_EVENTS_HISTORY_MB="2048", MESSENGER_QUIET="1")
    s = Server(workdir, env, "events-buffers").start()
    yield s
    s.stop_and_check()


def test_slow_websocket_reader_gets_1008_and_resumes(ev_server_big_buffers):
    """Past its buffer a WebSocket reader that has fallen behind gets the frames already on their
    way, then a close with 1008; it resumes from the last event id it saw and misses nothing."""
    ev_server = ev_server_big_buffers
    a, b = new_pair()
    api = ev_server.client()
    slow = WsClient(ev_server, b, rcvbuf=4096)  # reads nothing until the sends are over
    assert slow.status == 101
    time.sleep(0.2 * TIME_FACTOR)
    text = "\u20ac" * 4096  # ~12 KB of JSON per event
    sent = []
    # more than the socket buffers (tcp_wmem max 4 MiB) and the 1 MiB stream buffer; a few
    # sends after the drop, so that what the reader misses is a replay that fits its buffer
    while len(sent) < 2000:
        sent += [api.send(a, b, text)["id"] for _ in range(5)]
        if metric(ev_server, "messenger_event_streams_dropped_total") >= 1:
            break
    assert metric(ev_server, "messenger_event_streams_dropped_total") == 1, "the slow reader was never dropped"
    seen, code = [], None
    while True:
        fin, op, payload = slow.next_data_frame(timeout=20)
        if op == 0x8:
            code = struct.unpack(">H", payload[:2])[0]
            break
        event = json.loads(payload.decode())
        assert event["type"] == "message"
        seen.append(event)
    slow.close()
    assert code == 1008, "closed with %r" % code
    assert 0 < len(seen) < len(sent), "%d of %d events before the close" % (len(seen), len(sent))
    assert [e["message"]["id"] for e in seen] == sent[:len(seen)], "the frames before the close are in order"
    again = WsClient(ev_server, b, last_event_id=seen[-1]["id"])
    rest = []
    while len(rest) < len(sent) - len(seen):
        event = again.next_event(timeout=20)
        assert event["type"] == "message", event
        rest.append(event["message"]["id"])
    again.close()
    assert rest == sent[len(seen):], "resuming from the last id delivers exactly the rest"
    api.close()


@pytest.mark.parametrize("size,expect_reset", [(100, False), (4000, True)])
def test_a_replay_larger_than_half_the_stream_buffer_is_a_reset(ev_server, size, expect_reset):
    """Missed events that a stream's buffer (64 KiB here) could not take in one go are not
    replayed (the client would be dropped at every attempt): the resume starts with reset."""
    a, b = new_pair()
    api = ev_server.client()
    s = SseStream(ev_server, b)
    start = s.wait_position()
    s.close()
    sent = [api.send(a, b, "x" * size)["id"] for _ in range(10)]
    s = SseStream(ev_server, b, last_event_id=start)
    first = s.next_event(timeout=10)
    if expect_reset:
        assert first["event"] == "reset", first
    else:
        got = [first] + [s.next_event(timeout=10) for _ in range(9)]
        assert [e["data"]["message"]["id"] for e in got] == sent
    s.close()
    api.close()

def test_ws_handshake_and_events(ev_server):
    a, b = new_pair()
    api = ev_server.client()
    ws = WsClient(ev_server, b, extra_headers="Sec-WebSocket-Protocol: chat, other\r\n")
    assert ws.status == 101
    assert ws.headers["upgrade"].lower() == "websocket"
    assert ws.headers["sec-websocket-accept"] == ws_accept(ws.key)
    assert ws.headers["sec-websocket-protocol"] == "chat"
    m = api.send(a, b, "over ws")
    ev = ws.next_event()
    assert ev["type"] == "message" and ev["message"] == m and isinstance(ev["id"], str)
    # a typing frame from b reaches a; a read frame reaches both
    sa = SseStream(ev_server, a)
    sa.wait_position()
    ws.send_text('{"type":"typing","conversation_id":%d}' % m["conversation_id"])
    ev = sa.next_event()
    assert ev["event"] == "typing" and ev["data"]["user_id"] == b
    ws.send_text('{"type":"read","conversation_id":%d,"message_id":%d}' % (m["conversation_id"], m["id"]))
    ev = sa.next_event()
    assert ev["event"] == "read" and ev["data"]["last_read_message_id"] == m["id"] and ev["data"]["user_id"] == b
    ev = ws.next_event()
    assert ev["type"] == "read" and ev["user_id"] == b
    r = api.conversations(b)
    assert r.json["data"][0]["last_read_message_id"] == m["id"]
    # resume over WebSocket with ?last_event_id
    ws.close()
    m2 = api.send(a, b, "missed")
    ws = WsClient(ev_server, b, last_event_id=ev["id"])
    assert ws.next_event()["message"] == m2
    ws.close()
    sa.close()
    api.close()


def test_ws_fragmentation_ping_pong_and_close_handshake(ev_server):
    a, b = new_pair()
    api = ev_server.client()
    m = api.send(a, b)
    sa = SseStream(ev_server, a)
    sa.wait_position()
    ws = WsClient(ev_server, b)
    frame = b'{"type":"typing","conversation_id":%d}' % m["conversation_id"]
    ws.send(ws_frame(0x1, frame[:5], fin=False) + ws_frame(0x9, b"p1") + ws_frame(0x0, frame[5:12], fin=False)
            + ws_frame(0x0, frame[12:], fin=True))
    fin, op, payload = ws.next_frame()
    assert (op, payload) == (0xA, b"p1")  # pong carries the ping's payload
    assert sa.next_event()["event"] == "typing"
    ws.send(ws_frame(0x8, b"\x03\xe8bye"))
    ws.expect_close(1000)
    ws.close()
    sa.close()
    api.close()


@pytest.mark.parametrize("frame,code", [
    (ws_frame(0x1, b'{"type":"typing","conversation_id":1}', masked=False), 1002),
    (ws_frame(0x1, b"ok\xc3\x28"), 1007),
    (ws_frame(0x1, b"x" * 5000), 1009),
    (ws_frame(0x1, b'{"type":"subscribe","conversation_id":1}'), 1008),
    (ws_frame(0x1, b"not json"), 1008),
    (ws_frame(0x2, b"\x00\x01"), 1003),
])
def test_ws_violations_close_with_the_right_code(ev_server, frame, code):
    ws = WsClient(ev_server, new_user())
    assert ws.status == 101
    ws.send(frame)
    ws.expect_close(code)
    ws.close()


def test_ws_bad_handshakes(ev_server):
    for headers, status in [("Sec-WebSocket-Version: 8\r\n", 426)]:
        s = socket.create_connection((ev_server.host, ev_server.port), timeout=10)
        s.sendall(("GET /api/events?user_id=5 HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n%s\r\n" % headers).encode())
        head = s.recv(4096).decode("latin-1")
        assert head.startswith("HTTP/1.1 %d" % status), head
        assert "sec-websocket-version: 13" in head.lower()
        s.close()
    s = socket.create_connection((ev_server.host, ev_server.port), timeout=10)
    s.sendall(b"GET /api/events?user_id=5 HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              b"Sec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13\r\n\r\n")
    head = s.recv(4096).decode("latin-1")
    assert head.startswith("HTTP/1.1 400"), head
    s.close()
