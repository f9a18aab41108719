#!/usr/bin/env bash
# The Kannel half of the MT fan-out benchmark: Kannel 1.4 (Debian package
# kannel: bearerbox + smsbox) bound as an ESME (SMPP transceiver) to the
# node-smpp sink, N messages sent through smsbox's HTTP sendsms by many
# concurrent clients (sendsms/main.go), measured at the sink (first to last
# submit_sm) and at the client (accepted per second).
#
# Usage: cmd/loadtest/push/run-kannel.sh [N]       (N defaults to 100000)
#   env: CONC         concurrent HTTP clients (64)
#        WINDOW       Kannel max-pending-submits, the SMPP window (100; Kannel's default is 10)
#        BINDS        SMPP binds, smsc groups with one smsc-id (1)
#        KANNEL_STORE Kannel's message store: file (default: store-type file, Kannel's
#                     usual durable setup), redis (store-type redis into a persistent
#                     redis-server started for it, appendfsync everysec), none (memory only)
#        RECEIPTS     1 (default): dlr-mask 3, the sink sends receipts; 0: none
#        DLR_URL      1 (default): Kannel calls the sink's /dlr for each receipt (how a Kannel
#                     application learns of it; counted as "receipts"); 0: no dlr-url (smsbox
#                     then logs an error per receipt)
#        TIMEOUT      seconds for the whole send (600)
#        SINK_HTTP, SINK_PORT, SINK_PID  use a running sink.js (run.sh does); else one is started
#        KANNEL_MEM=1 with KANNEL_STORE=redis: after the timed run, the sink refuses Kannel's
#                     bind, N more messages are sent, and Kannel's Redis bytes per queued
#                     message are measured (INFO used_memory delta / N)
#        RESULT       write the result JSON there
#        KEEP=1       keep the work folder (configs, logs) and print its path
# Needs: bearerbox, smsbox, node (+ npm the first time), go, jq, curl, redis-server for KANNEL_STORE=redis.
# Everything listens on 127.0.0.1; every process started is killed on exit.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
need bearerbox smsbox node go jq curl
n=${1:-100000}
conc=${CONC:-64}
window=${WINDOW:-100}
binds=${BINDS:-1}
store=${KANNEL_STORE:-file}
receipts=${RECEIPTS:-1}
dlr_url=${DLR_URL:-1}
[ "$receipts" = 0 ] && dlr_url=0
timeout_s=${TIMEOUT:-600}
pids=()
cleanup_secs=4
work=$(mktemp -d /tmp/push-kannel.XXXXXX)
trap cleanup EXIT
[ -n "${KEEP:-}" ] && echo "work folder: $work" >&2

(cd "$repo_dir" && go build -o "$work/sendsms" ./cmd/loadtest/push/sendsms)
if [ -z "${SINK_HTTP:-}" ]; then start_sink; fi
sink_reset

admin=$(free_port); boxport=$(free_port); sendport=$(free_port)
pass=bench

case "$store" in
  file) store_conf="store-type = file
store-location = \"$work/kannel.store\"" ;;
  redis)
    need redis-server redis-cli
    [ -n "${REDIS_PORT:-}" ] || start_redis
    store_conf="store-type = redis
store-location = kannel_store" ;;
  none) store_conf="" ;;
  *) echo "KANNEL_STORE: file, redis or none" >&2; exit 2 ;;
esac

