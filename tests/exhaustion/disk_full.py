#!/usr/bin/python3
"""Disk full: the database on a 2 MiB tmpfs.

A filler file takes part of the tmpfs first. Sends of 4 KiB messages fill the rest until the
server answers 503 with the detail "Storage is full" (never 201 for a message it could not
store, never a crash). Then, with the disk still full: reads answer 200 with every
acknowledged message, /health is 200, PRAGMA integrity_check is ok. The filler is deleted and
sends succeed again; the server stops cleanly on SIGTERM and a final check finds every
acknowledged message exactly once.

Needs root (mount -t tmpfs); prints SKIPPED and exits 0 when mounting is not permitted.
Usage: disk_full.py --bin build/asan/messenger
"""

import argparse
import http.client
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "hardening"))
from server import Server, fail as _fail, integrity_check, request  # noqa: E402

NAME = "disk-full"
TMPFS_SIZE = "2m"
FILLER_BYTES = 512 * 1024
CONTENT = "d" * 4000
MAX_SENDS = 2000  # 2 MiB / 4 KB is about 500: the disk is full long before


def fail(msg):
    _fail(NAME, msg)


def send(port, conn, n, content=CONTENT):
    return request(port, "POST", "/api/messages/", {"sender_id": 1, "receiver_id": 2, "content": "%d %s" % (n, content)},
                   conn=conn)


def conversation_contents(port):
    """Every message content of conversation 1 (users 1 and 2), walked with cursors."""
    contents, cursor = [], None
    while True:
        status, page = request(port, "GET", "/api/messages/conversation/1?limit=100" + ("&cursor=" + cursor if cursor else ""))
        if status != 200:
            fail("reading the conversation: %d %r" % (status, page))
        contents += [m["content"] for m in page["data"]]
        cursor = page["next_cursor"]
        if not cursor:
            return page["total"] if contents else 0, contents


def check_all_there(port, acked, when):
    total, contents = conversation_contents(port)
    if sorted(contents) != sorted(acked) or total != len(acked):
        fail("%s: %d messages listed (total %d), %d acknowledged" % (when, len(contents), total, len(acked)))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", required=True)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="messenger-diskfull-") as workdir:
        mnt = os.path.join(workdir, "tmpfs")
        os.mkdir(mnt)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=" + TMPFS_SIZE, "tmpfs", mnt], capture_output=True, text=True)
        if r.returncode != 0:
            print("%s: SKIPPED: cannot mount a tmpfs (needs root): %s" % (NAME, r.stderr.strip()))
            return
        try:
            run(args.bin, workdir, mnt)
        finally:
            subprocess.run(["umount", "-l", mnt])


def run(binary, workdir, mnt):
    filler = os.path.join(mnt, "filler")
    with open(filler, "wb") as f:
        f.write(os.urandom(FILLER_BYTES))
    db = os.path.join(mnt, "messenger.db")
    server = Server(binary, db, workdir, NAME).start()
    port = server.port
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    acked = []
    full = None
    for n in range(MAX_SENDS):
        status, body = send(port, conn, n)
        if status == 201:
            acked.append(body["content"])
            continue
        if status != 503:
            fail("send %d answered %d %r (expected 201 or 503)" % (n, status, body))
        full = body
        break
    if full is None:
        fail("%d sends of 4 KB fit in a %s tmpfs: the disk never filled" % (MAX_SENDS, TMPFS_SIZE))
    if full != {"detail": "Storage is full"}:
        fail("503 body is %r, expected {\"detail\": \"Storage is full\"}" % (full,))
    print("  disk full after %d acknowledged sends: 503 %s" % (len(acked), full))
    for n in range(5):  # still full: every send is refused the same way, nothing half-written
        status, body = send(port, conn, MAX_SENDS + n)
        if (status, body) != (503, full):
            fail("send on a full disk answered %d %r" % (status, body))
    if request(port, "GET", "/health")[0] != 200:
        fail("/health is not 200 on a full disk")
    check_all_there(port, acked, "reads on a full disk")
    status, conv = request(port, "GET", "/api/conversations/1")
    if status != 200 or conv["last_message_content"] != acked[-1]:
        fail("GET /api/conversations/1 on a full disk: %d %r" % (status, conv))
    rows = integrity_check(db)
    if rows != [("ok",)]:
        fail("integrity_check on a full disk: %r" % rows[:5])
    print("  on the full disk: reads 200 with all %d messages, /health 200, integrity_check ok" % len(acked))

    os.unlink(filler)  # frees 512 KiB: room for some 30 short sends (each commit appends WAL pages)
    recovered = 0
    for n in range(20):
        status, body = send(port, conn, 10 * MAX_SENDS + n, "after freeing space")
        if status != 201:
            fail("send after freeing space answered %d %r" % (status, body))
        acked.append(body["content"])
        recovered += 1
    conn.close()
    check_all_there(port, acked, "after freeing space")
    server.stop()
    rows = integrity_check(db)
    if rows != [("ok",)]:
        fail("integrity_check after the stop: %r" % rows[:5])
    server.start()
    check_all_there(server.port, acked, "after a restart")
    server.stop()
    print("%s: OK: 503 \"Storage is full\" when full, reads kept working, %d sends succeeded once space was freed, "
          "all %d acknowledged messages intact, integrity_check ok" % (NAME, recovered, len(acked)))


if __name__ == "__main__":
    main()
