#!/usr/bin/env bash
# End-to-end: Insights inside `trailkeep serve`. A week of generated history
# with labelled Insights scenarios is imported; serve (ticking every second)
# must store exactly the Insights records `insights run` finds over the same
# data (same eventIds); GET /v1/insights returns them per account, pages, and
# each filter narrows to what the records say; another account's key sees
# none and gets 403 for AccountId (the management account of an organization
# reads its members'); a restart (SIGTERM, then kill -9) stores
# nothing twice; a burst of DeleteInstance ingested live opens an
# ApiCallRateInsight within a few ticks; per-account settings (CLI and API)
# switch a type off and on again in the running service.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../http/http_lib.bash"
FAST=${TK_BIN_REL:-$TK_BIN}
[ -x "$FAST" ] || FAST=$TK_BIN
D=$TMP/data

$FAST gen --seed 11 --days 8 --per-day 3000 --accounts 2 --insight-attacks --attacks --label \
  -o "$TMP/g.jsonl" 2>/dev/null
$FAST import --data "$D" "$TMP/g.jsonl" >/dev/null 2>&1
mapfile -t ACCS < <(grep -o '"recipientAccountId":"[^"]*"' "$TMP/g.jsonl" | cut -d'"' -f4 | sort -u)
A1=${ACCS[0]}
A2=${ACCS[1]}
eq "generated history of two accounts imported" 2 "${#ACCS[@]}"
"$TK_BIN" insights run --data "$D" --output jsonl >"$TMP/off.jsonl" 2>/dev/null
NOFF=$(wc -l <"$TMP/off.jsonl")
check "the offline run finds Insights in both accounts ($NOFF records)" \
  bash -c "grep -q '\"recipientAccountId\":\"$A1\"' $TMP/off.jsonl && grep -q '\"recipientAccountId\":\"$A2\"' $TMP/off.jsonl"

for a in "$A1" "$A2"; do "$TK_BIN" accounts create "$a" --data "$D" >/dev/null 2>&1; done
mkkey "$D" "$A1" reader && R1="$KEY_ID:$KEY_SECRET"
mkkey "$D" "$A2" reader && R2="$KEY_ID:$KEY_SECRET"
mkkey "$D" "$A1" admin && W1="$KEY_ID:$KEY_SECRET"
mkkey "$D" "$A2" admin && W2="$KEY_ID:$KEY_SECRET"

start_server "$D" --insight-tick-seconds 1 || { nok "server starts"; tk_done; }
ADM=$W1 # /metrics needs an admin key (of any account)
metric() { curl -s -H "Authorization: Bearer $ADM" "$URL/metrics" | sed -n "s/^trailkeep_insight_$1 //p"; }
# wait_metric NAME VALUE: polls up to 30 s.
wait_metric() { for _ in $(seq 1 300); do [ "$(metric "$1")" = "$2" ] && return 0; sleep 0.1; done; return 1; }
check "/healthz answers while the rebuild runs in the Insights thread" curl -sf -o /dev/null "$URL/healthz"
check "the start-up rebuild finishes" wait_metric rebuilt 1
check "the thread stores every record the offline run finds" wait_metric records_stored_total "$NOFF"

# ids ACCOUNT-KEY QUERY: every eventId of GET /v1/insights (all pages, 5 a page), sorted.
ids() {
  $PY - "$URL" "$1" "$2" <<'EOF'
import json, sys, urllib.request, urllib.parse
url, auth, q = sys.argv[1:4]
out, tok = [], ""
for _ in range(200):
    u = url + "/v1/insights?MaxResults=5" + ("&" + q if q else "") + ("&NextToken=" + urllib.parse.quote(tok) if tok else "")
    r = urllib.request.Request(u, headers={"Authorization": "Bearer " + auth})
    try:
        j = json.load(urllib.request.urlopen(r))
    except urllib.error.HTTPError as e:
        print("HTTP%d" % e.code); sys.exit()
    out += [e["eventId"] for e in j["Events"]]
    tok = j["NextToken"]
    if not tok: break
print(" ".join(sorted(out)))
EOF
}
# want ACCOUNT PYTHON-CONDITION-ON-r: offline eventIds of the account matching, sorted.
want() {
  $PY - "$TMP/off.jsonl" "$1" "$2" <<'EOF'
import json, sys
acc, cond = sys.argv[2], sys.argv[3]
rs = [json.loads(l) for l in open(sys.argv[1])]
print(" ".join(sorted(r["eventId"] for r in rs if r["recipientAccountId"] == acc and eval(cond))))
EOF
}
eq "GET /v1/insights (paged 5 at a time) returns account 1's records, the offline eventIds" \
  "$(want "$A1" True)" "$(ids "$R1" "")"
eq "... and account 2's to account 2's key" "$(want "$A2" True)" "$(ids "$R2" "")"

