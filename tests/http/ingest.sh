#!/usr/bin/env bash
# End-to-end: trailkeep serve's ingest and read routes. First start prints the
# admin key; POST /v1/events takes one event, arrays, JSON Lines and gzip,
# reports rejects by index, dedups, enforces size/count limits; lookup by GET,
# JSON POST and form POST pages through everything in order; resource history
# lists only Write events; /healthz, /metrics, the access log (no secrets),
# graceful shutdown.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/http_lib.bash"

D=$TMP/data
start_server "$D" || { nok "server starts"; tk_done; }
bootstrap_key "$D"
check "first start prints the admin key once" test -n "$KEY_ID" -a ${#KEY_SECRET} -eq 40
A="$KEY_ID:$KEY_SECRET"
ACCT=100000000000000
NOW=$(date +%s)
T0=$((NOW - 7200))

req GET /healthz "" >/dev/null
eq "healthz needs no key" 200 "$CODE"
check "healthz says ok" grep -q '"status":"ok"' "$TMP/body"

# --- shapes -------------------------------------------------------------
gen_events 1 $ACCT $T0 1 one >"$TMP/one.json"
req POST /v1/events "$A" --data-binary @"$TMP/one.json" >/dev/null
eq "one event object: 200" 200 "$CODE"
eq "one event object: accepted 1" "1 0 0" "$(jget "$TMP/body" '"%d %d %d" % (j["accepted"], j["duplicates"], len(j["rejected"]))')"

gen_events 3 $ACCT $((T0 + 10)) 1 arr | $PY -c 'import sys,json; print(json.dumps([json.loads(l) for l in sys.stdin]))' >"$TMP/arr.json"
req POST /v1/events "$A" -H 'Content-Type: application/json' --data-binary @"$TMP/arr.json" >/dev/null
eq "JSON array: accepted 3" "200 3 0" "$CODE $(jget "$TMP/body" '"%d %d" % (j["accepted"], j["duplicates"])')"

gen_events 4 $ACCT $((T0 + 20)) 1 gz | gzip -c >"$TMP/gz.jsonl.gz"
req POST /v1/events "$A" -H 'Content-Encoding: gzip' --data-binary @"$TMP/gz.jsonl.gz" >/dev/null
eq "gzip JSON Lines with Content-Encoding: accepted 4" "200 4" "$CODE $(jget "$TMP/body" 'j["accepted"]')"

gen_events 2 $ACCT $((T0 + 30)) 1 gzm | gzip -c >"$TMP/gz2.gz"
req POST /v1/events "$A" --data-binary @"$TMP/gz2.gz" >/dev/null
eq "gzip recognised by its magic without the header" "200 2" "$CODE $(jget "$TMP/body" 'j["accepted"]')"

req POST /v1/events "$A" --data-binary @"$TMP/arr.json" >/dev/null
eq "re-posting the array: 0 accepted, 3 duplicates" "200 0 3" "$CODE $(jget "$TMP/body" '"%d %d" % (j["accepted"], j["duplicates"])')"

# A batch with bad events between good ones: only the bad ones are rejected,
# with their index in the request.
$PY - "$ACCT" "$T0" >"$TMP/mixed.json" <<'EOF'
import json, sys, datetime
acct, t0 = sys.argv[1], int(sys.argv[2])
def ev(i, **kw):
    e = {"eventId": "mixed-%d" % i, "eventTime": datetime.datetime.fromtimestamp(t0 + 40 + i, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
         "eventName": "DescribeInstances", "serviceName": "Ecs", "eventRW": "Read", "recipientAccountId": acct,
         "userIdentity": {"type": "ram-user", "userName": "carol", "accountId": acct}}
    e.update(kw)
    return e
bad_time = ev(4); bad_time["eventTime"] = "2026-13-45T99:00:00Z"
no_time = ev(1); del no_time["eventTime"]
other = ev(5); other["recipientAccountId"] = "999999999999999"
print(json.dumps([ev(0), no_time, ev(2), "not an object", bad_time, other, ev(6)]))
EOF
req POST /v1/events "$A" --data-binary @"$TMP/mixed.json" >/dev/null
eq "mixed batch: 200 with 3 accepted" "200 3" "$CODE $(jget "$TMP/body" 'j["accepted"]')"
eq "mixed batch: rejected indexes" "1 3 4 5" "$(jget "$TMP/body" '" ".join(str(r["index"]) for r in j["rejected"])')"
eq "mixed batch: reject codes" "MissingField NotAnObject InvalidEventTime AccountMismatch" \
  "$(jget "$TMP/body" '" ".join(r["code"] for r in j["rejected"])')"
eq "mixed batch: reject fields name the field" "eventTime eventTime" \
  "$(jget "$TMP/body" '" ".join(r["field"] for r in j["rejected"] if r["code"] in ("MissingField","InvalidEventTime"))')"

req POST /v1/events "$A" --data-binary '[{"eventName":"x"}]' >/dev/null
eq "all events rejected: 400" "400 0 1" "$CODE $(jget "$TMP/body" '"%d %d" % (j["accepted"], len(j["rejected"]))')"
req POST /v1/events "$A" >/dev/null
eq "empty body: 400 EmptyBody" "400 EmptyBody" "$CODE $(jget "$TMP/body" 'j["Code"]')"
req POST /v1/events "" --data-binary @"$TMP/one.json" >/dev/null
eq "no key: 401" "401 AuthFailure" "$CODE $(jget "$TMP/body" 'j["Code"]')"
req POST /v1/events "$KEY_ID:wrongwrongwrongwrongwrongwrongwrongwrong" --data-binary @"$TMP/one.json" >/dev/null
eq "wrong secret: 401" 401 "$CODE"
req GET /v1/events "$A" >/dev/null
eq "GET /v1/events: 405" 405 "$CODE"
req GET /v1/nothing "$A" >/dev/null
eq "unknown route: 404" 404 "$CODE"

# --- lookup -------------------------------------------------------------
gen_events 120 $ACCT $((T0 + 100)) 1 page >"$TMP/page.jsonl"
req POST /v1/events "$A" --data-binary @"$TMP/page.jsonl" >/dev/null
eq "120 events for paging accepted" "200 120" "$CODE $(jget "$TMP/body" 'j["accepted"]')"
TOTAL=$((1 + 3 + 4 + 2 + 3 + 120))
ST=$(date -u -d @$((T0 - 60)) +%Y-%m-%dT%H:%M:%SZ)
ET=$(date -u -d @$((NOW + 60)) +%Y-%m-%dT%H:%M:%SZ)

# page_all MODE: follows NextToken to the end, prints eventIds in order.
page_all() {
  local mode=$1 tok="" pages=0
  : >"$TMP/ids"
  while :; do
    case $mode in
      get) req GET "/v1/lookup?StartTime=$ST&EndTime=$ET&MaxResults=50${tok:+&NextToken=$(printf %s "$tok" | $PY -c 'import sys,urllib.parse;print(urllib.parse.quote(sys.stdin.read(),safe=""))')}" "$A" >/dev/null ;;
      json) req POST /v1/lookup "$A" -H 'Content-Type: application/json' \
              --data-binary "{\"StartTime\":\"$ST\",\"EndTime\":\"$ET\",\"MaxResults\":50,\"NextToken\":\"$tok\",\"LookupAttributes\":[{\"Key\":\"EventName\",\"Value\":\"StopInstance\"}]}" >/dev/null ;;
      form) req POST /v1/lookup "$A" --data-urlencode "StartTime=$ST" --data-urlencode "EndTime=$ET" \
              --data-urlencode "MaxResults=7" --data-urlencode "Direction=FORWARD" \
              --data-urlencode "LookupAttribute.1.Key=User" --data-urlencode "LookupAttribute.1.Value=alice" \
              ${tok:+--data-urlencode "NextToken=$tok"} >/dev/null ;;
    esac
    [ "$CODE" = 200 ] || { echo "# page $pages: $CODE $(cat "$TMP/body")"; return 1; }
    jget "$TMP/body" '"\n".join(e["eventId"] for e in j["Events"])' | sed '/^$/d' >>"$TMP/ids"
    tok=$(jget "$TMP/body" 'j.get("NextToken") or ""')
    pages=$((pages + 1))
    [ -z "$tok" ] && break
    [ $pages -gt 100 ] && return 1
  done
  echo $pages >"$TMP/pages"
}
# Expected order from the ingested files: (time desc, then ingest order desc).
expected() { # filter: python predicate over the event e; order: desc|asc
  cat "$TMP/one.json" <($PY -c 'import json,sys;[print(json.dumps(e)) for e in json.load(open(sys.argv[1]))]' "$TMP/arr.json") \
    <(gzip -dc "$TMP/gz.jsonl.gz") <(gzip -dc "$TMP/gz2.gz") \
    <($PY -c 'import json,sys;[print(json.dumps(e)) for e in json.load(open(sys.argv[1])) if isinstance(e,dict) and e.get("eventId") in ("mixed-0","mixed-2","mixed-6")]' "$TMP/mixed.json") \
    "$TMP/page.jsonl" | $PY -c "
import json,sys
ev=[json.loads(l) for l in sys.stdin]
ev=[(e['eventTime'],i,e) for i,e in enumerate(ev) if ($1)]
ev.sort(reverse=('$2'=='desc'))
print('\n'.join(e['eventId'] for _,_,e in ev))"
}
page_all get
eq "GET lookup pages through all $TOTAL events" "$TOTAL" "$(wc -l <"$TMP/ids")"
eq "GET lookup: 3 pages of 50" 3 "$(cat "$TMP/pages")"
check "GET lookup: newest first, exactly the ingested events, no repeats" \
  diff <(expected True desc) "$TMP/ids"
