#!/usr/bin/env bash
# Configures and builds with the `default` preset: the server lands at build/bin/topupd.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake --preset default >/dev/null
cmake --build --preset default -j "$(nproc)"
