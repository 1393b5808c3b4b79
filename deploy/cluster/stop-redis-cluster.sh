#!/usr/bin/env bash
# Stops the cluster start-redis-cluster.sh started under DIR (default var/cluster/), each node
# by the pid in its pidfile (SIGTERM: AOF flushed). Its data stays; start again to resume it.
#   deploy/cluster/stop-redis-cluster.sh [DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
dir=$(realpath -m "${1:-var/cluster}")
shopt -s nullglob
for pidfile in "$dir"/*/redis.pid; do
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  fi
  rm -f "$pidfile"
done
