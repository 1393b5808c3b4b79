#!/usr/bin/env bash
# How many orders a second topupd takes, at what latency (bench/README.md).
#
#   bench/run.sh            full run (about 8 minutes)
#   bench/run.sh --quick    shortened scenarios (under 2 minutes once built)
#
# Options: --threads N (topupd server.threads, default 1), --connections N (default 64),
#          --gen-threads N (load generator threads, default 1), --skip-build,
#          --record (full runs only: also copy the figures to the tracked bench/results/),
#          --only soak (the soak scenario alone, after ceiling + intake for its rate unless
#          --soak-rate N gives one; its figures only, no RESULT line),
#          --only replica (ceiling, intake, then intake with a replica confirming each batch:
#          redis.min_replicas_acked 1; the two side by side, no RESULT line).
#
# Builds the default preset (build/: Release, -O3, the tree the tests use), then for each
# scenario starts a fresh redis-server (AOF on, appendfsync everysec, or always for the extra
# intake run) and build/bin/topupd on free loopback ports (the full run's intake_tls scenario:
# with server.tls and a self-signed certificate made for the run), runs build/bin/topup-bench
# against them, and stops both. Prints a table; writes latest.json and latest.svg to
# $TOPUP_BENCH_OUT (default bench/out/, untracked), so a run leaves the checkout clean. The last
# line printed is the RESULT line.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin="$root/build/bin"
out="${TOPUP_BENCH_OUT:-$root/bench/out}"
recorded="$root/bench/results"  # tracked: the figures bench/README.md quotes, only on --record

quick=0
skip_build=0
record=0
topupd_threads=1
connections=64
gen_threads=1
only=""
soak_rate=""
while (($#)); do
  case "$1" in
    --quick) quick=1 ;;
    --skip-build) skip_build=1 ;;
    --record) record=1 ;;
    --threads) topupd_threads=$2; shift ;;
    --connections) connections=$2; shift ;;
    --gen-threads) gen_threads=$2; shift ;;
    --only) only=$2; shift ;;
    --soak-rate) soak_rate=$2; shift ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done

# The tracked figures are those of a full run (bench/README.md "Latest figures").
((record && quick)) && { echo "run.sh: --record keeps full runs only; drop --quick" >&2; exit 2; }
[[ -z "$only" || "$only" == soak || "$only" == replica ]] ||
  { echo "run.sh: --only knows soak and replica" >&2; exit 2; }
((record)) && [[ -n "$only" ]] && { echo "run.sh: --record keeps full runs only; drop --only" >&2; exit 2; }

# Scenario lengths in seconds: warm-up (not measured) + measured window.
if ((quick)); then
  mode=quick
  ceiling_warmup=0.5;  ceiling_secs=2.5
  intake_warmup=1;     intake_secs=4
  life_warmup=1;       life_secs=4;  life_drain=10
  latency_warmup=1;    latency_secs=6
  memory_orders=20000;  memory_limit=25
  cost_orders=20000
  soak_secs=40
  extras=0  # the full run's extra intake scenarios: intake_always, intake_tls, intake_replica
else
  mode=full
  ceiling_warmup=1;    ceiling_secs=10
  intake_warmup=2;     intake_secs=15
  life_warmup=2;       life_secs=15; life_drain=30
  latency_warmup=2;    latency_secs=30
  memory_orders=200000; memory_limit=150
  cost_orders=100000
  soak_secs=180
  extras=1
fi
# The soak keeps final orders in Redis this long (storage.retention_s): the window fills within
# the quick run too. topupd needs security.timestamp_skew_s under half of it, so the soak's
# requests are signed with the second they are due (load --paced-timestamps).
soak_retention=20

say() { echo "run.sh: $*" >&2; }
die() { echo "run.sh: FAILED: $*" >&2; exit 1; }

for tool in redis-server cmake; do
  command -v "$tool" >/dev/null || die "$tool is not installed (deploy/install-deps.sh)"
done

# --- build -------------------------------------------------------------------------------------
if ((skip_build)); then
  [[ -x "$bin/topupd" && -x "$bin/topup-bench" ]] || die "--skip-build, but $bin has no build"
