#!/usr/bin/env bash
# The 3-node fault scenarios (tests/cassandra/test_cluster.py) on local nodes started by
# scripts/with-cassandra.sh 3 (which exports CASSANDRA_LOCAL, CASSANDRA_RUN and the contact
# points):
#   1. node 3 stopped: migrate five keyspaces; then the whole black-box suite (tests/http)
#   2. node 3 restarted: kill -9 of node 2 during 16 concurrent senders; SIGSTOP of node 2 for 5 s
#   usage: scripts/test-cassandra-cluster.sh MESSENGER_BIN DOCS_DIR
set -euo pipefail
bin=$1
docs=$2
root=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "${CASSANDRA_LOCAL:-}" ]; then
  echo "test-cassandra-cluster: needs local nodes it can kill (run it through scripts/with-cassandra.sh 3)" >&2
  exit 2
fi
export MESSENGER_BIN=$bin
pytest() { (cd "$root/tests/cassandra" && /usr/bin/python3 -m pytest -q -p no:cacheprovider -s "$@" test_cluster.py); }

echo "test-cassandra-cluster: node 3 stopped"
"$CASSANDRA_LOCAL" stop 3
pytest -k test_migrate_with_a_node_down
echo "test-cassandra-cluster: the black-box suite with node 3 stopped"
bash "$root/scripts/test-cassandra.sh" "$bin" "$docs"
echo "test-cassandra-cluster: node 3 restarted"
"$CASSANDRA_LOCAL" restart 3 </dev/null
pytest -k "kill_9 or sigstop"
echo "test-cassandra-cluster: all fault scenarios passed"
