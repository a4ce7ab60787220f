#!/usr/bin/python3
"""Crash durability: no acknowledged message is lost or duplicated by a SIGKILL.

Each iteration starts `messenger serve` on the same SQLite database, checks everything
acknowledged so far, runs sustained concurrent sends (THREADS keep-alive connections, random
pairs among USERS users so that conversations are also created concurrently), and SIGKILLs
the server at a random moment 0.5-3 s in. Every 201 answer is recorded (id, conversation,
content; every content is unique). After each kill, and once more at the end:

  * `PRAGMA integrity_check` of the crashed database file (before any restart) is "ok";
  * after the restart, walking every conversation through the API (cursor pages) shows each
    acknowledged message exactly once, with its id, conversation and content; no message the
    test did not send; at most the in-flight unacknowledged sends of the last kill extra;
  * each conversation's `total` equals the number of messages walked; each user's
    conversation list total equals the number of distinct partners they have messages with.

The final stop is a SIGTERM that must exit 0. Usage:
  crash_durability.py --bin build/release/messenger [--iterations 20] [--threads 16] [--seed N]
Exit status 0 when every check passed; the summary line gives the numbers.
"""

import argparse
import http.client
import json
import os
import random
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "hardening"))
from server import HOST, Server, integrity_check, request  # noqa: E402

NAME = "crash-durability"
USERS = 24


def fail(msg):
    print("%s: FAILED: %s" % (NAME, msg), file=sys.stderr)
    sys.exit(1)


class Load:
    """THREADS senders on keep-alive connections until the server dies."""

    def __init__(self, port, threads, tag, rng_seed):
        self.port, self.tag = port, tag
        self.acked = []  # (id, conversation_id, content, sender, receiver)
        self.attempted = 0  # sends written whose answer never came (connection died)
        self.errors = []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, args=(i, rng_seed * 1000 + i)) for i in range(threads)]

    def start(self):
        for t in self.threads:
            t.start()

    def join(self):
        for t in self.threads:
            t.join()

    def run(self, index, seed):
        rng = random.Random(seed)
        conn = http.client.HTTPConnection(HOST, self.port, timeout=30)
        n = 0
        while True:
            a, b = rng.sample(range(1, USERS + 1), 2)
            content = "%s-%d-%d %s" % (self.tag, index, n, rng.choice(["hello", "héllo ✓", "日本語", "x" * 300]))
            n += 1
            try:
                conn.request("POST", "/api/messages/", json.dumps({"sender_id": a, "receiver_id": b, "content": content}),
                             {"Content-Type": "application/json"})
                r = conn.getresponse()
                body = r.read()
            except (OSError, http.client.HTTPException):
                with self.lock:
                    self.attempted += 1
                return
            if r.status != 201:
                with self.lock:
                    self.errors.append((r.status, body[:200]))
                continue
            m = json.loads(body)
            if (m["sender_id"], m["receiver_id"], m["content"]) != (a, b, content):
                with self.lock:
                    self.errors.append(("echo mismatch", body[:200]))
                continue
            with self.lock:
                self.acked.append((m["id"], m["conversation_id"], content, a, b))


def check_integrity(db):
    rows = integrity_check(db)
    if rows != [("ok",)]:
        fail("PRAGMA integrity_check: %r" % rows[:10])


def walk_conversation(conn, conv_id):
    """All messages of a conversation through cursor pages; returns (total, messages)."""
    msgs, cursor, total = [], None, None
    while True:
        path = "/api/messages/conversation/%d?limit=100" % conv_id + ("&cursor=" + cursor if cursor else "")
        status, page = request(None, "GET", path, conn=conn)
        if status != 200:
            fail("GET %s -> %d %r" % (path, status, page))
        total = page["total"] if total is None else total
        msgs.extend(page["data"])
        cursor = page["next_cursor"]
        if not cursor:
            return total, msgs


def user_conversations(conn, user):
    """(total, ids) of a user's conversations, walked with cursors."""
    ids, cursor, total = [], None, None
    while True:
        path = "/api/conversations/user/%d?limit=100" % user + ("&cursor=" + cursor if cursor else "")
        status, page = request(None, "GET", path, conn=conn)
        if status != 200:
            fail("GET %s -> %d %r" % (path, status, page))
        total = page["total"] if total is None else total
        ids += [c["id"] for c in page["data"]]
        cursor = page["next_cursor"]
        if not cursor:
            return total, ids