else
  say "building the default preset (build/, Release: topupd, topup-bench)"
  build_log=$(mktemp /tmp/topup-bench-build.XXXXXX)
  if ! (cd "$root" && cmake --preset default >"$build_log" 2>&1 &&
        cmake --build --preset default -j 2 --target topupd topup-bench >>"$build_log" 2>&1); then
    tail -n 40 "$build_log" >&2
    rm -f "$build_log"
    die "the build failed (output above)"
  fi
  rm -f "$build_log"
fi
bench="$bin/topup-bench"

# --- processes: everything started here is stopped on any exit ----------------------------------
work=$(mktemp -d /tmp/topup-bench.XXXXXX)
started_pids=()
redis_pid=""
topupd_pid=""
bench_pid=""

is_running() {  # a pid we started that has neither exited nor become a zombie
  local pid=$1 state
  kill -0 "$pid" 2>/dev/null || return 1
  state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || return 1
  [[ "$state" != Z ]]
}

stop_pid() {  # stop_pid <pid> [tenths of a second]: SIGTERM, wait (default 5 s), then SIGKILL
  local pid=$1 tenths=${2:-50} i
  [[ -n "$pid" ]] || return 0
  is_running "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < tenths; i++)); do
    is_running "$pid" || return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
}

cleanup() {
  local pid i
  # Newest first: the generator, then topupd, then Redis.
  for ((i = ${#started_pids[@]} - 1; i >= 0; i--)); do stop_pid "${started_pids[i]}" 20; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start_redis() {  # start_redis <name> <appendfsync>: sets redis_port, redis_pid
  local name=$1 fsync=$2 dir="$work/redis-$1" i
  mkdir -p "$dir"
  redis_dir=$dir
  redis_port=$("$bench" free-port)
  # The shipped deploy/redis.conf (AOF on, its rewrite thresholds), on this run's port and dir.
  redis-server "$root/deploy/redis.conf" --port "$redis_port" --bind 127.0.0.1 \
    --appendfsync "$fsync" --dir "$dir" --logfile "$dir/redis.log" >/dev/null 2>&1 &
  redis_pid=$!
  disown "$redis_pid"  # no job-control notices; we stop it ourselves
  started_pids+=("$redis_pid")
  for ((i = 0; i < 100; i++)); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$redis_port" && printf 'PING\r\n' >&3 &&
        IFS= read -r -t 1 line <&3 && [[ "$line" == +PONG* ]]) 2>/dev/null; then
      return 0
    fi
    is_running "$redis_pid" || break
    sleep 0.05
  done
  tail -n 20 "$dir/redis.log" >&2 || true
  die "redis-server for $name did not come up"
}

make_tls_cert() {  # sets tls_cert, tls_key: a self-signed P-256 certificate for 127.0.0.1
  local dir="$work/tls"
  mkdir -p "$dir"
  tls_cert="$dir/bench.cert.pem"
  tls_key="$dir/bench.key.pem"
  if command -v openssl >/dev/null; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
      -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
      -keyout "$tls_key" -out "$tls_cert" >/dev/null 2>&1 ||
      die "openssl could not make the bench certificate"
  else
    "$bench" tls-cert --dir "$dir" >/dev/null || die "topup-bench tls-cert failed"
  fi
}

start_topupd() {  # start_topupd <name> <channel profile> [tls | topup-bench config args...]
  local name=$1 profile=$2 config_args=() tls_wait=()
  shift 2
  if [[ "${1:-}" == tls ]]; then
    config_args=(--tls-cert "$tls_cert" --tls-key "$tls_key")
    tls_wait=(--tls)
  else
    config_args=("$@")
  fi
  topupd_port=$("$bench" free-port)
  "$bench" config --profile "$profile" --port "$topupd_port" --redis-port "$redis_port" \
    --threads "$topupd_threads" --log-level warn "${config_args[@]}" >"$work/topupd-$name.json"
  "$bin/topupd" --config "$work/topupd-$name.json" >"$work/topupd-$name.log" 2>&1 &
  topupd_pid=$!
  disown "$topupd_pid"
  started_pids+=("$topupd_pid")
  if ! "$bench" wait --port "$topupd_port" --timeout-s 20 "${tls_wait[@]}"; then
    tail -n 20 "$work/topupd-$name.log" >&2 || true
    die "topupd for $name did not answer /healthz"
  fi
}

stop_scenario() {
  # topupd's graceful stop waits (up to 15 s) for orders the never-answering channel holds;
  # nothing of it is measured, so it gets 2 s before SIGKILL.
  stop_pid "$topupd_pid" 20
  [[ -n "${replica_pid:-}" ]] && stop_pid "$replica_pid"
  stop_pid "$redis_pid"
  topupd_pid=""
  replica_pid=""
  redis_pid=""
  # The next scenario must not pay for this one's disk writes: its AOF (hundreds of MB, much of
  # it not yet written back) is deleted, which drops its dirty pages, and the rest is flushed
  # now, outside any measurement.
  rm -rf "$redis_dir"
  sync
  started_pids=()  # all stopped: forget them, their pids may be reused
}

json_number() {  # json_number <file> <key>: the first top-level-looking "key":number
  grep -o "\"$2\":[-0-9.eE+]*" "$1" | head -n 1 | cut -d: -f2
}

run_bench() {  # run_bench <topup-bench args...>: runs it, returns its exit status
  local status=0
  # In the background + wait, so that a signal to this script is acted on at once (bash runs
  # traps only after a foreground child ends) and the trap can stop the generator too.
  "$bench" "$@" &
  bench_pid=$!
  started_pids+=("$bench_pid")
  wait "$bench_pid" || status=$?
  bench_pid=""
  return "$status"
}

run_load() {  # run_load <name> <topupd args...>: runs topup-bench load, keeps the topupd log
  local name=$1 status=0; shift
  run_bench load --scenario "$name" --port "$topupd_port" --connections "$connections" \
    --threads "$gen_threads" --topupd-threads "$topupd_threads" \
    --topupd-pid "$topupd_pid" --redis-pid "$redis_pid" --out "$work/results/$name.json" "$@" ||
    status=$?
  if ((status != 0)); then
    tail -n 20 "$work/topupd-$name.log" >&2 || true
    die "scenario $name (topup-bench exit status $status)"
  fi
  # An AOF rewrite (a fork writing the whole dataset) competes for the same cores: say so.
  local rewrites
  rewrites=$(grep -c "Background AOF rewrite finished" "$work/redis-$name/redis.log" || true)
  say "$name: ${rewrites:-0} AOF rewrite(s) by redis-server during the scenario"
  if grep -qiE '\[(error|critical)\]' "$work/topupd-$name.log"; then
    say "note: topupd logged errors during $name:"
    grep -iE '\[(error|critical)\]' "$work/topupd-$name.log" | head -n 5 >&2
  fi
}

mkdir -p "$work/results" "$out"
started_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)
loadavg_before=$(cut -d' ' -f1 /proc/loadavg)
clock_start=$SECONDS

# --only soak runs the soak and what its rate needs (ceiling and intake, unless --soak-rate).
# --only replica runs the ceiling, intake and intake_replica (redis.min_replicas_acked's cost).
want() {  # want <scenario>
  [[ -z "$only" ]] && return 0
  case "$only:$1" in
    soak:soak | replica:replica | replica:ceiling | replica:intake) return 0 ;;
    soak:ceiling | soak:intake) [[ -z "$soak_rate" ]] ;;
    *) return 1 ;;
  esac
}

