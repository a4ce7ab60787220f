"""GET /api/conversations/user/{user_id} and GET /api/conversations/{conversation_id}."""

import pytest

from helpers import ID_MAX, check_422, check_conversation, check_detail, check_page, cursor_walk, new_user, page_walk


def _ids(page):
    return [c["id"] for c in page["data"]]


def test_user_with_no_conversations(api):
    u = new_user()
    r = api.conversations(u)
    assert r.status == 200, r
    assert r.json == {"total": 0, "page": 1, "limit": 20, "data": [], "next_cursor": None}
    r = api.conversations(u, page=3, limit=5)
    assert r.json == {"total": 0, "page": 3, "limit": 5, "data": [], "next_cursor": None}


def test_most_recent_activity_first_and_moves_to_top(api):
    u = new_user()
    others = [new_user() for _ in range(4)]
    convs = {}
    for o in others:
        convs[o] = api.send(u, o, "hi %d" % o)["conversation_id"]
    p = api.conversations(u).json
    check_page(p, check_conversation, page=1, limit=20)
    assert p["total"] == 4
    assert _ids(p) == [convs[o] for o in reversed(others)]

    # the oldest conversation gets a message (from the other side): it moves to the top
    m = api.send(others[0], u, "back to the top")
    p = api.conversations(u).json
    assert _ids(p) == [convs[others[0]], convs[others[3]], convs[others[2]], convs[others[1]]]
    top = p["data"][0]
    assert top["last_message_content"] == "back to the top"
    assert top["last_message_at"] == m["created_at"]
    assert (top["user1_id"], top["user2_id"]) == (min(u, others[0]), max(u, others[0]))
    # the other user sees the same conversation, with the same fields (the read state is each
    # user's own; here both have one message from the other unread and no mark)
    q = api.conversations(others[0]).json
    assert q["total"] == 1 and q["data"] == [top]
    assert top["unread_count"] == 1 and top["last_read_message_id"] is None
    shared = {k: v for k, v in top.items() if k not in ("last_read_message_id", "unread_count")}
    assert api.conversation(top["id"]).json == shared

    m = api.send(u, others[2], "and now this one")
    p = api.conversations(u).json
    assert _ids(p)[:2] == [convs[others[2]], convs[others[0]]]
    assert p["data"][0]["last_message_content"] == "and now this one"
    assert p["data"][0]["last_message_at"] == m["created_at"]
    for a, b in zip(p["data"], p["data"][1:]):
        assert a["last_message_at"] >= b["last_message_at"]


def test_last_message_matches_newest_message(api):
    u, v = new_user(), new_user()
    for i in range(5):
        m = api.send(u if i % 2 else v, v if i % 2 else u, "msg %d" % i)
    c = api.conversation(m["conversation_id"]).json
    check_conversation(c)
    newest = api.messages(m["conversation_id"], limit=1).json["data"][0]
    assert newest == m
    assert (c["last_message_at"], c["last_message_content"]) == (newest["created_at"], newest["content"])


def test_conversation_fields(api):
    low, high = new_user(), new_user()
    m = api.send(high, low, "fields")
    r = api.conversation(m["conversation_id"])
    assert r.status == 200, r
    c = r.json
    check_conversation(c)
    assert c["id"] == m["conversation_id"]
    assert (c["user1_id"], c["user2_id"]) == (low, high)
    assert (c["last_message_at"], c["last_message_content"]) == (m["created_at"], "fields")


M = 25


@pytest.fixture(scope="module")
def busy_user(server):
    """A user in M conversations; returns (user, conversation ids most recent first)."""
    c = server.client()
    u = new_user()
    ids = []
    for i in range(M):
        o = new_user()
        ids.append(c.send(u if i % 2 else o, o if i % 2 else u, "conv %d" % i)["conversation_id"])
    c.close()
    assert len(set(ids)) == M
    return u, list(reversed(ids))


def test_default_page(api, busy_user):
    u, ids = busy_user
    p = api.conversations(u).json
    check_page(p, check_conversation, page=1, limit=20)
    assert p["total"] == M
    assert _ids(p) == ids[:20]
    assert p["next_cursor"] is not None
    for c in p["data"]:
        assert u in (c["user1_id"], c["user2_id"])


