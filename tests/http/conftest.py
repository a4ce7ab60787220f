"""Starts the real `messenger` binary for the black-box suite.

Environment (see README.md):
  MESSENGER_BIN         binary under test (default: ../../build/asan/messenger)
  MESSENGER_DOCS_DIR    passed as --docs-dir when set
  MESSENGER_TEST_STORE  sqlite (default) | cassandra
  MESSENGER_WRAPPER     command prefix, e.g. "valgrind --error-exitcode=99 -q"
  CASSANDRA_*           passed through for the cassandra store

One server serves the whole session (`server`); modules that attack the transport start their
own (`start_server`). At teardown each server gets SIGTERM and must exit 0 with no sanitizer
report on its stderr.
"""

import os
import re
import shlex
import signal
import socket
import subprocess
import tempfile
import time

import pytest

from helpers import TIME_FACTOR, Client

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.environ.get("MESSENGER_BIN") or os.path.join(HERE, "..", "..", "build", "asan", "messenger")
DOCS_DIR = os.environ.get("MESSENGER_DOCS_DIR")
STORE = os.environ.get("MESSENGER_TEST_STORE") or "sqlite"
WRAPPER = shlex.split(os.environ.get("MESSENGER_WRAPPER") or "")
HOST = "127.0.0.1"
STARTUP_TIMEOUT_S = 30.0 * (6 if WRAPPER else 1)
STOP_TIMEOUT_S = 30.0 * (6 if WRAPPER else 1)
SANITIZER_MARKERS = ("AddressSanitizer", "LeakSanitizer", "runtime error", "UndefinedBehaviorSanitizer",
                     "ThreadSanitizer")

ACCESS_LOG_RE = re.compile(r"^\S+Z INFO  http: \S+ \S* \d{3} \d+us ")

if STORE not in ("sqlite", "cassandra"):
    raise pytest.UsageError("MESSENGER_TEST_STORE must be sqlite or cassandra, not %r" % STORE)


def _free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _base_env(workdir):
    env = dict(os.environ)
    # Sanitizers: report with a distinctive exit code; the Makefile sets the same defaults.
    env.setdefault("ASAN_OPTIONS", "abort_on_error=0:detect_leaks=1:halt_on_error=1:exitcode=86")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1:exitcode=86")
    for k in ("PORT", "HOST", "MESSENGER_DB", "MESSENGER_QUIET", "MESSENGER_MAX_CONNECTIONS",
              "MESSENGER_PER_IP_CONNECTIONS", "MESSENGER_STORE", "MESSENGER_JWT_SECRET",
              "MESSENGER_JWT_PUBLIC_KEY_FILE", "MESSENGER_JWT_ISSUER", "MESSENGER_JWT_AUDIENCE",
              "MESSENGER_SEND_RATE", "MESSENGER_SEND_BURST", "MESSENGER_REDIS_URL", "MESSENGER_REDIS_TIMEOUT_MS"):
        env.pop(k, None)  # the suite tests the documented defaults
    env["MESSENGER_STORE"] = STORE
    return env