# Orders to prepare for a closed-loop push run (a run that uses them all up says so): the
# healthz rate bounds the push rate; the lifecycle run is bounded by 3x the intake rate.
orders_for() {  # orders_for <rate bound> <warmup> <secs>
  awk -v r="$1" -v w="$2" -v s="$3" \
    'BEGIN { n = int(r * (w + s) * 1.1) + 1000
             if (n < 20000) n = 20000; if (n > 3000000) n = 3000000; print n }'
}

start_replica() {  # start_replica <name>: a replica of the running redis-server, in sync
  local dir="$work/replica-$1" port i
  mkdir -p "$dir"
  port=$("$bench" free-port)
  redis-server "$root/deploy/redis.conf" --port "$port" --bind 127.0.0.1 --dir "$dir" \
    --logfile "$dir/redis.log" --replicaof 127.0.0.1 "$redis_port" >/dev/null 2>&1 &
  replica_pid=$!
  disown "$replica_pid"
  started_pids+=("$replica_pid")
  for ((i = 0; i < 200; i++)); do
    redis-cli -p "$redis_port" info replication 2>/dev/null | grep -q 'state=online' && return 0
    sleep 0.05
  done
  die "the replica for $1 did not come in sync"
}

run_intake() {  # run_intake <name> <appendfsync> [tls|replica]: pushOrder, closed loop, orders held in 7
  local name=$1 fsync=$2 tls=${3:-} tls_load=() config_args=()
  [[ "$tls" == tls ]] && tls_load=(--tls)
  start_redis "$name" "$fsync"
  if [[ "$tls" == replica ]]; then
    start_replica "$name"
    tls=""
    config_args=(--min-replicas-acked 1)
  fi
  start_topupd "$name" hold $tls "${config_args[@]}"
  run_load "$name" "${tls_load[@]}" --target push --mode closed --warmup-s "$intake_warmup" \
    --duration-s "$intake_secs" --appendfsync "$fsync" \
    --orders "$(orders_for "$ceiling_rps" "$intake_warmup" "$intake_secs")"
  stop_scenario
}

