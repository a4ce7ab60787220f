"""POST /api/messages/ (and /api/messages): the Message it returns, conversations it creates,
every 422 of API.md, the 64 KiB body limit, Unicode round trips."""

import json
import time

import pytest

from helpers import (ID_MAX, check_422, check_conversation, check_message, new_pair, new_user, parse_ts, raw_connect,
                     raw_read_response, raw_send)


@pytest.mark.parametrize("path", ["/api/messages/", "/api/messages"])
def test_send_returns_201_message_with_every_field(api, path):
    a, b = new_pair()
    before = time.time()
    r = api.post(path, {"sender_id": a, "receiver_id": b, "content": "hello there"})
    after = time.time()
    assert r.status == 201, r
    m = r.json
    check_message(m)
    assert m["sender_id"] == a and m["receiver_id"] == b and m["content"] == "hello there"
    # created_at is the server's clock (same machine): within the request's time window.
    t = parse_ts(m["created_at"]) / 1e6
    assert before - 2 <= t <= after + 2, (before, m["created_at"], after)


def test_first_message_creates_conversation_both_directions_share_it(api):
    low, high = new_pair()
    m1 = api.send(high, low, "first, from the higher id")
    r = api.conversation(m1["conversation_id"])
    assert r.status == 200, r
    c = r.json
    check_conversation(c)
    assert (c["id"], c["user1_id"], c["user2_id"]) == (m1["conversation_id"], low, high)
    assert c["last_message_content"] == "first, from the higher id"
    assert c["last_message_at"] == m1["created_at"]

    m2 = api.send(low, high, "reply")
    assert m2["conversation_id"] == m1["conversation_id"]
    assert m2["id"] > m1["id"], "a later message of a conversation has a larger id"
    assert m2["created_at"] >= m1["created_at"]
    m3 = api.send(high, low, "again")
    assert m3["conversation_id"] == m1["conversation_id"]
    assert m3["id"] > m2["id"]

    p = api.messages(m1["conversation_id"]).json
    assert p["total"] == 3
    assert [x["id"] for x in p["data"]] == [m3["id"], m2["id"], m1["id"]]
    c = api.conversation(m1["conversation_id"]).json
    assert c["last_message_content"] == "again" and c["last_message_at"] == m3["created_at"]


def test_other_pairs_get_other_conversations(api):
    a, b, c = new_user(), new_user(), new_user()
    ab = api.send(a, b)["conversation_id"]
    ac = api.send(a, c)["conversation_id"]
    bc = api.send(c, b)["conversation_id"]
    assert len({ab, ac, bc}) == 3


def test_boundary_ids_accepted(api):
    m = api.send(ID_MAX, 1, "max id")
    assert m["sender_id"] == ID_MAX and m["receiver_id"] == 1
    c = api.conversation(m["conversation_id"]).json
    assert (c["user1_id"], c["user2_id"]) == (1, ID_MAX)


# --- 422 --------------------------------------------------------------------------------------

def _body(**over):
    b = {"sender_id": 11, "receiver_id": 12, "content": "x"}
    for k, v in over.items():
        if v is _MISSING:
            del b[k]
        else:
            b[k] = v
    return b


_MISSING = object()


@pytest.mark.parametrize("field", ["sender_id", "receiver_id", "content"])
def test_missing_field_422(api, field):
    check_422(api.post("/api/messages/", _body(**{field: _MISSING})), loc=["body", field])


def test_all_fields_missing_422(api):
    r = api.post("/api/messages/", {})
    check_422(r, loc_prefix="body")
    locs = [e["loc"] for e in r.json["detail"]]
    for f in ("sender_id", "receiver_id", "content"):
        assert ["body", f] in locs, locs


@pytest.mark.parametrize("field", ["sender_id", "receiver_id"])
@pytest.mark.parametrize("value", ["12", 1.5, 1.0, 1e3, True, False, None, [13], {"id": 13}],
                         ids=["string", "float", "float-integral", "exp", "true", "false", "null", "array", "object"])
