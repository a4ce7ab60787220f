"""Several replicas sharing the Redis event log (MESSENGER_REDIS_URL): a stream on one replica
gets what is posted to another, resume works across replicas, `reset` beyond the retained
history, and losing Redis closes the streams (clients converge through REST).

The module starts its own redis-server on a free loopback port and stops it. The replicas run on
SQLite (each its own file: the event log is what is shared) and, when CASSANDRA_CONTACT_POINTS is
set, also on the Cassandra store (one fresh keyspace), which is the real multi-replica
deployment; without it those cases are skipped with a message.
"""

import os
import random
import socket
import subprocess
import tempfile
import threading
import time

import pytest

from procs import BIN, Redis, Replica, pos  # noqa: I100 (procs puts tests/http on sys.path)
from events_client import SseStream  # noqa: E402
from helpers import new_user  # noqa: E402

STORES = ["sqlite", "cassandra"]


@pytest.fixture(scope="module")
def workdir():
    with tempfile.TemporaryDirectory(prefix="messenger-replicas-") as d:
        yield d


@pytest.fixture(scope="module")
def redis(workdir):
    r = Redis(workdir).start()
    yield r
    r.stop()


def base_env(redis, prefix, **extra):
    env = dict(os.environ)
    env.update({"MESSENGER_REDIS_URL": redis.url, "MESSENGER_REDIS_PREFIX": prefix, "MESSENGER_QUIET": "1",
                "MESSENGER_EVENTS_HEARTBEAT_MS": "500"})
    env.setdefault("ASAN_OPTIONS", "abort_on_error=0:detect_leaks=1:halt_on_error=1:exitcode=86")
    env.update(extra)
    return env


