#!/usr/bin/env bash
# The MT fan-out benchmark, both sides in one run into one sink: Kannel
# (run-kannel.sh: bearerbox + smsbox, HTTP sendsms from many clients), then
# the gateway (run_gateway below: N subscribers of one topic, one API call
# that fans out to all of them through the outbox). One node-smpp sink
# (sink.js, receipts on) with fresh counts per side, one redis-server with
# the gateway's production persistence (appendonly yes, appendfsync
# everysec). Prints a markdown table.
#
# Usage: cmd/loadtest/push/run.sh [N]        (N defaults to 100000)
#   env: SIDES        "kannel gateway direct" (default) or some of them; direct is the
#                     ceiling: the gateway's SMPP client straight into the sink (no queue,
#                     no Redis, no HTTP), to read the other rows against
#        CONC         Kannel's concurrent HTTP clients (64)
#        WINDOW       SMPP window, both sides (100)
#        MODE         how the gateway side fans out: prices (default: POST /api/v1/prices, the
#                     data file's price as baseline, then a change every subscriber's threshold passes), topic
#                     (POST /api/v1/broadcasts to the topic's subscribers) or numbers
#                     (POST /api/v1/broadcasts with the N numbers in the body)
#        MEM_PHASE    1 (default): after the timed run, the sink refuses the gateway's
#                     binds, a second fan-out fills the queue, and the Redis bytes per
#                     queued message are measured; 0: skip
#        FLOWS        the gateway's flows (default: a copy of flows-examples without
#                     quiet_hours, so that a run at night is not deferred)
#        TIMEOUT      seconds per side (600); KEEP=1 keeps the work folder
#        GW_FLAGS     extra gateway flags (e.g. "-outbox-workers 128")
#        BIN          a gateway binary to run instead of building this tree's
#        SMPP_EXTRA   extra YAML lines of the gateway's connection (e.g. "inbound: {workers: 256}")
#        PROFILE      seconds of CPU profile and execution trace of the gateway, taken when
#                     the fan-out starts; written to $OUT (/tmp/push-profile)
# Everything listens on 127.0.0.1; every process started is killed on exit.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
need node go jq curl redis-server redis-cli
n=${1:-100000}
sides=${SIDES:-kannel gateway direct}
window=${WINDOW:-100}
mode=${MODE:-prices}
timeout_s=${TIMEOUT:-600}
base=254700000000 # Kenyan mobile numbers (Safaricom 0700...), valid for phonenumbers
pids=()
work=$(mktemp -d /tmp/push-bench.XXXXXX)
trap cleanup EXIT
[ -n "${KEEP:-}" ] && echo "work folder: $work" >&2

start_sink
start_redis
echo "sink on 127.0.0.1:$SINK_PORT (http $SINK_HTTP), redis-server on 127.0.0.1:$REDIS_PORT (appendonly yes, appendfsync everysec)" >&2

