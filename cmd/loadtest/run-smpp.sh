#!/usr/bin/env bash
# SMPP load test: the gateway with Redis sessions bound to the USSD load
# generator (smsc-sim load, playing the USSDC on loopback), then the MT
# benchmark (the smpp.Client, window 50, into the simulator's sink).
# Usage: cmd/loadtest/run-smpp.sh [seconds] [concurrency]
#   env: REDIS_URL (redis://127.0.0.1:6379/0), PROFILE (spec), BINDS (1),
#        WORKERS (inbound workers per bind, 16), PPROF=<dir> to save CPU profiles
#        of the gateway and the generator there
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-20}
conc=${2:-64}
redis=${REDIS_URL:-redis://127.0.0.1:6379/0}
profile=${PROFILE:-spec}
binds=${BINDS:-1}
workers=${WORKERS:-16}
port=12775
bin=$(mktemp -d)
if [ -n "${PPROF:-}" ]; then mkdir -p "$PPROF"; fi
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$bin"
}
trap cleanup EXIT
go build -o "$bin/ussdgw" ./cmd/ussdgw
go build -o "$bin/smsc-sim" ./cmd/smsc-sim

{
  echo "log_level: warn"
  echo "smpp:"
  echo "  connections:"
  for i in $(seq 1 "$binds"); do
    cat <<YAML
    - name: load-$i
      group: load
      address: 127.0.0.1:$port
      system_id: ussdgw
      password_env: LOADTEST_SMPP_PASSWORD
      sources: [{addr: "777"}]
      window: 100
      inbound: {workers: $workers, queue: 4096}
      ussd: {profile: $profile}
YAML
  done
} > "$bin/gateway.yaml"

echo "== the generator alone: smsc-sim load against a built-in Go ESME (phase 1 smpp.Client), ${secs}s, $conc sessions"
"$bin/smsc-sim" load -self -listen 127.0.0.1:0 -profile "$profile" -duration "${secs}s" -concurrency "$conc"

echo
echo "== the gateway: ussdgw with Redis sessions ($redis), $binds bind(s), profile $profile, ${secs}s, $conc sessions"
prefix="loadtest-smpp-$$:"
"$bin/smsc-sim" load -listen 127.0.0.1:$port -binds "$binds" -profile "$profile" -duration "${secs}s" \
  -concurrency "$conc" ${PPROF:+-cpuprofile $PPROF/smpp-generator.pprof} > "$bin/load.txt" 2>&1 &
load=$!
pids+=("$load")
LOADTEST_SMPP_PASSWORD=any "$bin/ussdgw" -config "$bin/gateway.yaml" -listen 127.0.0.1:18081 \
  -flows cmd/loadtest/flows -redis-url "$redis" -redis-prefix "$prefix" -debug-listen 127.0.0.1:6060 &
gw=$!
pids+=("$gw")
redis_pid=$(pgrep -x redis-server | head -1 || true)
cpu() { awk '{printf "%.2f", ($14+$15)/100}' "/proc/$1/stat" 2>/dev/null || echo 0; }
sleep 3 # bind and warm-up
g0=$(cpu "$gw"); l0=$(cpu "$load"); r0=$([ -n "$redis_pid" ] && cpu "$redis_pid" || echo 0); t0=$(date +%s.%N)
if [ -n "${PPROF:-}" ]; then
  curl -s "http://127.0.0.1:6060/debug/pprof/profile?seconds=$((secs - 4))" -o "$PPROF/smpp-gateway.pprof"
else
  sleep $((secs - 4))
fi
g1=$(cpu "$gw"); l1=$(cpu "$load"); r1=$([ -n "$redis_pid" ] && cpu "$redis_pid" || echo 0); t1=$(date +%s.%N)
wait "$load" || true
cat "$bin/load.txt"
awk -v g0="$g0" -v g1="$g1" -v l0="$l0" -v l1="$l1" -v r0="$r0" -v r1="$r1" -v t0="$t0" -v t1="$t1" 'BEGIN {
  d = t1 - t0
  printf "CPU during the run (of 2 cores): gateway %.2f, generator %.2f, redis-server %.2f\n", (g1-g0)/d, (l1-l0)/d, (r1-r0)/d }'
kill "$gw" 2>/dev/null || true
redis-cli -u "$redis" --scan --pattern "${prefix}*" | head -100000 | xargs -r -n 500 redis-cli -u "$redis" del >/dev/null || true

echo
echo "== MT: smpp.Client (window 50, 64 senders) into the simulator's sink"
"$bin/smsc-sim" mt -n 200000 -window 50
"$bin/smsc-sim" mt -n 60000 -window 50 -text "$(printf 'Maize 1200 KES/90kg at Nairobi {Wakulima}, beans 9000 %.0s' 1 2 3 4 5 6)"
