#!/usr/bin/env bash
# Runs libFuzzer targets: usage run.sh SECONDS BIN_DIR TARGET...
#
# For each target: first replays every past crasher in fuzz/regressions/<target>/ (each must
# now pass), then fuzzes for SECONDS starting from the seeds in fuzz/corpus/<target>/. New
# interesting inputs go to BIN_DIR/work/<target>/ (the committed seeds are never modified);
# a crasher is written to BIN_DIR/artifacts/<target>/ and fails the run. Prints one line per
# target: executions, executions per second, coverage, corpus size.
set -uo pipefail
seconds=$1
bin_dir=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
# Leaks and every sanitizer report are findings; libFuzzer turns them into a failing exit.
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:halt_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
failed=()
summary=()
for target in "$@"; do
  bin=$bin_dir/fuzz_$target
  work=$bin_dir/work/$target
  artifacts=$bin_dir/artifacts/$target
  log=$bin_dir/logs/$target.log
  mkdir -p "$work" "$artifacts" "$(dirname "$log")"
  opts=(-timeout=25 -rss_limit_mb=2048 -print_final_stats=1 "-artifact_prefix=$artifacts/")
  [ -f "$here/options/$target" ] && read -r -a extra <"$here/options/$target" && opts+=("${extra[@]}")

  regressions=()
  [ -d "$here/regressions/$target" ] && mapfile -t regressions < <(find "$here/regressions/$target" -type f | sort)
  if [ "${#regressions[@]}" -gt 0 ]; then
    if ! "$bin" "${opts[@]}" "${regressions[@]}" >"$log" 2>&1; then
      echo "fuzz: $target: a regression input fails again:" >&2
      tail -40 "$log" >&2
      failed+=("$target")
      continue
    fi
  fi

  if ! "$bin" "${opts[@]}" -max_total_time="$seconds" "$work" "$here/corpus/$target" >"$log" 2>&1; then
    echo "fuzz: $target FAILED; crasher in $artifacts/ (log: $log):" >&2
    tail -60 "$log" >&2
    failed+=("$target")
    continue
  fi
  stat() { sed -n "s/^stat::$1: *//p" "$log" | tail -1; }
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1)
  corpus=$(grep -oE 'corp: [0-9]+/[0-9]+[a-zA-Z]*' "$log" | tail -1)
  summary+=("$(printf '%-14s %10s runs %8s exec/s  %s  %s  %d regressions replayed' "$target" \
    "$(stat number_of_executed_units)" "$(stat average_exec_per_sec)" "$cov" "$corpus" "${#regressions[@]}")")
done
printf 'fuzz: %s\n' "${summary[@]}"
if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: all ${#@} targets ran ${seconds} s each without a finding"
