"""GET /api/messages/conversation/{id}: newest first, exact totals, page tiling, cursors,
422/404 bodies."""

import pytest

from helpers import ID_MAX, check_422, check_detail, check_message, check_newest_first, check_page, cursor_walk, \
    new_pair, new_user, page_walk

N = 45


@pytest.fixture(scope="module")
def conv(server):
    """A conversation of N messages in both directions; returns (id, messages oldest first)."""
    c = server.client()
    a, b = new_pair()
    sent = []
    for i in range(N):
        s, r = (a, b) if i % 3 else (b, a)
        sent.append(c.send(s, r, "message %d" % i))
    c.close()
    assert len({m["conversation_id"] for m in sent}) == 1
    return sent[0]["conversation_id"], sent


def test_default_page_is_newest_20(api, conv):
    cid, sent = conv
    r = api.messages(cid)
    assert r.status == 200, r
    p = r.json
    check_page(p, check_message, page=1, limit=20)
    assert p["total"] == N
    assert p["data"] == list(reversed(sent))[:20], "page 1 must be the 20 newest messages, newest first, " \
                                                   "exactly as they were returned when sent"
    assert p["next_cursor"] is not None
    check_newest_first(p["data"])


@pytest.mark.parametrize("limit", [1, 7, 15, 20, 44, 45, 46, 100])
def test_pages_tile_the_conversation(api, conv, limit):
    cid, sent = conv
    items, total = page_walk(lambda **q: api.messages(cid, **q), limit, check_message)
    assert total == N
    assert [m["id"] for m in items] == [m["id"] for m in reversed(sent)]
    check_newest_first(items)


@pytest.mark.parametrize("limit", [1, 7, 15, 20, 45, 100])
def test_next_cursor_iff_more_follow(api, conv, limit):
    cid, _ = conv
    pages = -(-N // limit)
    for page in range(1, pages + 2):
        p = api.messages(cid, page=page, limit=limit).json
        more = page * limit < N
        assert (p["next_cursor"] is not None) == more, "page %d limit %d: next_cursor %r" % (
            page, limit, p["next_cursor"])
        expected = max(0, min(limit, N - (page - 1) * limit))
        assert len(p["data"]) == expected


@pytest.mark.parametrize("limit", [1, 7, 15, 20, 45, 100])
def test_cursor_walk_equals_page_walk(api, conv, limit):
    cid, sent = conv
    fetch = lambda **q: api.messages(cid, **q)  # noqa: E731
    by_cursor, pages = cursor_walk(fetch, limit, check_message)
    by_page, _ = page_walk(fetch, limit, check_message)
    assert [m["id"] for m in by_cursor] == [m["id"] for m in by_page] == [m["id"] for m in reversed(sent)]
    assert len({m["id"] for m in by_cursor}) == N
    assert pages == -(-N // limit)


def test_page_past_end_is_empty_with_total(api, conv):
    cid, _ = conv
    for page, limit in ((4, 15), (3, 45), (2, 100), (1000, 20), (10**9, 100)):
        r = api.messages(cid, page=page, limit=limit)
        assert r.status == 200, r
        check_page(r.json, check_message, page=page, limit=limit)
        assert r.json["data"] == [] and r.json["total"] == N and r.json["next_cursor"] is None


def test_huge_page_never_errors(api, conv):
    cid, _ = conv
    r = api.messages(cid, page=str(2**63 + 5), limit=100)
    assert r.status in (200, 422), r
    if r.status == 200:
        assert r.json["data"] == [] and r.json["total"] == N
    else:
        check_422(r, loc=["query", "page"])


def test_cursor_ignores_page_and_echoes_it(api, conv):
    cid, sent = conv
    newest = list(reversed(sent))
    p1 = api.messages(cid, limit=10).json
    r = api.messages(cid, limit=10, cursor=p1["next_cursor"], page=7)
    assert r.status == 200, r
    p = r.json
    check_page(p, check_message, page=7, limit=10)
    assert [m["id"] for m in p["data"]] == [m["id"] for m in newest[10:20]]
    assert p["total"] == N


def test_cursor_limit_may_change_between_pages(api, conv):
    cid, sent = conv
    newest = list(reversed(sent))
    p1 = api.messages(cid, limit=5).json
    p2 = api.messages(cid, limit=30, cursor=p1["next_cursor"]).json
    assert [m["id"] for m in p2["data"]] == [m["id"] for m in newest[5:35]]
    p3 = api.messages(cid, limit=100, cursor=p2["next_cursor"]).json
    assert [m["id"] for m in p3["data"]] == [m["id"] for m in newest[35:]]
    assert p3["next_cursor"] is None


def test_cursor_is_stable_when_new_messages_arrive(api):
    a, b = new_pair()
    sent = [api.send(a, b, "old %d" % i) for i in range(12)]
    cid = sent[0]["conversation_id"]
    p1 = api.messages(cid, limit=5).json
    assert [m["id"] for m in p1["data"]] == [m["id"] for m in reversed(sent[7:])]
    newer = [api.send(b, a, "new %d" % i) for i in range(3)]
    p2 = api.messages(cid, limit=5, cursor=p1["next_cursor"]).json
    assert [m["id"] for m in p2["data"]] == [m["id"] for m in reversed(sent[2:7])], \
        "a cursor continues after the last message it saw, whatever arrived since"
    assert p2["total"] == 15
    p3 = api.messages(cid, limit=5, cursor=p2["next_cursor"]).json
    assert [m["id"] for m in p3["data"]] == [m["id"] for m in reversed(sent[:2])]
    assert p3["next_cursor"] is None
    assert api.messages(cid, limit=3).json["data"] == list(reversed(newer))


def test_single_message_conversation(api):
    a, b = new_pair()
    m = api.send(a, b, "only one")
    p = api.messages(m["conversation_id"]).json
    assert p == {"total": 1, "page": 1, "limit": 20, "data": [m], "next_cursor": None}


# --- errors -----------------------------------------------------------------------------------

BAD_INTS = ["0", "-1", "abc", "", "1.5", "1e2", "0x10"]


@pytest.mark.parametrize("value", BAD_INTS + ["101", "1000", str(2**64)])
def test_bad_limit_422(api, conv, value):
    check_422(api.messages(conv[0], limit=value), loc=["query", "limit"])


@pytest.mark.parametrize("value", BAD_INTS)
def test_bad_page_422(api, conv, value):
    check_422(api.messages(conv[0], page=value), loc=["query", "page"])


@pytest.mark.parametrize("value", ["abc", "", "0", "-1", "101", "!!!!", "A" * 300, "%00"])
def test_bad_cursor_422(api, conv, value):
    check_422(api.messages(conv[0], cursor=value), loc=["query", "cursor"])


def test_cursor_of_a_conversation_list_is_rejected(api, conv):
    a = new_user()
    for _ in range(2):
        api.send(a, new_user())
    cur = api.conversations(a, limit=1).json["next_cursor"]
    assert cur
    check_422(api.messages(conv[0], cursor=cur), loc=["query", "cursor"])


@pytest.mark.parametrize("value", ["abc", "0", "-1", str(2**53), str(2**64), "1.5", "%20"])
def test_bad_conversation_id_422(api, value):
    check_422(api.get("/api/messages/conversation/%s" % value), loc=["path", "conversation_id"])


def test_unknown_conversation_404(api):
    check_detail(api.messages(ID_MAX), 404, "Conversation not found")
    check_detail(api.messages(ID_MAX - 12345, page=2, limit=5), 404, "Conversation not found")
