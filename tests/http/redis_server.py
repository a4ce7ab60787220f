"""A redis-server of the tests' own: a free loopback port, a scratch directory, no persistence.
Used by the shared send-limit tests here and by the replica tests of tests/events."""

import socket
import subprocess
import tempfile
import time


class RedisServer:
    def __init__(self, workdir):
        self.dir = tempfile.mkdtemp(prefix="redis-", dir=workdir)
        self.port = None
        self.proc = None

    def start(self, port=None):
        """Starts (or restarts, on the same port when given) and waits until it accepts."""
        if port is not None:
            self.port = port
        if self.port is None:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                self.port = s.getsockname()[1]
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no", "--dir", self.dir, "--loglevel", "warning"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.02)
        raise AssertionError("redis-server did not start")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    @property
    def url(self):
        return "redis://127.0.0.1:%d" % self.port
