"""The binary's other commands, as operators and container health checks use them: usage and
exit codes, --version (the same version /metrics reports in messenger_build_info), a
deterministic `seed` that a server then serves, `migrate` on SQLite, and `healthcheck`."""

import os
import sqlite3
import subprocess

import pytest

from conftest import BIN, STORE, WRAPPER, _free_port
from exposition import parse

pytestmark = pytest.mark.skipif(STORE != "sqlite", reason="the commands run on SQLite files here")


def run(*args, env=None, timeout=120):
    r = subprocess.run(WRAPPER + [BIN, *args], stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout,
                       env=env)
    return r.returncode, r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace")


def test_usage_and_exit_codes():
    rc, out, err = run()
    assert rc == 2 and "usage: messenger <command>" in err
    rc, out, _ = run("--help")
    assert rc == 0 and all(c in out for c in ("serve", "seed", "migrate", "healthcheck"))
    rc, _, err = run("frobnicate")
    assert rc == 2 and "unknown command 'frobnicate'" in err
    rc, out, _ = run("serve", "--help")
    assert rc == 0 and "MESSENGER_METRICS" in out and "--no-metrics" in out
    rc, _, err = run("serve", "--port", "70000")
    assert rc == 2 and "invalid option value '70000'" in err
    rc, _, err = run("seed", "--users", "-3")
    assert rc == 2
    rc, _, err = run("seed", "--users", "2", "--conversations", "5", "--db", os.devnull)
    assert rc != 0 and "at most 1 pairs" in err
    for cmd in ("seed", "migrate", "healthcheck"):
        rc, out, _ = run(cmd, "--help")
        assert rc == 0 and out.startswith("usage: messenger " + cmd), cmd


def test_version_is_the_one_metrics_report(api):
    rc, out, _ = run("--version")
    assert rc == 0 and out.startswith("messenger ")
    version = out.split()[1]
    _, samples = parse(api.get("/metrics", expect_json=False).body.decode())
    assert [l["version"] for n, l, v in samples if n == "messenger_build_info"] == [version]


def rows(db):
    with sqlite3.connect(db) as c:
        return c.execute("SELECT sender_id, receiver_id, content FROM messages ORDER BY conversation_id, seq").fetchall()


def test_seed_is_deterministic_and_served(workdir, start_server):
    dbs = [os.path.join(workdir, "seed-%d.db" % i) for i in range(3)]
    for db, seed in zip(dbs, (5, 5, 6)):
        rc, _, err = run("seed", "--db", db, "--seed", str(seed), "--users", "6", "--conversations", "4",
                         "--min-messages", "2", "--messages", "5", "--days", "2")
        assert rc == 0, err
        assert "messenger seed: 6 users, 4 conversations" in err
    assert rows(dbs[0]) == rows(dbs[1]), "the same seed must give the same data"
    assert rows(dbs[0]) != rows(dbs[2])
    n = len(rows(dbs[0]))
    assert 8 <= n <= 20
    rc, _, err = run("migrate", "--db", dbs[0])  # the SQLite schema exists: nothing to do
    assert rc == 0 and "sqlite schema is up to date" in err
    assert len(rows(dbs[0])) == n
    s = start_server("seeded", db=dbs[0])
    c = s.client()
    total = sum(c.messages(conv, limit=100).json["total"] for conv in range(1, 5))
    assert total == n
    c.close()


def test_healthcheck(server):
    rc, _, _ = run("healthcheck", "--port", str(server.port))
    assert rc == 0
    rc, _, _ = run("healthcheck", "--port", str(_free_port()))  # nothing listens there
    assert rc == 1
    rc, _, _ = run("healthcheck", "--port", "0")
    assert rc == 2
