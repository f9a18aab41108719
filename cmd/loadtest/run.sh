#!/usr/bin/env bash
# HTTP load test: the gateway with Redis sessions beside the bare net/http +
# Redis ceiling, on the same machine in the same run under the same load
# (wrk, one thread, 32 connections, Africa's Talking sessions of 4 steps).
# Usage: cmd/loadtest/run.sh [seconds]   (needs wrk and Redis on 127.0.0.1:6379)
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-20}
redis=${REDIS_URL:-redis://127.0.0.1:6379/0}
bin=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$bin"' EXIT
go build -o "$bin/ussdgw" ./cmd/ussdgw
go build -o "$bin/ceiling" ./cmd/ceiling

"$bin/ceiling" -listen 127.0.0.1:18090 -redis-url "$redis" 2>/dev/null &
"$bin/ceiling" -listen 127.0.0.1:18091 -redis-url "$redis" -autopipeline 2>/dev/null &
"$bin/ussdgw" -listen 127.0.0.1:18080 -flows cmd/loadtest/flows -redis-url "$redis" -redis-prefix loadtest: -log-level error &
"$bin/ussdgw" -listen 127.0.0.1:18081 -flows cmd/loadtest/flows -redis-url "$redis" -redis-prefix loadtest: -log-level error -redis-autopipeline off &
sleep 1

run() {
  echo "== $1"
  wrk -t1 -c32 -d"${secs}s" --latency -s cmd/loadtest/ussd.lua "$2" | grep -E "Requests/sec|  50%|  99%|Non-2xx|Socket errors"
}
run "warm-up" http://127.0.0.1:18080 >/dev/null
run "ceiling: net/http, one Redis GET and one SET per request" http://127.0.0.1:18090
run "gateway: ussdgw, Redis sessions (default: autopipelined)" http://127.0.0.1:18080
run "ceiling, autopipelined" http://127.0.0.1:18091
run "gateway, -redis-autopipeline off" http://127.0.0.1:18081
redis-cli --scan --pattern 'loadtest:*' | xargs -r -n 1000 redis-cli del >/dev/null
redis-cli --scan --pattern 'ceiling:*' | xargs -r -n 1000 redis-cli del >/dev/null
