#!/usr/bin/env bash
# End-to-end overload and graceful shutdown, made deterministic with the
# test hook TK_TEST_APPEND_DELAY_MS (each append is held in flight): with
# --max-inflight 1 a second concurrent ingest gets 503 + Retry-After and
# stores nothing; SIGTERM during an append refuses new connections at once,
# still acknowledges the append in flight, and exits cleanly.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/http_lib.bash"

D=$TMP/data
export TK_TEST_APPEND_DELAY_MS=1500
start_server "$D" --max-inflight 1 || { nok "server starts"; tk_done; }
unset TK_TEST_APPEND_DELAY_MS
bootstrap_key "$D"; A="$KEY_ID:$KEY_SECRET"
ACCT=100000000000000; NOW=$(date +%s)
for b in 1 2 3; do gen_events 5 $ACCT $((NOW - 600 + b * 10)) 1 "bp$b" >"$TMP/b$b.jsonl"; done
post_bg() { # FILE OUT: posts in the background, writes "status body" to OUT
  curl -s -o "$2.body" -w '%{http_code}' -H "Authorization: Bearer $A" --data-binary @"$1" "$URL/v1/events" >"$2" &
}

post_bg "$TMP/b1.jsonl" "$TMP/r1"; P1=$!
sleep 0.4
req POST /v1/events "$A" --data-binary @"$TMP/b2.jsonl" >/dev/null
eq "a second append while --max-inflight 1 is busy: 503 ServiceUnavailable" "503 ServiceUnavailable" "$CODE $(jget "$TMP/body" 'j["Code"]')"
check "with Retry-After: 1" grep -qi '^Retry-After: 1' "$TMP/hdr"
wait $P1
eq "the first append is acknowledged" "200 5" "$(cat "$TMP/r1") $(jget "$TMP/r1.body" 'j["accepted"]')"

post_bg "$TMP/b3.jsonl" "$TMP/r3"; P3=$!
sleep 0.4
kill -TERM "$SERVER_PID"
sleep 0.3
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$URL/healthz")
eq "while draining, new connections are refused" 000 "$code"
wait $P3
eq "the append in flight at SIGTERM is still acknowledged" "200 5" "$(cat "$TMP/r3") $(jget "$TMP/r3.body" 'j["accepted"]')"
wait "$SERVER_PID"; rc=$?
eq "then the server exits cleanly" 0 "$rc"

start_server "$D" || { nok "restart"; tk_done; }
ST=$(date -u -d @$((NOW - 3600)) +%Y-%m-%dT%H:%M:%SZ)
req GET "/v1/lookup?StartTime=$ST&MaxResults=50" "$A" >/dev/null
eq "after restart: batches 1 and 3 stored, the refused batch 2 not" "bp1 bp3" \
  "$(jget "$TMP/body" '" ".join(sorted(set(e["eventId"].split("-")[0] for e in j["Events"])))')"
stop_server >/dev/null
tk_done
