#!/usr/bin/env bash
# Runs fuzz targets (tests/fuzz), each as one libFuzzer process for SECONDS, JOBS side by side:
#   tests/fuzz/run_fuzzers.sh BUILD SECONDS JOBS TARGET...
# Inputs grow BUILD/corpus/<target>/ (seeded by make_corpora.py), findings (crash-, leak-, oom-,
# timeout-, slow-unit- files: the input that did it) go to BUILD/findings/<target>/, emptied first,
# libFuzzer's output to BUILD/logs/<target>.log, and one table row per target to BUILD/summary.txt.
# Exits non-zero when any target found something or failed.
set -euo pipefail

build=$1 seconds=$2 jobs=$3
shift 3
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$build/logs" "$build/findings"

# One target: no allocation larger than 512 MiB (no input of these sizes justifies one: the largest
# seeds are tens of KiB and PNG's deflate expands at most ~1000-fold), 2 GiB in all (ASan's shadow
# memory included), 10 s for any one input.
run_one() {
  local target=$1 build=$2 seconds=$3 here=$4
  local findings="$build/findings/$target" log="$build/logs/$target.log"
  rm -rf "$findings"
  mkdir -p "$findings" "$build/corpus/$target"
  local args=(-max_total_time="$seconds" -rss_limit_mb=2048 -malloc_limit_mb=512 -timeout=10 -print_final_stats=1
              -artifact_prefix="$findings/")
  [ -f "$here/$target.dict" ] && args+=(-dict="$here/$target.dict")
  local rc=0
  "$build/tests/fuzz/fuzz_$target" "${args[@]}" "$build/corpus/$target" >"$log" 2>&1 || rc=$?
  echo "$rc" >"$build/logs/$target.rc"
}
export -f run_one

printf '%s\n' "$@" | xargs -P "$jobs" -I{} bash -c 'run_one "$@"' _ {} "$build" "$seconds" "$here"

summary="$build/summary.txt"
failed=0
{
  echo "| target | seconds | executions | coverage | findings |"
  echo "| --- | --- | --- | --- | --- |"
  for target in "$@"; do
    log="$build/logs/$target.log"
    rc=$(cat "$build/logs/$target.rc")
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    secs=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)
    cov=$(sed -n 's/.* cov: \([0-9]*\) .*/\1/p' "$log" | tail -1)
    found=$(find "$build/findings/$target" -type f | wc -l)
    [ "$rc" = 0 ] && [ "$found" = 0 ] || failed=1
    # A target that stopped early (rc ≠ 0) names its log rather than a duration.
    [ "$rc" = 0 ] || secs="stopped (rc $rc, logs/$target.log)"
    echo "| $target | ${secs:-?} | ${runs:-?} | ${cov:-?} | $found |"
  done
} >"$summary"
cat "$summary"
[ "$failed" = 0 ] || { echo "fuzzing found something: see $build/findings and $build/logs" >&2; exit 1; }