page_all json
check "JSON POST with LookupAttributes: exactly the StopInstance events" \
  diff <(expected "e.get('eventName')=='StopInstance'" desc) "$TMP/ids"
page_all form
check "form POST FORWARD by User=alice, pages of 7: exact, oldest first" \
  diff <(expected "e.get('userIdentity',{}).get('userName')=='alice'" asc) "$TMP/ids"
req GET "/v1/lookup?StartTime=$ST&EndTime=$ET&LookupAttribute.1.Key=EventId&LookupAttribute.1.Value=page-000005" "$A" >/dev/null
check "lookup returns the stored bytes verbatim" \
  $PY -c "import sys; l=open('$TMP/page.jsonl').readlines()[5].strip(); b=open('$TMP/body').read(); assert '\"Events\":['+l+']' in b"

# One time grammar with the CLI: relative, a date, epoch seconds.
cnt() { jget "$TMP/body" 'len(j["Events"])'; }
req GET "/v1/lookup?StartTime=-7d&MaxResults=50&LookupAttribute.1.Key=EventId&LookupAttribute.1.Value=page-000005" "$A" >/dev/null
eq "StartTime=-7d (relative, as the CLI takes it): 200 and the event" "200 1" "$CODE $(cnt)"
req GET "/v1/lookup?StartTime=$(date -u -d @$T0 +%Y-%m-%d)&LookupAttribute.1.Key=EventId&LookupAttribute.1.Value=page-000005" "$A" >/dev/null
eq "StartTime=YYYY-MM-DD (a date): 200 and the event" "200 1" "$CODE $(cnt)"
req GET "/v1/lookup?StartTime=$((T0 - 60))&EndTime=$((NOW + 60))&LookupAttribute.1.Key=EventId&LookupAttribute.1.Value=page-000005" "$A" >/dev/null
eq "StartTime/EndTime as epoch seconds: 200 and the event" "200 1" "$CODE $(cnt)"
req GET "/v1/lookup?StartTime=yesterday" "$A" >/dev/null
eq "bad StartTime: 400 InvalidParameterStartTime" "400 InvalidParameterStartTime" "$CODE $(jget "$TMP/body" 'j["Code"]')"
OLD=$(date -u -d '-200 days' +%Y-%m-%dT%H:%M:%SZ)
req POST /v1/events "$A" -d "{\"eventId\":\"old-1\",\"eventTime\":\"$OLD\",\"eventName\":\"X\"}" >/dev/null
eq "an event older than the retention: stored, with pastRetention and a warning" "200 1 1 1" \
  "$CODE $(jget "$TMP/body" 'j["accepted"]') $(jget "$TMP/body" 'j["pastRetention"]') $(grep -c 'next daily purge' "$TMP/body")"
