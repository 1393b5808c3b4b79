#!/usr/bin/env bash
# Configures and builds with the `default` preset: the server lands at build/bin/topupd.
#   deploy/build.sh              everything: topupd, the test suites, the benchmarks
#   deploy/build.sh TARGET...    only those targets and what they link, e.g. `topupd`
# The configuration is the same either way, so a later full build in build/ reuses every object
# a targeted one compiled (no cache option flips, nothing compiled twice).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake --preset default >/dev/null
targets=()
(($#)) && targets=(--target "$@")
cmake --build --preset default -j "$(nproc)" "${targets[@]}"
