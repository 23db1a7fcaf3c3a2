#!/bin/sh
# Keeps a benchmark binary from rotting: runs every benchmark in it for a
# moment and checks it exits 0, reports each named benchmark and counter,
# and reports no error.
# Usage: benchmark_smoke_test.sh <binary> <benchmark>... -- <counter>...
set -u
binary=$1
shift
benchmarks=""
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
  benchmarks="$benchmarks $1"
  shift
done
[ $# -gt 0 ] && shift  # the "--"
out="${TEST_TMPDIR:-/tmp}/$(basename "$binary").out"
if ! "$binary" --benchmark_min_time=0.01 >"$out" 2>&1; then
  cat "$out"
  echo "FAIL: $binary exited non-zero" >&2
  exit 1
fi
cat "$out"
# Google Benchmark exits 0 even when a benchmark called SkipWithError.
if grep -q "ERROR OCCURRED" "$out"; then
  echo "FAIL: a benchmark reported an error" >&2
  exit 1
fi
for name in $benchmarks; do
  if ! grep -q "^$name/" "$out"; then
    echo "FAIL: $binary did not report $name" >&2
    exit 1
  fi
done
for counter in "$@"; do
  if ! grep -q "$counter=" "$out"; then
    echo "FAIL: $binary did not report the counter $counter" >&2
    exit 1
  fi
done
echo "PASS"