T1=$($PY -c "import json; print(json.loads(open('$TMP/off.jsonl').readline())['insightDetails']['insightType'])")
eq "InsightType=$T1 keeps that type only" \
  "$(want "$A1" "r['insightDetails']['insightType'] == '$T1'")" "$(ids "$R1" "InsightType=$T1")"
eq "State=End keeps End records only" "$(want "$A1" "r['insightDetails']['state'] == 'End'")" \
  "$(ids "$R1" "State=End")"
EID=$(want "$A1" True | cut -d' ' -f1)
eq "EventId finds exactly that record" "$EID" "$(ids "$R1" "EventId=$EID")"
SID=$($PY -c "
import json
for l in open('$TMP/off.jsonl'):
    r = json.loads(l)
    if r['eventId'] == '$EID': print(r['sharedEventId'])")
eq "SharedEventId finds the incident's Start and End" "$(want "$A1" "r['sharedEventId'] == '$SID'")" \
  "$(ids "$R1" "SharedEventId=$SID")"
check "... which are two records" test "$(ids "$R1" "SharedEventId=$SID" | wc -w)" = 2
IP=$($PY -c "
import json
for l in open('$TMP/off.jsonl'):
    r = json.loads(l)
    if r['eventId'] == '$EID':
        print([a for a in r['insightDetails']['insightContext']['attributions'] if a['attribute'] == 'sourceIpAddress'][0]['insight'][0]['value'])")
ATTR_IP="[v['value'] for a in r['insightDetails']['insightContext']['attributions'] if a['attribute'] == 'sourceIpAddress' for v in a['insight']]"
eq "SourceIp=$IP keeps the records attributing calls to that IP" \
  "$(want "$A1" "'$IP' in $ATTR_IP")" "$(ids "$R1" "SourceIp=$IP")"
MID=$($PY -c "
import json
ts = sorted(json.loads(l)['eventTime'] for l in open('$TMP/off.jsonl') if '\"$A1\"' in l)
print(ts[len(ts) // 2])")
eq "StartTime=$MID keeps the records from then on" "$(want "$A1" "r['eventTime'] >= '$MID'")" \
  "$(ids "$R1" "StartTime=$MID")"
eq "EndTime=$MID keeps those up to then" "$(want "$A1" "r['eventTime'] <= '$MID'")" \
  "$(ids "$R1" "EndTime=$MID")"
eq "filters combine (InsightType and State=Start)" \
  "$(want "$A1" "r['insightDetails']['insightType'] == '$T1' and r['insightDetails']['state'] == 'Start'")" \
  "$(ids "$R1" "InsightType=$T1&State=Start")"

eq "account 2's key sees none of account 1's records" "" \
  "$(comm -12 <(ids "$R2" "" | tr ' ' '\n') <(want "$A1" True | tr ' ' '\n'))"
req GET "/v1/insights?AccountId=$A1" "$R2" >/dev/null
eq "account 2's key asking for AccountId=account 1: 403" 403 "$CODE"
"$TK_BIN" accounts org create --data "$D" --id o-test --management "$A1" >/dev/null 2>&1
"$TK_BIN" accounts org add-member --data "$D" "$A2" >/dev/null 2>&1
eq "with account 1 the management account of an organization holding account 2, its key reads account 2's records with AccountId" \
  "$(want "$A2" True)" "$(ids "$R1" "AccountId=$A2")"
req GET "/v1/insights?AccountId=$A1" "$R2" >/dev/null
eq "... while the member's key still gets 403 for the management account" 403 "$CODE"
req GET "/v1/insights?InsightType=NoSuchInsight" "$R1" >/dev/null
eq "an unknown InsightType: 400" 400 "$CODE"
req GET "/v1/insights?State=Middle" "$R1" >/dev/null
eq "State other than Start/End: 400" 400 "$CODE"
req GET "/v1/insights?Colour=red" "$R1" >/dev/null
eq "an unknown parameter: 400" 400 "$CODE"
req GET "/v1/insights" "" >/dev/null
eq "no key: 401" 401 "$CODE"

# ---- restarts store nothing twice
stop_server
eq "SIGTERM: serve stops cleanly (exit 0)" 0 $?
start_server "$D" --insight-tick-seconds 1 || { nok "server restarts"; tk_done; }
check "after a restart the history is judged again" wait_metric records_emitted_total "$NOFF"
eq "... and every record is a duplicate the store drops" "0 $NOFF" \
  "$(metric records_stored_total) $(metric records_duplicate_total)"
kill -9 "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null
start_server "$D" --insight-tick-seconds 1 || { nok "server restarts after kill -9"; tk_done; }
check "after kill -9 the history is judged again" wait_metric records_emitted_total "$NOFF"
eq "... nothing new stored, and the API still has each record once" "0 $(want "$A1" True)" \
  "$(metric records_stored_total) $(ids "$R1" "")"

# ---- live: settings first (account 2 without ApiCallRateInsight), then a burst in both
"$TK_BIN" insights settings --data "$D" --account "$A2" --disable ApiCallRateInsight \
  --sensitivity low --set 'IpInsight.k=3' >"$TMP/set.json"
eq "CLI settings: account 2 without ApiCallRateInsight, low sensitivity, one override" \
  "False low ['IpInsight.k=3']" \
  "$(jget "$TMP/set.json" "j['Types']['ApiCallRateInsight'], j['Sensitivity'], j['Overrides']")"
req GET "/v1/insights/settings" "$W2" >"$TMP/get.json"
eq "GET /v1/insights/settings shows what the CLI stored" "200 False low" \
  "$CODE $(jget "$TMP/get.json" "j['Types']['ApiCallRateInsight'], j['Sensitivity']")"
req PUT "/v1/insights/settings" "$W2" --data-binary '{"Sensitivity":"medium","Overrides":[]}' >"$TMP/put.json"
eq "PUT changes the sensitivity and clears the overrides, keeping the disabled type" "200 medium [] False" \
  "$CODE $(jget "$TMP/put.json" "j['Sensitivity'], j['Overrides'], j['Types']['ApiCallRateInsight']")"
req GET "/v1/insights/settings" "$R2" >/dev/null
eq "a reader key may not see settings (admin role): 403" 403 "$CODE"
req GET "/v1/insights/settings?AccountId=$A1" "$W2" >/dev/null
eq "account 2's admin may not see account 1's settings: 403" 403 "$CODE"
req PUT "/v1/insights/settings" "$W2" --data-binary '{"Disable":["NoSuchInsight"]}' >/dev/null
eq "an unknown type in PUT: 400" 400 "$CODE"
req PUT "/v1/insights/settings" "$W2" --data-binary '{"Sensitivity":"extreme"}' >/dev/null
eq "an unknown sensitivity: 400" 400 "$CODE"

# burst ACCOUNT: 15 DeleteInstance in each of the last two complete minutes, by a new user and IP.
burst() {
  $PY - "$1" <<'EOF'
import json, sys, time, datetime
acc = sys.argv[1]
m = int(time.time()) // 60 * 60
for i in range(30):
    t = datetime.datetime.fromtimestamp(m - 120 + (i // 15) * 60 + i % 15 * 3, datetime.timezone.utc)
    print(json.dumps({"eventId": "burst-%s-%d" % (acc, i), "eventVersion": "1",
        "eventTime": t.strftime("%Y-%m-%dT%H:%M:%SZ"), "eventType": "ApiCall", "eventRW": "Write",
        "eventSource": "ecs.aliyuncs.com", "serviceName": "Ecs", "eventName": "DeleteInstance",
        "acsRegion": "cn-hangzhou", "sourceIpAddress": "198.51.100.77", "userAgent": "burst",
        "userIdentity": {"type": "ram-user", "accountId": acc, "userName": "mallory"},
        "recipientAccountId": acc}))
EOF
}
sleep 1.5 # a tick sees the new settings first
burst "$A1" >"$TMP/b1.jsonl"
burst "$A2" >"$TMP/b2.jsonl"
SINCE=$(date -u -d '-10 min' +%Y-%m-%dT%H:%M:%SZ)
req POST /v1/events "$W1" --data-binary @"$TMP/b1.jsonl" >/dev/null
req POST /v1/events "$W2" --data-binary @"$TMP/b2.jsonl" >/dev/null
live_start() {
  req GET "/v1/insights?InsightType=ApiCallRateInsight&State=Start&StartTime=$SINCE" "$1" >"$TMP/live.json"
  jget "$TMP/live.json" "' '.join(e['insightDetails']['insightObject'] + '/' + e['insightDetails']['insightContext']['attributions'][0]['insight'][0]['value'] for e in j['Events'])"
}
wait_live() { for _ in $(seq 1 150); do [ "$(live_start "$1")" = "$2" ] && return 0; sleep 0.1; done; return 1; }
check "a live DeleteInstance burst opens an ApiCallRateInsight Start within a few ticks, naming the user" \
  wait_live "$R1" "Ecs:DeleteInstance/mallory"
sleep 2
eq "... but not in account 2, where that type is disabled" "" "$(live_start "$R2")"
req PUT "/v1/insights/settings" "$W2" --data-binary '{"Enable":"ApiCallRateInsight"}' >/dev/null
eq "PUT Enable: 200" 200 "$CODE"
check "re-enabled, the running service reports account 2's burst too" \
  wait_live "$R2" "Ecs:DeleteInstance/mallory"

stop_server
eq "SIGTERM after the live Insights: clean stop" 0 $?
check "no sanitizer report in the server log" bash -c "! grep -q 'Sanitizer' $D.err"
tk_done
