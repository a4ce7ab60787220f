#!/usr/bin/env bash
# `make bench`: seeds (or reuses) a large SQLite database, runs messenger on it and nginx
# serving the same response bytes from files, measures each scenario with wrk against one and
# then at once the other (same settings), and writes the table to stdout and
# build/bench/results.md. Load generator and servers share this machine's cores.
#
# Configuration (environment):
#   BENCH_USERS=2000 BENCH_CONVERSATIONS=10000 BENCH_MESSAGES=1000000 (about that many in
#   total: 1 .. 2*average-1 per conversation) BENCH_LONG=100000 (exactly that many more in
#   the conversation of users 1 and 2) BENCH_SEED=1
#   BENCH_DURATION=10s BENCH_WARMUP=2s BENCH_WRK_THREADS=2 BENCH_CONNECTIONS=64
#   BENCH_ROUNDS=1 (every scenario pair that many times; the report keeps each one's best run)
#   BENCH_SERVER_THREADS= (empty: the server's default) BENCH_SCENARIOS="msgs ... mix authcmp"
#   BENCH_RESEED=1 (ignore the cached database) BENCH_STORE=sqlite|cassandra
#   Cassandra (BENCH_STORE=cassandra, `make bench-store-cassandra`): a fresh keyspace on
#   CASSANDRA_CONTACT_POINTS, seeded through `messenger seed --store cassandra` (smaller
#   defaults: BENCH_CONVERSATIONS=2000 BENCH_MESSAGES=100000 BENCH_LONG=20000: each new
#   conversation is a Paxos claim, and 10,000 of them 512 at a time time out on one busy node;
#   no cache), dropped at the end; the
#   server CPU per request includes the Cassandra node's (CASSANDRA_RUN/node*/pid), as SQLite's
#   is inside messenger.
#   BENCH_BIN=build/release/messenger (e.g. another build to compare)
# The seeded database is cached in build/bench/cache/, keyed by the seed parameters and the
# sources of the schema and of the seed command (a new key replaces the old database); each
# run works on a fresh copy of it.
set -euo pipefail
cd "$(dirname "$0")/.."

store=${BENCH_STORE:-sqlite}
users=${BENCH_USERS:-2000}
conversations=${BENCH_CONVERSATIONS:-$([ "$store" = cassandra ] && echo 2000 || echo 10000)}
messages=${BENCH_MESSAGES:-$([ "$store" = cassandra ] && echo 100000 || echo 1000000)}
long=${BENCH_LONG:-$([ "$store" = cassandra ] && echo 20000 || echo 100000)}
seed=${BENCH_SEED:-1}
duration=${BENCH_DURATION:-10s}
rounds=${BENCH_ROUNDS:-1}
warmup=${BENCH_WARMUP:-2s}
wrk_threads=${BENCH_WRK_THREADS:-2}
connections=${BENCH_CONNECTIONS:-64}
server_threads=${BENCH_SERVER_THREADS:-}
scenarios=${BENCH_SCENARIOS:-msgs long-first long-cursor-fixed long-cursor long-page convs send mix authcmp}

bin=${BENCH_BIN:-build/release/messenger}
dir=build/bench
case "$store" in
  sqlite) ;;
  cassandra)
    [ -n "${CASSANDRA_CONTACT_POINTS:-}" ] || {
      echo "bench: BENCH_STORE=cassandra needs CASSANDRA_CONTACT_POINTS (make bench-store-cassandra starts a node)" >&2
      exit 2
    }
    CASSANDRA_KEYSPACE="bench_$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"
    export MESSENGER_STORE=cassandra CASSANDRA_KEYSPACE
    ;;
  *) echo "bench: unknown BENCH_STORE=$store" >&2; exit 2 ;;
esac
for tool in wrk nginx "$bin"; do
  command -v "$tool" >/dev/null || { echo "bench: $tool not found (run make deps build)" >&2; exit 1; }
done

