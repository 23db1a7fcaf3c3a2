#!/usr/bin/env bash
# Fails, listing the files, when any tracked C++ file differs from
# clang-format's output under the root .clang-format (Google style).
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files '*.cc' '*.h')
bad=()
for file in "${files[@]}"; do
  clang-format --style=file --dry-run -Werror "$file" >/dev/null 2>&1 ||
    bad+=("$file")
done
if [ ${#bad[@]} -gt 0 ]; then
  echo "format: ${#bad[@]} of ${#files[@]} files need clang-format -i:" >&2
  printf '  %s\n' "${bad[@]}" >&2
  exit 1
fi
echo "format: ${#files[@]} files clean"
