#!/usr/bin/env bash
# The queue half of the MT fan-out benchmark, without the API: N Bulk
# messages enqueued straight into the outbox (./outboxbench, batches of
# 1000) of a running gateway binary bound to the node-smpp sink (receipts
# on), Redis with the production persistence (appendonly yes, everysec).
# msgs/s at the sink (first to last submit), duplicates, lost, receipts.
# Several gateway binaries (A/B) run in turns in one run, each ROUNDS
# times, alternating, into the same sink and Redis (a fresh key prefix per
# round), so that a shared machine's load falls on both alike.
#
# Usage: cmd/loadtest/push/outboxbench.sh [N]     (N defaults to 20000)
#   env: BINS      "label=path ..." gateway binaries (default: this tree's, built)
#        ROUNDS    rounds per binary (1)
#        WINDOW    SMPP window (100)
#        GW_FLAGS  extra gateway flags (e.g. "-outbox-workers 64")
#        SMPP_EXTRA extra YAML lines of the connection (e.g. "inbound: {workers: 32}")
#        PROFILE   seconds of CPU profile of the gateway per round (0: none);
#                  written to $OUT/<label>-<round>.pprof
#        OUT       where results and profiles go (/tmp/outboxbench)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
need node go jq curl redis-server redis-cli
n=${1:-20000}
window=${WINDOW:-100}
rounds=${ROUNDS:-1}
out=${OUT:-/tmp/outboxbench}
mkdir -p "$out"
pids=()
work=$(mktemp -d /tmp/outboxbench.XXXXXX)
trap cleanup EXIT

start_sink
start_redis
echo "sink on 127.0.0.1:$SINK_PORT (http $SINK_HTTP), redis-server on 127.0.0.1:$REDIS_PORT (appendonly yes, appendfsync everysec)" >&2
(cd "$repo_dir" && go build -o "$work/outboxbench" ./cmd/loadtest/push/outboxbench) >&2
bins=${BINS:-}
if [ -z "$bins" ]; then
  (cd "$repo_dir" && go build -o "$work/ussdgw" ./cmd/ussdgw) >&2
  bins="gateway=$work/ussdgw"
fi

