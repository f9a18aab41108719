#!/usr/bin/env bash
# What analytics cost on the HTTP load test's path: two gateways on the same
# Redis, one with analytics (the default) and one without
# (-analytics-retention 0), loaded in turn by the same wrk run as run.sh
# (one thread, 32 connections, Africa's Talking sessions of 4 steps),
# rounds interleaved so that a change in the machine's load hits both.
# Usage: cmd/loadtest/analytics.sh [seconds per round] [rounds]
# (needs wrk and Redis on 127.0.0.1:6379)
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-10}
rounds=${2:-3}
redis=${REDIS_URL:-redis://127.0.0.1:6379/0}
bin=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$bin"' EXIT
go build -o "$bin/ussdgw" ./cmd/ussdgw

"$bin/ussdgw" -listen 127.0.0.1:18180 -flows cmd/loadtest/flows -redis-url "$redis" -redis-prefix loadtest-an-on: -log-level error &
"$bin/ussdgw" -listen 127.0.0.1:18181 -flows cmd/loadtest/flows -redis-url "$redis" -redis-prefix loadtest-an-off: -log-level error -analytics-retention 0 &
sleep 1

rate() {
  wrk -t1 -c32 -d"${secs}s" -s cmd/loadtest/ussd.lua "$1" | awk '/Requests\/sec/ {print $2}'
}
rate http://127.0.0.1:18180 >/dev/null # warm-up
rate http://127.0.0.1:18181 >/dev/null
on=() off=()
for i in $(seq "$rounds"); do
  off+=("$(rate http://127.0.0.1:18181)")
  on+=("$(rate http://127.0.0.1:18180)")
  echo "round $i: without analytics ${off[-1]} steps/s, with ${on[-1]} steps/s"
done
printf '%s\n' "${off[@]}" | awk '{s+=$1} END {printf "without analytics: %.0f steps/s (mean of %d)\n", s/NR, NR}'
printf '%s\n' "${on[@]}" | awk '{s+=$1} END {printf "with analytics:    %.0f steps/s (mean of %d)\n", s/NR, NR}'
redis-cli --scan --pattern 'loadtest-an-o*' | xargs -r -n 1000 redis-cli del >/dev/null
