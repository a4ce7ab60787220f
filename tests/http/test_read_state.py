"""Read state (API.md "Read state"): POST /api/conversations/{id}/read, and last_read_message_id
plus the exact unread_count in GET /api/conversations/user/{user_id}."""

import threading

from helpers import ID_MAX, check_422, check_conversation, check_detail, new_user


def _item(api, user, conv_id):
    """The conversation `conv_id` in the user's list (with that user's read state)."""
    p = api.conversations(user, limit=100).json
    for c in p["data"]:
        if c["id"] == conv_id:
            check_conversation(c)
            return c
    raise AssertionError("conversation %d not in the list of user %d: %r" % (conv_id, user, p))


def _state(api, user, conv_id):
    c = _item(api, user, conv_id)
    return c["last_read_message_id"], c["unread_count"]


def _all_messages(api, conv_id):
    out, cursor = [], None
    while True:
        params = {"limit": 100}
        if cursor:
            params["cursor"] = cursor
        p = api.messages(conv_id, **params).json
        out += p["data"]
        cursor = p["next_cursor"]
        if not cursor:
            return out


def _expected_unread(api, user, conv_id, mark):
    return sum(1 for m in _all_messages(api, conv_id) if m["receiver_id"] == user and m["id"] > (mark or 0))


def _mark_ok(api, conv_id, user, message_id):
    r = api.mark_read(conv_id, user, message_id)
    assert r.status == 200, r
    assert set(r.json) == {"conversation_id", "user_id", "last_read_message_id"}, r.json
    assert r.json["conversation_id"] == conv_id and r.json["user_id"] == user, r.json
    return r.json["last_read_message_id"]


def test_unread_counts_follow_messages_in_both_directions(api):
    u, v = new_user(), new_user()
    to_u = [api.send(v, u, "v%d" % i) for i in range(3)]
    conv = to_u[0]["conversation_id"]
    assert _state(api, u, conv) == (None, 3)
    assert _state(api, v, conv) == (None, 0)  # your own messages are never unread for you

    to_v = [api.send(u, v, "u%d" % i) for i in range(2)]
    assert _state(api, v, conv) == (None, 2)
    assert _state(api, u, conv) == (None, 3)

    # u has read up to v's second message: v's third is still unread; u's own later ones never count
    assert _mark_ok(api, conv, u, to_u[1]["id"]) == to_u[1]["id"]
    assert _state(api, u, conv) == (to_u[1]["id"], 1)
    assert _state(api, v, conv) == (None, 2)  # marks are per user

    api.send(v, u, "one more")
    assert _state(api, u, conv) == (to_u[1]["id"], 2)
    newest = api.send(v, u, "newest")
    assert _mark_ok(api, conv, u, newest["id"]) == newest["id"]
    assert _state(api, u, conv) == (newest["id"], 0)

    # v reads u's first message only, then everything (marking a message of the other direction)
    assert _mark_ok(api, conv, v, to_v[0]["id"]) == to_v[0]["id"]
    assert _state(api, v, conv) == (to_v[0]["id"], 1)
    assert _mark_ok(api, conv, v, newest["id"]) == newest["id"]
    assert _state(api, v, conv) == (newest["id"], 0)


def test_marks_only_move_forward(api):
    u, v = new_user(), new_user()
    msgs = [api.send(v, u, "m%d" % i) for i in range(4)]
    conv = msgs[0]["conversation_id"]
    assert _mark_ok(api, conv, u, msgs[2]["id"]) == msgs[2]["id"]
    # older marks leave it where it is and answer the current one
    assert _mark_ok(api, conv, u, msgs[0]["id"]) == msgs[2]["id"]
    assert _mark_ok(api, conv, u, msgs[1]["id"]) == msgs[2]["id"]
    # the same mark again (a retry) changes nothing
    assert _mark_ok(api, conv, u, msgs[2]["id"]) == msgs[2]["id"]
    assert _state(api, u, conv) == (msgs[2]["id"], 1)
    assert _mark_ok(api, conv, u, msgs[3]["id"]) == msgs[3]["id"]
    assert _state(api, u, conv) == (msgs[3]["id"], 0)


def test_a_user_reading_their_own_message(api):
    u, v = new_user(), new_user()
    a = api.send(v, u, "a")
    mine = api.send(u, v, "mine")
    api.send(v, u, "b")
    conv = a["conversation_id"]
    assert _mark_ok(api, conv, u, mine["id"]) == mine["id"]  # any message of the conversation
    assert _state(api, u, conv) == (mine["id"], 1)  # only "b" is above it and sent to u