{
  cat <<CONF
group = core
admin-port = $admin
admin-password = $pass
admin-deny-ip = "*.*.*.*"
admin-allow-ip = "127.0.0.1"
smsbox-port = $boxport
box-deny-ip = "*.*.*.*"
box-allow-ip = "127.0.0.1"
log-file = "$work/bearerbox.log"
log-level = 2
dlr-storage = internal
$store_conf

CONF
  if [ "$store" = redis ]; then
    cat <<CONF
group = redis-connection
id = kannel_store
host = 127.0.0.1
port = $REDIS_PORT
database = 0
max-connections = 1

group = store-db
id = kannel_store
table = kannel_store

CONF
  fi
  for i in $(seq 1 "$binds"); do
    # No throughput key: unthrottled. msg-id-type 0x00: the sink's ids are
    # decimal in submit_sm_resp and in the receipt text alike.
    cat <<CONF
group = smsc
smsc = smpp
smsc-id = sink
smsc-admin-id = sink-$i
host = 127.0.0.1
port = $SINK_PORT
transceiver-mode = true
smsc-username = kannel
smsc-password = secret
system-type = ""
interface-version = 34
max-pending-submits = $window
msg-id-type = 0x00
enquire-link-interval = 30
reconnect-delay = 1

CONF
  done
  cat <<CONF
group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = $boxport
sendsms-port = $sendport
sendsms-interface = 127.0.0.1
global-sender = 777
log-file = "$work/smsbox.log"
log-level = 2

group = sendsms-user
username = bench
password = $pass
user-allow-ip = "127.0.0.1"
max-messages = 1
concatenation = false
CONF
} >"$work/kannel.conf"

