#!/usr/bin/env bash
# Sets everything up on a fresh Debian machine and runs topupd on a local default: a local
# redis-server it starts itself (AOF on, data in var/demo/), the demo merchant 1001 and two `sim`
# channels (deploy/topupd.demo.json). It credits the merchant, pushes a few signed orders and
# prints their query results; then deploy/demo-trickle.sh keeps about two orders a second
# flowing (some fail over from sim1 to sim2, some are refunded, one is stuck for the exception
# queue), and it prints the operations console's URL (http://127.0.0.1:8080/admin/) with the
# admin token. It stays in the foreground: Ctrl-C stops the trickle, topupd and Redis.
#   --no-wait   stop everything after showing the results, no trickle (for scripted checks)
# Environment (for tests and CI; the defaults are the README's demo):
#   DEMO_SECONDS=N      stop everything by itself after N seconds of trickle
#   DEMO_SKIP_SETUP=1   skip install-deps.sh and build.sh (already set up and built)
#   TOPUPD=PATH         the binary (build/bin/topupd)
#   DEMO_PORT, DEMO_REDIS_PORT, DEMO_DIR   topupd's port (8080), Redis's (6399), the data
#                       directory (var/demo); other values run a copy of the config there
set -euo pipefail
cd "$(dirname "$0")/.."
wait_after=1
[ "${1:-}" = "--no-wait" ] && wait_after=0
demo_seconds=${DEMO_SECONDS:-}
topupd=${TOPUPD:-build/bin/topupd}
port=${DEMO_PORT:-8080}
redis_port=${DEMO_REDIS_PORT:-6399}
data=${DEMO_DIR:-var/demo}

if [ "${DEMO_SKIP_SETUP:-0}" != 1 ]; then
  ./deploy/install-deps.sh
  # Only what the demo runs (demo-client.sh is curl + openssl): the test suites and benchmarks
  # are most of a full build and ./deploy/run-tests.sh builds them later in the same build/ tree.
  ./deploy/build.sh topupd
fi

mkdir -p "$data"
config=deploy/topupd.demo.json
if [ "$port" != 8080 ] || [ "$redis_port" != 6399 ] || [ "$data" != var/demo ]; then
  sed -e "s|127\.0\.0\.1:8080|127.0.0.1:$port|g" -e "s|\"port\": 6399|\"port\": $redis_port|" \
    -e "s|var/demo/|$data/|" "$config" >"$data/topupd.json"
  config=$data/topupd.json
fi
url=http://127.0.0.1:$port
admin_token=$(sed -n 's/.*"admin": *{"token": *"\([^"]*\)".*/\1/p' "$config")
export TOPUP_URL=$url ADMIN_TOKEN=$admin_token
client=./deploy/demo-client.sh

# Stopped last started first, each waited for: topupd stops gracefully while Redis still serves.
pids=()
cleanup() {
  local i
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill "${pids[i]}" 2>/dev/null || true
    wait "${pids[i]}" 2>/dev/null || true
  done
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if ! redis-cli -p "$redis_port" ping >/dev/null 2>&1; then
  # In its own session, so that Ctrl-C in the terminal reaches topupd but not Redis, which
  # cleanup stops after topupd has finished with it.
  setsid redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$(realpath "$data")" \
    --appendonly yes --appendfsync everysec --save "" --daemonize no >"$data/redis.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
fi
echo "redis-server on 127.0.0.1:$redis_port (data in $data/)"

"$topupd" --check-config "$config"
"$topupd" --config "$config" >"$data/topupd.log" 2>&1 &
pids+=($!)
for _ in $(seq 150); do curl -sf "$url/readyz" >/dev/null && break; sleep 0.1; done
if ! curl -sf "$url/readyz" >/dev/null; then
  echo "topupd is not ready on $url; the end of $data/topupd.log:" >&2
  tail -n 20 "$data/topupd.log" >&2
  exit 1
fi
echo "topupd on $url (log in $data/topupd.log)"

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

((wait_after)) || exit 0

./deploy/demo-trickle.sh >"$data/trickle.log" 2>&1 &
pids+=($!)
echo
echo "== the demo is live"
echo "console: $url/admin/   (admin token: $admin_token)"
echo "orders:  about two a second from deploy/demo-trickle.sh (log: $data/trickle.log): most"
echo "         delivered by sim1, some failing over to sim2, some refunded, and the one for"
echo "         13999999999 held by sim1: in the exception queue after 10 s"
echo "by hand: deploy/demo-client.sh push 13800138000 50   (TOPUP_URL=$url)"
timer=
if [ -n "$demo_seconds" ]; then
  echo "stop:    everything stops by itself after ${demo_seconds} s (DEMO_SECONDS); Ctrl-C sooner"
  sleep "$demo_seconds" &
  timer=$!
else
  echo "stop:    Ctrl-C stops the trickle, topupd and Redis (the data stays in $data/)"
fi
wait -n $timer "${pids[@]}" || true
# The timer ran out: a normal end. Anything else that ended is a failure.
[ -n "$timer" ] && ! kill -0 "$timer" 2>/dev/null && exit 0
[ -z "$timer" ] || kill "$timer" 2>/dev/null || true
echo "run-demo: topupd, Redis or the trickle stopped on its own; see $data/" >&2
exit 1