mkdir -p "$dir/cache" "$dir/logs"
rm -rf "$dir/static" "$dir/paths" "$dir/nginx-tmp" "$dir/logs"/*
rm -f "$dir/results.jsonl" "$dir/cpu.jsonl" "$dir/run.env"
mkdir -p "$dir/nginx-tmp"
results=$(realpath "$dir/results.jsonl")
runenv="$dir/run.env"
note() { echo "$1=$2" >>"$runenv"; }
log() { echo "bench: $*" >&2; }

free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

wait_http() { # url pid
  for _ in $(seq 300); do
    curl -sf -o /dev/null "$1" && return 0
    kill -0 "$2" 2>/dev/null || { log "server exited early"; return 1; }
    sleep 0.1
  done
  log "no answer from $1"
  return 1
}

elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

# --- the database --------------------------------------------------------------------------
per_max=$((2 * messages / conversations - 1))
[ "$per_max" -ge 1 ] || per_max=1
seed_all() { # store arguments...
  log "seeding $users users, $conversations conversations, 1..$per_max messages each"
  local t0 t1 t2
  t0=$(date +%s.%N)
  "$bin" seed "$@" --seed "$seed" --users "$users" --conversations "$conversations" \
    --min-messages 1 --messages "$per_max" >&2
  t1=$(date +%s.%N)
  log "seeding the long conversation: $long messages between users 1 and 2"
  "$bin" seed "$@" --seed "$((seed + 1))" --users 2 --conversations 1 \
    --min-messages "$long" --messages "$long" >&2
  t2=$(date +%s.%N)
  printf 'seed_s=%s\nseed_long_s=%s\n' "$(elapsed "$t0" "$t1")" "$(elapsed "$t1" "$t2")"
}
if [ "$store" = cassandra ]; then
  drop_keyspace() {
    /usr/bin/python3 - "$CASSANDRA_KEYSPACE" <<'PY' || log "could not drop keyspace $CASSANDRA_KEYSPACE"
import os, sys
from cassandra.cluster import Cluster
hosts = [p.strip().rsplit(":", 1)[0] for p in os.environ["CASSANDRA_CONTACT_POINTS"].split(",") if p.strip()]
cluster = Cluster(hosts, protocol_version=4)
cluster.connect().execute("DROP KEYSPACE IF EXISTS " + sys.argv[1], timeout=120)
cluster.shutdown()
PY
  }
  trap 'cleanup; drop_keyspace' EXIT
  "$bin" migrate >&2
  seed_all --store cassandra >>"$runenv"
  note seed_cached no
  note db_bytes 0
else
  schema=$(cat src/store/sqlite/sqlite_schema.c src/app/seed.c | sha256sum | cut -c1-12)
  cache="$dir/cache/u$users-c$conversations-m$messages-l$long-s$seed-$schema.db"
  if [ -n "${BENCH_RESEED:-}" ] || [ ! -f "$cache" ]; then
    rm -f "$dir"/cache/*.db "$dir"/cache/*.db.* # one cached database at a time (~100 MB)
    tmp="$cache.tmp"
    rm -f "$tmp" "$tmp"-*
    seed_all --db "$tmp" >"$cache.meta"
    [ ! -s "$tmp-wal" ] || { log "seed left a non-empty WAL: $tmp-wal"; exit 1; }
    rm -f "$tmp"-*
    mv "$tmp" "$cache"
    note seed_cached no
  else
    log "using cached database $cache (BENCH_RESEED=1 to reseed)"
    note seed_cached yes
  fi
  cat "$cache.meta" >>"$runenv"
  db="$dir/bench.db"
  rm -f "$db" "$db"-*
  cp "$cache" "$db"
  note db_bytes "$(stat -c %s "$db")"
fi

# --- messenger ------------------------------------------------------------------------------
port=$(free_port)
serve_args=(serve --quiet --host 127.0.0.1 --port "$port")
if [ "$store" = cassandra ]; then serve_args+=(--store cassandra); else serve_args+=(--db "$db"); fi
[ -z "$server_threads" ] || serve_args+=(--threads "$server_threads")
note command "$bin ${serve_args[*]}"
"$bin" "${serve_args[@]}" 2>"$dir/logs/server.log" &
server=$!
pids+=("$server")
wait_http "http://127.0.0.1:$port/health" "$server"
for i in 1 2 3 4 5; do curl -sf -o /dev/null "http://127.0.0.1:$port/api/messages/conversation/$i?limit=20" || true; done
note rss_idle_kb "$(rss_kb "$server")"

# authcmp: the msgs reads against a second messenger with authentication on (HS256, every
# request with a participant's bearer token, one token per user) on its own copy of the
# database, compared with the first one (auth off) in the same run.
jwt_secret=bench-secret-$$-of-at-least-32-bytes
auth_port=""
case " $scenarios " in
  *" authcmp "*)
    auth_db="$dir/bench-auth.db"
    rm -f "$auth_db" "$auth_db"-*
    cp "$cache" "$auth_db"
    auth_port=$(free_port)
    auth_args=(serve --quiet --host 127.0.0.1 --port "$auth_port" --db "$auth_db")
    [ -z "$server_threads" ] || auth_args+=(--threads "$server_threads")
    MESSENGER_JWT_SECRET=$jwt_secret "$bin" "${auth_args[@]}" 2>"$dir/logs/server-auth.log" &
    auth_server=$!
    pids+=("$auth_server")
    wait_http "http://127.0.0.1:$auth_port/health" "$auth_server"
    ;;
esac

log "preparing scenarios (walking the long conversation for real cursors)"
/usr/bin/python3 bench/prepare.py --port "$port" --out "$dir" --users "$users" \
  --conversations "$conversations" --store "$store" ${auth_port:+--jwt-secret "$jwt_secret"} >"$dir/info.json"

# CPU accounting around each measured run, so that the report can show the server's CPU
# time per request and how much of the machine other processes took meanwhile.
ticks() { # CPU ticks of the processes with these pids
  local pid files=()
  for pid in "$@"; do files+=("/proc/$pid/stat"); done
  awk '{ t += $14 + $15 } END { print t }' "${files[@]}"
}
busy_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }
uptime_s() { cut -d' ' -f1 /proc/uptime; }
# Rows in the messages table, read beside the running server (the sqlite3 shell, or the Python
# driver for Cassandra): checks that the sends wrk saw acknowledged were stored.
count_messages() {
  if [ "$store" = cassandra ]; then
    /usr/bin/python3 - "$CASSANDRA_KEYSPACE" <<'PY'
import os, sys
from cassandra.cluster import Cluster
hosts = [p.strip().rsplit(":", 1)[0] for p in os.environ["CASSANDRA_CONTACT_POINTS"].split(",") if p.strip()]
cluster = Cluster(hosts, protocol_version=4)
session = cluster.connect()
# 64 token ranges: each count stays far below the server's range_request_timeout
q = session.prepare("SELECT count(*) FROM %s.messages_by_conversation"
                    " WHERE token(conversation_id, bucket) > ? AND token(conversation_id, bucket) <= ?" % sys.argv[1])
lo, step, total = -2**63, 2**64 // 64, 0
for i in range(64):
    hi = 2**63 - 1 if i == 63 else lo + step
    total += session.execute(q, (lo, hi), timeout=120).one()[0]
    lo = hi
print(total)
cluster.shutdown()
PY
  else
    sqlite3 "$db" 'SELECT count(*) FROM messages'
  fi
}

run_wrk() { # target(app|static) scenario port duration result-file; server pids in server_pids
  local target=$1 scenario=$2 url="http://127.0.0.1:$3" gets posts="" pct=0
  local p="$dir/paths" log="$dir/logs/$1-$2.txt"
  case "$scenario" in
    send) gets=""; posts="$p/send.$target"; pct=100 ;;
    mix) gets="$p/msgs.$target"; posts="$p/send.$target"; pct=10 ;;
    *) gets="$p/$scenario.$target" ;;
  esac
  local s0 b0 t0 wrk_cpu TIMEFORMAT='%U %S'
  s0=$(ticks "${server_pids[@]}") b0=$(busy_ticks) t0=$(uptime_s)
  if ! wrk_cpu=$({ time BENCH_GET_PATHS=$gets BENCH_POST_PATHS=$posts BENCH_WRITE_PCT=$pct \
    BENCH_USERS=$users BENCH_RESULT=$5 BENCH_LABEL="$target $scenario" \
    wrk -t"$wrk_threads" -c"$connections" -d"$4" --latency -s bench/load.lua "$url" >"$log" 2>&1; } 2>&1); then
    cat "$log" >&2
    return 1
  fi
  [ "$5" != /dev/null ] || return 0
  awk -v label="$target $scenario" -v s="$(($(ticks "${server_pids[@]}") - s0))" -v b="$(($(busy_ticks) - b0))" \
    -v t0="$t0" -v t1="$(uptime_s)" -v w="$wrk_cpu" -v hz="$(getconf CLK_TCK)" 'BEGIN {
      split(w, c, " ")
      printf "{\"label\": \"%s\", \"server_s\": %.2f, \"wrk_s\": %.2f, \"busy_s\": %.2f, \"wall_s\": %.2f}\n",
        label, s / hz, c[1] + c[2], b / hz, t1 - t0 }' >>"$dir/cpu.jsonl"
}

# --- nginx ----------------------------------------------------------------------------------
nport=$(free_port)
user_line=""
[ "$(id -u)" -ne 0 ] || user_line="user root;"
abs=$(realpath "$dir")
sed -e "s|@USER_LINE@|$user_line|" -e "s|@DIR@|$abs|g" -e "s|@ROOT@|$abs/static|" \
  -e "s|@PORT@|$nport|" bench/nginx.conf.in >"$dir/nginx.conf"
nginx -p "$abs" -c "$abs/nginx.conf" -e "$abs/nginx-error.log" &
ng=$!
pids+=("$ng")
wait_http "http://127.0.0.1:$nport/static/msgs/0.json" "$ng"
mapfile -t nginx_pids < <(echo "$ng"; pgrep -P "$ng")
note nginx_version "$(nginx -v 2>&1 | sed 's/.*: //')"

# --- the runs: each scenario against messenger, then at once against nginx, so that both see
# the same conditions on a machine whose background load may drift -----------------------------
messenger_pids=("$server")
if [ "$store" = cassandra ]; then # the database's CPU counts as the server's (SQLite's is in-process)
  for f in "${CASSANDRA_RUN:-/nonexistent}"/node*/pid; do [ -f "$f" ] && messenger_pids+=("$(cat "$f")"); done
  note cassandra_pids_counted "$((${#messenger_pids[@]} - 1))"