req GET "/v1/lookup?Format=xml" "$A" >/dev/null
eq "Format=xml (not supported): 400 naming it, not a silent JSON answer" "400 1" "$CODE $(grep -c "Format 'xml' is not supported" "$TMP/body")"
# CSV export: a header, a row per event, the next page's token in X-Next-Token.
req GET "/v1/lookup?Format=csv&StartTime=$ST&EndTime=$ET&MaxResults=50&Columns=eventId,eventName,userIdentity.userName" "$A" >/dev/null
eq "Format=csv: 200 text/csv, header + 50 rows" "200 51 eventId,eventName,userIdentity.userName" \
  "$CODE $(wc -l <"$TMP/body" | tr -d ' ') $(head -1 "$TMP/body" | tr -d '\r')"
check "  ... the next page's token in X-Next-Token" grep -qi '^X-Next-Token: ..' "$TMP/hdr"
req GET "/v1/lookup?StartTime=$ST&EndTime=$ET&MaxResults=3&EventFormat=ocsf" "$A" >/dev/null
eq "EventFormat=ocsf: the events as OCSF API Activity" "200 3 6003" \
  "$CODE $(jget "$TMP/body" 'len(j["Events"])') $(jget "$TMP/body" 'j["Events"][0]["class_uid"]')"
