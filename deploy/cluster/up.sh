#!/usr/bin/env bash
# A local scale-out deployment (docs/OPERATIONS.md "Scaling out"): Redis Cluster (3 masters + 3
# replicas, deploy/cluster/start-redis-cluster.sh), three topupd instances (instance_id 1..3, on
# ports BASE+1..BASE+3, the demo merchant and sim channels) and haproxy on BASE in front of them.
#   deploy/cluster/up.sh [DIR] [BASE]      (default var/cluster-deploy, 8090)
# Stop it all with deploy/cluster/down.sh [DIR]. Needs build/bin/topupd (deploy/build.sh) and
# the Debian packages deploy/install-deps.sh installs (redis-server, haproxy).
set -euo pipefail
cd "$(dirname "$0")/../.."
dir=$(realpath -m "${1:-var/cluster-deploy}")
base=${2:-8090}
redis_base=${REDIS_BASE:-7100}
topupd=${TOPUPD:-build/bin/topupd}
[[ -x "$topupd" ]] || { echo "up.sh: $topupd is missing: run deploy/build.sh first" >&2; exit 1; }
command -v haproxy >/dev/null || { echo "up.sh: haproxy is missing: run deploy/install-deps.sh" >&2; exit 1; }
mkdir -p "$dir"

redis_line=$(deploy/cluster/start-redis-cluster.sh "$dir/redis" "$redis_base" | tail -n 1)
redis_line=${redis_line/\"prefix\": \"topup\"/\"prefix\": \"topup-cluster\"}
echo "up.sh: Redis Cluster on 127.0.0.1:$redis_base..$((redis_base + 5))"

servers=""
for id in 1 2 3; do
  port=$((base + id))
  cfg="$dir/topupd-$id.json"
  # The demo's configuration with this instance's id, port and the cluster; suppliers and
  # merchants reach every instance through haproxy (public_url).
  sed -e "s|\"listen\": \"127.0.0.1:8080\"|\"listen\": \"127.0.0.1:$port\", \"instance_id\": $id, \"lease_ms\": 5000|" \
      -e "s|\"public_url\": \"http://127.0.0.1:8080\"|\"public_url\": \"http://127.0.0.1:$base\"|" \
      -e "s|^  \"redis\": .*|  $redis_line,|" \
      -e "s|\"dir\": \"var/demo/statements\"|\"dir\": \"$dir/statements\"|" \
      deploy/topupd.demo.json >"$cfg"
  "$topupd" --check-config "$cfg" >/dev/null
  nohup "$topupd" --config "$cfg" >"$dir/topupd-$id.log" 2>&1 &
  echo $! >"$dir/topupd-$id.pid"
  servers+="    server topupd$id 127.0.0.1:$port check inter 500 fall 2 rise 2"$'\n'
done
for id in 1 2 3; do
  for _ in $(seq 100); do
    curl -fsS "http://127.0.0.1:$((base + id))/readyz" >/dev/null 2>&1 && break
    sleep 0.1
  done
  curl -fsS "http://127.0.0.1:$((base + id))/readyz" >/dev/null ||
    { echo "up.sh: topupd $id did not become ready; see $dir/topupd-$id.log" >&2; exit 1; }
done

sed -e "s|@DIR@|$dir|" -e "s|@PORT@|$base|" deploy/cluster/haproxy.cfg.in |
  awk -v servers="$servers" '{ if ($0 == "@SERVERS@") printf "%s", servers; else print }' \
  >"$dir/haproxy.cfg"
haproxy -c -f "$dir/haproxy.cfg" >/dev/null
haproxy -D -f "$dir/haproxy.cfg"
for _ in $(seq 50); do curl -fsS "http://127.0.0.1:$base/readyz" >/dev/null 2>&1 && break; sleep 0.1; done

echo "up.sh: topupd instances 1..3 on 127.0.0.1:$((base + 1))..$((base + 3)), haproxy on 127.0.0.1:$base"
echo "up.sh: console http://127.0.0.1:$base/admin/ (admin token: demo-admin-token)"
echo "up.sh: push through haproxy: TOPUP_URL=http://127.0.0.1:$base deploy/demo-client.sh"
echo "up.sh: stop everything: deploy/cluster/down.sh $dir"
