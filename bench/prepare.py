#!/usr/bin/python3
"""Prepares the `make bench` scenarios against a running messenger (bench/run.sh calls it).

For each scenario it writes the request paths wrk picks from (paths/<scenario>.app for
messenger, paths/<scenario>.static for nginx) and saves real response bodies of messenger
under static/static/<scenario>/<n>.json, which nginx then serves: both servers return the
same bytes. Cursors are opaque, so the deep-cursor scenario collects real next_cursor values
by walking the long conversation. Prints a JSON summary of the data set to stdout.
"""
import argparse
import base64
import hashlib
import hmac
import http.client
import json
import os
import random
import sys
import time
import urllib.parse

SAMPLE = 200  # saved bodies per scenario for nginx


class Client:
    def __init__(self, port):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def call(self, method, path, body=None):
        headers = {"Content-Type": "application/json"} if body is not None else {}
        self.conn.request(method, path, body=body, headers=headers)
        resp = self.conn.getresponse()
        data = resp.read()
        return resp.status, data

    def json(self, path, want=200):
        status, data = self.call("GET", path)
        if status != want:
            sys.exit(f"prepare: GET {path} -> {status}: {data[:200]!r}")
        return json.loads(data), data


def write_lines(path, lines):
    with open(path, "w") as f:
        for line in lines:
            f.write(line + "\n")


def save_bodies(out, scenario, bodies):
    """Saves bodies for nginx and writes the static path list; returns the mean body size."""
    d = os.path.join(out, "static", "static", scenario)
    os.makedirs(d, exist_ok=True)
    paths = []
    for i, body in enumerate(bodies):
        with open(os.path.join(d, f"{i}.json"), "wb") as f:
            f.write(body)
        paths.append(f"/static/{scenario}/{i}.json")
    write_lines(os.path.join(out, "paths", scenario + ".static"), paths)
    return round(sum(len(b) for b in bodies) / len(bodies))


def hs256_token(user, secret, ttl=86400):
    """A token for the auth-on server (bench/run.sh sets its MESSENGER_JWT_SECRET)."""
    def b64(data):
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")
    now = int(time.time())
    head = b64(b'{"alg":"HS256","typ":"JWT"}') + "." + b64(
        json.dumps({"sub": str(user), "iat": now, "exp": now + ttl}).encode())
    sig = hmac.new(secret.encode(), head.encode(), hashlib.sha256).digest()
    return head + "." + b64(sig)


def find_conversation(c, user1, user2):
    cursor = None
    while True:
        q = "?limit=100" + (f"&cursor={urllib.parse.quote(cursor)}" if cursor else "")
        page, _ = c.json(f"/api/conversations/user/{user1}{q}")
        for conv in page["data"]:
            if {conv["user1_id"], conv["user2_id"]} == {user1, user2}:
                return conv["id"]
        cursor = page["next_cursor"]
        if not cursor:
            sys.exit(f"prepare: no conversation between users {user1} and {user2}")