def start_pair(workdir, redis, store, tag, **extra):
    prefix = "t%s:" % os.urandom(4).hex()
    env = base_env(redis, prefix, **extra)
    replicas = []
    if store == "cassandra":
        if not os.environ.get("CASSANDRA_CONTACT_POINTS"):
            pytest.skip("CASSANDRA_CONTACT_POINTS is not set: the Cassandra replicas need a real node "
                        "(make test-cassandra runs them on a local node, or set CASSANDRA_CONTACT_POINTS)")
        env["CASSANDRA_KEYSPACE"] = "evtest_" + os.urandom(5).hex()
        env["MESSENGER_STORE"] = "cassandra"
        r = subprocess.run([BIN, "migrate"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
        assert r.returncode == 0, r.stdout.decode()
        for i in range(2):
            replicas.append(Replica(workdir, "%s-%s%d" % (tag, store, i), env, []).start())
    else:
        env["MESSENGER_STORE"] = "sqlite"
        for i in range(2):
            db = os.path.join(workdir, "%s-%d.db" % (tag, i))
            replicas.append(Replica(workdir, "%s-sqlite%d" % (tag, i), env, ["--db", db, "--node-id", str(i)]).start())
    return replicas


@pytest.mark.parametrize("store", STORES)
def test_stream_on_one_replica_posts_to_the_other(workdir, redis, store):
    a_srv, b_srv = start_pair(workdir, redis, store, "basic")
    a, b = new_user(), new_user()
    post = a_srv.client()
    s = SseStream(b_srv, b)
    s.wait_position()
    sent = [post.send(a, b, "m%d" % i) for i in range(3)]
    got = [s.next_event() for _ in range(3)]
    assert [e["data"]["message"] for e in got] == sent
    t = post.post("/api/conversations/%d/typing" % sent[0]["conversation_id"], {"user_id": a})
    assert t.status == 202
    assert s.next_event()["event"] == "typing"
    s.close()
    missed = [post.send(a, b, "missed%d" % i) for i in range(3)]
    # resume on the other replica with the id the first one gave: the ids are the shared log's
    s = SseStream(a_srv, b, last_event_id=got[-1]["id"])
    replay = [s.next_event() for _ in range(3)]
    assert [e["data"]["message"] for e in replay] == missed
    s.close()
    s = SseStream(b_srv, b, last_event_id="1-1")  # older than anything retained
    assert s.next_event()["event"] == "reset"
    s.close()
    post.close()
    for r in (a_srv, b_srv):
        r.stop_and_check()


@pytest.mark.parametrize("store", STORES)
def test_resume_across_replicas_under_16_senders(workdir, redis, store):
    replicas = start_pair(workdir, redis, store, "load")
    receiver = new_user()
    senders = [new_user() for _ in range(16)]
    per_sender = 15
    sent = {}
    lock = threading.Lock()
    errors = []
    go = threading.Event()

    def send_all(i, sender):
        c = replicas[i % 2].client()
        try:
            go.wait()
            for n in range(per_sender):
                m = c.send(sender, receiver, "%d/%d" % (sender, n))
                with lock:  # keyed by content: two SQLite replicas may give equal ids (node 0 each)
                    sent[m["content"]] = m
        except Exception as e:  # reported below
            errors.append(e)
        finally:
            c.close()

    s = SseStream(replicas[1], receiver)
    last = s.wait_position()
    threads = [threading.Thread(target=send_all, args=(i, u)) for i, u in enumerate(senders)]
    for t in threads:
        t.start()
    go.set()
    received = []
    rng = random.Random(3)
    total = len(senders) * per_sender
    deadline = time.monotonic() + 180
    hop = 0
    while len(received) < total and time.monotonic() < deadline:
        for _ in range(rng.randint(5, 30)):
            ev = s.next_event(timeout=30)
            assert ev is not None and ev["event"] == "message", ev
            received.append(ev)
            last = ev["id"]
            if len(received) == total:
                break
        s.sock.shutdown(socket.SHUT_RDWR)
        s.close()
        hop += 1
        if len(received) < total:
            s = SseStream(replicas[hop % 2], receiver, last_event_id=last)  # alternate replicas
    s.close()
    for t in threads:
        t.join()
    assert not errors, errors
    ids = [e["data"]["message"]["content"] for e in received]
    assert len(ids) == len(set(ids)), "duplicates"
    assert set(ids) == set(sent), "missing %d" % len(set(sent) - set(ids))
    assert [pos(e["id"]) for e in received] == sorted(pos(e["id"]) for e in received)
    for r in replicas:
        r.stop_and_check()


def test_history_bound_gives_reset(workdir, redis):
    a_srv, b_srv = start_pair(workdir, redis, "sqlite", "bound", MESSENGER_EVENTS_HISTORY="5")
    a, b = new_user(), new_user()
    post = a_srv.client()
    s = SseStream(b_srv, b)
    s.wait_position()
    first = [post.send(a, b, "x%d" % i) for i in range(2)]
    got = [s.next_event() for _ in range(2)]
    s.close()
    for i in range(6):  # more than the 5 retained: the entry after got[0] is trimmed
        post.send(a, b, "y%d" % i)
    s = SseStream(b_srv, b, last_event_id=got[0]["id"])
    assert s.next_event()["event"] == "reset"
    s.close()
    s = SseStream(b_srv, b, last_event_id=got[1]["id"])  # nothing after this one was trimmed? it was
    assert s.next_event()["event"] == "reset"
    s.close()
    assert first
    post.close()
    for r in (a_srv, b_srv):
        r.stop_and_check()


def test_losing_redis_closes_streams_and_they_come_back(workdir):
    redis = Redis(workdir).start()
    a_srv, b_srv = start_pair(workdir, redis, "sqlite", "outage")
    a, b = new_user(), new_user()
    s = SseStream(b_srv, b)
    s.wait_position()
    post = a_srv.client()
    m = post.send(a, b)
    assert s.next_event()["data"]["message"] == m
    port = redis.port
    redis.stop()
    assert s.next_event(timeout=30) is None  # the replica closed the stream: the fan-out was lost
    # sends still succeed (the store is the source of truth)
    m2 = post.send(a, b, "during the outage")
    assert post.messages(m2["conversation_id"]).json["data"][0]["id"] == m2["id"]
    redis.start(port=port)
    deadline = time.monotonic() + 30
    while True:  # the replicas reconnect by themselves; a stream resumes (reset: Redis lost its data)
        assert time.monotonic() < deadline, "streams did not come back after Redis restarted"
        s = SseStream(b_srv, b, last_event_id=s.last_id)
        ev = s.next_event(timeout=10)
        if ev is not None:
            break
        s.close()
        time.sleep(0.2)
    # The send during the outage either waited for Redis and was published once it came back
    # (then it is replayed), or its publish failed (then this restarted, empty Redis has nothing
    # after the client's id... and the stream is gone: reset). Either way the client converges.
    if ev["event"] == "message":
        assert ev["data"]["message"] == m2
    else:
        assert ev["event"] == "reset"
    m3 = post.send(a, b, "after")
    assert s.next_event()["data"]["message"] == m3
    s.close()
    post.close()
    for r in (a_srv, b_srv):
        r.stop_and_check()
    redis.stop()