req GET "/v1/lookup?EventFormat=xml" "$A" >/dev/null
eq "EventFormat=xml: 400" 400 "$CODE"
req GET "/v1/lookup?Format=csv&Columns=a..b" "$A" >/dev/null
eq "Format=csv with a bad column: 400" 400 "$CODE"
req GET "/v1/lookup?Columns=eventName" "$A" >/dev/null
eq "Columns without Format=csv: 400" 400 "$CODE"
req GET "/v1/lookup?Format=JSON&StartTime=-1h" "$A" >/dev/null
eq "Format=JSON (the RPC envelope's default): 200" 200 "$CODE"
req GET "/v1/trails?Action=DescribeTrails&Format=XML" "$A" >/dev/null
eq "trails: Format=XML: 400" 400 "$CODE"
req GET "/v1/lookup?Bogus=1" "$A" >/dev/null
eq "unknown parameter: 400 InvalidParameter" "400 InvalidParameter" "$CODE $(jget "$TMP/body" 'j["Code"]')"
req GET "/v1/lookup?NextToken=AAAAforged" "$A" >/dev/null
eq "forged NextToken: 400" "400" "$CODE"
check "errors carry a RequestId" grep -q '"RequestId":"[0-9a-f-]\{36\}"' "$TMP/body"

# --- resource history ---------------------------------------------------
# page.jsonl: event i has resourceName i-(i%5) and eventRW Write iff i%3==0.
hist_all() {
  local tok="" n=0
  : >"$TMP/hids"
  while :; do
    req GET "/v1/resources/ACS%3A%3AECS%3A%3AInstance/i-2/history?MaxResults=3${tok:+&NextToken=$tok}" "$A" >/dev/null
    [ "$CODE" = 200 ] || { echo "# history: $CODE $(cat "$TMP/body")"; return 1; }
    jget "$TMP/body" '"\n".join(i["eventId"] for i in j["Items"])' | sed '/^$/d' >>"$TMP/hids"
    tok=$(jget "$TMP/body" 'j["NextToken"]')
    n=$((n + 1)); [ -z "$tok" ] && break; [ $n -gt 50 ] && return 1
  done
}
hist_all
check "history: only Write events of i-2, newest first, paged by 3 exactly" \
  diff <(expected "e.get('resourceName')=='i-2' and e.get('eventRW')=='Write'" desc) "$TMP/hids"
req GET "/v1/resources/ACS::ECS::Instance/i-2/history?MaxResults=1" "$A" >/dev/null
eq "history item has who/when/where/result/what/event" "$(head -1 "$TMP/hids") ram-user 10.0.0. success i-2 StopInstance" \
  "$(jget "$TMP/body" '" ".join([j["Items"][0]["eventId"], j["Items"][0]["who"]["type"], j["Items"][0]["sourceIpAddress"][:7], j["Items"][0]["result"], j["Items"][0]["requestParameters"]["InstanceId"], j["Items"][0]["event"]["eventName"]])')"
req GET "/v1/resources/ACS::ECS::Instance/i-2/history?NextToken=h1.1.1.00000000000000000000000000000000" "$A" >/dev/null
eq "history: forged token 400" 400 "$CODE"
req GET "/v1/resources/onlytype/history" "$A" >/dev/null
eq "history: malformed path 404" 404 "$CODE"