@pytest.mark.parametrize("limit", [1, 4, 5, 10, 24, 25, 26, 100])
def test_pages_tile_and_cursor_walk(api, busy_user, limit):
    u, ids = busy_user
    fetch = lambda **q: api.conversations(u, **q)  # noqa: E731
    by_page, total = page_walk(fetch, limit, check_conversation)
    assert total == M
    assert [c["id"] for c in by_page] == ids
    by_cursor, pages = cursor_walk(fetch, limit, check_conversation)
    assert [c["id"] for c in by_cursor] == ids
    assert pages == -(-M // limit)
    for page in range(1, -(-M // limit) + 2):
        p = fetch(page=page, limit=limit).json
        assert (p["next_cursor"] is not None) == (page * limit < M), (page, limit, p["next_cursor"])


def test_page_past_end(api, busy_user):
    u, _ = busy_user
    for page, limit in ((2, 25), (3, 20), (10**6, 100)):
        p = api.conversations(u, page=page, limit=limit).json
        check_page(p, check_conversation, page=page, limit=limit)
        assert p["data"] == [] and p["total"] == M and p["next_cursor"] is None


def test_cursor_with_page_echoes_page(api, busy_user):
    u, ids = busy_user
    p1 = api.conversations(u, limit=6).json
    p = api.conversations(u, limit=6, page=4, cursor=p1["next_cursor"]).json
    check_page(p, check_conversation, page=4, limit=6)
    assert _ids(p) == ids[6:12]


def test_cursor_walk_while_a_listed_conversation_moves(api):
    """A conversation that moves to the top during a cursor walk is not returned twice below."""
    u = new_user()
    others = [new_user() for _ in range(6)]
    ids = [api.send(u, o)["conversation_id"] for o in others]  # most recent: ids[-1]
    p1 = api.conversations(u, limit=3).json
    assert _ids(p1) == ids[:-4:-1]
    api.send(others[5], u, "bump")  # ids[5] was on page 1; already seen
    p2 = api.conversations(u, limit=3, cursor=p1["next_cursor"]).json
    assert _ids(p2) == [ids[2], ids[1], ids[0]]
    assert p2["next_cursor"] is None


BAD_INTS = ["0", "-1", "abc", "", "1.5"]


@pytest.mark.parametrize("value", BAD_INTS + ["101"])
def test_bad_limit_422(api, busy_user, value):
    check_422(api.conversations(busy_user[0], limit=value), loc=["query", "limit"])


@pytest.mark.parametrize("value", BAD_INTS)
def test_bad_page_422(api, busy_user, value):
    check_422(api.conversations(busy_user[0], page=value), loc=["query", "page"])


@pytest.mark.parametrize("value", ["abc", "", "0", "-1", "101", "@@@@"])
def test_bad_cursor_422(api, busy_user, value):
    check_422(api.conversations(busy_user[0], cursor=value), loc=["query", "cursor"])


def test_cursor_of_a_message_list_is_rejected(api, busy_user):
    u, v = new_user(), new_user()
    cid = [api.send(u, v, "m%d" % i) for i in range(3)][0]["conversation_id"]
    cur = api.messages(cid, limit=1).json["next_cursor"]
    assert cur
    check_422(api.conversations(busy_user[0], cursor=cur), loc=["query", "cursor"])


@pytest.mark.parametrize("value", ["abc", "0", "-1", str(2**53), "1e3"])
def test_bad_user_id_422(api, value):
    check_422(api.get("/api/conversations/user/%s" % value), loc=["path", "user_id"])


@pytest.mark.parametrize("value", ["abc", "0", "-1", str(2**53), "2.0"])
def test_bad_conversation_id_422(api, value):
    check_422(api.get("/api/conversations/%s" % value), loc=["path", "conversation_id"])


def test_unknown_conversation_404(api):
    check_detail(api.conversation(ID_MAX), 404, "Conversation not found")
    check_detail(api.conversation(ID_MAX - 99), 404, "Conversation not found")


def test_largest_user_id_is_a_user(api):
    r = api.conversations(ID_MAX)
    assert r.status == 200, r
    assert r.json["total"] >= 0
