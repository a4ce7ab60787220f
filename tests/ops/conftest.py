"""Fixtures of the monitoring checks (make monitoring-check): one `messenger serve` on SQLite
(the black-box suite's Server of tests/http/conftest.py: a free loopback port, MESSENGER_BIN,
SIGTERM at the end with exit 0 and no sanitizer report), and the exposition reader of tests/http."""

import importlib.util
import os
import socket
import sys
import tempfile
import urllib.request

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
HTTP_TESTS = os.path.join(ROOT, "tests", "http")
sys.path.insert(0, HTTP_TESTS)
_spec = importlib.util.spec_from_file_location("http_conftest", os.path.join(HTTP_TESTS, "conftest.py"))
http_conftest = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(http_conftest)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url, timeout=10):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.headers, r.read()


class Messenger(http_conftest.Server):
    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def metrics_text(self):
        status, headers, body = get(self.url("/metrics"))
        assert status == 200
        assert headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
        return body.decode("utf-8")


@pytest.fixture(scope="session")
def workdir():
    with tempfile.TemporaryDirectory(prefix="messenger-ops-") as d:
        yield d


@pytest.fixture(scope="session")
def messenger(workdir):
    env = http_conftest._base_env(workdir)
    env["MESSENGER_QUIET"] = "1"
    m = Messenger(workdir, env, "ops").start()
    yield m
    m.stop_and_check()
