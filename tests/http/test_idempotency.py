"""Idempotency-Key (ext): a retry with the same key and sender returns the original message
(201, same id) and stores nothing new; keys are 1-128 visible ASCII characters."""

import concurrent.futures
import os
import threading

import pytest

from helpers import check_422, check_message, new_pair


def _key():
    return "key-" + os.urandom(8).hex()


def _total(api, cid):
    r = api.messages(cid)
    assert r.status == 200, r
    return r.json["total"]


def test_retry_with_same_key_returns_original_and_stores_nothing(api):
    a, b = new_pair()
    key = _key()
    first = api.send(a, b, "pay me back", key=key)
    assert _total(api, first["conversation_id"]) == 1
    for _ in range(3):
        again = api.send(a, b, "pay me back", key=key)
        assert again == first, "a retry must return the original message unchanged"
    assert _total(api, first["conversation_id"]) == 1
    # also through the path without the trailing slash
    assert api.send(a, b, "pay me back", key=key, path="/api/messages") == first
    assert _total(api, first["conversation_id"]) == 1
    assert api.conversations(a).json["total"] == 1


def test_retry_after_other_messages_still_returns_original(api):
    a, b = new_pair()
    key = _key()
    first = api.send(a, b, "one", key=key)
    api.send(b, a, "two")
    api.send(a, b, "three")
    assert api.send(a, b, "one", key=key) == first
    assert _total(api, first["conversation_id"]) == 3
    c = api.conversation(first["conversation_id"]).json
    assert c["last_message_content"] == "three", "a retry must not move the conversation's last message"


def test_same_key_other_sender_is_a_new_message(api):
    a, b = new_pair()
    key = _key()
    m1 = api.send(a, b, "from a", key=key)
    m2 = api.send(b, a, "from b", key=key)
    assert m2["id"] != m1["id"]
    assert m2["sender_id"] == b and m2["content"] == "from b"
    assert m2["conversation_id"] == m1["conversation_id"]
    assert _total(api, m1["conversation_id"]) == 2


def test_other_key_same_sender_is_a_new_message(api):
    a, b = new_pair()
    m1 = api.send(a, b, "same text", key=_key())
    m2 = api.send(a, b, "same text", key=_key())
    m3 = api.send(a, b, "same text")
    assert len({m1["id"], m2["id"], m3["id"]}) == 3
    assert _total(api, m1["conversation_id"]) == 3


def test_concurrent_retries_store_one_message(server):
    a, b = new_pair()
    key = _key()
    n = 8
    barrier = threading.Barrier(n)
    clients = [server.client() for _ in range(n)]
    for c in clients:  # connect before the barrier so the sends really overlap
        assert c.get("/health").status == 200

    def go(c):
        barrier.wait()
        r = c.post("/api/messages/", {"sender_id": a, "receiver_id": b, "content": "once"},
                   headers={"Idempotency-Key": key})
        return r

    try:
        with concurrent.futures.ThreadPoolExecutor(n) as ex:
            rs = list(ex.map(go, clients))
    finally:
        for c in clients:
            c.close()
    for r in rs:
        assert r.status == 201, r
        check_message(r.json)
    assert len({r.json["id"] for r in rs}) == 1, "concurrent retries got different messages: %r" % rs
    c = server.client()
    assert _total(c, rs[0].json["conversation_id"]) == 1
    c.close()


def test_longest_key_accepted(api):
    a, b = new_pair()
    key = ("k" * 120 + os.urandom(4).hex())[:128]
    assert len(key) == 128
    m = api.send(a, b, "long key", key=key)
    assert api.send(a, b, "long key", key=key) == m
    visible = "".join(chr(c) for c in range(0x21, 0x7F))  # every visible ASCII character
    m2 = api.send(a, b, "visible", key=visible)
    assert api.send(a, b, "visible", key=visible) == m2
    assert _total(api, m["conversation_id"]) == 2


@pytest.mark.parametrize("key", [b"", b"k" * 129, b"has space", b"tab\there", b"caf\xc3\xa9", b"\xe9t\xe9",
                                 b"del\x7f"],
                         ids=["empty", "129-chars", "space", "tab", "utf8", "latin1", "del"])
def test_invalid_key_422_and_nothing_stored(api, key):
    a, b = new_pair()
    r = api.post("/api/messages/", {"sender_id": a, "receiver_id": b, "content": "x"},
                 headers={"Idempotency-Key": key})
    if b"\x7f" in key:  # a control character in a header value: the transport's JSON 400 (strict framing)
        assert r.status == 400 and isinstance(r.json["detail"], str), r
    else:
        check_422(r)
    assert api.conversations(a).json["total"] == 0
