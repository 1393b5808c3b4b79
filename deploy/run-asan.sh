#!/usr/bin/env bash
# The unit and integration suites under AddressSanitizer + UndefinedBehaviorSanitizer (the
# `asan` preset, build-asan/). Part of the README test command; fails on any report.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake --preset asan >/dev/null
cmake --build --preset asan -j "$(nproc)" \
  --target topup_unit_tests topup_integration_tests topupd topup_supplier_sim
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:halt_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
ctest --preset asan -L 'unit|integration' -j 2 --timeout 600
