#!/usr/bin/env bash
# Compiles every non-test C++ source with clang's thread-safety analysis as
# errors (-Wthread-safety -Werror), so that the lock annotations
# (ABSL_GUARDED_BY, ABSL_EXCLUSIVE_LOCKS_REQUIRED, ...) are contracts a
# machine checks, not comments. The build itself uses g++, which ignores
# them.
#
#   tools/check_thread_safety.sh       # after `bazel build //...`
#
# Needs the generated protobuf headers of a default build (bazel-bin/) and
# Debian's clang. Prints one line per file that fails, with clang's
# diagnostics, and a summary line; exits non-zero when any file fails.
set -euo pipefail
cd "$(dirname "$0")/.."

bin="$(bazel info bazel-bin 2>/dev/null)"
[ -d "$bin/proto/tether/v1" ] || {
  echo "thread-safety: no generated headers in $bin: run bazel build //... first" >&2
  exit 1
}

flags=(
  -std=c++17 -fsyntax-only
  -Wthread-safety -Wthread-safety-beta -Werror=thread-safety
  -Werror=thread-safety-beta
  -iquote . -iquote "$bin" -I "$bin/proto" -I proto
  $(pkg-config --cflags grpc++ protobuf)
)

# Every source that is not a test, a test's helper or generated.
mapfile -t files < <(git ls-files '*.cc' |
  grep -v -E '(^tests/|_test\.cc$|_test_[a-z_]+\.cc$|test_util\.cc$|test_harness\.cc$)')

log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT
printf '%s\n' "${files[@]}" |
  xargs -P "$(nproc)" -I{} sh -c \
    'clang++ "$@" "{}" >"'"$log"'/$(echo {} | tr / _).log" 2>&1 || echo {}' \
    sh "${flags[@]}" >"$log/failed" || true

failed=$(wc -l <"$log/failed")
if [ "$failed" -gt 0 ]; then
  while read -r file; do
    echo "thread-safety: $file"
    cat "$log/$(echo "$file" | tr / _).log"
  done <"$log/failed"
fi
echo "thread-safety: ${#files[@]} files, $failed failing"
[ "$failed" -eq 0 ]