def verify(port, acked, in_flight_max):
    """Every acknowledged message is there exactly once; nothing unknown; totals exact.
    Sends in flight at a kill may have been stored (with a conversation they created) without
    their 201: they are accepted, at most in_flight_max of them, and then count as known."""
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    by_conv = {}
    for mid, conv, content, a, b in acked.values():
        by_conv.setdefault(conv, []).append(mid)
    listed_by_user = {}
    for user in range(1, USERS + 1):
        total, ids = user_conversations(conn, user)
        if total != len(ids) or len(set(ids)) != len(ids):
            fail("user %d: conversations total %d, %d listed (%d distinct)" % (user, total, len(ids), len(set(ids))))
        listed_by_user[user] = set(ids)
    conversations = set(by_conv).union(*listed_by_user.values())
    extra = 0
    seen = 0
    members = {}
    for conv in sorted(conversations):
        status, c = request(None, "GET", "/api/conversations/%d" % conv, conn=conn)
        if status != 200:
            fail("conversation %d: GET -> %d %r" % (conv, status, c))
        total, msgs = walk_conversation(conn, conv)
        ids = [m["id"] for m in msgs]
        if len(ids) != len(set(ids)):
            fail("conversation %d lists a message twice" % conv)
        if total != len(msgs) or not msgs:
            fail("conversation %d: total %d but %d messages listed" % (conv, total, len(msgs)))
        contents = [m["content"] for m in msgs]
        if len(contents) != len(set(contents)):
            fail("conversation %d holds a content twice (a send stored twice)" % conv)
        listed = {m["id"]: m for m in msgs}
        for mid in by_conv.get(conv, []):
            m = listed.get(mid)
            if m is None:
                fail("acknowledged message %d of conversation %d is missing after the crash" % (mid, conv))
            _, _, content, a, b = acked[mid]
            if (m["content"], m["sender_id"], m["receiver_id"]) != (content, a, b):
                fail("message %d changed: %r" % (mid, m))
        extra += len(msgs) - len(by_conv.get(conv, []))
        seen += len(msgs)
        for m in msgs:
            if m["id"] not in acked:
                acked[m["id"]] = (m["id"], conv, m["content"], m["sender_id"], m["receiver_id"])
        for user in (c["user1_id"], c["user2_id"]):
            members.setdefault(user, set()).add(conv)
    if extra > in_flight_max:
        fail("%d stored messages were never acknowledged, more than the %d sends in flight" % (extra, in_flight_max))
    for user, convs in listed_by_user.items():
        if convs != members.get(user, set()):
            fail("user %d: conversations listed %s, but is a member of %s" % (user, sorted(convs),
                                                                             sorted(members.get(user, set()))))
    conn.close()
    return seen, extra


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--iterations", type=int, default=20)
    ap.add_argument("--threads", type=int, default=16)
    ap.add_argument("--seed", type=int, default=int(time.time()))
    args = ap.parse_args()
    rng = random.Random(args.seed)
    print("crash-durability: %d iterations, %d sender threads, seed %d" % (args.iterations, args.threads, args.seed))
    with tempfile.TemporaryDirectory(prefix="messenger-durability-") as workdir:
        db = os.path.join(workdir, "messenger.db")
        server = Server(args.bin, db, workdir, NAME)
        acked = {}  # id -> (id, conversation, content, sender, receiver): acknowledged or seen after a crash
        in_flight = 0
        total_acked = 0
        t0 = time.monotonic()
        for i in range(args.iterations + 1):
            server.start()
            server.check_stderr()
            seen, extra = verify(server.port, acked, in_flight)
            if i > 0:
                print("  kill %2d after %.2f s: %5d sends acknowledged, %2d in flight; after restart %6d messages "
                      "verified, %d unacknowledged ones kept" % (i, delay, acked_now, in_flight, seen, extra))
            if i == args.iterations:
                break
            load = Load(server.port, args.threads, "i%d" % i, rng.randrange(1 << 30))
            load.start()
            delay = rng.uniform(0.5, 3.0)
            time.sleep(delay)
            server.kill()
            load.join()
            if load.errors:
                fail("unexpected answers during the load: %r" % load.errors[:5])
            for entry in load.acked:
                if entry[0] in acked:
                    fail("id %d acknowledged twice" % entry[0])
                acked[entry[0]] = entry
            in_flight = load.attempted
            acked_now = len(load.acked)
            total_acked += acked_now
            check_integrity(db)
        server.stop()
        check_integrity(db)
        print("crash-durability: OK: %d SIGKILLs, %d acknowledged sends, all %d stored messages present exactly "
              "once after every restart, integrity_check ok (%.0f s)" % (args.iterations, total_acked, seen,
                                                                         time.monotonic() - t0))


if __name__ == "__main__":
    main()