def test_id_wrong_type_422(api, field, value):
    check_422(api.post("/api/messages/", _body(**{field: value})), loc=["body", field])


@pytest.mark.parametrize("field", ["sender_id", "receiver_id"])
@pytest.mark.parametrize("value", [0, -1, 2**53, 2**63, 10**30], ids=["0", "-1", "2^53", "2^63", "1e30"])
def test_id_out_of_range_422(api, field, value):
    r = api.post("/api/messages/", json.dumps(_body(**{field: value})).encode())
    check_422(r, loc_prefix="body")


@pytest.mark.parametrize("value", [123, 1.5, True, None, ["a"], {"a": 1}],
                         ids=["int", "float", "bool", "null", "array", "object"])
def test_content_wrong_type_422(api, value):
    check_422(api.post("/api/messages/", _body(content=value)), loc=["body", "content"])


def test_sender_equals_receiver_422(api):
    u = new_user()
    check_422(api.post("/api/messages/", {"sender_id": u, "receiver_id": u, "content": "me"}), loc_prefix="body")
    assert api.conversations(u).json["total"] == 0, "a rejected message must not create a conversation"


def test_empty_content_422(api):
    a, b = new_pair()
    check_422(api.post("/api/messages/", {"sender_id": a, "receiver_id": b, "content": ""}),
              loc=["body", "content"])
    assert api.conversations(a).json["total"] == 0


@pytest.mark.parametrize("body", [b"[1, 2, 3]", b'"hello"', b"42", b"null", b"true",
                                  b'[{"sender_id": 1, "receiver_id": 2, "content": "x"}]'],
                         ids=["array", "string", "number", "null", "bool", "array-of-object"])
def test_body_not_object_422(api, body):
    check_422(api.post("/api/messages/", body), loc_prefix="body")


@pytest.mark.parametrize("body", [b"", b"{", b'{"sender_id": 1,}', b"{sender_id: 1}", b"not json",
                                  b'{"sender_id": 1, "receiver_id": 2, "content": "x"} trailing',
                                  b'{"sender_id": 1, "receiver_id": 2, "content": "\xff\xfe"}'],
                         ids=["empty", "unclosed", "trailing-comma", "unquoted", "text", "trailing-garbage",
                              "invalid-utf8"])
def test_invalid_json_422(api, body):
    check_422(api.post("/api/messages/", body), loc_prefix="body")


def test_rejected_sends_store_nothing(api):
    a, b = new_pair()
    for body in ({"sender_id": a, "receiver_id": b}, {"sender_id": a, "receiver_id": b, "content": ""},
                 {"sender_id": a, "receiver_id": "x", "content": "y"}, {"sender_id": a, "receiver_id": b,
                                                                          "content": "x" * 4097}):
        assert api.post("/api/messages/", body).status == 422
    assert api.conversations(a).json == {"total": 0, "page": 1, "limit": 20, "data": [], "next_cursor": None}
    assert api.conversations(b).json["total"] == 0


# --- content length in code points --------------------------------------------------------

@pytest.mark.parametrize("unit,name", [("a", "ascii"), ("\u00e9", "2-byte"), ("\u4e2d", "3-byte"),
                                       ("\U0001F600", "4-byte-emoji")])
def test_content_4096_code_points_ok_4097_rejected(api, unit, name):
    a, b = new_pair()
    ok = unit * 4096
    m = api.send(a, b, ok)
    assert m["content"] == ok
    got = api.messages(m["conversation_id"]).json["data"][0]["content"]
    assert got == ok, "4096 x %s did not round-trip" % name
    check_422(api.post("/api/messages/", {"sender_id": a, "receiver_id": b, "content": unit * 4097}),
              loc=["body", "content"])
    assert api.messages(m["conversation_id"]).json["total"] == 1


