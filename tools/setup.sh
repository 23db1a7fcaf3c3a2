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
  libgrpc++-dev            # gRPC 1.51 C++ (includes reflection), with the
                           # static archives WORKSPACE links (grpc*, gpr, upb)
  libc-ares-dev            # libcares.a, which libgrpc_unsecure.a needs
  zlib1g-dev               # libz.a, for gRPC and protobuf
  protobuf-compiler        # protoc
  protobuf-compiler-grpc   # grpc_cpp_plugin
  libprotobuf-dev          # libprotobuf.a
  libabsl-dev              # abseil 20220623, libabsl_*.a
  libgtest-dev
  libbenchmark-dev
  clang-format             # the format check in tools/test.sh
  clang                    # its thread-safety analysis (tools/test.sh)
  git
  python3                  # /usr/bin/python3 for interop tests
  python3-grpcio
  python3-grpc-tools       # generates Python stubs from proto/
  python3-protobuf
  grpc-proto               # health and reflection .proto files
  iproute2                 # ip netns: the cross-host discovery test
  etcd-server              # etcd 3.4, the --registry=etcd:// backend (tests)
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

# etcd-server's maintainer scripts enable and start a system etcd on
# 127.0.0.1:2379 wherever the init system lets them. Tether's tests and
# benchmarks start their own etcd on free ports and need none; stop the one
# this run installed so it holds no ports or disk. An etcd that was already
# installed is left as it is.
if [[ " ${missing[*]} " == *" etcd-server "* ]]; then
  if [ -d /run/systemd/system ]; then
    "${sudo[@]}" systemctl disable --now etcd.service >/dev/null 2>&1 || true
  elif [ -x /etc/init.d/etcd ]; then
    "${sudo[@]}" /etc/init.d/etcd stop >/dev/null 2>&1 || true
    "${sudo[@]}" update-rc.d etcd disable >/dev/null 2>&1 || true
  fi
  echo "setup: etcd-server installed; its system service is left stopped"
fi