flows="$work/flows"
cp -r "$repo_dir/flows-examples" "$flows"
sed -i -E -e 's/quiet_hours: *"[^"]*", *//' -e 's/, *quiet_hours: *"[^"]*"//' -e '/^[[:space:]]*quiet_hours:/d' "$flows"/*.yaml
data="$repo_dir/flows-examples/data"
cat >"$work/gateway.yaml" <<YAML
log_level: warn
adapters:
  prices: {kind: prices, file: $data/prices.yaml}
  health: {kind: health, file: $data/health.yaml}
  quiz:   {kind: quiz,   file: $data/quiz.yaml}
  jobs:   {kind: jobs,   file: $data/jobs.yaml}
smpp:
  connections:
    - name: sink-1
      group: sink
      address: 127.0.0.1:$SINK_PORT
      system_id: ussdgw
      password_env: PUSH_SMPP_PASSWORD
      sources: [{addr: "777"}]
      window: $window
      registered_delivery: 1
      timeouts: {response: 60s}
${SMPP_EXTRA:+      $SMPP_EXTRA}
  sms: {group: sink}
YAML

echo "| round | binary | msgs/s at sink | e2e msgs/s | duplicates | lost | receipts acked | delivered (outbox) | gw CPU s | redis CPU s | sink CPU s |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for r in $(seq 1 "$rounds"); do
  for b in $bins; do
    label=${b%%=*} bin=${b#*=}
    prefix="ob$r$label:"
    gw_port=$(free_port) dbg_port=$(free_port)
    # shellcheck disable=SC2086
    PUSH_SMPP_PASSWORD=any "$bin" -config "$work/gateway.yaml" -listen "127.0.0.1:$gw_port" -flows "$flows" \
      -redis-url "redis://127.0.0.1:$REDIS_PORT/0" -redis-prefix "$prefix" -log-level warn \
      -debug-listen "127.0.0.1:$dbg_port" ${GW_FLAGS:-} >"$out/$label-$r.log" 2>&1 &
    gw=$!
    pids+=("$gw")
    wait_for 30 curl -sf "http://127.0.0.1:$gw_port/healthz" || { tail -20 "$out/$label-$r.log" >&2; exit 1; }
    gw_bound() { [ "$(sink_stats | jq .sessions)" -ge 1 ]; }
    wait_for 30 gw_bound || { echo "no bind to the sink" >&2; exit 1; }
    sink_reset
    redis-cli -p "$REDIS_PORT" config resetstat >/dev/null
    redis-cli -p "$REDIS_PORT" config set slowlog-log-slower-than 20000 >/dev/null
    redis-cli -p "$REDIS_PORT" config set slowlog-max-len 1000 >/dev/null
    redis-cli -p "$REDIS_PORT" slowlog reset >/dev/null
    prof=
    if [ "${PROFILE:-0}" != 0 ]; then
      curl -sf -o "$out/$label-$r.pprof" "http://127.0.0.1:$dbg_port/debug/pprof/profile?seconds=$PROFILE" &
      prof=$!
    fi
    c_gw0=$(cpu "$gw") c_rd0=$(cpu "$REDIS_PID") c_sk0=$(cpu "$SINK_PID")
    "$work/outboxbench" -redis-url "redis://127.0.0.1:$REDIS_PORT/0" -prefix "$prefix" -n "$n" \
      -sink-http "127.0.0.1:$SINK_HTTP" >"$out/$label-$r.json"
    c_gw1=$(cpu "$gw") c_rd1=$(cpu "$REDIS_PID") c_sk1=$(cpu "$SINK_PID")
    [ -n "$prof" ] && wait "$prof" || true
    # Redis's own view: calls and microseconds per command, per message.
    redis-cli -p "$REDIS_PORT" info commandstats | tr -d '\r' | awk -F'[:,=]' -v n="$n" '/^cmdstat_/ {
      printf "%-28s calls/msg %6.2f  usec/msg %7.2f\n", substr($1, 9), $3 / n, $5 / n }' | sort -k5 -rn >"$out/$label-$r.redis.txt"
    # Requests Redis read off its sockets (a pipeline or a script call is
    # one), per message: what its event loop pays for besides the commands.
    redis-cli -p "$REDIS_PORT" info stats | tr -d '\r' | awk -F: -v n="$n" '/^total_(reads|writes)_processed:/ {
      printf "%-28s per msg %6.2f\n", $1, $2 / n }' >>"$out/$label-$r.redis.txt"
    # Commands that held Redis for 20 ms or more: how long, and which.
    redis-cli -p "$REDIS_PORT" --json slowlog get 1000 2>/dev/null |
      jq -r '.[] | "\(.[2] / 1000 | floor) ms  \(.[3][0:3] | join(" "))"' >"$out/$label-$r.slowlog.txt" 2>/dev/null || true
    kill "$gw"; wait "$gw" 2>/dev/null || true
    wait_for 15 bash -c "[ \"\$(curl -sf http://127.0.0.1:$SINK_HTTP/stats | jq .sessions)\" = 0 ]" || true
    jq -r --arg r "$r" --arg l "$label" \
      --arg g "$(awk -v a="$c_gw0" -v b="$c_gw1" 'BEGIN{printf "%.1f", b-a}')" \
      --arg d "$(awk -v a="$c_rd0" -v b="$c_rd1" 'BEGIN{printf "%.1f", b-a}')" \
      --arg s "$(awk -v a="$c_sk0" -v b="$c_sk1" 'BEGIN{printf "%.1f", b-a}')" \
      '"| \($r) | \($l) | \(.sink.rate) | \(.e2e_rate | floor) | \(.sink.duplicates) | \(.lost) | \(.sink.receipts_acked) | \(.group.Delivered) | \($g) | \($d) | \($s) |" + (if .stalled then " stalled: \(.stalled)" else "" end)' \
      "$out/$label-$r.json"
  done
done