fi
note store "$store"
bench_pair() { # scenario duration result-file
  if [ "$1" = authcmp ]; then # auth off, on, on, off: both see the same drift
    local round
    for round in off on on off; do
      if [ "$round" = off ]; then
        server_pids=("${messenger_pids[@]}")
        run_wrk app authcmp "$port" "$2" "$3"
      else
        server_pids=("$auth_server")
        run_wrk auth authcmp "$auth_port" "$2" "$3"
      fi
    done
    return
  fi
  server_pids=("${messenger_pids[@]}")
  run_wrk app "$1" "$port" "$2" "$3"
  server_pids=("${nginx_pids[@]}")
  run_wrk static "$1" "$nport" "$2" "$3"
}

log "warm-up $warmup each"
bench_pair msgs "$warmup" /dev/null
stored=0
for round in $(seq "$rounds"); do
  for s in $scenarios; do
    log "round $round/$rounds: $s ($duration each)"
    [ "$s" != send ] || before=$(count_messages)
    bench_pair "$s" "$duration" "$results"
    [ "$s" != send ] || stored=$((stored + $(count_messages) - before))
  done
done
note sends_stored "$stored"
note rounds "$rounds"

note rss_load_kb "$(rss_kb "$server")"
note hwm_kb "$(awk '/^VmHWM:/ {print $2}' "/proc/$server/status")"
t0=$(date +%s.%N)
kill -TERM "$server"
status=0
wait "$server" || status=$?
note shutdown_s "$(elapsed "$t0" "$(date +%s.%N)")"
note shutdown_status "$status"
kill -TERM "$ng"
wait "$ng" || true
if [ -n "$auth_port" ]; then
  kill -TERM "$auth_server"
  wait "$auth_server" || true
fi
pids=()

note wrk "wrk -t$wrk_threads -c$connections -d$duration --latency"
/usr/bin/python3 bench/report.py "$dir" | tee "$dir/results.md"
