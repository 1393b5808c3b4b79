#!/usr/bin/env bash
# Starts a local Redis Cluster for trying topupd's cluster mode by hand (docs/STORAGE.md
# "Redis Cluster"): 3 masters + 3 replicas (one each) on 127.0.0.1, ports BASE..BASE+5
# (default 7000..7005), data and logs under DIR/<port> (default var/cluster/), AOF on.
#   deploy/cluster/start-redis-cluster.sh [DIR] [BASE]
# Prints the redis section for topupd's config once cluster_state is ok. Stop it with
# deploy/cluster/stop-redis-cluster.sh [DIR]. The tests start their own cluster on free ports
# (tests/support/redis_cluster); this script is for operators and demos.
set -euo pipefail
cd "$(dirname "$0")/../.."
dir=$(realpath -m "${1:-var/cluster}")
base=${2:-7000}
nodes=()
for i in 0 1 2 3 4 5; do
  port=$((base + i))
  mkdir -p "$dir/$port"
  if redis-cli -p "$port" ping >/dev/null 2>&1; then
    echo "start-redis-cluster: port $port already answers; stop it first" >&2
    exit 1
  fi
  redis-server --port "$port" --bind 127.0.0.1 --dir "$dir/$port" \
    --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 5000 \
    --appendonly yes --save "" --daemonize yes \
    --pidfile "$dir/$port/redis.pid" --logfile "$dir/$port/redis.log"
  nodes+=("127.0.0.1:$port")
done
for port in $(seq "$base" $((base + 5))); do
  for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.05; done
done
# A restart of an existing cluster finds its nodes.conf: nothing to create.
if ! redis-cli -p "$base" cluster info | grep -q '^cluster_slots_assigned:16384'; then
  redis-cli --cluster create "${nodes[@]}" --cluster-replicas 1 --cluster-yes >"$dir/create.log"
fi
for _ in $(seq 200); do
  ok=0
  for port in $(seq "$base" $((base + 5))); do
    redis-cli -p "$port" cluster info | grep -q '^cluster_state:ok' && ok=$((ok + 1))
  done
  [[ $ok == 6 ]] && break
  sleep 0.1
done
if [[ $ok != 6 ]]; then
  echo "start-redis-cluster: cluster_state not ok on every node; see $dir/*/redis.log" >&2
  exit 1
fi
printf '"redis": {"cluster": true, "nodes": ["%s", "%s", "%s"], "prefix": "topup"}\n' \
  "${nodes[0]}" "${nodes[1]}" "${nodes[2]}"