def conversation_ids(c, users):
    """Every conversation id, from the users' conversation lists (generated ids on Cassandra)."""
    ids = set()
    for user in range(1, users + 1):
        cursor = None
        while True:
            q = "?limit=100" + (f"&cursor={urllib.parse.quote(cursor)}" if cursor else "")
            page, _ = c.json(f"/api/conversations/user/{user}{q}")
            ids.update(conv["id"] for conv in page["data"])
            cursor = page["next_cursor"]
            if not cursor:
                break
    return sorted(ids)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--users", type=int, required=True)
    ap.add_argument("--conversations", type=int, required=True)
    ap.add_argument("--long-pair", default="1,2", help="the two users of the long conversation")
    ap.add_argument("--deep-page", type=int, default=4000)
    ap.add_argument("--store", default="sqlite", help="cassandra: conversation ids are not 1..N, list them")
    ap.add_argument("--jwt-secret", help="also write the authcmp scenario: msgs with a participant's token")
    args = ap.parse_args()
    out = args.out
    os.makedirs(os.path.join(out, "paths"), exist_ok=True)
    rnd = random.Random(1)
    c = Client(args.port)
    info = {}

    # msgs: first page (20) of random conversations; count the data set on the way.
    app, bodies, messages, authed, tokens = [], [], 0, [], {}
    ids = list(range(1, args.conversations + 1)) if args.store != "cassandra" else conversation_ids(c, args.users)
    sample = set(rnd.sample(ids, min(SAMPLE, len(ids))))
    for cid in ids:
        path = f"/api/messages/conversation/{cid}?limit=20"
        status, data = c.call("GET", path)
        if status == 404:
            continue
        if status != 200:
            sys.exit(f"prepare: GET {path} -> {status}")
        page = json.loads(data)
        messages += page["total"]
        app.append(path)
        if args.jwt_secret and page["data"]:
            user = page["data"][0]["sender_id"]
            if user not in tokens:
                tokens[user] = hs256_token(user, args.jwt_secret)
            authed.append(path + "\t" + tokens[user])
        if cid in sample:
            bodies.append(data)
    write_lines(os.path.join(out, "paths", "msgs.app"), app)
    info["conversations"] = len(app)
    info["messages"] = messages
    info["bytes_msgs"] = save_bodies(out, "msgs", bodies)
    if args.jwt_secret:  # the same reads without and with authentication (one token per user)
        write_lines(os.path.join(out, "paths", "authcmp.app"), app)
        write_lines(os.path.join(out, "paths", "authcmp.auth"), authed)
        info["auth_tokens"] = len(tokens)
        info["bytes_authcmp"] = info["bytes_msgs"]

    # The long conversation: first page, deep cursor pages, deep page number.
    u1, u2 = (int(x) for x in args.long_pair.split(","))
    lid = find_conversation(c, u1, u2)
    base = f"/api/messages/conversation/{lid}"
    first, first_body = c.json(base + "?limit=20")
    total = first["total"]
    info["long_conversation"] = lid
    info["long_total"] = total
    write_lines(os.path.join(out, "paths", "long-first.app"), [base + "?limit=20"])
    info["bytes_long-first"] = save_bodies(out, "long-first", [first_body])

    cursors, depth, cursor = {}, 0, None  # depth (messages before the page) -> cursor
    while True:
        q = "?limit=100" + (f"&cursor={urllib.parse.quote(cursor)}" if cursor else "")
        page, _ = c.json(base + q)
        depth += len(page["data"])
        cursor = page["next_cursor"]
        if not cursor:
            break
        cursors[depth] = cursor
    deep = [d for d in cursors if d >= total // 2]
    if not deep:
        sys.exit(f"prepare: conversation {lid} has only {total} messages; no deep cursors")
    app = [f"{base}?limit=20&cursor={urllib.parse.quote(cursors[d])}" for d in deep]
    write_lines(os.path.join(out, "paths", "long-cursor.app"), app)
    bodies = [c.json(p)[1] for p in rnd.sample(app, min(SAMPLE, len(app)))]
    info["long_cursor_depths"] = f"{deep[0]}..{deep[-1]}"
    info["bytes_long-cursor"] = save_bodies(out, "long-cursor", bodies)

    # The same depth two ways: page number, and the one cursor nearest to it.
    page_no = min(args.deep_page, max(1, total // 20))
    path = f"{base}?page={page_no}&limit=20"
    page, body = c.json(path)
    if len(page["data"]) == 0:
        sys.exit(f"prepare: {path} is past the end")
    write_lines(os.path.join(out, "paths", "long-page.app"), [path])
    info["long_page"] = page_no
    info["bytes_long-page"] = save_bodies(out, "long-page", [body])
    at = min(cursors, key=lambda d: abs(d - (page_no - 1) * 20))
    path = f"{base}?limit=20&cursor={urllib.parse.quote(cursors[at])}"
    write_lines(os.path.join(out, "paths", "long-cursor-fixed.app"), [path])
    info["long_cursor_fixed_depth"] = at
    info["bytes_long-cursor-fixed"] = save_bodies(out, "long-cursor-fixed", [c.json(path)[1]])

    # convs: first page (20) of random users' conversations.
    app = [f"/api/conversations/user/{u}?limit=20" for u in range(1, args.users + 1)]
    write_lines(os.path.join(out, "paths", "convs.app"), app)
    bodies = [c.json(p)[1] for p in rnd.sample(app, min(SAMPLE, len(app)))]
    info["bytes_convs"] = save_bodies(out, "convs", bodies)

    # send: real 201 bodies of sends between random pairs (this stores a few messages).
    write_lines(os.path.join(out, "paths", "send.app"), ["/api/messages/"])
    bodies = []
    for i in range(SAMPLE):
        a, b = rnd.sample(range(1, args.users + 1), 2)
        body = json.dumps({"sender_id": a, "receiver_id": b,
                           "content": f"bench message 0-{i}: hello, are we still on for lunch?"})
        status, data = c.call("POST", "/api/messages/", body)
        if status != 201:
            sys.exit(f"prepare: POST /api/messages/ -> {status}: {data[:200]!r}")
        bodies.append(data)
    info["bytes_send"] = save_bodies(out, "send", bodies)
    json.dump(info, sys.stdout)
    print()


if __name__ == "__main__":
    main()
