"""Shared by the real-Cassandra tests of this folder: the binary, migrations, keyspaces, and a
`messenger serve` process on a free loopback port.

Environment: MESSENGER_BIN (the binary), CASSANDRA_CONTACT_POINTS (the nodes)."""

import os
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "http"))
from helpers import Client  # noqa: E402

BIN = os.environ.get("MESSENGER_BIN", "")
POINTS = os.environ.get("CASSANDRA_CONTACT_POINTS", "")


def env_for(keyspace=None, store="cassandra"):
    env = dict(os.environ)
    env.update({"MESSENGER_STORE": store, "MESSENGER_QUIET": "1"})
    if keyspace:
        env["CASSANDRA_KEYSPACE"] = keyspace
    return env


def migrate(keyspace):
    return subprocess.run([BIN, "migrate"], env=env_for(keyspace), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=300)


def driver_session(only=None):
    """A Python-driver session on the contact points, or on the one address `only` alone."""
    from cassandra.cluster import Cluster
    from cassandra.policies import WhiteListRoundRobinPolicy
    if only:
        cluster = Cluster([only], protocol_version=4, load_balancing_policy=WhiteListRoundRobinPolicy([only]))
    else:
        cluster = Cluster([p.strip() for p in POINTS.split(",") if p.strip()], protocol_version=4)
    return cluster, cluster.connect()


def drop(keyspace):
    cluster, session = driver_session()
    try:
        session.execute("DROP KEYSPACE IF EXISTS %s" % keyspace, timeout=120)
    finally:
        cluster.shutdown()


class Server:
    """`messenger serve` with extra arguments; waits for /ready; stop() expects exit 0."""

    def __init__(self, env, args=()):
        self.host = "127.0.0.1"
        with socket.socket() as s:
            s.bind((self.host, 0))
            self.port = s.getsockname()[1]
        self.log = tempfile.NamedTemporaryFile(prefix="messenger-", suffix=".log", delete=False)
        self.proc = subprocess.Popen([BIN, "serve", "--host", self.host, "--port", str(self.port)] + list(args),
                                     env=env, stdout=self.log, stderr=self.log, stdin=subprocess.DEVNULL)
        deadline = time.time() + 60
        while time.time() < deadline:
            assert self.proc.poll() is None, "server exited: %s" % self.tail()
            try:
                if Client(self.host, self.port, timeout=5).get("/ready").status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise AssertionError("server not ready: %s" % self.tail())

    def client(self, timeout=30):
        return Client(self.host, self.port, timeout=timeout)

    def tail(self):
        with open(self.log.name, "rb") as f:
            return f.read()[-3000:].decode("utf-8", "replace")

    def stop(self):
        self.proc.terminate()
        rc = self.proc.wait(timeout=60)
        assert rc == 0, "server exit %d: %s" % (rc, self.tail())
        os.unlink(self.log.name)