# 1. ceiling: the HTTP floor cost, GET /healthz through the same server and client.
if want ceiling; then
  say "1/7 ceiling: GET /healthz, closed loop, $connections connections, ${ceiling_secs}s"
  start_redis ceiling everysec
  start_topupd ceiling hold
  run_load ceiling --target healthz --mode closed --warmup-s "$ceiling_warmup" \
    --duration-s "$ceiling_secs"
  stop_scenario
  ceiling_rps=$(json_number "$work/results/ceiling.json" rate)
fi

# 2. intake: pushOrder only; the channel never answers, so orders sit in 7.
if want intake; then
  say "2/7 intake: pushOrder, closed loop, ${intake_secs}s (appendfsync everysec)"
  run_intake intake everysec
  intake_rps=$(json_number "$work/results/intake.json" rate)
fi

if ((extras)) && want extras; then
  say "2b intake with appendfsync always, ${intake_secs}s"
  run_intake intake_always always

  # The same intake with the merchant port over TLS (server.tls): what TLS costs per order.
  say "2c intake over TLS, ${intake_secs}s (appendfsync everysec)"
  make_tls_cert
  run_intake intake_tls everysec tls
fi
# The same intake with a replica that must confirm every batch (redis.min_replicas_acked 1).
if { ((extras)) && want extras; } || [[ "$only" == replica ]]; then
  say "2d intake with a replica confirming each batch (WAIT), ${intake_secs}s"
  run_intake intake_replica everysec replica
fi

# 3. lifecycle: a zero-latency sim channel and the bench's callback sink.
if want lifecycle; then
  say "3/7 lifecycle: push -> 2 -> callback, closed loop, ${life_secs}s (+ drain)"
  start_redis lifecycle everysec
  start_topupd lifecycle instant
  life_bound=$(awk -v r="$intake_rps" 'BEGIN { print 3 * r }')
  run_load lifecycle --target push --mode closed --callbacks --warmup-s "$life_warmup" \
    --duration-s "$life_secs" --drain-s "$life_drain" --appendfsync everysec \
    --orders "$(orders_for "$life_bound" "$life_warmup" "$life_secs")"
  stop_scenario
fi

# 4. latency at load: open loop at half the intake maximum.
if want latency; then
  latency_rate=$(awk -v r="$intake_rps" 'BEGIN { printf "%.0f", r / 2 }')
  say "4/7 latency: pushOrder, open loop at ${latency_rate}/s (50% of intake), ${latency_secs}s"
  start_redis latency everysec
  start_topupd latency hold
  run_load latency --target push --mode open --rate "$latency_rate" \
    --warmup-s "$latency_warmup" --duration-s "$latency_secs" --appendfsync everysec
  stop_scenario
