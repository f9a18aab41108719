#!/usr/bin/env bash
# HTTP load on Redis Cluster beside single Redis, in the same run under the
# same load: one gateway on a private single redis-server and one on a
# private Redis Cluster (3 masters + 1 replica each), all on loopback, no
# persistence; wrk (one thread, 32 connections, cmd/loadtest/ussd.lua:
# Africa's Talking sessions of 4 steps) for SECS seconds against each.
# With SMPP=1 it then runs cmd/loadtest/run-smpp.sh against the cluster.
# Usage: cmd/loadtest/run-cluster.sh [seconds]   (needs wrk, redis-server, redis-cli)
#   env: BASE (first port, 17100; uses BASE..BASE+6 and BASE+10000..BASE+10005)
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-10}
base=${BASE:-17100}
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

redis() { # port, extra args...
  local p=$1; shift
  redis-server --port "$p" --bind 127.0.0.1 --save "" --appendonly no --dir "$tmp" \
    --logfile "$tmp/redis-$p.log" "$@" &
  pids+=("$!")
}
ports=()
for i in 0 1 2 3 4 5; do
  p=$((base + i))
  ports+=("127.0.0.1:$p")
  redis "$p" --cluster-enabled yes --cluster-config-file "$tmp/nodes-$p.conf" --cluster-node-timeout 2000
done
single=$((base + 6))
redis "$single"
for p in "${ports[@]}" "127.0.0.1:$single"; do
  until redis-cli -u "redis://$p" ping >/dev/null 2>&1; do sleep 0.1; done
done
redis-cli --cluster create "${ports[@]}" --cluster-replicas 1 --cluster-yes >/dev/null
cluster_ok() {
  for p in "${ports[@]}"; do
    redis-cli -u "redis://$p" cluster info | grep -q 'cluster_state:ok' || return 1
  done
}
until cluster_ok; do sleep 0.2; done
cluster_url="redis+cluster://${ports[0]}"
sep="?"
for p in "${ports[@]:1}"; do cluster_url+="${sep}addr=$p"; sep="&"; done
echo "single: redis://127.0.0.1:$single/0"
echo "cluster: $cluster_url"

go build -o "$tmp/ussdgw" ./cmd/ussdgw
gw() { # port, redis url, extra flags...
  local port=$1 url=$2; shift 2
  "$tmp/ussdgw" -listen "127.0.0.1:$port" -flows cmd/loadtest/flows -redis-url "$url" -log-level warn "$@" 2>"$tmp/gw-$port.log" &
  pids+=("$!")
}
gw 18180 "redis://127.0.0.1:$single/0"
gw 18181 "redis://127.0.0.1:$single/0" -redis-autopipeline off
gw 18182 "$cluster_url" # never autopipelined on a Cluster
for p in 18180 18181 18182; do
  until curl -sf "http://127.0.0.1:$p/healthz" >/dev/null; do sleep 0.1; done
done

run() { # title, port
  local before
  before=$(grep -c "circuit open" "$tmp/gw-$2.log" || true)
  echo "== $1"
  wrk -t1 -c32 -d"${secs}s" --latency -s cmd/loadtest/ussd.lua "http://127.0.0.1:$2" | grep -E "Requests/sec|  50%|  99%|Non-2xx|Socket errors" || true
  echo "   Redis circuit opened (users got the 'unavailable' screen): $(( $(grep -c "circuit open" "$tmp/gw-$2.log" || true) - before )) time(s)"
}
run "warm-up (single)" 18180 >/dev/null
run "warm-up (cluster)" 18182 >/dev/null
run "gateway on single Redis (default: autopipelined)" 18180
run "gateway on single Redis, -redis-autopipeline off" 18181
run "gateway on Redis Cluster, 3 masters + 3 replicas (not autopipelined)" 18182

if [ "${SMPP:-}" = 1 ]; then
  echo
  REDIS_URL="$cluster_url" cmd/loadtest/run-smpp.sh "$secs"
fi