bearerbox -v 2 "$work/kannel.conf" >"$work/bearerbox.out" 2>&1 &
bb=$!
pids+=("$bb")
wait_for 20 curl -sf "http://127.0.0.1:$admin/status.txt?password=$pass" || { tail -20 "$work/bearerbox.out" >&2; exit 1; }
smsbox -v 2 "$work/kannel.conf" >"$work/smsbox.out" 2>&1 &
sb=$!
pids+=("$sb")
binds_up() { [ "$(sink_stats | jq .binds)" -ge "$binds" ]; }
wait_for 30 binds_up || { echo "Kannel did not bind to the sink" >&2; tail -20 "$work/bearerbox.out" >&2; exit 1; }
# smsbox is up when sendsms answers (403/400 without credentials).
sendsms_up() { curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$sendport/cgi-bin/sendsms" | grep -q '^[2-4]'; }
wait_for 30 sendsms_up || { echo "smsbox did not come up" >&2; tail -20 "$work/smsbox.out" >&2; exit 1; }
online() { curl -sf "http://127.0.0.1:$admin/status.txt?password=$pass" | grep -q 'online'; }
wait_for 30 online || { echo "the smsc link is not online" >&2; exit 1; }
sink_reset

echo "== Kannel: $n messages, $conc HTTP clients, window $window, $binds bind(s), store $store, receipts $receipts, dlr-url $dlr_url" >&2
c_bb0=$(cpu "$bb"); c_sb0=$(cpu "$sb"); c_sk0=$(cpu "$SINK_PID"); c_rd0=$([ -n "${REDIS_PID:-}" ] && [ "$store" = redis ] && cpu "$REDIS_PID" || echo 0)
t0=$(date +%s.%N)
dlr=3; [ "$receipts" = 0 ] && dlr=0
durl=""; [ "$dlr_url" = 1 ] && durl="http://127.0.0.1:$SINK_HTTP/dlr?type=%d"
fg_wait timeout "$((timeout_s + 30))" "$work/sendsms" -url "http://127.0.0.1:$sendport/cgi-bin/sendsms" -user bench -pass "$pass" \
  -n "$n" -c "$conc" -dlr-mask "$dlr" -dlr-url "$durl" -timeout "${timeout_s}s" >"$work/client.json" 2>"$work/client.log" || {
  echo "sendsms failed:" >&2; tail -5 "$work/client.log" >&2; cat "$work/client.json" >&2; }
accepted=$(jq .accepted "$work/client.json" 2>/dev/null || echo 0)
RECEIPTS=$receipts CALLBACKS=$dlr_url sink_wait "$accepted" "$timeout_s" 30 || true
t1=$(date +%s.%N)
c_bb1=$(cpu "$bb"); c_sb1=$(cpu "$sb"); c_sk1=$(cpu "$SINK_PID"); c_rd1=$([ -n "${REDIS_PID:-}" ] && [ "$store" = redis ] && cpu "$REDIS_PID" || echo 0)
sink=$(sink_stats)
status=$(curl -sf "http://127.0.0.1:$admin/status.txt?password=$pass" || true)
kstore=$(grep -m1 -oE 'store size [-0-9]+' <<<"$status" | grep -oE '[-0-9]+$' || echo "?")
kdlr=$(grep -m1 -oE 'DLR: [0-9]+ queued' <<<"$status" | grep -oE '[0-9]+' || echo "?")

# Kannel's Redis bytes per queued message: its bind refused, nothing leaves.
per_queued=null
if [ "${KANNEL_MEM:-0}" = 1 ] && [ "$store" = redis ]; then
  curl -sf -X POST "http://127.0.0.1:$SINK_HTTP/refuse?system_id=kannel" >/dev/null
  offline() { ! online; }
  wait_for 30 offline || true
  sink_reset
  m0=$(used_memory "$REDIS_PORT")
  fg_wait timeout "$((timeout_s + 30))" "$work/sendsms" -url "http://127.0.0.1:$sendport/cgi-bin/sendsms" -user bench -pass "$pass" \
    -n "$n" -c "$conc" -base 254710000000 -dlr-mask "$dlr" -dlr-url "$durl" -timeout "${timeout_s}s" >"$work/client-mem.json" 2>>"$work/client.log" || true
  sleep 2 # bearerbox writes to its store before it acks smsbox; this is slack for the last writes
  m1=$(used_memory "$REDIS_PORT")
  queued=$(jq .accepted "$work/client-mem.json" 2>/dev/null || echo 0)
  left=$(sink_stats | jq .submits)
  [ "$queued" -gt 0 ] && per_queued=$(((m1 - m0) / queued))
  echo "Kannel with its bind refused: $queued accepted, $left reached the sink (must be 0), $per_queued Redis bytes each" >&2
  curl -sf -X POST "http://127.0.0.1:$SINK_HTTP/accept?system_id=kannel" >/dev/null
fi

result=$(jq -n --argjson s "$sink" --argjson c "$(cat "$work/client.json" 2>/dev/null || echo '{}')" \
  --arg n "$n" --arg t0 "$t0" --arg wall "$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}')" \
  --arg bb "$(awk -v a="$c_bb0" -v b="$c_bb1" 'BEGIN{printf "%.2f", b-a}')" \
  --arg sb "$(awk -v a="$c_sb0" -v b="$c_sb1" 'BEGIN{printf "%.2f", b-a}')" \
  --arg sk "$(awk -v a="$c_sk0" -v b="$c_sk1" 'BEGIN{printf "%.2f", b-a}')" \
  --arg rd "$(awk -v a="$c_rd0" -v b="$c_rd1" 'BEGIN{printf "%.2f", b-a}')" \
  --arg bbrss "$(peak_rss_mb "$bb")" --arg sbrss "$(peak_rss_mb "$sb")" \
  --arg pq "$per_queued" --arg cb "$dlr_url" --arg store "$store" --arg kstore "$kstore" --arg kdlr "$kdlr" \
  '{side: "Kannel 1.4.5 (bearerbox+smsbox, store \($store))", n: ($n|tonumber),
    submits: $s.submits, unique: $s.unique, duplicates: $s.duplicates,
    lost: (($n|tonumber) - $s.unique), receipts: (if $cb == "1" then $s.dlr_callbacks_delivered else $s.receipts_acked end),
    receipts_acked_at_sink: $s.receipts_acked, dlr_callbacks: $s.dlr_callbacks,
    seconds: $s.seconds, rate: $s.rate, client: $c,
    e2e_seconds: ((($s.last_ms / 1000) - ($t0|tonumber)) * 100 | round / 100), wall_seconds: ($wall|tonumber),
    cpu_seconds: {bearerbox: ($bb|tonumber), smsbox: ($sb|tonumber), sink: ($sk|tonumber), sendsms_client: ($c.cpu_seconds // null), redis: ($rd|tonumber)},
    peak_rss_mb: {bearerbox: ($bbrss|tonumber), smsbox: ($sbrss|tonumber)},
    kannel_store_left: $kstore, kannel_dlr_queued: $kdlr,
    redis_bytes_per_queued_message: (if $pq == "null" then null else ($pq|tonumber) end)}')
[ -n "${RESULT:-}" ] && echo "$result" >"$RESULT"
echo "$result"
