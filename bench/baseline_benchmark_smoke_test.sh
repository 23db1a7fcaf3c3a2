#!/bin/sh
# Keeps the baselines from rotting: runs every benchmark in the binary for a
# moment and checks it exits 0, reported both figures and no error.
# Usage: baseline_benchmark_smoke_test.sh <path of baseline_benchmark>
set -u
binary=$1
out="${TEST_TMPDIR:-/tmp}/baseline_benchmark.out"
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
for name in BM_RawGrpcPingPong BM_RawGrpcStream; do
  if ! grep -q "^$name/" "$out"; then
    echo "FAIL: $binary did not report $name" >&2
    exit 1
  fi
done
for counter in rtt_us= msgs_per_s=; do
  if ! grep -q "$counter" "$out"; then
    echo "FAIL: $binary did not report the counter ${counter%=}" >&2
    exit 1
  fi
done
echo "PASS"