# run_gateway N: the gateway half. Writes the result JSON on stdout.
#
# It needs from main: package consent (the subscribers helper), the outbox
# wired into cmd/ussdgw with receipts, /api/v1 (prices, broadcasts and their
# progress) and `ussdgw apikey create`. The shapes used here are those of
# CONTRACT.md and issue 7; where a detail was not settled when this was
# written it is named in one variable below, to change in one place.
run_gateway() {
  local n=$1
  local prefix="bench:" redis_url="redis://127.0.0.1:$REDIS_PORT/0" gw_port flows
  local api_auth_header="Authorization: Bearer"        # how the API takes a key
  local key_re='ugw_[A-Za-z0-9_-]+'                       # what `apikey create` prints
  local service=market topic=prices:maize:eldoret
  local price_body='{"commodity":"maize","market":"eldoret","price":%s,"currency":"KES","unit":"bag90"}'
  local text="Maize at Eldoret: 3400 KES/90kg (+6%). Reply STOP to end."
  gw_port=$(free_port)
  local dbg_port; dbg_port=$(free_port)

  (cd "$repo_dir" && go build -o "$work/ussdgw" ./cmd/ussdgw && go build -tags pushbench -o "$work/subscribers" ./cmd/loadtest/push/subscribers) >&2 ||
    { echo "gateway side: build failed (consent, outbox and api must be on main)" >&2; return 1; }
  [ -n "${BIN:-}" ] && cp "$BIN" "$work/ussdgw"

  if [ -n "${FLOWS:-}" ]; then flows=$FLOWS; else
    flows="$work/flows"
    cp -r "$repo_dir/flows-examples" "$flows"
    # A night-time run must not be deferred by the example's quiet hours
    # (market.yaml: alerts: {quiet_hours: "21:00-07:00", ...}, Nairobi time).
    sed -i -E -e 's/quiet_hours: *"[^"]*", *//' -e 's/, *quiet_hours: *"[^"]*"//' -e '/^[[:space:]]*quiet_hours:/d' "$flows"/*.yaml
  fi

  local data="$repo_dir/flows-examples/data"
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

  # Subscribers, and what they cost in Redis.
  local m0 m1 m2 m3 subs
  m0=$(used_memory "$REDIS_PORT")
  subs=$("$work/subscribers" -redis-url "$redis_url" -prefix "$prefix" -n "$n" -base "$base" -service "$service" -topic "$topic")
  m1=$(used_memory "$REDIS_PORT")
  echo "subscribers: $subs" >&2
  key_report "$REDIS_PORT" "$prefix" >"$work/keys-subscribers.json"

  local key
  key=$("$work/ussdgw" apikey create -redis-url "$redis_url" -redis-prefix "$prefix" -name bench -scopes read,send,admin 2>&1 |
    grep -oE "$key_re" | head -1) || true
  if [ -z "$key" ]; then
    echo "gateway side: no key from 'ussdgw apikey create'; creating one with package apikeys" >&2
    key=$("$work/subscribers" -redis-url "$redis_url" -prefix "$prefix" -n 0 -apikey bench | jq -r .api_key)
  fi
  [ -n "$key" ] && [ "$key" != null ] || { echo "gateway side: no API key" >&2; return 1; }

  PUSH_SMPP_PASSWORD=any "$work/ussdgw" -config "$work/gateway.yaml" -listen "127.0.0.1:$gw_port" -flows "$flows" \
    -redis-url "$redis_url" -redis-prefix "$prefix" -log-level warn -debug-listen "127.0.0.1:$dbg_port" \
    ${GW_FLAGS:-} >"$work/gateway.log" 2>&1 &
  local gw=$!
  pids+=("$gw")
  GW_PID=$gw
  wait_for 30 curl -sf "http://127.0.0.1:$gw_port/healthz" || { tail -20 "$work/gateway.log" >&2; return 1; }
  gw_bound() { [ "$(sink_stats | jq .sessions)" -ge 1 ]; }
  wait_for 30 gw_bound || { echo "gateway side: no bind to the sink" >&2; tail -20 "$work/gateway.log" >&2; return 1; }

  api() { # api METHOD PATH [BODY]
    curl -sS -X "$1" -H "$api_auth_header $key" -H 'Content-Type: application/json' \
      ${3:+--data-binary "$3"} "http://127.0.0.1:$gw_port/api/v1$2"
  }
  # fan_out PRICE: the API call that fans out to every subscriber; prints its group/broadcast id.
  fan_out() {
    local r
    case "$mode" in
      prices) r=$(api POST /prices "$(printf "$price_body" "$1")") ;;
      topic) r=$(api POST /broadcasts "$(jq -nc --arg s "$service" --arg t "$topic" --arg x "$text" \
        '{service: $s, audience: {topic: $t}, text: {en: $x}}')") ;;
      numbers) seq "$base" "$((base + n - 1))" | jq -Rsc --arg s "$service" --arg x "$text" \
        '{service: $s, audience: {numbers: split("\n") | map(select(. != ""))}, text: {en: $x}}' >"$work/numbers.json"
        r=$(curl -sS -X POST -H "$api_auth_header $key" -H 'Content-Type: application/json' \
          --data-binary @"$work/numbers.json" "http://127.0.0.1:$gw_port/api/v1/broadcasts") ;;
      *) echo "MODE: prices, topic or numbers" >&2; return 1 ;;
    esac
    echo "fan-out call ($mode): $(head -c 600 <<<"$r")" >&2
    jq -er '.alert.id // .id' <<<"$r" 2>/dev/null
  }
  # progress ID: the group's counts as the API reports them.
  progress() {
    if [ "$mode" = prices ]; then api GET "/alerts/$1" 2>/dev/null || echo '{}'
    else api GET "/broadcasts/$1" 2>/dev/null || echo '{}'; fi
  }

  # The baseline price. The example data already has a price for maize at
  # Eldoret, so a baseline that differs from it alerts every subscriber
  # (a fan-out of its own, before the timed one): post the data file's
  # price (no change, no alert), and should one be queued anyway, let the
  # sink take it all before the timed run starts.
  if [ "$mode" = prices ]; then
    local base_price queued0
    base_price=$(awk '/commodity: maize, market: eldoret,/ { sub(/.*price: */, ""); sub(/[^0-9].*/, ""); print; exit }' "$flows/data/prices.yaml" 2>/dev/null)
    [ -n "$base_price" ] || base_price=$(awk '/commodity: maize, market: eldoret,/ { sub(/.*price: */, ""); sub(/[^0-9].*/, ""); print; exit }' "$data/prices.yaml")
    r0=$(api POST /prices "$(printf "$price_body" "${base_price:-3200}")")
    echo "baseline price ${base_price:-3200}: $(head -c 400 <<<"$r0")" >&2
    queued0=$(jq '.alert.queued // 0' <<<"$r0" 2>/dev/null || echo 0)
    if [ "${queued0:-0}" -gt 0 ]; then
      echo "the baseline alerted $queued0 subscribers; waiting for them to leave" >&2
      RECEIPTS=1 sink_wait "$queued0" "$timeout_s" 30 || true
    fi
  fi

  sink_reset
  echo "== gateway: $n messages, mode $mode, window $window" >&2
  local c_gw0 c_rd0 c_sk0 t0 t1 id
  c_gw0=$(cpu "$gw"); c_rd0=$(cpu "$REDIS_PID"); c_sk0=$(cpu "$SINK_PID")
  if [ "${PROFILE:-0}" != 0 ]; then
    local out=${OUT:-/tmp/push-profile}
    mkdir -p "$out"
    curl -sf -o "$out/gateway.pprof" "http://127.0.0.1:$dbg_port/debug/pprof/profile?seconds=$PROFILE" &
    curl -sf -o "$out/gateway.trace" "http://127.0.0.1:$dbg_port/debug/pprof/trace?seconds=$((PROFILE < 5 ? PROFILE : 5))" &
  fi
  t0=$(date +%s.%N)
  id=$(fan_out 3400) || { echo "gateway side: the fan-out call failed" >&2; return 1; }
  local t_api; t_api=$(date +%s.%N)
  RECEIPTS=1 sink_wait "$n" "$timeout_s" 30 || true
  t1=$(date +%s.%N)
  local c_gw1 c_rd1 c_sk1; c_gw1=$(cpu "$gw"); c_rd1=$(cpu "$REDIS_PID"); c_sk1=$(cpu "$SINK_PID")
  local sink; sink=$(sink_stats)
  # Receipts as the gateway matched them: its progress count of delivered.
  local delivered="null" end=$((SECONDS + 30)) p
  while [ "$SECONDS" -lt "$end" ]; do
    p=$(progress "$id")
    delivered=$(jq '.delivered // null' <<<"$p" 2>/dev/null || echo null)
    [ "$delivered" != null ] && [ "$delivered" -ge "$(jq .unique <<<"$sink")" ] && break
    sleep 1
  done
  echo "progress: $p" >&2
  m2=$(used_memory "$REDIS_PORT")
  local rss_gw; rss_gw=$(peak_rss_mb "$gw")
  key_report "$REDIS_PORT" "$prefix" >"$work/keys-sent.json"

  # Bytes per queued message: nothing may leave, a second fan-out fills the queue.
  local per_queued=null
  if [ "${MEM_PHASE:-1}" = 1 ]; then
    curl -sf -X POST "http://127.0.0.1:$SINK_HTTP/refuse?system_id=ussdgw" >/dev/null
    sink_reset
    local id2 total=0
    id2=$(fan_out 3700) || true
    end=$((SECONDS + 120))
    while [ -n "$id2" ] && [ "$SECONDS" -lt "$end" ]; do
      total=$(progress "$id2" | jq '.total // 0' 2>/dev/null || echo 0)
      [ "$total" -ge "$n" ] && break
      sleep 1
    done
    m3=$(used_memory "$REDIS_PORT")
    key_report "$REDIS_PORT" "$prefix" >"$work/keys-queued.json"
    [ "$total" -ge "$n" ] && per_queued=$(((m3 - m2) / n))
    [ -n "$id2" ] && [ "$mode" != prices ] && api POST "/broadcasts/$id2/cancel" >/dev/null 2>&1 || true
    echo "queued phase: $total queued, $(jq .submits <<<"$(sink_stats)") left (must be 0)" >&2
    # The gateway goes (its queue must not drain into the next side), then
    # the sink takes ussdgw's binds again: the direct side binds as ussdgw.
    kill "$gw" 2>/dev/null || true
    wait "$gw" 2>/dev/null || true
    curl -sf -X POST "http://127.0.0.1:$SINK_HTTP/accept?system_id=ussdgw" >/dev/null
    sink_reset
  fi

  jq -n --argjson s "$sink" --arg n "$n" --arg t0 "$t0" --arg tapi "$t_api" --arg delivered "$delivered" \
    --arg gw "$(awk -v a="$c_gw0" -v b="$c_gw1" 'BEGIN{printf "%.2f", b-a}')" \
    --arg rd "$(awk -v a="$c_rd0" -v b="$c_rd1" 'BEGIN{printf "%.2f", b-a}')" \
    --arg sk "$(awk -v a="$c_sk0" -v b="$c_sk1" 'BEGIN{printf "%.2f", b-a}')" \
    --arg rss "$rss_gw" --arg mode "$mode" \
    --arg m0 "$m0" --arg m1 "$m1" --arg m2 "$m2" --arg pq "$per_queued" \
    --slurpfile ks "$work/keys-subscribers.json" --slurpfile kq "$( [ -s "$work/keys-queued.json" ] && echo "$work/keys-queued.json" || echo "$work/keys-sent.json")" \
    '{side: "ussdgw (outbox on Redis, \($mode))", n: ($n|tonumber),
      submits: $s.submits, unique: $s.unique, duplicates: $s.duplicates,
      lost: (($n|tonumber) - $s.unique),
      receipts: (if $delivered == "null" then $s.receipts_acked else ($delivered|tonumber) end),
      receipts_acked_at_sink: $s.receipts_acked,
      seconds: $s.seconds, rate: $s.rate,
      api_call_seconds: ((($tapi|tonumber) - ($t0|tonumber)) * 100 | round / 100),
      e2e_seconds: ((($s.last_ms / 1000) - ($t0|tonumber)) * 100 | round / 100),
      cpu_seconds: {gateway: ($gw|tonumber), redis: ($rd|tonumber), sink: ($sk|tonumber)},
      peak_rss_mb: {gateway: ($rss|tonumber)},
      redis_bytes_per_subscriber: ((($m1|tonumber) - ($m0|tonumber)) / ($n|tonumber) | floor),
      redis_bytes_per_sent_message: ((($m2|tonumber) - ($m1|tonumber)) / ($n|tonumber) | floor),
      redis_bytes_per_queued_message: (if $pq == "null" then null else ($pq|tonumber) end),
      redis_keys_subscribers: $ks[0], redis_keys_queued: $kq[0]}'
}