class Server:
    """A running `messenger serve` with its stderr in a file."""

    def __init__(self, workdir, env, name, db=None):
        self.host = HOST
        self.workdir = workdir
        self.env = env
        self.name = name
        self.stderr_path = os.path.join(workdir, "%s.stderr" % name)
        self.db_path = db or os.path.join(workdir, "%s.db" % name)  # sqlite only
        self.proc = None
        self.port = None
        self.store = STORE
        self.stopped = False
        self.stop_seconds = None

    def start(self):
        last_error = None
        for _ in range(3):  # a free port can be taken between probing and binding
            self.port = _free_port()
            cmd = WRAPPER + [BIN, "serve", "--host", HOST, "--port", str(self.port), "--store", STORE]
            if STORE == "sqlite":
                cmd += ["--db", self.db_path]
            if DOCS_DIR:
                cmd += ["--docs-dir", DOCS_DIR]
            self._stderr = open(self.stderr_path, "wb")
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=self._stderr, env=self.env, cwd=self.workdir)
            ok, last_error = self._wait_healthy()
            if ok:
                return self
            self._kill()
        pytest.fail("server did not become healthy: %s\n--- stderr:\n%s" % (last_error, self.stderr()[-4000:]))

    def _wait_healthy(self):
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False, "exited with %r" % self.proc.returncode
            c = Client(HOST, self.port, timeout=5 * TIME_FACTOR)
            try:
                r = c.get("/health", expect_json=False)
                if r.status == 200:
                    return True, None
                last = "GET /health -> %d" % r.status
            except OSError as e:
                last = repr(e)
            finally:
                c.close()
            time.sleep(0.05)
        return False, "no 200 from GET /health within %.0f s (%s)" % (STARTUP_TIMEOUT_S, last)

    def _kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._stderr.close()

    def client(self, **kw):
        return Client(self.host, self.port, **kw)

    def stderr(self):
        with open(self.stderr_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def notable_stderr(self, limit=6000):
        """stderr without the per-request access log lines (what explains a failure)."""
        lines = [ln for ln in self.stderr().splitlines() if not ACCESS_LOG_RE.match(ln)]
        return "\n".join(lines)[-limit:]

    def stop_and_check(self):
        """SIGTERM; the process must exit 0 in time, with no sanitizer report."""
        assert self.proc.poll() is None, "server died during the tests (exit %r)\n%s" % (
            self.proc.returncode, self.notable_stderr())
        self.stopped = True
        self.proc.send_signal(signal.SIGTERM)
        t0 = time.monotonic()
        try:
            rc = self.proc.wait(timeout=STOP_TIMEOUT_S)
            self.stop_seconds = time.monotonic() - t0
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            self._stderr.close()
            pytest.fail("server did not exit within %.0f s of SIGTERM\n%s" % (STOP_TIMEOUT_S, self.notable_stderr()))
        self._stderr.close()
        err = self.stderr()
        found = [m for m in SANITIZER_MARKERS if m in err]
        assert not found, "sanitizer report (%s) on the server's stderr:\n%s" % (found, self.notable_stderr(12000))
        assert rc == 0, "server exited with %r after SIGTERM\n%s" % (rc, self.notable_stderr())


@pytest.fixture(scope="session")
def workdir():
    with tempfile.TemporaryDirectory(prefix="messenger-http-") as d:
        yield d


@pytest.fixture(scope="session")
def server_env(workdir):
    env = _base_env(workdir)
    if STORE == "cassandra":
        keyspace = "msgtest_" + os.urandom(6).hex()
        env["CASSANDRA_KEYSPACE"] = keyspace
        r = subprocess.run(WRAPPER + [BIN, "migrate"], env=env, cwd=workdir,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
        if r.returncode != 0:
            pytest.fail("messenger migrate failed (%d):\n%s" % (r.returncode, r.stdout.decode("utf-8", "replace")))
        yield env
        _drop_keyspace(env, keyspace)
    else:
        yield env


def _drop_keyspace(env, keyspace):
    """Best effort: removes the session's keyspace when the Python driver is installed."""
    try:
        from cassandra.cluster import Cluster  # noqa: WPS433 (optional, cassandra runs only)
    except ImportError:
        return
    points = [p.strip() for p in (env.get("CASSANDRA_CONTACT_POINTS") or "127.0.0.1").split(",") if p.strip()]
    hosts = [p.rsplit(":", 1)[0] if p.count(":") == 1 else p for p in points]
    try:
        auth = None
        if env.get("CASSANDRA_USERNAME"):
            from cassandra.auth import PlainTextAuthProvider
            auth = PlainTextAuthProvider(env["CASSANDRA_USERNAME"], env.get("CASSANDRA_PASSWORD", ""))
        cluster = Cluster(hosts, port=int(env.get("CASSANDRA_PORT") or 9042), auth_provider=auth)
        session = cluster.connect()
        session.execute("DROP KEYSPACE IF EXISTS %s" % keyspace, timeout=60)
        cluster.shutdown()
    except Exception as e:  # pragma: no cover - cleanup only
        print("could not drop keyspace %s: %r" % (keyspace, e))


@pytest.fixture(scope="session")
def start_server(workdir, server_env):
    """Factory: start_server(name, db=None, env=None) -> a running Server, stopped and checked at
    session end unless a test did it (Server.stop_and_check). db: reuse the SQLite file of
    another; env: extra environment variables (e.g. MESSENGER_JWT_SECRET)."""
    started = []
    counter = [0]

    def start(name="server", db=None, env=None):
        counter[0] += 1
        s = Server(workdir, dict(server_env, **(env or {})), "%s%d" % (name, counter[0]), db=db).start()
        started.append(s)
        return s

    yield start
    errors = []
    for s in started:
        if s.stopped:
            continue
        try:
            s.stop_and_check()
        except BaseException as e:  # check every server, report all
            errors.append("%s: %s" % (s.name, e))
    if errors:
        pytest.fail("\n\n".join(errors), pytrace=False)


@pytest.fixture(scope="session")
def server(start_server):
    """The session's shared server, with the timeout probes of test_zz_timeouts opened at once."""
    s = start_server("main")
    s.probes = open_timeout_probes(s)
    yield s
    s.probes["slow"].close()
    s.probes["idle"].close()
    s.probes["unread"].close()


UNREAD_REQUESTS = 300  # pipelined GET /openapi.json (~94 KB each): far more than socket buffers


def open_timeout_probes(s):
    """Connections opened when the server starts and checked at the end of the session: one that
    sent half a request line + headers (must be closed within ~10 s), one idle keep-alive
    connection after a complete request (must still work after 10 s; idle limit 60 s), and one
    that asked for ~28 MB of responses and reads none of it (must be dropped by the 30 s send
    deadline)."""
    slow = socket.create_connection((s.host, s.port), timeout=5)
    slow.sendall(b"GET /health HTTP/1.1\r\nHost: probe\r\nX-Half: ")
    idle = s.client()
    r = idle.get("/health")
    assert r.status == 200
    unread = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    unread.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    unread.settimeout(5)
    unread.connect((s.host, s.port))
    unread.sendall(b"GET /openapi.json HTTP/1.1\r\nHost: probe\r\n\r\n" * UNREAD_REQUESTS)
    return {"slow": slow, "idle": idle, "idle_sock": idle.conn.sock, "unread": unread,
            "opened_at": time.monotonic()}


@pytest.fixture
def api(server):
    c = server.client()
    yield c
    c.close()