def test_content_limit_counts_escaped_surrogate_pairs_as_one(api):
    a, b = new_pair()
    # json.dumps with ensure_ascii escapes every emoji as a \\uD83D\\uDE00 surrogate pair.
    ok = json.dumps({"sender_id": a, "receiver_id": b, "content": "\U0001F600" * 4096}).encode()
    assert b"\\ud83d\\ude00" in ok and len(ok) < 65536
    r = api.post("/api/messages/", ok)
    assert r.status == 201, r
    assert r.json["content"] == "\U0001F600" * 4096
    bad = json.dumps({"sender_id": a, "receiver_id": b, "content": "\U0001F600" * 4097}).encode()
    check_422(api.post("/api/messages/", bad), loc=["body", "content"])


def test_combining_marks_count_as_code_points(api):
    a, b = new_pair()
    unit = "e\u0301"  # 2 code points, one user-perceived character; must not be normalized
    m = api.send(a, b, unit * 2048)
    assert m["content"] == unit * 2048
    check_422(api.post("/api/messages/", {"sender_id": a, "receiver_id": b, "content": unit * 2048 + "e"}),
              loc=["body", "content"])


# --- Unicode round trips --------------------------------------------------------------------

UNICODE_SAMPLES = {
    "emoji": "hi \U0001F600\U0001F44D\U0001F3FD \U0001F468\u200D\U0001F469\u200D\U0001F467 \U0001F1EB\U0001F1F7",
    "cjk": "\u4f60\u597d\uff0c\u4e16\u754c \u3053\u3093\u306b\u3061\u306f \uc548\ub155\ud558\uc138\uc694",
    "rtl": "\u0645\u0631\u062d\u0628\u0627 \u05e9\u05dc\u05d5\u05dd \u200fmixed\u200e text",
    "combining": "e\u0301 a\u0308 n\u0303 \u1100\u1161\u11a8 Z\u0351\u036b\u0343\u036a",
    "json-specials": "quote \" backslash \\ slash / tab\t newline\n cr\r formfeed\f bell\u0007 </script>",
    "astral": "\U00010348 \U0001D11E \U0010FFFD",
    "bom-and-nbsp": "\ufeffstart\u00a0nbsp\u2028line\u2029para",
}


@pytest.mark.parametrize("name", sorted(UNICODE_SAMPLES))
@pytest.mark.parametrize("escaped", [False, True], ids=["utf8", "escaped"])
def test_unicode_round_trip(api, name, escaped):
    text = UNICODE_SAMPLES[name]
    a, b = new_pair()
    body = json.dumps({"sender_id": a, "receiver_id": b, "content": text}, ensure_ascii=escaped).encode()
    r = api.post("/api/messages/", body)
    assert r.status == 201, r
    assert r.json["content"] == text
    cid = r.json["conversation_id"]
    assert api.messages(cid).json["data"][0]["content"] == text
    assert api.conversation(cid).json["last_message_content"] == text
    assert api.conversations(a).json["data"][0]["last_message_content"] == text


# --- body size ------------------------------------------------------------------------------

def _padded(a, b, size):
    body = json.dumps({"sender_id": a, "receiver_id": b, "content": "padded"}).encode()
    return body[:-1] + b" " * (size - len(body)) + b"}"


def test_body_of_exactly_64_KiB_accepted(api):
    a, b = new_pair()
    body = _padded(a, b, 65536)
    assert len(body) == 65536
    r = api.post("/api/messages/", body)
    assert r.status == 201, r
    assert r.json["content"] == "padded"


@pytest.mark.parametrize("size", [65537, 200 * 1024, 4 * 1024 * 1024])
def test_body_over_64_KiB_413(server, size):
    a, b = new_pair()
    body = _padded(a, b, size)
    s = raw_connect(server)
    try:
        head = ("POST /api/messages/ HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                "Content-Length: %d\r\n\r\n" % len(body)).encode()
        # The server may answer and close before reading everything: tolerate a failed send,
        # but the 413 must arrive.
        raw_send(s, head + body)
        status, headers, data, _ = raw_read_response(s)
    finally:
        s.close()
    assert status == 413, "POST of %d bytes: expected 413, got %r %r" % (size, status, data[:200])
    assert headers.get("content-type", "").startswith("application/json"), headers
    assert json.loads(data) == {"detail": "Request body too large"}, data
    c = server.client()
    assert c.conversations(a).json["total"] == 0
    c.close()
