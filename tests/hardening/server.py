"""Shared helpers of the hardening tests (tests/durability, tests/exhaustion, tests/soak):
start and stop a real `messenger serve` on a free loopback port, small HTTP calls, process
figures from /proc, and SQLite's integrity check. Stdlib only; run with /usr/bin/python3.
"""

import atexit
import http.client
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time

HOST = "127.0.0.1"
SANITIZER_MARKERS = ("AddressSanitizer", "LeakSanitizer", "runtime error", "UndefinedBehaviorSanitizer")


def fail(name, msg):
    print("%s: FAILED: %s" % (name, msg), file=sys.stderr)
    sys.exit(1)


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def request(port, method, path, body=None, conn=None, timeout=30):
    """One request (on `conn` when given, else a fresh connection); returns (status, JSON body)."""
    c = conn or http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        c.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        r = c.getresponse()
        data = r.read()
        try:
            return r.status, json.loads(data or b"null")
        except ValueError:
            return r.status, data
    finally:
        if conn is None:
            c.close()


def integrity_check(db):
    """PRAGMA integrity_check rows of the database file ([("ok",)] when sound). Read-only: the
    check never checkpoints or removes the WAL of a crashed server, whose restart must recover it."""
    c = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=30)
    try:
        return c.execute("PRAGMA integrity_check").fetchall()
    finally:
        c.close()


_running = []  # servers to kill if the test exits early (fail() or an exception)


@atexit.register
def _kill_leftovers():
    for proc in _running:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


class Server:
    """A `messenger serve` process on a free port with its stderr in workdir."""

    def __init__(self, binary, db, workdir, name, args=(), preexec_fn=None):
        self.binary, self.db, self.workdir, self.name = os.path.abspath(binary), db, workdir, name
        self.args, self.preexec_fn = list(args), preexec_fn
        self.proc = None
        self.port = None
        self.starts = 0

    def start(self, timeout=30):
        self.port = free_port()
        self.starts += 1
        self.stderr_path = os.path.join(self.workdir, "%s-%d.stderr" % (self.name, self.starts))
        cmd = [self.binary, "serve", "--host", HOST, "--port", str(self.port), "--db", self.db, "--quiet"] + self.args
        with open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                                         preexec_fn=self.preexec_fn)
        _running.append(self.proc)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                fail(self.name, "server exited at start with %s:\n%s" % (self.proc.returncode, self.stderr()))
            try:
                if request(self.port, "GET", "/health", timeout=5)[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        fail(self.name, "server did not answer /health within %d s:\n%s" % (timeout, self.stderr()))

    def stderr(self):
        with open(self.stderr_path, "rb") as f:
            return f.read().decode("utf-8", "replace")[-4000:]

    def check_stderr(self):
        text = self.stderr()
        if any(marker in text for marker in SANITIZER_MARKERS):
            fail(self.name, "sanitizer report in the server's stderr:\n" + text)

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self, timeout=60):
        """SIGTERM; the server must exit 0 (and, for an ASan build, report nothing)."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            fail(self.name, "server did not stop within %d s of SIGTERM" % timeout)
        if code != 0:
            fail(self.name, "server exited with %s after SIGTERM:\n%s" % (code, self.stderr()))
        self.check_stderr()

    def rss_kib(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def open_fds(self):
        return len(os.listdir("/proc/%d/fd" % self.proc.pid))
