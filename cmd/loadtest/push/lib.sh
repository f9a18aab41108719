# Shared by run.sh and run-kannel.sh (sourced, not run): free ports, the
# sink, a persistent Redis, CPU and memory readings, bounded waits. Every
# process started here is recorded in the caller's pids array and killed
# by its EXIT trap (cleanup), by pid, never by name. INT and TERM exit, so
# that the EXIT trap runs on them too; long commands run in the background
# under `fg_wait`, so that a signal is handled at once, not when they end.
trap 'exit 130' INT
trap 'exit 143' TERM

push_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_dir=$(cd "$push_dir/../../.." && pwd)

need() {
  for c in "$@"; do
    command -v "$c" >/dev/null || { echo "$0: needs $c on PATH" >&2; exit 2; }
  done
}

# free_port prints a TCP port nothing listens on at 127.0.0.1 now.
free_port() {
  node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# wait_for SECONDS CMD...: run CMD every 0.2s until it succeeds; fail after SECONDS.
wait_for() {
  local secs=$1; shift
  local end=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$end" ]; then echo "timed out after ${secs}s waiting for: $*" >&2; return 1; fi
    sleep 0.2
  done
}

# fg_wait CMD...: run CMD in the background, recorded for cleanup, and wait
# for it; its exit status is returned.
fg_wait() {
  "$@" &
  local p=$!
  pids+=("$p")
  wait "$p"
}

# cleanup: TERM to every recorded process, KILL to those still there after
# cleanup_secs (run-kannel.sh 4, run.sh 8: the parent outwaits its child's
# own cleanup), then the work folder goes.
cleanup() {
  trap '' INT TERM # a second signal (a parent's cleanup, a group kill) must not cut this short
  local p end=$((SECONDS + ${cleanup_secs:-8})) alive
  for p in "${pids[@]:-}"; do
    [ -n "$p" ] && kill "$p" 2>/dev/null || true
  done
  while :; do
    alive=0
    for p in "${pids[@]:-}"; do [ -n "$p" ] && kill -0 "$p" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] || [ "$SECONDS" -ge "$end" ] && break
    sleep 0.1
  done
  for p in "${pids[@]:-}"; do
    [ -n "$p" ] && kill -9 "$p" 2>/dev/null || true
  done
  [ -n "${work:-}" ] && [ -z "${KEEP:-}" ] && rm -rf "$work"
  return 0
}

# start_sink: node sink.js on free ports; sets SINK_PORT, SINK_HTTP, SINK_PID.
start_sink() {
  if [ ! -d "$repo_dir/smpp/testdata/smsc/node_modules/smpp" ]; then
    (cd "$repo_dir/smpp/testdata/smsc" && npm ci --no-audit --no-fund >/dev/null)
  fi
  node "$push_dir/sink.js" -users "kannel:secret,ussdgw:*" -out "$work/sink-exit.json" >"$work/sink.log" 2>&1 &
  SINK_PID=$!
  pids+=("$SINK_PID")
  wait_for 10 grep -q '"listening"' "$work/sink.log"
  SINK_PORT=$(grep -m1 '"listening"' "$work/sink.log" | jq -r .port)
  SINK_HTTP=$(grep -m1 '"listening"' "$work/sink.log" | jq -r .http_port)
  export SINK_PORT SINK_HTTP SINK_PID
}

sink_stats() { curl -sf "http://127.0.0.1:$SINK_HTTP/stats"; }
sink_reset() { curl -sf -X POST "http://127.0.0.1:$SINK_HTTP/reset" >/dev/null; }

# sink_wait N SECONDS STALL: until the sink saw N submits (and as many
# receipts acked when RECEIPTS is not 0, and as many dlr-url callbacks
# when CALLBACKS=1), or SECONDS passed, or nothing moved for STALL seconds.
sink_wait() {
  local n=$1 secs=$2 stall=$3 end=$((SECONDS + $2)) last=-1 moved=$SECONDS s sub ack cb
  while :; do
    s=$(sink_stats) || return 1
    sub=$(jq .submits <<<"$s"); ack=$(jq .receipts_acked <<<"$s"); cb=$(jq .dlr_callbacks <<<"$s")
    if [ "$sub" -ge "$n" ] && { [ "${RECEIPTS:-1}" = 0 ] || [ "$ack" -ge "$sub" ]; } &&
      { [ "${CALLBACKS:-0}" != 1 ] || [ "$cb" -ge "$sub" ]; }; then return 0; fi
    if [ "$((sub + ack + cb))" != "$last" ]; then last=$((sub + ack + cb)); moved=$SECONDS; fi
    if [ $((SECONDS - moved)) -ge "$stall" ]; then echo "sink: stalled at $sub submits, $ack receipts acked" >&2; return 1; fi
    if [ "$SECONDS" -ge "$end" ]; then echo "sink: timed out at $sub submits" >&2; return 1; fi
    sleep 0.5
  done
}

# start_redis: a redis-server on a free port with the benchmark's
# persistence (appendonly yes, appendfsync everysec); sets REDIS_PORT.
start_redis() {
  REDIS_PORT=$(free_port)
  mkdir -p "$work/redis"
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$work/redis" --save "" \
    --appendonly yes --appendfsync everysec --daemonize no --logfile "$work/redis.log" &
  REDIS_PID=$!
  pids+=("$REDIS_PID")
  wait_for 10 redis-cli -p "$REDIS_PORT" ping
  export REDIS_PORT REDIS_PID
}

# cpu PID: user+system CPU seconds of a live process so far.
cpu() {
  awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / hz }' "/proc/$1/stat" 2>/dev/null || echo 0
}

# peak_rss_mb PID: the process's peak resident memory (VmHWM) in MB.
peak_rss_mb() {
  awk '/^VmHWM/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status" 2>/dev/null || echo 0
}

# used_memory PORT: Redis's used_memory in bytes.
used_memory() { redis-cli -p "$1" info memory | awk -F: '/^used_memory:/ { print $2 + 0 }'; }

# key_report PORT PREFIX: the keys under PREFIX grouped by shape (digit
# runs as #, hash tags kept), each with its count and the mean MEMORY USAGE
# of up to 50 of them, as a JSON array: where the bytes per subscriber and
# per message go.
key_report() {
  local port=$1 prefix=$2 keys
  keys=$(mktemp)
  redis-cli -p "$port" --scan --pattern "${prefix}*" >"$keys"
  awk '{ p = $0; gsub(/[0-9]+/, "#", p); n[p]++; if (n[p] <= 50) print p "\t" $0 }' "$keys" |
    while IFS=$'\t' read -r pat key; do
      printf '%s\t%s\n' "$pat" "$(redis-cli -p "$port" memory usage "$key" samples 0)"
    done |
    awk -F'\t' -v keys="$keys" 'BEGIN { while ((getline k < keys) > 0) { p = k; gsub(/[0-9]+/, "#", p); total[p]++ } }
      { sum[$1] += $2; got[$1]++ }
      END { printf "["; sep = ""; for (p in sum) { printf "%s{\"pattern\":\"%s\",\"keys\":%d,\"mean_bytes\":%d}", sep, p, total[p], sum[p] / got[p]; sep = "," } print "]" }'
  rm -f "$keys"
}
