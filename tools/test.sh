#!/usr/bin/env bash
# README command 2: set up a fresh Debian 12 machine and run every test:
# all Bazel tests in the default build and again under ASan+UBSan
# (--config=asan), plus the checks outside Bazel: clang-format, the
# layering of the dependency graph (tools/check_layers.py), and clang's
# thread-safety analysis of every non-test source
# (tools/check_thread_safety.sh). Ends with the line `N passed, N failed`
# and exits non-zero when anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."

tools/setup.sh </dev/null || { echo "0 passed, 1 failed"; exit 1; }

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

bazel query 'tests(//...)' >"$out/targets" 2>"$out/query.log" || {
  cat "$out/query.log" >&2
  echo "0 passed, 1 failed"
  exit 1
}

bazel test //... --keep_going \
  --build_event_json_file="$out/default.json"
bazel test //... --keep_going --config=asan \
  --build_event_json_file="$out/asan.json"

format=0
tools/check_format.sh || format=$?

layers=0
tools/check_layers.py || layers=$?

# Reads the generated headers of the default build above.
thread_safety=0
tools/check_thread_safety.sh || thread_safety=$?

tools/test_summary.py --targets "$out/targets" \
  --label default --label asan "$out/default.json" "$out/asan.json" \
  --extra "clang-format=$format" --extra "layers=$layers" \
  --extra "thread-safety=$thread_safety"
