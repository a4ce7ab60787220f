#!/usr/bin/env bash
# Runs a command against a real Cassandra: the cluster named by CASSANDRA_CONTACT_POINTS when set,
# else N local nodes started from CASSANDRA_HOME (default ../shared/cassandra next to the
# repository) with its cassandra-local script, stopped and wiped again when the command ends,
# also on failure or interruption (trap).
#   usage: scripts/with-cassandra.sh NODES COMMAND [ARGS...]
# Local nodes listen on 127.0.0.1..N:9042 (machine-global addresses): only one local run at a
# time per machine; a CQL listener already on 127.0.0.1:9042 is refused with a clear message.
# State lives in a fresh directory under /tmp (CASSANDRA_RUN, exported to the command, which
# may kill and restart nodes with "$CASSANDRA_LOCAL" kill|restart I).
# SKIP_CASSANDRA=1 skips (exit 0, loudly) instead of failing when no Cassandra is available.
set -euo pipefail
nodes=$1
shift
root=$(cd "$(dirname "$0")/.." && pwd)

if [ -n "${CASSANDRA_CONTACT_POINTS:-}" ]; then
  echo "with-cassandra: using CASSANDRA_CONTACT_POINTS=$CASSANDRA_CONTACT_POINTS"
  exec "$@"
fi

home=${CASSANDRA_HOME:-$root/../shared/cassandra}
if [ ! -x "$home/cassandra-local" ]; then
  if [ "${SKIP_CASSANDRA:-}" = 1 ]; then
    echo "with-cassandra: SKIPPED (SKIP_CASSANDRA=1): no CASSANDRA_CONTACT_POINTS and no $home/cassandra-local"
    exit 0
  fi
  echo "with-cassandra: no Cassandra: set CASSANDRA_CONTACT_POINTS, or CASSANDRA_HOME to a directory" \
    "with cassandra-local (default $home), or SKIP_CASSANDRA=1 to skip the Cassandra tests" >&2
  exit 2
fi
if (exec 3<>/dev/tcp/127.0.0.1/9042) 2>/dev/null; then
  echo "with-cassandra: something already listens on 127.0.0.1:9042; stop it or set" \
    "CASSANDRA_CONTACT_POINTS=127.0.0.1 to use it" >&2
  exit 2
fi

CASSANDRA_RUN=$(mktemp -d /tmp/cassandra-messenger.XXXXXX)
export CASSANDRA_RUN CASSANDRA_LOCAL="$home/cassandra-local"
export CASSANDRA_START_TIMEOUT=${CASSANDRA_START_TIMEOUT:-300}
cleanup() {
  local rc=$?
  "$CASSANDRA_LOCAL" wipe >/dev/null 2>&1 || echo "with-cassandra: could not wipe $CASSANDRA_RUN" >&2
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "with-cassandra: starting $nodes local node(s) from $home (state in $CASSANDRA_RUN)"
"$CASSANDRA_LOCAL" start "$nodes" </dev/null
points=127.0.0.1
for i in $(seq 2 "$nodes"); do points="$points,127.0.0.$i"; done
export CASSANDRA_CONTACT_POINTS=$points
"$@"
