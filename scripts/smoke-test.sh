#!/usr/bin/env bash
# Black-box smoke test of a running messenger: the same script checks the local binary
# (make smoke-test), the container image (CI) and the kind deployment (CD).
#   scripts/smoke-test.sh [BASE_URL]      default http://127.0.0.1:8000
# Waits up to SMOKE_WAIT seconds (default 60) for GET /health, then checks GET /docs,
# GET /chat (the web client is installed), GET /ready, sends a message and reads it back. Exits non-zero on the first failure.
set -euo pipefail
base=${1:-http://127.0.0.1:8000}
base=${base%/}
wait_s=${SMOKE_WAIT:-60}
py=python3
[ -x /usr/bin/python3 ] && py=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fail() {
  echo "smoke-test: FAIL: $*" >&2
  exit 1
}

# request METHOD PATH [JSON]: sets $code, body in $tmp/body.
request() {
  local args=(-sS -o "$tmp/body" -w '%{http_code}' --max-time 10 -X "$1")
  if [ $# -ge 3 ]; then
    args+=(-H 'Content-Type: application/json' --data-binary "$3")
  fi
  code=$(curl "${args[@]}" "$base$2" 2>"$tmp/curl.err") || code=000
}

# json EXPR: evaluates a Python expression over the last body bound to `j`.
json() {
  "$py" -c 'import json, sys; j = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$tmp/body" "$1"
}

deadline=$((SECONDS + wait_s))
until request GET /health && [ "$code" = 200 ]; do
  [ "$SECONDS" -lt "$deadline" ] || fail "GET /health did not answer 200 within ${wait_s}s (last: $code $(cat "$tmp/curl.err"))"
  sleep 1
done
[ "$(json 'j["status"]')" = ok ] || fail "GET /health body: $(cat "$tmp/body")"

request GET /docs
[ "$code" = 200 ] || fail "GET /docs: $code"
grep -qi '<html' "$tmp/body" || fail "GET /docs is not an HTML page"

request GET /chat
[ "$code" = 200 ] || fail "GET /chat: $code $(cat "$tmp/body")"
grep -q '/chat/chat.js' "$tmp/body" || fail "GET /chat is not the chat client"
request GET /chat/chat.js
[ "$code" = 200 ] || fail "GET /chat/chat.js: $code"

request GET /ready
[ "$code" = 200 ] || fail "GET /ready: $code $(cat "$tmp/body")"

# Fresh users each run, so a rerun against the same store starts a new conversation.
sender=$(((RANDOM << 15 | RANDOM) + 1000000))
receiver=$((sender + 1))
content="smoke test $sender $(date -u +%Y-%m-%dT%H:%M:%SZ)"
request POST /api/messages/ "{\"sender_id\": $sender, \"receiver_id\": $receiver, \"content\": \"$content\"}"
[ "$code" = 201 ] || fail "POST /api/messages/: $code $(cat "$tmp/body")"
id=$(json 'j["id"]')
cid=$(json 'j["conversation_id"]')
[ "$(json 'j["content"]')" = "$content" ] || fail "POST echoed other content: $(cat "$tmp/body")"

request GET "/api/messages/conversation/$cid?limit=5"
[ "$code" = 200 ] || fail "GET /api/messages/conversation/$cid: $code"
[ "$(json 'j["total"]')" = 1 ] || fail "conversation $cid total: $(cat "$tmp/body")"
[ "$(json 'j["data"][0]["id"]')" = "$id" ] || fail "message $id not read back: $(cat "$tmp/body")"
[ "$(json 'j["data"][0]["content"]')" = "$content" ] || fail "content read back differs"

request GET "/api/conversations/user/$receiver"
[ "$code" = 200 ] || fail "GET /api/conversations/user/$receiver: $code"
[ "$(json 'j["data"][0]["id"]')" = "$cid" ] || fail "receiver does not see conversation $cid"

echo "smoke-test: $base ok (message $id in conversation $cid)"