# --- metrics and access log ---------------------------------------------
req GET /metrics "$A" >/dev/null
eq "metrics with the admin key: 200" 200 "$CODE"
check "metrics: ingested counter (the old event included)" grep -q "^trailkeep_events_ingested_total $((TOTAL + 1))$" "$TMP/body"
check "metrics: duplicates counter" grep -q '^trailkeep_events_duplicates_total 3$' "$TMP/body"
check "metrics: rejected counter" grep -q '^trailkeep_events_rejected_total 5$' "$TMP/body"
check "metrics: requests by route and status" grep -q '^trailkeep_http_requests_total{route="events",status="401"} 2$' "$TMP/body"
check "metrics: append latency histogram" grep -q '^trailkeep_append_seconds_count [0-9]' "$TMP/body"
check "metrics: lookup latency histogram" grep -q '^trailkeep_lookup_seconds_bucket{le="+Inf"} [1-9]' "$TMP/body"
check "metrics: per-account events (the old event included)" grep -q "^trailkeep_account_events{account=\"$ACCT\"} $((TOTAL + 1))$" "$TMP/body"
check "metrics: store size" grep -q '^trailkeep_store_disk_bytes [1-9]' "$TMP/body"
req GET /metrics "" >/dev/null
eq "metrics without a key: 401" 401 "$CODE"

check "access log: one JSON line per request with status and key id" \
  $PY -c "
import json
ls=[json.loads(l) for l in open('$D.access')]
assert len(ls) > 20, len(ls)
assert any(l['path']=='/v1/events' and l['status']==200 and l['key_id']=='$KEY_ID' and l['account']=='$ACCT' for l in ls)
assert all(len(l['request_id'])==36 for l in ls)"
check "access log: never the secret, never Authorization, never the query" \
  bash -c "! grep -q -e '$KEY_SECRET' -e Authorization -e Bearer -e NextToken -e 'StartTime=' '$D.access'"
check "server stderr: never the secret" bash -c "! grep -q '$KEY_SECRET' '$D.err'"

stop_server; rc=$?
eq "SIGTERM: clean exit" 0 "$rc"
check "SIGTERM: says it stopped cleanly" grep -q "stopped cleanly" "$D.err"

# --- restart: data and keys persist, no second bootstrap --------------------
: >"$D.out"
start_server "$D" || nok "restart"
check "restart: no new admin key printed" bash -c "! grep -q 'secret:' '$D.out'"
page_all get
eq "restart: every acknowledged event still there" "$TOTAL" "$(wc -l <"$TMP/ids")"

