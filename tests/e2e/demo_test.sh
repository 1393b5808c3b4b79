#!/usr/bin/env bash
# The README's demo, end to end and bounded (CTest `e2e.demo`, label e2e): deploy/run-demo.sh
# with its setup skipped (CTest runs after the build), its own free ports and a temporary data
# directory. While its trickle runs, the operator's view must show what the demo promises, from
# the real engine over the admin API:
#  - the console's URL and the admin token are printed;
#  - GET /admin/exceptions lists at least one order (the one held by sim1);
#  - at least one of its orders (the first ones it shows, then the trickle's) was refunded
#    (status 4);
#  - at least one was delivered (status 2) by sim2 after sim1 failed it (a failover).
# Then a Ctrl-C as a terminal sends it (SIGINT to the process group) must stop everything and
# leave both ports closed; and a second, short run on the same data must stop by itself after
# DEMO_SECONDS, exit 0 and leave the ports closed too. Whatever happens, the demo's process
# group and its Redis are stopped before this script exits (and if it is SIGKILLed, the demo's
# own DEMO_SECONDS still ends it). About 20 s on an idle machine.
#   demo_test.sh TOPUPD_BINARY
set -euo pipefail
topupd=${1:?usage: demo_test.sh TOPUPD_BINARY}
src=$(cd "$(dirname "$0")/../.." && pwd)
wait_max_s=75     # for the three outcomes; ~12 s on an idle machine
work=$(mktemp -d /tmp/topup-demo-test.XXXXXX)

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# Below the kernel's ephemeral range (32768+), where the C++ suites' ports come from.
pick_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 10000))
    [ "$p" != "${1:-}" ] && ! listening "$p" && { echo "$p"; return; }
  done
}
port=$(pick_port)
redis_port=$(pick_port "$port")

demo=
finish() {
  local rc=$?
  if [ -n "$demo" ] && kill -0 "$demo" 2>/dev/null; then
    kill -TERM "$demo" 2>/dev/null || true  # run-demo.sh stops its children in order
    for _ in $(seq 100); do kill -0 "$demo" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$demo" 2>/dev/null || true  # its process group, if it did not
  fi
  redis-cli -p "$redis_port" shutdown nosave >/dev/null 2>&1 || true  # Redis has its own session
  if ((rc != 0)); then
    echo "--- run-demo.sh output"; cat "$work/out.log" 2>/dev/null || true
    echo "--- trickle (last 20)"; tail -n 20 "$work/demo/trickle.log" 2>/dev/null || true
    echo "--- topupd log (last 30)"; tail -n 30 "$work/demo/topupd.log" 2>/dev/null || true
  fi
  rm -rf "$work"
  exit "$rc"
}
trap finish EXIT
trap 'exit 143' TERM
trap 'exit 130' INT
fail() { echo "FAIL: $*" >&2; exit 1; }

# run_demo SECONDS: starts run-demo.sh bounded to SECONDS of trickle, as from a terminal: setsid,
# so that it leads its own process group (which finish() can stop as a whole), and SIGINT back
# to its default (a script's background job starts with it ignored, and so could not trap it).
run_demo() {
  DEMO_SKIP_SETUP=1 DEMO_SECONDS=$1 TOPUPD=$topupd DEMO_PORT=$port DEMO_REDIS_PORT=$redis_port \
    DEMO_DIR="$work/demo" setsid env --default-signal=INT bash "$src/deploy/run-demo.sh" \
    >"$work/out.log" 2>&1 &
  demo=$!
}
# await_exit SECONDS RC: waits for run-demo.sh to end, fails unless it exits RC with both ports
# closed.
await_exit() {
  local deadline=$((SECONDS + $1)) rc
  while kill -0 "$demo" 2>/dev/null; do
    ((SECONDS < deadline)) || fail "run-demo.sh still running $1 s later"
    sleep 0.2
  done
  wait "$demo" && rc=0 || rc=$?
  demo=
  ((rc == $2)) || fail "run-demo.sh exited $rc, not $2"
  ! listening "$port" || fail "topupd's port $port is still open"
  ! listening "$redis_port" || fail "Redis's port $redis_port is still open"
}

start_s=$SECONDS
run_demo $((wait_max_s + 30))

url=http://127.0.0.1:$port
console_line=
for _ in $(seq 300); do
  console_line=$(grep -m1 '^console: ' "$work/out.log" || true)
  [ -n "$console_line" ] && break
  kill -0 "$demo" 2>/dev/null || fail "run-demo.sh exited before printing the console's URL"
  sleep 0.1
done
[ -n "$console_line" ] || fail "no console line within 30 s"
grep -q "^console: $url/admin/ " <<<"$console_line" || fail "console line: $console_line"
token=$(sed -n 's/.*(admin token: \([^)]*\)).*/\1/p' <<<"$console_line")
[ -n "$token" ] || fail "no admin token in: $console_line"
grep -q '^stop: ' "$work/out.log" || fail "no line saying how to stop it"

admin_get() { curl -sS --max-time 5 -H "Authorization: Bearer $token" "$url$1"; }

# Final orders are read once; the others again on the next round.
declare -A final=()
listed=0 refunded=0 failed_over=0
while ((listed == 0 || refunded == 0 || failed_over == 0)); do
  ((SECONDS - start_s < wait_max_s)) || break
  kill -0 "$demo" 2>/dev/null || break
  sleep 1
  exceptions=$(admin_get /admin/exceptions || true)
  grep -q '"list":\[{"order_number":"' <<<"$exceptions" && listed=1
  for n in $(sed -n 's/.*"order_number":"\([^"]*\)".*/\1/p' "$work/out.log") \
    $(sed -n 's/.* order_number=\([^ -][^ ]*\)$/\1/p' "$work/demo/trickle.log" 2>/dev/null); do
    [ -n "${final[$n]:-}" ] && continue
    order=$(admin_get "/admin/orders/$n" || true)
    case "$order" in
      *'"status":"4"'*) final[$n]=4; refunded=$((refunded + 1)) ;;
      *'"status":"2"'*)
        final[$n]=2
        # Delivered by the second channel it tried: sim1 failed it first.
        if grep -q '"channel":"sim2"' <<<"$order" && grep -q '"tried":"sim1,sim2"' <<<"$order"; then
          failed_over=$((failed_over + 1))
        fi ;;
    esac
  done
done
echo "after $((SECONDS - start_s)) s: ${#final[@]} orders final, $refunded refunded," \
  "$failed_over delivered by sim2 after sim1 failed them, exception queue listed: $listed"
((listed)) || fail "GET /admin/exceptions listed no order: $exceptions"
((refunded)) || fail "no order was refunded (status 4)"
((failed_over)) || fail "no order was delivered by sim2 after sim1 (a failover)"

# Ctrl-C in its terminal: the trickle, topupd and Redis all stop.
kill -INT -- "-$demo"
await_exit 20 130
echo "Ctrl-C stopped it after $((SECONDS - start_s)) s; ports closed"

# DEMO_SECONDS: it stops by itself (on the data of the first run, as a second demo would).
run_demo 2
await_exit 40 0
grep -q '^console: ' "$work/out.log" || fail "the second run printed no console line"
echo "a second run stopped by itself after DEMO_SECONDS; $((SECONDS - start_s)) s in all"
