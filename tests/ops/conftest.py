"""Fixtures of the monitoring checks (make monitoring-check): one `messenger serve` on SQLite
on a free loopback port (MESSENGER_BIN, default the ASan build), stopped with SIGTERM at the
end (must exit 0); the exposition reader of tests/http."""

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "http"))
BIN = os.environ.get("MESSENGER_BIN") or os.path.join(ROOT, "build", "asan", "messenger")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url, timeout=10):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.headers, r.read()


class Messenger:
    def __init__(self, workdir):
        self.workdir = workdir
        self.proc = None
        self.port = None

    def start(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("MESSENGER_") and k not in ("PORT", "HOST")}
        for _ in range(3):
            self.port = free_port()
            self.log = open(os.path.join(self.workdir, "messenger.stderr"), "wb")
            self.proc = subprocess.Popen([BIN, "serve", "--host", "127.0.0.1", "--port", str(self.port), "--quiet",
                                          "--db", os.path.join(self.workdir, "m.db")],
                                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.log,
                                         env=env, cwd=self.workdir)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    if get(self.url("/health"), timeout=2)[0] == 200:
                        return self
                except OSError:
                    time.sleep(0.05)
            self.stop(check=False)
        pytest.fail("messenger did not start")

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def metrics_text(self):
        status, headers, body = get(self.url("/metrics"))
        assert status == 200
        assert headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
        return body.decode("utf-8")

    def stop(self, check=True):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=60)
        self.log.close()
        if check:
            with open(self.log.name, "rb") as f:
                err = f.read().decode("utf-8", "replace")
            assert rc == 0 and "Sanitizer" not in err and "runtime error" not in err, err[-4000:]


@pytest.fixture(scope="session")
def workdir():
    with tempfile.TemporaryDirectory(prefix="messenger-ops-") as d:
        yield d


@pytest.fixture(scope="session")
def messenger(workdir):
    m = Messenger(workdir).start()
    yield m
    m.stop()
