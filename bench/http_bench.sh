#!/usr/bin/env bash
# HTTP benchmark of trailkeep serve (release build), called by bench/run.sh:
#  1. ingest throughput with durable acknowledgement: wrk posts JSON Lines
#     batches of 100 and 500 events over several connections; every request
#     carries fresh eventIds (a Lua script splices a per-request prefix into a
#     pre-generated template), so nothing is deduplicated away. Reported as
#     events/s and as a ratio to `trailkeep import` of the same events,
#     measured in the same run; batches of 500 once more on a server started
#     with --no-alerts --no-insights, to show what those log consumers cost;
#  2. LookupEvents over HTTP (one attribute, newest 50) at 1, 8 and 64
#     concurrent readers: requests/s, p50 and p99 latency.
# Prints a markdown table on stdout and writes $BENCH_WORK/http.json.
# Environment: BENCH_BUILD (build/release), BENCH_WORK (bench/work),
# HTTP_BENCH_EVENTS (200000 events for import), HTTP_BENCH_SECS (8 s per
# ingest run), HTTP_BENCH_LOOKUP_SECS (5 s per lookup run),
# HTTP_BENCH_CONNS (16 ingest connections), HTTP_BENCH_THREADS (serve
# --threads, 0 = thread per connection), HTTP_BENCH_SERVE_OPTS (more serve
# options for every server started).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
REL=${BENCH_BUILD:-$ROOT/build/release}
WORK=$(mkdir -p "${BENCH_WORK:-$ROOT/bench/work}" && cd "${BENCH_WORK:-$ROOT/bench/work}" && pwd)
TK=$REL/trailkeep
N=${HTTP_BENCH_EVENTS:-200000}
SECS=${HTTP_BENCH_SECS:-8}
LSECS=${HTTP_BENCH_LOOKUP_SECS:-5}
CONNS=${HTTP_BENCH_CONNS:-16}
SRV_THREADS=${HTTP_BENCH_THREADS:-0}
PY=/usr/bin/python3
say() { printf '[http-bench %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { echo "http_bench: $*" >&2; exit 1; }
command -v wrk >/dev/null || die "wrk not found: apt-get install wrk (or run ./scripts/setup)"
[ -x "$TK" ] || die "$TK not found: run 'make build'"
[ -x "$PY" ] || die "$PY not found"

D=$WORK/http
rm -rf "$D" && mkdir -p "$D"
SRV_PID=""
cleanup() { [ -n "$SRV_PID" ] && kill "$SRV_PID" 2>/dev/null && wait "$SRV_PID" 2>/dev/null; }
trap cleanup EXIT
free_port() { $PY -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

# start_srv DATA [serve options...]: serve on a free port, no access log, no rate limit.
start_srv() {
  PORT=$(free_port); URL="http://127.0.0.1:$PORT"
  "$TK" serve --data "$1" --listen "127.0.0.1:$PORT" --access-log off --lookup-rate 0 \
    --max-inflight 1024 --threads "$SRV_THREADS" ${HTTP_BENCH_SERVE_OPTS:-} "${@:2}" >"$1.out" 2>"$1.err" &
  SRV_PID=$!
  for _ in $(seq 1 100); do curl -s -o /dev/null "$URL/healthz" && return 0; sleep 0.1; done
  die "serve did not start: $(tail -5 "$1.err")"
}
stop_srv() { kill "$SRV_PID"; wait "$SRV_PID" 2>/dev/null; SRV_PID=""; }
# key DATA ACCOUNT ROLE -> "KEYID:SECRET"
key() {
  "$TK" accounts create "$2" --data "$1" >/dev/null 2>&1
  "$TK" keys create --data "$1" --account "$2" --role "$3" 2>/dev/null |
    awk '/^key id:/{k=$3} /^secret:/{s=$2} END{print k":"s}'
}

# ---- data: one account, one day, so lookups hit a realistic store -----------
say "generating $N events"
"$TK" gen --events "$N" --days 1 --accounts 1 --seed 7 --out "$D/events.jsonl" || die "gen failed"
ACCT=$(head -1 "$D/events.jsonl" | grep -o '"recipientAccountId":"[^"]*"' | cut -d'"' -f4)
BYTES=$(stat -c %s "$D/events.jsonl")

# ---- import baseline ---------------------------------------------------------
say "import baseline"
t0=$(date +%s.%N)
"$TK" import --data "$D/imp" --quiet "$D/events.jsonl" || die "import failed"
t1=$(date +%s.%N)
IMPORT_EPS=$($PY -c "print(round($N/($t1-$t0)))")

# ---- HTTP ingest ---------------------------------------------------------------
cat >"$D/ingest.lua" <<'EOF'
-- Each request: the batch template with a unique 12-character prefix spliced
-- into every eventId, so no event is a duplicate.
-- tid and bad are globals: setup() sets tid and done() reads bad per thread.
local parts, counter = nil, 0
tid, bad = 0, 0
local threads = {}
function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end
function init(args)
  local f = assert(io.open(args[1], "rb"))
  local body = f:read("*a"); f:close()
  parts = {}
  local start = 1
  while true do
    local s, e = string.find(body, "XXXXXXXXXXXX", start, true)
    if not s then table.insert(parts, string.sub(body, start)); break end
    table.insert(parts, string.sub(body, start, s - 1))
    start = e + 1
  end
  wrk.method = "POST"
  wrk.headers["Authorization"] = "Bearer " .. args[2]
  wrk.headers["Content-Type"] = "application/x-ndjson"
end
function request()
  counter = counter + 1
  local prefix = string.format("%03d%09d", tid, counter)
  local out = {}
  for i = 1, #parts - 1 do out[#out + 1] = parts[i]; out[#out + 1] = prefix end
  out[#out + 1] = parts[#parts]
  return wrk.format(nil, "/v1/events", nil, table.concat(out))
end
function response(status, headers, body)
  if status ~= 200 or not string.find(body, '"duplicates":0', 1, true) then bad = bad + 1 end
end
function done(summary, latency, requests)
  local nbad = 0
  for _, t in ipairs(threads) do nbad = nbad + t:get("bad") end
  io.write(string.format("RESULT requests=%d bad=%d secs=%.3f p50=%.3f p99=%.3f\n",
    summary.requests, nbad, summary.duration / 1e6,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
EOF
INGEST_ROWS=()
JSON_INGEST=""
# ingest_run DATA LABEL-SUFFIX [serve options...]: one server, batches of $BATCHES.
ingest_run() {
local data=$1 label=$2; shift 2
W=$(key "$data" "$ACCT" writer) # creates meta before serve starts
start_srv "$data" "$@"
# Live ingest: events arrive about now, in time order (the generator's day of
# history replayed over and over would make every batch a late arrival).
NOWT=$(date -u +%Y-%m-%dT%H:%M:%SZ)
for B in $BATCHES; do
  head -n "$B" "$D/events.jsonl" |
    awk -v now="$NOWT" '{ sub(/"eventId":"[^"]*"/, "\"eventId\":\"XXXXXXXXXXXX-'"$B"'-" NR "\"");
                          sub(/"eventTime":"[^"]*"/, "\"eventTime\":\"" now "\""); print }' >"$D/tmpl$B.jsonl"
  say "HTTP ingest, batches of $B, $CONNS connections, ${SECS}s"
  out=$(wrk -t2 -c"$CONNS" -d"${SECS}s" --timeout 30s -s "$D/ingest.lua" "$URL" -- "$D/tmpl$B.jsonl" "$W" 2>&1)
  line=$(printf '%s\n' "$out" | grep '^RESULT' | tail -1)
  [ -n "$line" ] || { say "wrk failed: $out"; continue; }
  eval "$(printf '%s\n' "$line" | sed 's/^RESULT //')"
  EPS=$($PY -c "print(round(($requests-$bad)*$B/$secs))")
  RATIO=$($PY -c "print('%.2f' % ($EPS/$IMPORT_EPS))")
  INGEST_ROWS+=("| HTTP ingest, batches of $B, $CONNS connections, durable ack$label | $EPS events/s | ${RATIO}x import; p50 $p50 ms, p99 $p99 ms per request; $bad failed requests |")
  JSON_INGEST+="${JSON_INGEST:+,}{\"batch\":$B,\"connections\":$CONNS,\"events_per_s\":$EPS,\"ratio_to_import\":$RATIO,\"p50_ms\":$p50,\"p99_ms\":$p99,\"requests\":$requests,\"failed\":$bad,\"consumers\":\"${label:+none}\"}"
done
stop_srv
}
BATCHES="100 500" ingest_run "$D/ing" ""
# The same without the alert and Insights consumers: what they cost ingest
# (each reads the log and parses every event, on the same 2 cores).
BATCHES="500" ingest_run "$D/ing2" " (serve --no-alerts --no-insights)" --no-alerts --no-insights

# ---- HTTP lookup (on the imported, sealed store) -------------------------------
R=$(key "$D/imp" "$ACCT" reader)
start_srv "$D/imp"
cat >"$D/lookup.lua" <<'EOF'
local threads = {}
bad = 0
function setup(thread) table.insert(threads, thread) end
function init(args)
  wrk.headers["Authorization"] = "Bearer " .. args[1]
  wrk.path = args[2]
end
function response(status, headers, body)
  if status ~= 200 then bad = bad + 1 end
end
function done(summary, latency, requests)
  local nbad = 0
  for _, t in ipairs(threads) do nbad = nbad + t:get("bad") end
  io.write(string.format("RESULT requests=%d bad=%d secs=%.3f p50=%.3f p99=%.3f\n",
    summary.requests, nbad, summary.duration / 1e6,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
EOF
ST=$(date -u -d '-3 days' +%Y-%m-%dT%H:%M:%SZ)
QPATH="/v1/lookup?StartTime=$ST&LookupAttribute.1.Key=EventName&LookupAttribute.1.Value=DescribeInstances&MaxResults=50"
n=$(curl -s -H "Authorization: Bearer $R" "$URL$QPATH" | $PY -c 'import json,sys; print(len(json.load(sys.stdin)["Events"]))')
[ "$n" = 50 ] || say "warning: the lookup query returns $n events, not 50"
LOOKUP_ROWS=()
JSON_LOOKUP=""
for C in 1 8 64; do
  T=2; [ "$C" -lt 2 ] && T=1
  say "HTTP lookup, $C concurrent readers, ${LSECS}s"
  out=$(wrk -t"$T" -c"$C" -d"${LSECS}s" --timeout 30s -s "$D/lookup.lua" "$URL" -- "$R" "$QPATH" 2>&1)
  line=$(printf '%s\n' "$out" | grep '^RESULT' | tail -1)
  [ -n "$line" ] || { say "wrk failed: $out"; continue; }
  eval "$(printf '%s\n' "$line" | sed 's/^RESULT //')"
  RPS=$($PY -c "print(round(($requests-$bad)/$secs))")
  LOOKUP_ROWS+=("| HTTP LookupEvents (EventName, newest 50), $C readers | $RPS requests/s | p50 $p50 ms, p99 $p99 ms; $bad failed |")
  JSON_LOOKUP+="${JSON_LOOKUP:+,}{\"readers\":$C,\"requests_per_s\":$RPS,\"p50_ms\":$p50,\"p99_ms\":$p99,\"failed\":$bad}"
done
stop_srv

cat >"$WORK/http.json" <<EOF
{"events":$N,"bytes":$BYTES,"import_events_per_s":$IMPORT_EPS,"server_threads":$SRV_THREADS,
 "ingest":[${JSON_INGEST}],
 "lookup":[${JSON_LOOKUP}]}
EOF
echo "| HTTP measure ($N events of $((BYTES / N)) bytes, $(nproc) cores) | figure | notes |"
echo "|---|---|---|"
echo "| trailkeep import of the same events (baseline) | $IMPORT_EPS events/s | one process, release build |"
for r in "${INGEST_ROWS[@]}" "${LOOKUP_ROWS[@]}"; do echo "$r"; done
rm -rf "$D"
