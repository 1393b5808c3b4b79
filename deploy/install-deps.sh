#!/usr/bin/env bash
# Installs every Debian package topupd needs to build, benchmark and run; with --for-tests also
# what only the test suite needs (fuzzing, the browser, the load balancer, promtool).
# Idempotent and non-interactive: a second run installs nothing. Run as root.
set -euo pipefail
for_tests=0
case "${1:-}" in
  --for-tests) for_tests=1 ;;
  "") ;;
  *) echo "install-deps: unknown option $1 (only --for-tests)" >&2; exit 2 ;;
esac

packages=(
  g++ cmake ninja-build pkg-config git ccache # toolchain (ccache: build trees share objects)
  libboost1.81-dev libboost-json1.81-dev      # Asio, Beast, Boost.JSON (answer envelopes)
  libsimdjson-dev                             # JSON parsing (config, supplier answers)
  libhiredis-dev redis-server                 # Redis client and the server tests run
  libjemalloc-dev                             # topupd's allocator (README "Dependencies")
  libspdlog-dev libssl-dev libcli11-dev       # logging, MD5/HMAC/TLS, command line
  zlib1g-dev                                  # gzip for the daily statement files
  libgtest-dev libgmock-dev libbenchmark-dev  # tests and micro-benchmarks
  curl openssl                                # the demo client (deploy/demo-client.sh)
  haproxy                                     # the load balancer of deploy/cluster (scale-out) and its test
)
test_packages=(
  clang libclang-rt-14-dev                    # fuzzing: clang 14 and libFuzzer's runtime (deploy/run-fuzz.sh)
  chromium fonts-noto-cjk                     # the console's browser test (headless), Chinese legible in its screenshots
  prometheus                                  # promtool: checks and unit-tests deploy/monitoring's alert rules
)
((for_tests)) && packages+=("${test_packages[@]}")

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Installed here for promtool only: the Prometheus server the package enables is not wanted.
if [[ " ${missing[*]} " == *" prometheus "* ]] && command -v systemctl >/dev/null &&
  [ -d /run/systemd/system ]; then
  $SUDO systemctl disable --now prometheus >/dev/null 2>&1 || true
fi
echo "install-deps: done"
