#!/bin/sh
# `bazel run //bench:summary`: runs summary.py under Debian's /usr/bin/python3
# (the interpreter the project's Python packages are installed for), not
# whatever `python3` comes first on PATH. summary.py finds the benchmark
# binaries under RUNFILES_DIR.
set -eu
if [ -z "${RUNFILES_DIR:-}" ]; then
  RUNFILES_DIR="$0.runfiles"
  export RUNFILES_DIR
fi
exec /usr/bin/python3 "$RUNFILES_DIR/tether/bench/summary.py" "$@"