# run_direct N: the ceiling row. Writes the result JSON on stdout.
run_direct() {
  local n=$1 d c0 c1 t0 sink
  (cd "$repo_dir" && go build -o "$work/direct" ./cmd/loadtest/push/direct) >&2 || return 1
  echo "== direct: the smpp client straight into the sink, $n messages, window $window" >&2
  c0=$(cpu "$SINK_PID"); t0=$(date +%s.%N)
  d=$(timeout "$((timeout_s + 60))" "$work/direct" -addr "127.0.0.1:$SINK_PORT" -n "$n" -window "$window" -timeout "${timeout_s}s") || return 1
  RECEIPTS=1 sink_wait "$n" 60 15 || true
  c1=$(cpu "$SINK_PID"); sink=$(sink_stats)
  jq -n --argjson s "$sink" --argjson d "$d" --arg n "$n" --arg t0 "$t0" \
    --arg sk "$(awk -v a="$c0" -v b="$c1" 'BEGIN{printf "%.2f", b-a}')" \
    '{side: "ceiling: smpp.Client straight into the sink (no queue, no Redis)", n: ($n|tonumber),
      submits: $s.submits, unique: $s.unique, duplicates: $s.duplicates, lost: (($n|tonumber) - $s.unique),
      receipts: $d.receipts, seconds: $s.seconds, rate: $s.rate,
      e2e_seconds: ((($s.last_ms / 1000) - ($t0|tonumber)) * 100 | round / 100),
      cpu_seconds: {client: $d.cpu_seconds, sink: ($sk|tonumber)}, peak_rss_mb: {}}'
}