# History matches (type, name) pairs, not a type and a name from different pairs.
TS=$(date -u -d @$((NOW - 30)) +%Y-%m-%dT%H:%M:%SZ)
req POST /v1/events "$A" --data-binary "{\"eventId\":\"res-1\",\"eventTime\":\"$TS\",\"eventRW\":\"Write\",\"eventName\":\"ModifyX\",\"resourceType\":\"ACS::ECS::Instance;ACS::VPC::VPC\",\"resourceName\":\"i-9a,i-9b;vpc-9\"}
{\"eventId\":\"res-2\",\"eventTime\":\"$TS\",\"eventRW\":\"Write\",\"eventName\":\"ModifyY\",\"referencedResources\":{\"ACS::ECS::Instance\":[\"i-9c\"],\"ACS::VPC::VPC\":[\"vpc-9\"]}}" >/dev/null
eq "two multi-resource events accepted" "200 2" "$CODE $(jget "$TMP/body" 'j["accepted"]')"
hist_ids() { req GET "/v1/resources/$1/history" "$A" >/dev/null; jget "$TMP/body" '" ".join(i["eventId"] for i in j["Items"])'; }
eq "history by flattened pair (Instance, i-9b)" "res-1" "$(hist_ids ACS::ECS::Instance/i-9b)"
eq "history by both shapes (VPC, vpc-9)" "res-2 res-1" "$(hist_ids ACS::VPC::VPC/vpc-9)"
eq "history by referencedResources (Instance, i-9c)" "res-2" "$(hist_ids ACS::ECS::Instance/i-9c)"
eq "history never mixes pairs (Instance, vpc-9)" "" "$(hist_ids ACS::ECS::Instance/vpc-9)"
stop_server >/dev/null

# --- limits (a second server with small limits) --------------------------
L=$TMP/limits
# Limits from a config file (both key spellings) and from flags.
printf '{"max_events": 5, "max-decompressed": 100000, "lookup_rate": 1, "metrics_open_loopback": true}\n' >"$TMP/cfg.json"
start_server "$L" --config "$TMP/cfg.json" --max-body 20000 || nok "limits server starts"
bootstrap_key "$L"; B="$KEY_ID:$KEY_SECRET"
gen_events 6 $ACCT $T0 1 lim >"$TMP/six.jsonl"
req POST /v1/events "$B" --data-binary @"$TMP/six.jsonl" >/dev/null
eq "6 events over --max-events 5: 413 TooManyEvents" "413 TooManyEvents" "$CODE $(jget "$TMP/body" 'j["Code"]')"
head -c 30000 /dev/zero | tr '\0' ' ' >"$TMP/big"
req POST /v1/events "$B" --data-binary @"$TMP/big" >/dev/null
eq "body over --max-body: 413" "413 RequestEntityTooLarge" "$CODE $(jget "$TMP/body" 'j["Code"]')"
req POST /v1/events "$B" -H 'Transfer-Encoding: chunked' --data-binary @"$TMP/big" >/dev/null
eq "chunked body (no Content-Length) over --max-body: 413" "413 RequestEntityTooLarge" "$CODE $(jget "$TMP/body" 'j["Code"]')"
head -c 5000000 /dev/zero | tr '\0' ' ' | gzip -c >"$TMP/bomb.gz"
req POST /v1/events "$B" -H 'Content-Encoding: gzip' --data-binary @"$TMP/bomb.gz" >/dev/null
eq "gzip bomb over --max-decompressed: 413" "413 RequestEntityTooLarge" "$CODE $(jget "$TMP/body" 'j["Code"]')"
req POST /v1/events "$B" --data-binary '{"eventTime": ' >/dev/null
check "truncated JSON: 400, nothing accepted" test "$CODE" = 400
req GET "/v1/lookup?StartTime=$ST&EndTime=$ET" "$B" >/dev/null
eq "nothing of the refused requests was stored" "200 0" "$CODE $(jget "$TMP/body" 'len(j["Events"])')"
# --lookup-rate 1 (burst 2): a quick burst of reads runs out of tokens.
for _ in 1 2 3 4 5 6; do req GET "/v1/lookup?StartTime=$ST" "$B" >/dev/null; [ "$CODE" = 429 ] && break; done
eq "over the per-key read rate: 429 Throttling.User" "429 Throttling.User" "$CODE $(jget "$TMP/body" 'j["Code"]')"
check "429 carries Retry-After" grep -qi '^Retry-After: [1-9]' "$TMP/hdr"
req GET /metrics "" >/dev/null
eq "metrics_open_loopback: /metrics without a key from loopback" 200 "$CODE"
check "metrics count the throttled request" grep -q '^trailkeep_throttled_total 1$' "$TMP/body"
stop_server >/dev/null
printf '{"max_events": "many"}' >"$TMP/bad.json"
"$TK_BIN" serve --config "$TMP/bad.json" --data "$TMP/x" >/dev/null 2>"$TMP/cfgerr"
eq "a bad config value: exit 2 with a message naming it" "2 1" "$? $(grep -c 'max-events' "$TMP/cfgerr")"

# --- TLS -----------------------------------------------------------------
if openssl req -x509 -newkey rsa:2048 -nodes -keyout "$TMP/key.pem" -out "$TMP/cert.pem" -days 1 \
     -subj /CN=127.0.0.1 >/dev/null 2>&1; then
  T=$TMP/tls
  PORT=$(free_port)
  "$TK_BIN" serve --data "$T" --listen "127.0.0.1:$PORT" --tls-cert "$TMP/cert.pem" --tls-key "$TMP/key.pem" \
    --access-log off >"$T.out" 2>"$T.err" &
  SERVER_PID=$!; TK_CLEANUP_PIDS+=("$SERVER_PID")
  for _ in $(seq 1 100); do curl -sk -o /dev/null "https://127.0.0.1:$PORT/healthz" && break; sleep 0.1; done
  check "TLS: healthz over HTTPS" bash -c "curl -sk 'https://127.0.0.1:$PORT/healthz' | grep -q '\"status\":\"ok\"'"
  # /healthz answers as soon as the daemon is up; the URL line is printed
  # after the other services start, so wait for it rather than race it.
  for _ in $(seq 1 50); do grep -q "listening on" "$T.out" && break; sleep 0.1; done
  check "TLS: serve prints an https URL" grep -q "listening on https://" "$T.out"
  stop_server >/dev/null
else
  nok "openssl can make a test certificate"
fi
tk_done
