#!/usr/bin/env bash
# End-to-end retention inside the service: events 200 and 60 days old and
# recent ones in two accounts; one account has a 30-day override in meta,
# the other uses the default (--retention-days 90). With --purge-on-start
# the service seals and purges: exactly the expired days go, the rest stays;
# the run is logged and counted in /metrics.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/http_lib.bash"

D=$TMP/data
start_server "$D" || { nok "server starts"; tk_done; }
bootstrap_key "$D"; A="$KEY_ID:$KEY_SECRET"
ACCT=100000000000000; X=444444444444444
"$TK_BIN" accounts create $X --data "$D" >/dev/null 2>&1
"$TK_BIN" accounts set $ACCT --data "$D" --retention-days 30 >/dev/null 2>&1
check "30-day override set for $ACCT" test $? -eq 0
mkkey "$D" $X writer && XW="$KEY_ID:$KEY_SECRET"
mkkey "$D" $X reader && XR="$KEY_ID:$KEY_SECRET"
NOW=$(date +%s)
for who in "$ACCT:$A" "$X:$XW"; do
  acct=${who%%:*}; auth=${who#*:}
  { gen_events 10 "$acct" $((NOW - 200 * 86400)) 60 old
    gen_events 10 "$acct" $((NOW - 60 * 86400)) 60 mid
    gen_events 10 "$acct" $((NOW - 3600)) 60 new; } >"$TMP/ev.jsonl"
  req POST /v1/events "$auth" --data-binary @"$TMP/ev.jsonl" >/dev/null
  eq "30 events of $acct accepted" "200 30" "$CODE $(jget "$TMP/body" 'j["accepted"]')"
done
stop_server >/dev/null
start_server "$D" --purge-on-start --retention-days 90 --max-page 100 || { nok "restart"; tk_done; }
for _ in $(seq 1 100); do grep -q "purge done\|purge failed" "$D.err" && break; sleep 0.1; done
check "the purge ran and was logged" grep -q "trailkeep serve: purge done" "$D.err"
ST=$(date -u -d @$((NOW - 250 * 86400)) +%Y-%m-%dT%H:%M:%SZ)
prefixes() { jget "$TMP/body" '" ".join(sorted(set(e["eventId"].split("-")[0] for e in j["Events"])))'; }
req GET "/v1/lookup?StartTime=$ST&MaxResults=100" "$A" >/dev/null
eq "$ACCT (30-day override): only recent events remain" "200 new 10" "$CODE $(prefixes) $(jget "$TMP/body" 'len(j["Events"])')"
req GET "/v1/lookup?StartTime=$ST&MaxResults=100" "$XR" >/dev/null
eq "$X (default 90 days): 60-day-old and recent remain" "200 mid new 20" "$CODE $(prefixes) $(jget "$TMP/body" 'len(j["Events"])')"
req GET /metrics "$A" >/dev/null
check "metrics: one purge run" grep -q '^trailkeep_purge_runs_total 1$' "$TMP/body"
check "metrics: 30 events removed" grep -q '^trailkeep_purge_removed_events_total 30$' "$TMP/body"
check "metrics: no purge failure" grep -q '^trailkeep_purge_failures_total 0$' "$TMP/body"
check "metrics: the seal ran first" grep -q '^trailkeep_seal_runs_total [1-9]' "$TMP/body"
stop_server >/dev/null
check "the store verifies clean after the purge" "$TK_BIN" verify --data "$D"
tk_done
