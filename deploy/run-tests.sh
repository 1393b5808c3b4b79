#!/usr/bin/env bash
# The whole test suite on a fresh Debian machine: dependencies, build, then every CTest label
# (unit, integration, e2e, fault, sim: its 2-minute random run included), then each libFuzzer
# target for 20 s (deploy/run-fuzz.sh, its own clang tree), then the unit and integration suites
# under ASan + UBSan (deploy/run-asan.sh).
# The console's browser test drives Debian's Chromium with playwright-core from npm
# (deploy/install-test-drivers.sh).
# Integration and e2e tests start their own redis-server on free loopback ports;
# nothing needs to be running beforehand.
set -euo pipefail
cd "$(dirname "$0")/.."
./deploy/install-deps.sh --for-tests
./deploy/install-test-drivers.sh
./deploy/build.sh
# Tests that start servers spread their ports; two jobs keep a 2-core machine responsive.
ctest --preset default -j 2 --timeout 600 "$@"
./deploy/run-fuzz.sh 20
./deploy/run-asan.sh
