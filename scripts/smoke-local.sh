#!/usr/bin/env bash
# make smoke-test: runs scripts/smoke-test.sh (the check CI runs against the container and
# CD against kind) against a local server on a free 127.0.0.1 port with a throwaway SQLite
# database, then stops it with SIGTERM and requires a clean exit 0, as `docker stop` does.
#   scripts/smoke-local.sh MESSENGER_BIN [DOCS_DIR [CHAT_DIR]]
set -euo pipefail
bin=$1
docs=${2:-}
chat=${3:-$(cd "$(dirname "$0")/.." && pwd)/web/chat}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
args=(serve --host 127.0.0.1 --port "$port" --db "$tmp/messenger.db" --quiet)
[ -n "$docs" ] && args+=(--docs-dir "$docs")
args+=(--chat-dir "$chat")
"$bin" "${args[@]}" 2>"$tmp/server.log" &
pid=$!

status=0
SMOKE_WAIT=${SMOKE_WAIT:-20} bash "$here/smoke-test.sh" "http://127.0.0.1:$port" || status=$?
if [ "$status" -eq 0 ]; then
  kill -TERM "$pid"
  code=0
  wait "$pid" || code=$?
  pid=
  if [ "$code" -ne 0 ]; then
    echo "smoke-local: server exited $code after SIGTERM (want 0)" >&2
    status=1
  fi
fi
if [ "$status" -ne 0 ]; then
  echo "--- server log" >&2
  tail -n 50 "$tmp/server.log" >&2
  echo "smoke: 0 passed, 1 failed"
  exit 1
fi
echo "smoke: 1 passed, 0 failed"
