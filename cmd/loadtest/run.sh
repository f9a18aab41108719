#!/usr/bin/env bash
# HTTP load test: the gateway with Redis sessions against the bare net/http
# + Redis ceiling, same machine, same run, same load (wrk, 32 connections).
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
"$bin/ussdgw" -listen 127.0.0.1:18080 -flows cmd/loadtest/flows -redis-url "$redis" -redis-prefix loadtest: -log-level warn &
sleep 1

run() {
  echo "== $1"
  wrk -t2 -c32 -d"${secs}s" --latency -s cmd/loadtest/ussd.lua "$2" | grep -E "Requests/sec|Latency|50%|99%|Non-2xx|Socket errors"
}
run "warm-up (gateway)" http://127.0.0.1:18080 >/dev/null
run "ceiling: net/http + one Redis GET and SET" http://127.0.0.1:18090
run "gateway: ussdgw, Redis sessions" http://127.0.0.1:18080
redis-cli --scan --pattern 'loadtest:*' | head -1000 | xargs -r redis-cli del >/dev/null
