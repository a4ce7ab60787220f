#!/usr/bin/env bash
# The 3-node fault scenarios (tests/cassandra/test_cluster.py) on local nodes started by
# scripts/with-cassandra.sh 3 (which exports CASSANDRA_LOCAL, CASSANDRA_RUN and the contact
# points):
#   1. all three up: kill -9 of node 2 during 16 concurrent senders (then restarted); SIGSTOP of
#      node 2 for 5 s
#   2. node 3 stopped: migrate five keyspaces; then the whole black-box suite (tests/http)
# Every step runs even when an earlier one failed; the exit status says whether all passed.
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

failed=()
step() { # name command...
  local name=$1
  shift
  echo "test-cassandra-cluster: $name"
  "$@" || failed+=("$name")
}
step "kill -9 and SIGSTOP with all three nodes up" pytest -k "kill_9 or sigstop"
"$CASSANDRA_LOCAL" stop 3
step "migrate with node 3 stopped" pytest -k test_migrate_with_a_node_down
settled_suite() { # the live nodes agree on the schema before the suite's migrate (test_cluster.settle)
  (cd "$root/tests/cassandra" && /usr/bin/python3 -c "import test_cluster; test_cluster.settle((1, 2))") &&
    bash "$root/scripts/test-cassandra.sh" "$bin" "$docs"
}
step "the black-box suite with node 3 stopped" settled_suite
if [ ${#failed[@]} -gt 0 ]; then
  printf 'test-cassandra-cluster: FAILED: %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "test-cassandra-cluster: all fault scenarios passed"