results=()
for side in $sides; do
  sink_reset
  case "$side" in
    kannel)
      if RESULT="$work/kannel.json" WINDOW=$window TIMEOUT=$timeout_s fg_wait "$push_dir/run-kannel.sh" "$n" >/dev/null; then
        results+=("$work/kannel.json")
      else echo "the Kannel side failed" >&2; fi ;;
    gateway)
      if run_gateway "$n" >"$work/gateway.json"; then results+=("$work/gateway.json")
      else echo "the gateway side did not run (see above)" >&2; fi
      # Whatever happened, the gateway must not go on sending into the
      # sink during the next side.
      if [ -n "${GW_PID:-}" ]; then kill "$GW_PID" 2>/dev/null || true; wait "$GW_PID" 2>/dev/null || true; fi
      curl -sf -X POST "http://127.0.0.1:$SINK_HTTP/accept?system_id=ussdgw" >/dev/null || true ;;
    direct)
      if run_direct "$n" >"$work/direct.json"; then results+=("$work/direct.json")
      else echo "the direct side failed" >&2; fi ;;
    *) echo "SIDES: kannel, gateway, direct" >&2; exit 2 ;;
  esac
done
[ "${#results[@]}" -gt 0 ] || exit 1

echo
echo "MT fan-out, $n messages into the node-smpp sink (receipts on), $(nproc) cores, $(date -u +%Y-%m-%d)"
echo
echo "| side | messages | seconds | messages/s | duplicates | lost | receipts | Redis bytes/queued msg | Redis bytes/subscriber |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
for f in "${results[@]}"; do
  jq -r '"| \(.side) | \(.unique) | \(.seconds) | \(.rate) | \(.duplicates) | \(.lost) | \(.receipts) | \(.redis_bytes_per_queued_message // "—") | \(.redis_bytes_per_subscriber // "—") |"' "$f"
done
echo
for f in "${results[@]}"; do
  jq -r '"- \(.side): first request/API call to last submit \(.e2e_seconds) s; CPU seconds \(.cpu_seconds | to_entries | map(select(.value != null and .value != 0)) | map("\(.key) \(.value)") | join(", ")); peak RSS MB \(.peak_rss_mb | to_entries | map("\(.key) \(.value)") | join(", ") | if . == "" then "—" else . end)" + (if .client then "; client: \(.client.concurrency) HTTP clients, \(.client.rate | floor) accepted/s" else "" end)' "$f"
done
cat "${results[@]}" >"${RESULTS:-/dev/null}"
