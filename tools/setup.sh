#!/usr/bin/env bash
# Installs every Debian 12 package Tether needs to build, test and run.
#
# Idempotent: when everything is present it changes nothing and touches no
# network; otherwise it runs `apt-get update` once and installs only what is
# missing. Needs root (or sudo) only in that case.
set -euo pipefail

PACKAGES=(
  bazel-bootstrap          # Bazel 4.2.3, offline-capable
  g++
  pkg-config               # //bazel:system_libs.bzl reads library flags
  libgrpc++-dev            # gRPC 1.51 C++ (includes reflection)
  protobuf-compiler        # protoc
  protobuf-compiler-grpc   # grpc_cpp_plugin
  libprotobuf-dev
  libabsl-dev              # abseil 20220623
  libgtest-dev
  libbenchmark-dev
  clang-format             # the format check in tools/test.sh
  git
  python3                  # /usr/bin/python3 for interop tests
  python3-grpcio
  python3-grpc-tools       # generates Python stubs from proto/
  python3-protobuf
  grpc-proto               # health and reflection .proto files
  tmux                     # debug-mode tests drive a real terminal
  gdb                      # the debug prompt's `gdb` command
)

missing=()
for package in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null |
      grep -q 'install ok installed'; then
    missing+=("$package")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PACKAGES[@]} packages present"
  exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || {
    echo "setup: need root to install: ${missing[*]}" >&2
    exit 1
  }
  sudo=(sudo)
fi

echo "setup: installing ${missing[*]}"
"${sudo[@]}" apt-get update -q
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q \
  --no-install-recommends "${missing[@]}" </dev/null
