#!/usr/bin/env bash
# README command 1: set up a fresh Debian 12 machine and run the main job.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
exec bazel run //examples:quickstart
