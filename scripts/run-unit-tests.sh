#!/usr/bin/env bash
# Runs each cmocka unit-test binary given as an argument; fails if any fails or if a
# sanitizer reports anything. Prints the plain closing line 'N passed, N failed'.
set -uo pipefail
passed=0
failed=0
for bin in "$@"; do
  log=$(mktemp)
  if "$bin" >"$log" 2>&1 && ! grep -qE 'ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:' "$log"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "--- FAILED: $bin" >&2
    cat "$log" >&2
  fi
  rm -f "$log"
done
echo "unit: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
