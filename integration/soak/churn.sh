#!/usr/bin/env bash
# churn.sh BIN PORT: register/unregister churn through a real `ssp dev` (its dev SurrealDB
# included) over HTTP, 4 clients at a time, each cycle a view id never used again; prints the
# live heap after a forced GC (pprof heap?gc=1, then go_gc_heap_live_bytes) and the RSS after a
# warm-up of 200 cycles and after each round. Env: CYCLES (per round, 4000), ROUNDS (1).
# Run from the repository root with a built binary: go build -o /tmp/ssp ./cmd/ssp &&
# integration/soak/churn.sh /tmp/ssp 18700. PORT and PORT+1 (pprof) must be free. Needs curl.
set -euo pipefail
bin=$1; port=$2; pport=$((port+1)); cycles=${CYCLES:-4000}
SPKY_SSP_LISTEN_ADDR=127.0.0.1:$port SPKY_PPROF_ADDR=127.0.0.1:$pport SPKY_LOG_LEVEL=warn $bin dev --db-port 0 >"${TMPDIR:-/tmp}/churn-$port.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null' EXIT
base=http://127.0.0.1:$port
for i in $(seq 1 600); do curl -sf $base/health >/dev/null 2>&1 && break; sleep 0.5; done
H=(-H 'Content-Type: application/json' -H 'Authorization: Bearer dev')
curl -sf "${H[@]}" $base/ingest -d '{"table":"thread","op":"CREATE","id":"thread:1","record":{"status":"open"}}'
cycle() { curl -sf "${H[@]}" $base/view/register -d "{\"id\":\"_00_query:c$1\",\"surql\":\"SELECT * FROM thread WHERE status = 'open'\",\"clientId\":\"c\",\"ttl\":\"1h\",\"params\":{\"auth\":{\"id\":\"user:u$(( $1 % 8 ))\"}}}" >/dev/null
  curl -sf "${H[@]}" $base/view/unregister -d "{\"id\":\"_00_query:c$1\"}" >/dev/null; }
export -f cycle; export base
measure() {
  curl -sf "http://127.0.0.1:$pport/debug/pprof/heap?gc=1" >/dev/null
  curl -sf $base/metrics | awk -v tag="$1" '/^go_gc_heap_live_bytes/ {l=$2} /^process_resident_memory_bytes/ {r=$2} END {printf "%s live_heap=%.2fMB rss=%.1fMB\n", tag, l/1e6, r/1e6}'
}
seq 1 200 | xargs -P4 -I{} bash -c "$(declare -f cycle); H=(-H 'Content-Type: application/json' -H 'Authorization: Bearer dev'); cycle {}"
measure "$(basename $bin) after 200 warm-up cycles:"
rounds=${ROUNDS:-1}
next=201
for r in $(seq 1 $rounds); do
  start=$(date +%s)
  seq $next $((next+cycles-1)) | xargs -P4 -I{} bash -c "$(declare -f cycle); H=(-H 'Content-Type: application/json' -H 'Authorization: Bearer dev'); cycle {}"
  next=$((next+cycles))
  measure "$(basename $bin) after round $r of $cycles cycles ($(( $(date +%s)-start )) s):"
done
