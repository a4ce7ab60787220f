"""`messenger seed` gives the same data on both stores (run by scripts/test-cassandra.sh, on a
real Cassandra): the same --seed seeds a SQLite file and a fresh keyspace, and the API answers
the same for every user and conversation: the same pairs, the same messages in the same order
with the same senders and contents, spread over the same past days (timestamps equal up to the
constant offset between the two runs' start times, and a few ms of id-sequence rounding)."""

import os
import subprocess
import tempfile

import pytest

from support import BIN, POINTS, Server, drop, env_for, migrate

USERS, CONVERSATIONS, MESSAGES, DAYS = 12, 20, 30, 30
DAY_US = 86400 * 10**6

if not (BIN and POINTS):
    pytest.skip("run through scripts/test-cassandra.sh", allow_module_level=True)

from helpers import cursor_walk, parse_ts  # noqa: E402  (support put tests/http on the path)


def seed(env, extra=()):
    r = subprocess.run([BIN, "seed", "--seed", "7", "--users", str(USERS), "--conversations", str(CONVERSATIONS),
                        "--messages", str(MESSAGES), "--days", str(DAYS)] + list(extra),
                       env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
    assert r.returncode == 0, r.stdout.decode("utf-8", "replace")


def snapshot(server):
    """Everything the API shows: per user pair, the messages (sender, content, created_at us)."""
    c = server.client()
    pairs = {}
    for user in range(1, USERS + 1):
        convs, _ = cursor_walk(lambda **q: c.conversations(user, **q), 100, lambda x: None)
        for conv in convs:
            key = tuple(sorted((conv["user1_id"], conv["user2_id"])))
            if key in pairs:
                continue
            msgs, _ = cursor_walk(lambda **q: c.messages(conv["id"], **q), 100, lambda x: None)
            total = c.messages(conv["id"], limit=1).json["total"]
            assert total == len(msgs)
            pairs[key] = [(m["sender_id"], m["receiver_id"], m["content"], parse_ts(m["created_at"])) for m in msgs]
    c.close()
    return pairs


def test_seed_spreads_the_same_messages_over_past_days_on_both_stores():
    keyspace = "seedcmp_" + os.urandom(5).hex()
    with tempfile.TemporaryDirectory() as tmp:
        db = os.path.join(tmp, "seed.db")
        sqlite_env = env_for(store="sqlite")
        sqlite_env["MESSENGER_DB"] = db
        seed(sqlite_env)
        srv = Server(sqlite_env)
        try:
            on_sqlite = snapshot(srv)
        finally:
            srv.stop()
        assert migrate(keyspace).returncode == 0
        try:
            seed(env_for(keyspace))
            srv = Server(env_for(keyspace))
            try:
                on_cassandra = snapshot(srv)
            finally:
                srv.stop()
        finally:
            drop(keyspace)

    assert len(on_sqlite) == CONVERSATIONS
    assert sorted(on_sqlite) == sorted(on_cassandra)
    newest = {name: max(m[3] for msgs in data.values() for m in msgs)
              for name, data in (("sqlite", on_sqlite), ("cassandra", on_cassandra))}
    oldest = min(m[3] for msgs in on_cassandra.values() for m in msgs)
    # spread over the past days, not stamped with the time of seeding
    assert newest["cassandra"] - oldest > (DAYS // 3) * DAY_US
    for key, msgs in on_sqlite.items():
        other = on_cassandra[key]
        assert [m[:3] for m in msgs] == [m[:3] for m in other], "messages of pair %r differ" % (key,)
        for a, b in zip(msgs, other):
            shift_a, shift_b = newest["sqlite"] - a[3], newest["cassandra"] - b[3]
            assert abs(shift_a - shift_b) < 50_000, "pair %r: created_at differs beyond the run offset" % (key,)
