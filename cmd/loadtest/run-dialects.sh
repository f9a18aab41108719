#!/usr/bin/env bash
# HTTP load in two dialects in the same run: one gateway (Redis sessions)
# serving Africa's Talking and Hubtel (cmd/loadtest/dialects.yaml), the
# same four-screen sessions of cmd/loadtest/flows/bench.yaml sent as
# Africa's Talking forms (ussd.lua) and as Hubtel JSON (hubtel.lua) by two
# wrk at the same time (one thread, 16 connections each), so that both
# dialects meet the same machine at the same moment (a shared machine's
# noise swamps a 5% gap between runs taken one after the other). ROUNDS
# rounds, then each dialect's mean and the gap; exits 1 when the gap is
# over 5%.
# Usage: cmd/loadtest/run-dialects.sh [seconds per round]   (needs wrk and Redis on 127.0.0.1:6379)
#   env: ROUNDS (3), PORT (18082), REDIS_URL
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-10}
rounds=${ROUNDS:-3}
port=${PORT:-18082}
redis=${REDIS_URL:-redis://127.0.0.1:6379/0}
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT
go build -o "$tmp/ussdgw" ./cmd/ussdgw
"$tmp/ussdgw" -listen 127.0.0.1:$port -flows cmd/loadtest/flows -config cmd/loadtest/dialects.yaml \
  -redis-url "$redis" -redis-prefix loadtest-dialects: -log-level error &
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$port/healthz" && break; sleep 0.2; done

# round N: both dialects at once; prints "at hubtel" requests per second.
round() {
  local a h
  wrk -t1 -c16 -d"${secs}s" -s cmd/loadtest/ussd.lua "http://127.0.0.1:$port" >"$tmp/at" &
  a=$!
  wrk -t1 -c16 -d"${secs}s" -s cmd/loadtest/hubtel.lua "http://127.0.0.1:$port" >"$tmp/hub" &
  h=$!
  wait "$a" "$h"
  grep -hE "Non-2xx|Socket errors" "$tmp/at" "$tmp/hub" >&2 || true
  echo "$(awk '/Requests\/sec/ {print $2}' "$tmp/at") $(awk '/Requests\/sec/ {print $2}' "$tmp/hub")"
}
round >/dev/null # warm-up
at=() hub=()
for r in $(seq "$rounds"); do
  read -r a h < <(round)
  at+=("$a") hub+=("$h")
  echo "round $r: africastalking $a req/s, hubtel $h req/s"
done
redis-cli -u "$redis" --scan --pattern 'loadtest-dialects:*' | xargs -r -n 1000 redis-cli -u "$redis" del >/dev/null
awk -v a="${at[*]}" -v h="${hub[*]}" 'BEGIN {
  n = split(a, A, " "); split(h, H, " ")
  for (i = 1; i <= n; i++) { sa += A[i]; sh += H[i] }
  ma = sa / n; mh = sh / n; gap = (mh - ma) / ma * 100
  printf "mean: africastalking %.0f req/s, hubtel %.0f req/s; hubtel %+.1f%% against africastalking\n", ma, mh, gap
  exit (gap < -5 || gap > 5) ? 1 : 0
}'
