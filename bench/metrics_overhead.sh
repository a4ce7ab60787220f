#!/usr/bin/env bash
# `make bench-metrics` (also run by `make bench`): what metrics cost on the read path. Two
# release servers on copies of one seeded SQLite database, one with metrics on (and scraped
# once a second, as a Prometheus would at a short interval) and one with MESSENGER_METRICS=0;
# wrk reads a page of 20 messages of a random conversation from each in turn, alternating
# which goes first, BENCH_METRICS_ROUNDS times. Prints the median requests/s, p99 and server
# CPU time per request (utime + stime of the server process over the run: the measure that
# other load on the machine disturbs least) of both, and the ratios; exits 1 when metrics cost
# more than BENCH_METRICS_MAX_LOSS percent of the throughput.
#   BENCH_METRICS_ROUNDS=6 BENCH_METRICS_DURATION=5s BENCH_CONNECTIONS=64 BENCH_WRK_THREADS=2
#   BENCH_METRICS_MAX_LOSS=3 BENCH_BIN=build/release/messenger
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${BENCH_METRICS_ROUNDS:-6}
duration=${BENCH_METRICS_DURATION:-5s}
connections=${BENCH_CONNECTIONS:-64}
wrk_threads=${BENCH_WRK_THREADS:-2}
max_loss=${BENCH_METRICS_MAX_LOSS:-3}
bin=${BENCH_BIN:-build/release/messenger}
dir=build/bench/metrics
for tool in wrk curl "$bin"; do
  command -v "$tool" >/dev/null || { echo "bench-metrics: $tool not found (run make deps build)" >&2; exit 1; }
done
rm -rf "$dir"
mkdir -p "$dir"
log() { echo "bench-metrics: $*" >&2; }
free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

log "seeding 1000 conversations"
"$bin" seed --db "$dir/seed.db" --seed 7 --users 500 --conversations 1000 --min-messages 20 --messages 60 >&2
cp "$dir/seed.db" "$dir/on.db"
cp "$dir/seed.db" "$dir/off.db"
for i in $(seq 1000); do echo "/api/messages/conversation/$i?limit=20"; done >"$dir/paths"

start() { # name metrics(0|1): starts a server, sets $port
  port=$(free_port)
  MESSENGER_METRICS=$2 "$bin" serve --quiet --host 127.0.0.1 --port "$port" --db "$dir/$1.db" \
    >/dev/null 2>"$dir/$1.log" &
  pids+=("$!")
  for _ in $(seq 300); do
    curl -sf -o /dev/null "http://127.0.0.1:$port/health" && return 0
    sleep 0.1
  done
  log "$1 did not start"
  return 1
}
start on 1
on_port=$port
on_pid=${pids[-1]}
start off 0
off_port=$port
off_pid=${pids[-1]}
exposition=$(curl -sf "http://127.0.0.1:$on_port/metrics")
[[ $exposition == *$'\nmessenger_build_info{'* ]] || { log "metrics missing"; exit 1; }
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$off_port/metrics")" = 404 ] || { log "off serves metrics"; exit 1; }
# a scraper, once a second, on the server with metrics
(while sleep 1; do curl -sf -o /dev/null "http://127.0.0.1:$on_port/metrics" || true; done) >/dev/null 2>&1 &
pids+=("$!")

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
measure() { # label port duration server-pid
  local t0
  t0=$(cpu_ticks "$4")
  BENCH_GET_PATHS=$dir/paths BENCH_RESULT=$dir/results.jsonl BENCH_LABEL=$1 \
    wrk -t"$wrk_threads" -c"$connections" -d"$3" --latency -s bench/load.lua "http://127.0.0.1:$2" >"$dir/wrk-$1.txt"
  echo "$1 $(($(cpu_ticks "$4") - t0))" >>"$dir/cpu.txt"
}
measure on "$on_port" 2s "$on_pid" && measure off "$off_port" 2s "$off_pid" # warm-up
rm -f "$dir/results.jsonl" "$dir/cpu.txt"
for r in $(seq "$rounds"); do
  log "round $r/$rounds ($duration each)"
  if [ $((r % 2)) -eq 1 ]; then
    measure on "$on_port" "$duration" "$on_pid"
    measure off "$off_port" "$duration" "$off_pid"
  else
    measure off "$off_port" "$duration" "$off_pid"
    measure on "$on_port" "$duration" "$on_pid"
  fi
done
/usr/bin/python3 - "$dir" "$max_loss" "$rounds" "$duration" "$connections" "$(getconf CLK_TCK)" <<'PY' | tee "$dir/results.md"
import json, os, statistics, sys
d, max_loss, rounds, duration, conns, hz = sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6])
runs = {"on": [], "off": []}
cpu = [line.split() for line in open(os.path.join(d, "cpu.txt"))]
for line, (label, ticks) in zip(open(os.path.join(d, "results.jsonl")), cpu):
    r = json.loads(line)
    assert r["label"] == label
    errors = sum(r["errors"].values())
    assert errors == 0, "errors in run: %r" % r
    runs[label].append((r["requests"] / (r["duration_us"] / 1e6), r["p99_us"], int(ticks) / hz * 1e6 / r["requests"]))
med = {k: [statistics.median(v[i] for v in vs) for i in range(3)] for k, vs in runs.items()}
print("| metrics | requests/s | p99 | server CPU per request |")
print("|---|---:|---:|---:|")
for k in ("on", "off"):
    print("| %s | %.0f | %.2f ms | %.1f us |" % (k, med[k][0], med[k][1] / 1000, med[k][2]))
print("| on / off | %.3f | | %.3f |" % (med["on"][0] / med["off"][0], med["on"][2] / med["off"][2]))
print("\nmedians of %s runs of %s each, %s connections; load average %s" % (
    rounds, duration, conns, open("/proc/loadavg").read().split()[0]))
loss = (1 - med["on"][0] / med["off"][0]) * 100
print("metrics cost %.1f%% of the read throughput and %.1f%% more CPU per request (limit %.0f%%)" % (
    loss, (med["on"][2] / med["off"][2] - 1) * 100, max_loss))
sys.exit(1 if loss > max_loss else 0)
PY
