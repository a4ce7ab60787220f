"""The DataStax Python driver (Debian python3-cassandra) against the `cqlmock` binary.

An independent, widely used client must be able to connect, discover the ring, decode primed rows
of every common type, prepare/execute with token-aware routing, page, surface primed errors as the
right exceptions, authenticate and negotiate the protocol version. The mock runs under ASan/UBSan;
each test also checks that it exits cleanly with no sanitizer report.

Run: CQLMOCK_BIN=build/asan/cqlmock /usr/bin/python3 -m pytest -q tests/cqlmock/test_python_driver.py
"""
import datetime
import json
import os
import select
import subprocess
import time
import uuid

import pytest
from cassandra import ReadTimeout, Unavailable, WriteTimeout, InvalidRequest
from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile, NoHostAvailable
from cassandra.policies import DCAwareRoundRobinPolicy, RetryPolicy, TokenAwarePolicy
from cassandra.query import SimpleStatement

BIN = os.environ.get("CQLMOCK_BIN", os.path.join(os.path.dirname(__file__), "../../build/asan/cqlmock"))
STEP_TIMEOUT = 10  # seconds for any single wait in these tests


class Mock:
    """A running cqlmock process controlled over stdin/stdout."""

    def __init__(self, args, log_path):
        self.stderr = open(log_path, "w+")
        self.proc = subprocess.Popen([BIN] + args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.stderr, text=True, bufsize=1)
        line = self._readline()
        assert line.startswith("cqlmock: listening on "), line
        self.contact_points = line.split(" on ", 1)[1].split(",")
        self.hosts = [cp.split(":")[0] for cp in self.contact_points]
        self.port = int(self.contact_points[0].split(":")[1])

    def _readline(self):
        ready, _, _ = select.select([self.proc.stdout], [], [], STEP_TIMEOUT)
        assert ready, "cqlmock did not answer in time"
        return self.proc.stdout.readline().strip()

    def cmd(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        reply = self._readline()
        assert reply.startswith("ok"), f"{line!r} -> {reply!r}"
        return reply[3:]

    def prime(self, **prime):
        self.cmd("prime " + json.dumps(prime))

    def count(self, node, opcode, prefix=""):
        return int(self.cmd(f"count {node} {opcode} {prefix}".rstrip()))

    def log(self, node):
        return json.loads(self.cmd(f"log {node}"))

    def cluster(self, **kwargs):
        kwargs.setdefault("protocol_version", 4)
        return connect_cluster(self, **kwargs)

    def close(self):
        self.proc.terminate()
        try:
            code = self.proc.wait(STEP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise
        self.stderr.seek(0)
        errors = self.stderr.read()
        self.stderr.close()
        assert code == 0, errors
        assert "Sanitizer" not in errors and "runtime error" not in errors, errors


def connect_cluster(mock, **kwargs):
    profile = ExecutionProfile(load_balancing_policy=TokenAwarePolicy(DCAwareRoundRobinPolicy(local_dc="dc1")),
                               retry_policy=RetryPolicy(), request_timeout=STEP_TIMEOUT)
    return Cluster([mock.hosts[0]], port=mock.port, connect_timeout=5, control_connection_timeout=5,
                   execution_profiles={EXEC_PROFILE_DEFAULT: profile}, **kwargs)


@pytest.fixture
def start(tmp_path):
    mocks = []

    def _start(*args):
        m = Mock(list(args), tmp_path / f"cqlmock{len(mocks)}.log")
        mocks.append(m)
        return m

    yield _start
    for m in mocks:
        m.close()


@pytest.fixture
def session_of():
    clusters = []

    def _connect(mock, **kwargs):
        cluster = mock.cluster(**kwargs)
        clusters.append(cluster)
        session = cluster.connect()
        # connect() returns once one pool is up; the others open in the background, and until
        # then token-aware routing falls back to another host. Tests about routing need them all.
        assert wait_until(lambda: len(session.get_pool_state()) == len(cluster.metadata.all_hosts())), \
            "the driver did not open a pool to every node"
        return cluster, session

    yield _connect
    for c in clusters:
        c.shutdown()


def wait_until(predicate):
    deadline = time.monotonic() + STEP_TIMEOUT
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_connect_discovers_peers_and_token_ring(start, session_of):
    mock = start("--nodes", "3", "--keyspace", "ks",
                 "--replication", "{'class': 'SimpleStrategy', 'replication_factor': '2'}")
    cluster, session = session_of(mock)
    hosts = sorted(h.endpoint.address for h in cluster.metadata.all_hosts())
    assert hosts == ["127.0.0.1", "127.0.0.2", "127.0.0.3"]
    assert {h.datacenter for h in cluster.metadata.all_hosts()} == {"dc1"}
    assert {str(h.host_id) for h in cluster.metadata.all_hosts()} == {
        f"00000000-0000-4000-8000-00000000000{i}" for i in (1, 2, 3)}
    assert cluster.metadata.cluster_name == "cqlmock"
    # Token metadata: the ring from system.local/peers tokens, replicas from the keyspace's RF.
    ring = [t.value for t in cluster.metadata.token_map.ring]
    assert ring == [-9223372036854775808, -3074457345618258603, 3074457345618258602]
    assert cluster.metadata.keyspaces["ks"].replication_strategy.replication_factor == 2
    replicas = cluster.metadata.get_replicas("ks", b"\x00\x00\x00\x01")
    assert len(replicas) == 2
    # Every node got a pool: a STARTUP was logged on each.
    for node in range(3):
        assert wait_until(lambda: mock.count(node, "STARTUP") >= 1)


def test_primed_rows_decode_to_typed_values(start, session_of):
    mock = start()
    u = "6ba7b810-9dad-41d1-80b4-00c04fd430c8"
    tu = "6ba7b811-9dad-11d1-80b4-00c04fd430c8"
    mock.prime(query="SELECT * FROM ks.typed", keyspace="ks", table="typed",
               columns=[["i", "int"], ["b", "bigint"], ["t", "text"], ["ok", "boolean"],
                        ["ts", "timestamp"], ["u", "uuid"], ["tu", "timeuuid"], ["tags", "set<text>"],
                        ["m", "map<text, int>"], ["d", "double"]],
               rows=[[42, 9007199254740993, "héllo", True, "2024-01-02T03:04:05.678Z", u, tu, ["a", "b"],
                      {"x": 1}, 2.5],
                     [-1, None, None, False, 0, None, None, None, None, None]])
    _, session = session_of(mock)
    rows = list(session.execute("SELECT * FROM ks.typed"))
    assert len(rows) == 2
    r = rows[0]
    assert (r.i, r.b, r.t, r.ok) == (42, 9007199254740993, "héllo", True)
    assert r.ts == datetime.datetime(2024, 1, 2, 3, 4, 5, 678000)
    assert r.u == uuid.UUID(u) and r.tu == uuid.UUID(tu)
    assert set(r.tags) == {"a", "b"} and dict(r.m) == {"x": 1} and r.d == 2.5
    n = rows[1]
    assert (n.i, n.b, n.t, n.ok, n.u, n.tags) == (-1, None, None, False, None, None)
    assert n.ts == datetime.datetime(1970, 1, 1)


def test_prepared_statement_routes_to_a_replica(start, session_of):
    mock = start("--nodes", "3", "--keyspace", "ks",
                 "--replication", "{'class': 'SimpleStrategy', 'replication_factor': '1'}")
    q = "SELECT k, v FROM ks.kv WHERE k = ?"
    mock.prime(query=q, keyspace="ks", table="kv", columns=[["k", "int"], ["v", "text"]],
               rows=[[7, "seven"]], params=[["k", "int"]], pk_indexes=[0])
    cluster, session = session_of(mock)
    ps = session.prepare(q)
    assert ps.routing_key_indexes == [0]
    for key in (1, 2, 3, 7, 100):
        rows = list(session.execute(ps, [key]))
        assert [(r.k, r.v) for r in rows] == [(7, "seven")]
        # Token-aware routing used pk_indexes and the ring: the EXECUTE went to the sole replica.
        replica = cluster.metadata.get_replicas("ks", key.to_bytes(4, "big", signed=True))[0]
        node = mock.hosts.index(replica.endpoint.address)
        execs = [e for e in mock.log(node) if e["opcode"] == "EXECUTE"]
        assert execs and execs[-1]["query"] == q and execs[-1]["values"] == 1
    # The driver re-prepares transparently when a node forgot the id.
    for node in range(3):
        mock.cmd(f"forget {node}")
    before = mock.count(-1, "PREPARE", q)
    assert [r.v for r in session.execute(ps, [7])] == ["seven"]
    assert mock.count(-1, "PREPARE", q) > before


def test_paging_fetches_every_page(start, session_of):
    mock = start()
    mock.prime(query="SELECT n FROM ks.nums", columns=[["n", "int"]], rows=[[i] for i in range(10)])
    _, session = session_of(mock)
    result = session.execute(SimpleStatement("SELECT n FROM ks.nums", fetch_size=3))
    assert [r.n for r in result] == list(range(10))
    assert mock.count(0, "QUERY", "SELECT n FROM ks.nums") == 4  # 3 + 3 + 3 + 1
    pages = [e for e in mock.log(0) if e["query"] == "SELECT n FROM ks.nums"]
    assert [e["paging_state"] for e in pages] == [False, True, True, True]
    assert all(e["page_size"] == 3 for e in pages)


def test_primed_errors_surface_as_driver_exceptions(start, session_of):
    mock = start("--nodes", "2")
    mock.prime(query="INSERT INTO ks.t (a) VALUES (1)", result="write_timeout", consistency="QUORUM",
               received=1, blockfor=2, write_type="SIMPLE")
    mock.prime(query="SELECT * FROM ks.u", result="unavailable", consistency="ALL", required=3, alive=1)
    mock.prime(query="SELECT * FROM ks.r", result="read_timeout", consistency="ONE", received=0, blockfor=1)
    mock.prime(query="SELECT * FROM ks.bad", result="error", code=0x2200, message="unconfigured table bad")
    _, session = session_of(mock)
    with pytest.raises(WriteTimeout) as wt:
        session.execute("INSERT INTO ks.t (a) VALUES (1)")
    assert wt.value.consistency == 4 and wt.value.received_responses == 1 and wt.value.required_responses == 2
    with pytest.raises(Unavailable) as un:
        session.execute("SELECT * FROM ks.u")
    assert un.value.required_replicas == 3 and un.value.alive_replicas == 1
    # The default policy retries UNAVAILABLE once on the next host: both nodes saw it.
    assert mock.count(0, "QUERY", "SELECT * FROM ks.u") + mock.count(1, "QUERY", "SELECT * FROM ks.u") == 2
    with pytest.raises(ReadTimeout):
        session.execute("SELECT * FROM ks.r")
    with pytest.raises(InvalidRequest, match="unconfigured table bad"):
        session.execute("SELECT * FROM ks.bad")


def test_password_authentication(start):
    mock = start("--username", "alice", "--password", "s3cret")
    good = mock.cluster(auth_provider=PlainTextAuthProvider("alice", "s3cret"))
    try:
        session = good.connect()
        assert session.execute("SELECT release_version FROM system.local").one().release_version == "4.0.11"
    finally:
        good.shutdown()
    bad = mock.cluster(auth_provider=PlainTextAuthProvider("alice", "nope"))
    try:
        with pytest.raises(NoHostAvailable, match="Bad credentials|incorrect"):
            bad.connect()
    finally:
        bad.shutdown()


def test_protocol_version_negotiation_downgrades_to_v4(start):
    mock = start()
    cluster = connect_cluster(mock)  # no protocol_version: the driver starts above v4
    try:
        cluster.connect()
        assert cluster.protocol_version == 4
        refused = [e for e in mock.log(0) if e["opcode"] in ("OPTIONS", "STARTUP") and e["version"] > 4]
        assert refused, "the driver should have tried a newer version first"
    finally:
        cluster.shutdown()


def test_schema_change_event_triggers_a_refresh(start, session_of):
    mock = start("--nodes", "2", "--keyspace", "ks")
    cluster, _ = session_of(mock, schema_event_refresh_window=0.05)
    before = mock.count(-1, "QUERY", "SELECT * FROM system_schema.keyspaces")
    assert int(mock.cmd("event schema CREATED KEYSPACE ks")) == 1  # only the control connection registered
    assert wait_until(lambda: mock.count(-1, "QUERY", "SELECT * FROM system_schema.keyspaces") > before)