def test_list_pages_carry_each_conversations_read_state(api):
    u = new_user()
    others = [new_user() for _ in range(5)]
    last = {}
    for n, o in enumerate(others):
        for i in range(n + 1):
            last[o] = api.send(o, u, "x%d" % i)
    api.mark_read(last[others[2]]["conversation_id"], u, last[others[2]]["id"])
    seen = {}
    cursor = None
    while True:
        params = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        p = api.conversations(u, **params).json
        for c in p["data"]:
            seen[c["id"]] = (c["last_read_message_id"], c["unread_count"])
        cursor = p["next_cursor"]
        if not cursor:
            break
    for n, o in enumerate(others):
        conv = last[o]["conversation_id"]
        expected = (last[o]["id"], 0) if o == others[2] else (None, n + 1)
        assert seen[conv] == expected, (n, seen[conv])
    # page numbers give the same items
    p = api.conversations(u, page=2, limit=2).json
    for c in p["data"]:
        assert (c["last_read_message_id"], c["unread_count"]) == seen[c["id"]]


def test_refusals(api):
    u, v, stranger = new_user(), new_user(), new_user()
    m = api.send(u, v, "hello")
    conv = m["conversation_id"]
    other = api.send(u, stranger, "elsewhere")

    check_detail(api.mark_read(conv, stranger, m["id"]), 404, "Conversation not found")  # not a participant
    check_detail(api.mark_read(ID_MAX, u, m["id"]), 404, "Conversation not found")
    r = api.mark_read(conv, v, other["id"])  # a message of another conversation
    check_422(r, loc=["body", "message_id"])
    check_422(api.mark_read(conv, v, ID_MAX), loc=["body", "message_id"])  # no such message
    assert _state(api, v, conv) == (None, 1)  # nothing changed

    path = "/api/conversations/%d/read" % conv
    check_422(api.post(path, {"user_id": v}), loc=["body", "message_id"])
    check_422(api.post(path, {"message_id": m["id"]}), loc=["body", "user_id"])
    check_422(api.post(path, {"user_id": "v", "message_id": m["id"]}), loc=["body", "user_id"])
    check_422(api.post(path, {"user_id": v, "message_id": 1.5}), loc=["body", "message_id"])
    check_422(api.post(path, {"user_id": 0, "message_id": m["id"]}), loc=["body", "user_id"])
    check_422(api.post(path, {"user_id": v, "message_id": ID_MAX + 1}), loc=["body", "message_id"])
    check_422(api.post(path, [v, m["id"]]), loc=["body"])
    check_422(api.post(path, b"{not json"), loc_prefix="body")
    check_422(api.post(path, b""), loc_prefix="body")
    check_422(api.post("/api/conversations/abc/read", {"user_id": v, "message_id": m["id"]}),
              loc=["path", "conversation_id"])
    check_422(api.post("/api/conversations/0/read", {"user_id": v, "message_id": m["id"]}),
              loc=["path", "conversation_id"])
    r = api.get(path)
    assert r.status == 405 and "POST" in (r.header("Allow") or ""), r


def test_concurrent_marks_end_at_the_largest(server, api):
    u, v = new_user(), new_user()
    msgs = [api.send(v, u, "m%d" % i) for i in range(16)]
    conv = msgs[0]["conversation_id"]
    answers = [None] * len(msgs)
    errors = []

    def mark(i):
        c = server.client()
        try:
            r = c.mark_read(conv, u, msgs[i]["id"])
            if r.status != 200:
                errors.append(r)
            else:
                answers[i] = r.json["last_read_message_id"]
        finally:
            c.close()

    threads = [threading.Thread(target=mark, args=(i,)) for i in range(len(msgs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for i, a in enumerate(answers):
        assert a >= msgs[i]["id"], (i, a)  # never below the mark the request asked for
    assert _state(api, u, conv) == (msgs[-1]["id"], 0)


def test_unread_count_is_exact_under_concurrent_senders(server, api):
    u, v = new_user(), new_user()
    first = api.send(v, u, "start")
    conv = first["conversation_id"]
    per_thread = 10
    errors = []
    sent = []
    lock = threading.Lock()

    def chat(sender, receiver, n):
        c = server.client()
        try:
            for i in range(n):
                r = c.post("/api/messages/", {"sender_id": sender, "receiver_id": receiver, "content": "c%d" % i})
                if r.status != 201:
                    errors.append(r)
                    continue
                with lock:
                    sent.append(r.json)
                if receiver == u and i % 3 == 0:  # u reads while messages keep arriving
                    r = c.mark_read(conv, u, r.json["id"])
                    if r.status != 200:
                        errors.append(r)
        finally:
            c.close()

    threads = [threading.Thread(target=chat, args=(v, u, per_thread)) for _ in range(4)]
    threads += [threading.Thread(target=chat, args=(u, v, per_thread)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]
    mark, unread = _state(api, u, conv)
    assert mark is not None
    assert unread == _expected_unread(api, u, conv, mark)
    v_mark, v_unread = _state(api, v, conv)
    assert v_mark is None and v_unread == 4 * per_thread
    newest = max(m["id"] for m in sent)
    _mark_ok(api, conv, u, newest)
    assert _state(api, u, conv) == (newest, 0)
