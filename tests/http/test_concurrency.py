"""Concurrent writers: every acknowledged message stored exactly once, totals exact, and one
conversation per pair even when both users write first at the same moment."""

import concurrent.futures
import threading

from helpers import check_message, check_newest_first, cursor_walk, new_pair, new_user, page_walk

THREADS = 32
SENDS = 300


def test_300_concurrent_sends_to_one_conversation(server):
    a, b = new_pair()
    setup = server.client()
    first = setup.send(a, b, "opening")
    cid = first["conversation_id"]
    before_total = setup.messages(cid).json["total"]
    assert before_total == 1

    clients = [server.client() for _ in range(THREADS)]
    for c in clients:
        assert c.get("/health").status == 200  # connected before the start signal
    start = threading.Barrier(THREADS)

    def worker(t):
        c = clients[t]
        start.wait()
        out = []
        for i in range(t, SENDS, THREADS):
            s, r = (a, b) if i % 2 else (b, a)
            resp = c.post("/api/messages/", {"sender_id": s, "receiver_id": r, "content": "c%d" % i})
            out.append((i, resp))
        return out

    try:
        with concurrent.futures.ThreadPoolExecutor(THREADS) as ex:
            results = [x for part in ex.map(worker, range(THREADS)) for x in part]
    finally:
        for c in clients:
            c.close()

    assert len(results) == SENDS
    bad = [(i, r) for i, r in results if r.status != 201]
    assert not bad, "%d of %d concurrent sends failed, e.g. %r" % (len(bad), SENDS, bad[:3])
    msgs = {}
    for i, r in results:
        m = r.json
        check_message(m)
        assert m["conversation_id"] == cid
        assert m["content"] == "c%d" % i
        assert m["id"] not in msgs, "two sends got the same id %d" % m["id"]
        msgs[m["id"]] = m

    p = setup.messages(cid).json
    assert p["total"] == before_total + SENDS, "total %d after %d acknowledged sends on %d" % (
        p["total"], SENDS, before_total)
    walked, _ = cursor_walk(lambda **q: setup.messages(cid, **q), 100, check_message)
    ids = [m["id"] for m in walked]
    assert len(ids) == len(set(ids)) == SENDS + 1, "cursor walk: %d items, %d distinct" % (len(ids), len(set(ids)))
    assert set(ids) == set(msgs) | {first["id"]}
    check_newest_first(walked)
    for m in walked:
        if m["id"] in msgs:
            assert m == msgs[m["id"]], "stored message differs from the acknowledged one"
    paged, total = page_walk(lambda **q: setup.messages(cid, **q), 37, check_message)
    assert total == SENDS + 1 and [m["id"] for m in paged] == ids
    conv = setup.conversation(cid).json
    assert conv["last_message_at"] == walked[0]["created_at"]
    assert conv["last_message_content"] == walked[0]["content"]
    setup.close()


PAIRS = 40
BATCH = 10  # pairs racing at once (2 connections each)


def test_both_users_write_first_at_the_same_moment(server):
    pairs = [new_pair() for _ in range(PAIRS)]
    outcomes = []
    for off in range(0, PAIRS, BATCH):
        batch = pairs[off:off + BATCH]
        jobs = [(a, b) for a, b in batch] + [(b, a) for a, b in batch]
        clients = [server.client() for _ in jobs]
        for c in clients:
            assert c.get("/health").status == 200
        start = threading.Barrier(len(jobs))

        def go(k):
            s, r = jobs[k]
            start.wait()
            return clients[k].post("/api/messages/", {"sender_id": s, "receiver_id": r, "content": "first!"})

        try:
            with concurrent.futures.ThreadPoolExecutor(len(jobs)) as ex:
                rs = list(ex.map(go, range(len(jobs))))
        finally:
            for c in clients:
                c.close()
        n = len(batch)
        outcomes += [(batch[k], rs[k], rs[k + n]) for k in range(n)]

    c = server.client()
    try:
        for (a, b), r1, r2 in outcomes:
            assert r1.status == 201 and r2.status == 201, (r1, r2)
            assert r1.json["conversation_id"] == r2.json["conversation_id"], \
                "users %d and %d got two conversations: %r / %r" % (a, b, r1.json, r2.json)
            for u in (a, b):
                p = c.conversations(u).json
                assert p["total"] == 1 and [x["id"] for x in p["data"]] == [r1.json["conversation_id"]], p
            assert c.messages(r1.json["conversation_id"]).json["total"] == 2
            conv = c.conversation(r1.json["conversation_id"]).json
            assert (conv["user1_id"], conv["user2_id"]) == (min(a, b), max(a, b))
        assert len({r1.json["conversation_id"] for _, r1, _ in outcomes}) == PAIRS
    finally:
        c.close()


def test_64_concurrent_clients_listing_conversations_get_no_503(server):
    """Each page of 100 conversations fans out into 100 point reads on Cassandra: 64 clients at
    once put 6,400 reads in flight, past one connection's stream cap. They must wait in the
    client's queue (back-pressure), not fail: every request answers 200 with the full page."""
    clients_n, rounds, partners = 64, 3, 100
    user = new_user()
    setup = server.client()
    for _ in range(partners):
        setup.send(user, new_user(), "hi")
    expected = setup.conversations(user, limit=100).json
    assert expected["total"] == partners and len(expected["data"]) == partners
    clients = [server.client() for _ in range(clients_n)]
    for c in clients:
        assert c.get("/health").status == 200
    start = threading.Barrier(clients_n)

    def worker(c):
        start.wait()
        return [c.conversations(user, limit=100) for _ in range(rounds)]

    try:
        with concurrent.futures.ThreadPoolExecutor(clients_n) as ex:
            results = [r for part in ex.map(worker, clients) for r in part]
    finally:
        for c in clients:
            c.close()
    bad = [r for r in results if r.status != 200]
    assert not bad, "%d of %d listings failed, e.g. %r" % (len(bad), len(results), bad[:3])
    for r in results:
        assert r.json["total"] == partners
        assert [x["id"] for x in r.json["data"]] == [x["id"] for x in expected["data"]]
