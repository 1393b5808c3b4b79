#!/usr/bin/env bash
# Stops what deploy/cluster/up.sh started in DIR (default var/cluster-deploy): haproxy, the
# topupd instances (SIGTERM: each drains and gives its lease back), then the Redis Cluster.
set -euo pipefail
cd "$(dirname "$0")/../.."
dir=$(realpath -m "${1:-var/cluster-deploy}")
stop() {  # stop <pidfile>
  [[ -f "$1" ]] || return 0
  local pid
  pid=$(cat "$1")
  if kill "$pid" 2>/dev/null; then
    for _ in $(seq 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$1"
}
stop "$dir/haproxy.pid"
for id in 1 2 3; do stop "$dir/topupd-$id.pid"; done
[[ -d "$dir/redis" ]] && deploy/cluster/stop-redis-cluster.sh "$dir/redis"
echo "down.sh: stopped (data stays in $dir)"
