"""Send rate limit (API.md "Rate limits"): a per-sender token bucket, here 0.5 messages/s with
a burst of 3, on a server of its own. Over it: 429 {"detail": "Too many requests"} with a
Retry-After of whole seconds, and nothing is stored; other senders are not affected; once
Retry-After has passed the sender may send again."""

import time

import pytest

from helpers import check_detail, new_pair, new_user

RATE = 0.5
BURST = 3


@pytest.fixture(scope="module")
def limited(start_server):
    s = start_server("ratelimit", env={"MESSENGER_SEND_RATE": str(RATE), "MESSENGER_SEND_BURST": str(BURST)})
    c = s.client()
    yield c
    c.close()


def post(c, sender, receiver, key=None):
    return c.post("/api/messages/", {"sender_id": sender, "receiver_id": receiver, "content": "hi"},
                  headers={"Idempotency-Key": key} if key else None)


def test_burst_then_429_with_retry_after_and_nothing_stored(limited):
    a, b = new_pair()
    conv = None
    for _ in range(BURST):
        r = post(limited, a, b)
        assert r.status == 201, r
        conv = r.json["conversation_id"]
    r = post(limited, a, b)
    check_detail(r, 429, "Too many requests")
    retry = r.header("Retry-After")
    assert retry is not None and retry.isdigit(), r.headers
    assert 1 <= int(retry) <= 1 / RATE, retry
    page = limited.get("/api/messages/conversation/%d" % conv).json
    assert page["total"] == BURST, page
    # the receiver has a bucket of their own
    assert post(limited, b, a).status == 201
    # after Retry-After one more send is allowed, and only one
    time.sleep(int(retry))
    assert post(limited, a, b).status == 201
    check_detail(post(limited, a, b), 429, "Too many requests")


def test_refused_sends_take_no_token(limited):
    a, b = new_pair()
    for _ in range(BURST):
        assert post(limited, a, b).status == 201
    for _ in range(5):
        assert post(limited, a, b).status == 429
    time.sleep(1 / RATE)
    assert post(limited, a, b).status == 201


def test_many_senders_are_each_allowed_their_burst(limited):
    for _ in range(20):
        s = new_user()
        for _ in range(BURST):
            assert post(limited, s, s + 1).status == 201


def test_invalid_sends_are_not_counted(limited):
    a, b = new_pair()
    for _ in range(10):
        assert limited.post("/api/messages/", {"sender_id": a, "receiver_id": b, "content": ""}).status == 422
    for _ in range(BURST):
        assert post(limited, a, b).status == 201
