"""Processes for the event tests: a redis-server and `messenger serve` replicas on free loopback
ports (the binary: MESSENGER_BIN, default build/asan/messenger); each replica's stderr is kept
and checked for sanitizer reports when it stops."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "http"))

from helpers import Client  # noqa: E402
from redis_server import RedisServer  # noqa: E402

BIN = os.environ.get("MESSENGER_BIN") or os.path.join(HERE, "..", "..", "build", "asan", "messenger")
SANITIZER_MARKERS = ("AddressSanitizer", "LeakSanitizer", "runtime error")


# Every process started here, so that a failing test leaves nothing running (conftest.py).
LIVE = []


def kill_leftovers():
    while LIVE:
        p = LIVE.pop().proc
        if p is not None and p.poll() is None:
            p.kill()
            p.wait()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pos(event_id):
    hi, lo = event_id.split("~")[0].split("-")
    return int(hi), int(lo)


class Redis(RedisServer):
    """The replica tests' redis-server: skipped when not installed, killed by kill_leftovers."""

    def start(self, port=None):
        if not shutil.which("redis-server"):
            pytest.skip("redis-server is not installed (scripts/apt-packages.txt has it)")
        LIVE.append(self)
        return super().start(port)

class Replica:
    def __init__(self, workdir, name, env, args):
        self.name, self.env, self.args = name, env, args
        self.host = "127.0.0.1"
        self.stderr_path = os.path.join(workdir, name + ".stderr")
        self.workdir = workdir

    def start(self, port=None):
        self.port = port or free_port()
        self.err = open(self.stderr_path, "wb")
        LIVE.append(self)
        self.proc = subprocess.Popen([BIN, "serve", "--host", self.host, "--port", str(self.port)] + self.args,
                                     env=self.env, stdout=subprocess.DEVNULL, stderr=self.err, cwd=self.workdir)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.stderr()
            try:
                c = Client(self.host, self.port, timeout=5)
                if c.get("/health").status == 200:
                    c.close()
                    return self
            except OSError:
                time.sleep(0.05)
        raise AssertionError("replica %s did not start:\n%s" % (self.name, self.stderr()))

    def client(self):
        return Client(self.host, self.port)

    def stderr(self):
        with open(self.stderr_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stop_and_check(self):
        assert self.proc.poll() is None, "replica %s died:\n%s" % (self.name, self.stderr()[-4000:])
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(60)
        self.err.close()
        err = self.stderr()
        assert not [m for m in SANITIZER_MARKERS if m in err], err[-8000:]
        assert rc == 0, "replica %s exited %r:\n%s" % (self.name, rc, err[-4000:])
