#!/usr/bin/env bash
# What analytics cost on the HTTP load test's path: two gateways, one with
# analytics (the default) and one without (-analytics-retention 0), on a
# Redis of their own, loaded in turn by the same wrk run as run.sh (one
# thread, 32 connections, Africa's Talking sessions of 4 steps), rounds
# interleaved so that a change in the machine's load hits both. Besides
# steps/s it prints the CPU time each step cost the gateway and Redis
# (from /proc): on a machine shared with other work, steps/s measure the
# machine as much as the gateway, CPU per step much less so.
# Usage: cmd/loadtest/analytics.sh [seconds per round] [rounds]
# (needs wrk and redis-server)
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-10}
rounds=${2:-3}
port=${REDIS_PORT:-16399}
bin=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$bin"' EXIT
go build -o "$bin/ussdgw" ./cmd/ussdgw

redis-server --port "$port" --save "" --appendonly no --daemonize no >/dev/null &
rpid=$!
redis="redis://127.0.0.1:$port/0"
sleep 0.5
"$bin/ussdgw" -listen 127.0.0.1:18180 -flows cmd/loadtest/flows -redis-url "$redis" -log-level error &
on_pid=$!
"$bin/ussdgw" -listen 127.0.0.1:18181 -flows cmd/loadtest/flows -redis-url "$redis" -log-level error -analytics-retention 0 &
off_pid=$!
sleep 1

ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
# round URL PID: prints "steps/s gateway-µs-per-step redis-µs-per-step"
round() {
  local g0 r0 out n
  g0=$(ticks "$2"); r0=$(ticks "$rpid")
  out=$(wrk -t1 -c32 -d"${secs}s" -s cmd/loadtest/ussd.lua "$1")
  n=$(awk '/requests in/ {print $1}' <<<"$out")
  awk -v rps="$(awk '/Requests\/sec/ {print $2}' <<<"$out")" -v n="$n" -v g="$(( $(ticks "$2") - g0 ))" -v r="$(( $(ticks "$rpid") - r0 ))" -v hz="$hz" \
    'BEGIN {printf "%.0f %.1f %.1f\n", rps, g/hz/n*1e6, r/hz/n*1e6}'
}
round http://127.0.0.1:18180 "$on_pid" >/dev/null # warm-up
round http://127.0.0.1:18181 "$off_pid" >/dev/null
: >"$bin/off" ; : >"$bin/on"
for i in $(seq "$rounds"); do
  round http://127.0.0.1:18181 "$off_pid" | tee -a "$bin/off" | sed "s/^/round $i without analytics: /"
  round http://127.0.0.1:18180 "$on_pid" | tee -a "$bin/on" | sed "s/^/round $i with analytics:    /"
done
for side in off on; do
  awk -v side="$side" '{s+=$1; g+=$2; r+=$3} END {printf "analytics %-3s: %.0f steps/s, CPU per step: gateway %.1f µs, redis %.1f µs (means of %d rounds)\n", side, s/NR, g/NR, r/NR, NR}' "$bin/$side"
done
