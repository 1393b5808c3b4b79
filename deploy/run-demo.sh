#!/usr/bin/env bash
# Sets everything up on a fresh Debian machine and runs topupd on a local default: a local
# redis-server it starts itself (AOF on, data in var/demo/), the demo merchant 1001 and the
# `sim` channel (deploy/topupd.demo.json). It credits the merchant, pushes a few signed orders,
# prints their query results, then keeps serving on http://127.0.0.1:8080 until Ctrl-C.
#   --no-wait   stop everything after showing the results (for scripted checks)
set -euo pipefail
cd "$(dirname "$0")/.."
wait_after=1
[ "${1:-}" = "--no-wait" ] && wait_after=0

./deploy/install-deps.sh
# Only what the demo runs (demo-client.sh is curl + openssl): the test suites and benchmarks are
# most of a full build and ./deploy/run-tests.sh builds them later in the same build/ tree.
./deploy/build.sh topupd

config=deploy/topupd.demo.json
redis_port=6399
data=var/demo
mkdir -p "$data"
client=./deploy/demo-client.sh

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

if ! redis-cli -p "$redis_port" ping >/dev/null 2>&1; then
  redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$(pwd)/$data" --appendonly yes \
    --appendfsync everysec --save "" --daemonize no >"$data/redis.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
fi
echo "redis-server on 127.0.0.1:$redis_port (data in $data/)"

build/bin/topupd --check-config "$config"
build/bin/topupd --config "$config" >"$data/topupd.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -sf http://127.0.0.1:8080/healthz >/dev/null && break; sleep 0.1; done
echo "topupd on http://127.0.0.1:8080 (log in $data/topupd.log)"

echo; echo "== credit the demo merchant 1001 with 1000.00 yuan (ref demo-credit-1, applied once)"
$client credit 1000.00 demo-credit-1
echo; echo "== mobileInfo 13800138000"
$client info 13800138000
numbers=()
for order in "13800138000 50" "18612345678 100" "13312345678 30"; do
  set -- $order
  echo; echo "== pushOrder mobile=$1 money=$2"
  answer=$($client push "$1" "$2")
  echo "$answer"
  numbers+=("$(sed -n 's/.*"order_number":"\([^"]*\)".*/\1/p' <<<"$answer")")
done
sleep 1
for n in "${numbers[@]}"; do
  [ -n "$n" ] || continue
  echo; echo "== query $n"
  $client query "$n"
done
echo; echo "== balance"
$client balance

if ((wait_after)); then
  echo; echo "topupd keeps serving on http://127.0.0.1:8080; try deploy/demo-client.sh. Ctrl-C stops it."
  wait "${pids[-1]}"
fi