fi

# 5. memory: slow orders waiting in 6 behind a channel at capacity.
if want memory; then
  say "5/7 memory: $memory_orders slow orders waiting in 6 (sending stops after ${memory_limit}s)"
  start_redis memory everysec
  start_topupd memory saturated_slow
  run_load memory --target push --mode count --orders "$memory_orders" --recharge-type 0 \
    --limit-s "$memory_limit" --rss --appendfsync everysec
  stop_scenario
fi

# 6. Redis alone: what one accepted order costs redis-server, four ways (bench/README.md).
if want redis_cost; then
  say "6/7 redis cost: $cost_orders orders a variant straight to redis-server, no topupd"
  start_redis redis_cost everysec
  cost_status=0
  run_bench redis-cost --redis-port "$redis_port" --orders "$cost_orders" \
    --out "$work/results/redis_cost.json" >&2 || cost_status=$?
  ((cost_status == 0)) || die "redis cost (topup-bench exit status $cost_status)"
  stop_scenario
fi

# 7. soak: the lifecycle at half the intake rate for minutes, with a short retention: Redis's
# memory over time, flat once the retention window is full (bench/README.md "soak").
if want soak; then
  [[ -n "$soak_rate" ]] || soak_rate=$(awk -v r="$intake_rps" 'BEGIN { printf "%.0f", r / 2 }')
  say "7/7 soak: push -> 2 -> callback, open loop at ${soak_rate}/s, retention ${soak_retention}s, ${soak_secs}s"
  start_redis soak everysec
  statements_dir="$work/statements-soak"
  mkdir -p "$statements_dir"
  start_topupd soak instant --retention-s "$soak_retention" --statements-dir "$statements_dir"
  # The log is trimmed only behind days whose statement is made, and a soak of minutes has no
  # midnight: it records the bench merchants' (2001..2008) statements as made up to tomorrow
  # (+08:00), as the statement maker leaves the chain, so the trim is bound by the retention
  # window alone, as in production, where the window (days) outlasts a statement's wait (a day).
  stated=$(date -u -d "@$(($(date +%s) + 8 * 3600 + 86400))" +%Y%m%d)
  for id in $(seq 2001 2008); do
    redis-cli -p "$redis_port" HSET "bench:{m$id}:stmt" day "$stated" tz 28800 >/dev/null
  done
  run_load soak --target push --mode open --rate "$soak_rate" --callbacks --warmup-s 1 \
    --duration-s "$soak_secs" --drain-s "$life_drain" --appendfsync everysec --paced-timestamps \
    --redis-memory --redis-port "$redis_port" --retention-s "$soak_retention"
  say "soak: $(find "$statements_dir" -name 'orders-*.txt' | wc -l) archive files," \
    "$(find "$statements_dir" -name 'orders-*.txt' -exec cat {} + | wc -l) order lines"
  stop_scenario
  rm -rf "$statements_dir"  # hundreds of MB in a full run: not left for the next run's disk
fi

cat >"$work/results/run.json" <<EOF
{"mode":"$mode${only:+ $only}","started_at":"$started_at","wall_s":$((SECONDS - clock_start)),
 "topupd_threads":$topupd_threads,"connections":$connections,"generator_threads":$gen_threads,
 "loadavg_before":$loadavg_before,"redis":"$(redis-server --version | head -n 1)",
 "appendfsync":"everysec"}
EOF
say "scenarios done in $((SECONDS - clock_start)) s"
if ((record)); then
  say "writing latest.json and latest.svg to $out/ and, recorded, to $recorded/"
else
  say "writing latest.json and latest.svg to $out/ (--record also updates $recorded/)"
fi
"$bench" report --dir "$work/results" --json "$out/latest.json" --svg "$out/latest.svg"
if ((record)); then cp "$out/latest.json" "$out/latest.svg" "$recorded/"; fi
