#!/usr/bin/env bash
# Remakes the README's screenshots, docs/img/chat.png and docs/img/docs.png: headless chromium
# (tests/browser/readme-screenshots.js; run `make browser-deps` first) against a local server
# on a free 127.0.0.1 port with a throwaway database holding a short demo chat (users 1..4).
#   scripts/readme-screenshots.sh [MESSENGER_BIN] [DOCS_DIR]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
bin=${1:-$root/build/release/messenger}
docs=${2:-$root/build/docs}
tmp=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    wait "$pid" || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
"$bin" serve --host 127.0.0.1 --port "$port" --db "$tmp/db" --docs-dir "$docs" --chat-dir "$root/web/chat" \
  --quiet 2>"$tmp/server.log" &
pid=$!
for _ in $(seq 100); do
  if curl -fs "$base/health" >/dev/null 2>&1; then break; fi
  sleep 0.1
done

send() {
  curl -fsS -XPOST "$base/api/messages/" -H 'Content-Type: application/json' \
    -d "{\"sender_id\": $1, \"receiver_id\": $2, \"content\": \"$3\"}" >/dev/null
}
send 4 1 "Are we still on for Friday?"
send 1 2 "Hi Sam! Did the build pass?"
send 2 1 "Yes, all green on the first try"
send 1 2 "Nice. Can you share the screenshots?"
send 2 1 "Uploading them as CI artifacts now"
send 1 2 "Perfect, thanks!"
send 3 1 "Lunch at noon?"
send 3 1 "I booked a table for four"
send 2 1 "One more thing: the preflight answers 204 now"

mkdir -p "$root/docs/img"
(cd "$root/tests/browser" && node readme-screenshots.js "$base" "$root/docs/img")
ls -l "$root/docs/img/chat.png" "$root/docs/img/docs.png"
