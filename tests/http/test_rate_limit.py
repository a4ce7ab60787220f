"""Send rate limit (API.md "Rate limits"): a per-sender token bucket, here 0.5 messages/s with
a burst of 3, on a server of its own. Over it: 429 {"detail": "Too many requests"} with a
Retry-After of whole seconds, and nothing is stored; other senders are not affected; once
Retry-After has passed the sender may send again. With MESSENGER_REDIS_URL two servers draw
from one bucket per sender (a redis-server started here on a free port); without Redis they fall
back to their own."""

import shutil
import threading
import time

import pytest

from helpers import TIME_FACTOR, Client, check_detail, new_pair, new_user
from redis_server import RedisServer

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


# --- shared by replicas through Redis (MESSENGER_REDIS_URL) -----------------------------------

@pytest.fixture(scope="module")
def redis(workdir):
    if not shutil.which("redis-server"):
        pytest.fail("redis-server is not installed (scripts/apt-packages.txt)")
    r = RedisServer(workdir).start()
    yield r
    r.stop()


@pytest.fixture(scope="module")
def replicas(start_server, redis):
    # Under a slow wrapper (valgrind) Redis answers late: give it the time factor, or the
    # per-process fallback would decide and the buckets would not be shared.
    env = {"MESSENGER_SEND_RATE": str(RATE), "MESSENGER_SEND_BURST": str(BURST), "MESSENGER_REDIS_URL": redis.url,
           "MESSENGER_REDIS_TIMEOUT_MS": str(int(250 * TIME_FACTOR))}
    servers = [start_server("shared-limit", env=env), start_server("shared-limit", env=env)]
    clients = [s.client() for s in servers]
    yield clients
    for c in clients:
        c.close()


def test_limit_is_shared_by_replicas(replicas):
    a, b = new_pair()
    one, two = replicas
    # the burst, spread over both replicas
    for i in range(BURST):
        assert post((one, two)[i % 2], a, b).status == 201
    # over it on both
    for c in replicas:
        r = post(c, a, b)
        check_detail(r, 429, "Too many requests")
        assert 1 <= int(r.header("Retry-After")) <= 1 / RATE
    # another sender is not affected
    assert post(two, b, a).status == 201
    time.sleep(1 / RATE)
    assert post(two, a, b).status == 201
    assert post(one, a, b).status == 429


def test_another_deployment_prefix_has_buckets_of_its_own(replicas, start_server, redis):
    """Two deployments on one Redis (MESSENGER_REDIS_PREFIX) do not share send buckets."""
    a, b = new_pair()
    one, _ = replicas
    for _ in range(BURST):
        assert post(one, a, b).status == 201
    assert post(one, a, b).status == 429
    env = {"MESSENGER_SEND_RATE": str(RATE), "MESSENGER_SEND_BURST": str(BURST), "MESSENGER_REDIS_URL": redis.url,
           "MESSENGER_REDIS_TIMEOUT_MS": str(int(250 * TIME_FACTOR)), "MESSENGER_REDIS_PREFIX": "staging:"}
    other = start_server("shared-limit-staging", env=env).client()
    try:
        for _ in range(BURST):
            assert post(other, a, b).status == 201
        assert post(other, a, b).status == 429
    finally:
        other.close()
    assert post(one, a, b).status == 429


def test_redis_down_falls_back_to_the_replicas_own_limit(replicas, redis):
    """With Redis gone each send waits at most the Redis timeout, then the replica's own bucket
    decides: of BURST + 1 sends at once, BURST are stored and one is refused. (At once, because
    each waits the timeout, which under valgrind is longer than a token takes to come back.)"""
    a, b = new_pair()
    one, _ = replicas
    redis.stop()
    try:
        statuses = []
        lock = threading.Lock()

        def send_one():
            c = Client(one.host, one.port)
            try:
                status = post(c, a, b).status
            finally:
                c.close()
            with lock:
                statuses.append(status)

        t0 = time.monotonic()
        threads = [threading.Thread(target=send_one) for _ in range(BURST + 1)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert time.monotonic() - t0 < 5 * TIME_FACTOR, "sends waited too long for the dead Redis"
        assert sorted(statuses) == [201] * BURST + [429], statuses
    finally:
        redis.start()
    # sends go on once Redis is back (the client reconnects; a fresh Redis has full buckets)
    deadline = time.monotonic() + 15 * TIME_FACTOR
    c = new_user()
    while time.monotonic() < deadline:
        if post(one, c, c + 1).status == 201:
            break
        time.sleep(0.2)
    else:
        raise AssertionError("no send accepted after Redis came back")
