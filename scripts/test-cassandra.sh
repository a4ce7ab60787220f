#!/usr/bin/env bash
# Runs the black-box HTTP suite against the Cassandra store on a real cluster.
#   usage: scripts/test-cassandra.sh MESSENGER_BIN DOCS_DIR
# Needs CASSANDRA_CONTACT_POINTS (scripts/with-cassandra.sh sets it for a local node). Creates
# keyspace msgtest_<random> with `messenger migrate` (run twice to check it is idempotent), runs
# tests/http with MESSENGER_TEST_STORE=cassandra, and drops the keyspace on exit (with Debian's
# python3-cassandra driver). Extra arguments go to pytest. Then tests/cassandra/test_seed.py: the
# seed command gives the same data on SQLite and on Cassandra; then the Cassandra variants of
# tests/events/test_replicas.py (two replicas on Cassandra sharing a redis-server the test starts).
set -euo pipefail
bin=$1
docs=$2
if [ -z "${CASSANDRA_CONTACT_POINTS:-}" ]; then
  echo "test-cassandra: set CASSANDRA_CONTACT_POINTS (host[:port],...) to a Cassandra 4.0 cluster" >&2
  exit 2
fi
keyspace="msgtest_$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
export CASSANDRA_KEYSPACE=$keyspace
export MESSENGER_STORE=cassandra

drop_keyspace() {
  /usr/bin/python3 - "$keyspace" <<'PY' || echo "test-cassandra: could not drop keyspace $keyspace" >&2
import os, sys
from cassandra.cluster import Cluster
from cassandra.auth import PlainTextAuthProvider
points = [p.strip() for p in os.environ["CASSANDRA_CONTACT_POINTS"].split(",") if p.strip()]
hosts = [p.rsplit(":", 1)[0] if p.count(":") == 1 else p for p in points]
auth = None
if os.environ.get("CASSANDRA_USERNAME"):
    auth = PlainTextAuthProvider(os.environ["CASSANDRA_USERNAME"], os.environ.get("CASSANDRA_PASSWORD", ""))
cluster = Cluster(hosts, port=int(os.environ.get("CASSANDRA_PORT") or 9042), auth_provider=auth)
session = cluster.connect()
session.execute("DROP KEYSPACE IF EXISTS " + sys.argv[1], timeout=120)
cluster.shutdown()
print("test-cassandra: dropped keyspace " + sys.argv[1])
PY
}
trap drop_keyspace EXIT

echo "test-cassandra: keyspace $keyspace"
"$bin" migrate
"$bin" migrate
root=$(cd "$(dirname "$0")/.." && pwd)
(cd "$root/tests/http" && MESSENGER_TEST_STORE=cassandra MESSENGER_BIN="$bin" MESSENGER_DOCS_DIR="$docs" \
  /usr/bin/python3 -m pytest -q -p no:cacheprovider "${@:3}" .)
echo "test-cassandra: seed gives the same data on both stores"
(cd "$root/tests/cassandra" && MESSENGER_BIN="$bin" /usr/bin/python3 -m pytest -q -p no:cacheprovider test_seed.py)
echo "test-cassandra: event streams, two replicas on Cassandra sharing a local redis-server"
(cd "$root/tests/events" && MESSENGER_BIN="$bin" /usr/bin/python3 -m pytest -q -p no:cacheprovider -k cassandra \
  test_replicas.py)
