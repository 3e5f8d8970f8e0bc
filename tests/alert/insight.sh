#!/usr/bin/env bash
# End-to-end: Insights drive alerts in `trailkeep serve`. Real Insights
# records are made by `trailkeep insights run` over generated traffic with
# the Insights scenarios; a rule from the `insight` template is created over
# the API with two webhook users (generic and Slack shapes) on a receiver
# that checks signatures, and a mail user on aiosmtpd. Ingesting the Start record over /v1/events opens
# one alert (group = sharedEventId) and sends a fire notice carrying the
# type, object, rates and the record's explanation; the End record clears
# it and sends a recovery notice with the incident's final figures. Other
# types (when filtered) and ordinary events alert on nothing.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../http/http_lib.bash"
HERE=$(cd "$(dirname "$0")" && pwd)
FAST=${TK_BIN_REL:-$TK_BIN}
[ -x "$FAST" ] || FAST=$TK_BIN
D=$TMP/data
ACC=100000000000000
SECRET=insight-hook-secret
WPORT=$(free_port)
SPORT=$(free_port)
/usr/bin/python3 -c 'import aiosmtpd' 2>/dev/null || { nok "python3-aiosmtpd is installed (run scripts/setup)"; tk_done; }

# Insights records from generated traffic (3 days, the Insights scenarios).
"$FAST" gen --seed 3 --start 2026-10-01 --days 3 --per-day 3000 --accounts 1 --insight-attacks \
  -o "$TMP/g.jsonl" 2>/dev/null
"$FAST" import --data "$TMP/gen" "$TMP/g.jsonl" >/dev/null 2>&1
"$TK_BIN" insights run --data "$TMP/gen" --until 2026-10-05 --output jsonl >"$TMP/ins.jsonl" 2>"$TMP/ins.err"
# Start and End of the first incident of TYPE, moved to our account: start.json end.json
pick() {
  $PY - "$TMP/ins.jsonl" "$1" "$ACC" "$TMP" <<'EOF'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
typ, acc, out = sys.argv[2], sys.argv[3], sys.argv[4]
start = next(r for r in recs if r["insightDetails"]["insightType"] == typ and r["insightDetails"]["state"] == "Start")
end = next(r for r in recs if r["sharedEventId"] == start["sharedEventId"] and r["insightDetails"]["state"] == "End")
for r, name in ((start, "start"), (end, "end")):
    r["recipientAccountId"] = acc
    json.dump(r, open("%s/%s-%s.json" % (out, typ, name), "w"))
print(start["sharedEventId"])
EOF
}
SID=$(pick ApiErrorRateInsight) && SID2=$(pick PolicyChangeInsight)
check "insights run over the generated traffic gives Start/End pairs (ApiErrorRate, PolicyChange)" \
  test -n "$SID" -a -n "$SID2"

$PY "$HERE/webhook_rx.py" "$WPORT" "$SECRET" "$TMP/hooks.jsonl" 2>>"$TMP/rx.err" &
TK_CLEANUP_PIDS+=("$!")
/usr/bin/python3 -u -m aiosmtpd -n -l "127.0.0.1:$SPORT" >>"$TMP/mail.txt" 2>>"$TMP/smtp.err" &
TK_CLEANUP_PIDS+=("$!")
for _ in $(seq 1 100); do
  curl -s -o /dev/null "http://127.0.0.1:$WPORT/" &&
    /usr/bin/python3 -c "import socket; socket.create_connection(('127.0.0.1',$SPORT),1)" 2>/dev/null && break
  sleep 0.1
done
start_server "$D" --alert-retry-max 1 --smtp-url "smtp://127.0.0.1:$SPORT" --smtp-from alerts@trailkeep.test \
  --allow-private-endpoints ||
  { nok "server starts"; tk_done; }
bootstrap_key "$D"
A="$KEY_ID:$KEY_SECRET"
J=(-H 'Content-Type: application/json')
hooks() { [ -f "$TMP/hooks.jsonl" ] && grep -c -- "\"kind\": \"$1\"" "$TMP/hooks.jsonl" || true; }
fires() { hooks fire; }
recoveries() { hooks recovery; }
wait_for() { for _ in $(seq 1 150); do [ "$($1)" = "$2" ] && return 0; sleep 0.1; done; return 1; }
# hook KIND SHAPE EXPR: EXPR over the body of the last KIND notice of that shape.
hook() {
  $PY - "$TMP/hooks.jsonl" "$1" "$2" "$3" <<'EOF'
import json, sys
f, kind, shape, expr = sys.argv[1:5]
hs = [json.loads(l) for l in open(f)]
hs = [h for h in hs if h["kind"] == kind and ("text" in h["body"]) == (shape == "slack")]
b = hs[-1]["body"]
print(eval(expr))
EOF
}

for u in sec:generic chat:slack; do
  req POST /v1/users "$A" "${J[@]}" -d "{\"name\":\"${u%%:*}\",\"webhook_url\":\"http://127.0.0.1:$WPORT/${u%%:*}\",\"webhook_secret\":\"$SECRET\",\"webhook_shape\":\"${u##*:}\"}" >/dev/null
done
eq "two webhook users over the API (generic and Slack)" 200 "$CODE"
req POST /v1/users "$A" "${J[@]}" -d '{"name":"oncall","email":"oncall@example.test"}' >/dev/null
eq "a mail user" 200 "$CODE"
req POST /v1/alert-rules "$A" "${J[@]}" \
  -d '{"id":"insights","template":"insight?types=ApiErrorRateInsight,IpInsight","recipients":"sec,chat,oncall","repeat":"2s"}' >/dev/null
eq "rule from the insight template over the API: 201, severity high" "201 template high" \
  "$CODE $(jget "$TMP/body" 'j["kind"]+" "+j["severity"]')"
req POST /v1/alert-rules "$A" "${J[@]}" -d '{"id":"bad","template":"insight?types=CpuInsight"}' >/dev/null
eq "an unknown Insights type is refused, naming it" "400 1" "$CODE $(jget "$TMP/body" 'int("CpuInsight" in j["Message"])')"
sleep 0.5 # the service reloads rules on its next poll

req POST /v1/events "$A" --data-binary @"$TMP/ApiErrorRateInsight-start.json" >/dev/null
eq "the Start record is ingested" 200 "$CODE"
check "Start: a fire notice reaches both users" wait_for fires 2
req GET '/v1/alerts?state=triggered' "$A" >/dev/null
eq "one triggered alert, grouped by the sharedEventId" "1 insights $SID high" \
  "$(jget "$TMP/body" 'str(len(j["alerts"]))+" "+j["alerts"][0]["rule"]+" "+j["alerts"][0]["group_key"]+" "+j["alerts"][0]["severity"]')"
WANT_TITLE=$($PY -c 'import json,sys; r=json.load(open(sys.argv[1])); d=r["insightDetails"]; s=d["insightContext"]["statistics"]
print("%s %s: %s/min against a baseline of %s/min (%s events in %s min)" % (d["insightType"], d["insightObject"],
  s["insight"]["average"], s["baseline"]["average"], s["insightCount"], s["insightDuration"]))' "$TMP/ApiErrorRateInsight-start.json")
WANT_SUM=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["insightDetails"]["explanation"])' "$TMP/ApiErrorRateInsight-start.json")
eq "the fire notice's title: type, object, rate against baseline, events" "$WANT_TITLE" "$(hook fire generic 'b["title"]')"
eq "the fire notice's summary is the record's explanation (top user, IP, AccessKey, API)" "$WANT_SUM" \
  "$(hook fire generic 'b["summary"]')"
check "the explanation names the actor (user and IP)" bash -c "grep -q 'mostly user .*IP ' <<<'$WANT_SUM'"
eq "the Slack notice is one line with the title, then the summary" \
  "[HIGH] trailkeep alert insights fired in account $ACC ($SID): $WANT_TITLE
$WANT_SUM" "$(hook fire slack 'b["text"]')"
eq "every notice is signed" 0 "$(grep -c '"sig": "bad"' "$TMP/hooks.jsonl")"
mails() { [ -f "$TMP/mail.txt" ] && grep -c -- "^Subject: .*insights $1" "$TMP/mail.txt" || true; }
mails_fired() { mails fired; }
check "a mail arrives" wait_for mails_fired 1
eq "its subject is the notice line with the title" \
  "Subject: [HIGH] trailkeep alert insights fired in account $ACC ($SID): $WANT_TITLE" \
  "$(grep -m1 '^Subject: ' "$TMP/mail.txt")"
check "its body has the explanation as a paragraph of its own" \
  bash -c 'tr -d "\r" <"$1" | grep -qxF -- "$2"' _ "$TMP/mail.txt" "$WANT_SUM"

sleep 2.5 # past the repeat interval: a time-cleared rule would have cleared by now
req GET '/v1/alerts?state=triggered' "$A" >/dev/null
eq "no End yet: the alert stays triggered (no clearing by time)" 1 "$(jget "$TMP/body" 'len(j["alerts"])')"

req POST /v1/events "$A" --data-binary @"$TMP/ApiErrorRateInsight-end.json" >/dev/null
check "End: a recovery notice reaches both users" wait_for recoveries 2
req GET '/v1/alerts' "$A" >/dev/null
eq "the alert is cleared by its End record" "1 cleared" \
  "$(jget "$TMP/body" 'str(len(j["alerts"]))+" "+j["alerts"][0]["state"]')"
WANT_END=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["insightDetails"]["explanation"])' "$TMP/ApiErrorRateInsight-end.json")
eq "the recovery notice carries the whole incident's explanation and the End's sequence number" \
  "cleared $WANT_END True" "$(hook recovery generic 'b["state"]+" "+b["summary"]+" "+str(b["clear_seq"]>0)')"
mails_cleared() { mails cleared; }
check "the recovery mail arrives, with the End's explanation" \
  bash -c 'for _ in $(seq 1 150); do grep -q "^Subject: .*insights cleared" "$1" && grep -qF -- "$2" "$1" && exit 0; sleep 0.1; done; exit 1' _ \
  "$TMP/mail.txt" "$WANT_END"
check "the recovery Slack line says cleared" bash -c "grep -q '^\[HIGH\] trailkeep alert insights cleared in account $ACC ($SID): ApiErrorRateInsight' <<<\"\$1\"" _ \
  "$(hook recovery slack 'b["text"]')"

# Filtered types and ordinary events alert on nothing.
req POST /v1/events "$A" --data-binary @"$TMP/PolicyChangeInsight-start.json" >/dev/null
gen_events 3 "$ACC" "$(date +%s)" 1 ord >"$TMP/ord.jsonl"
req POST /v1/events "$A" --data-binary @"$TMP/ord.jsonl" >/dev/null
sleep 1
req GET '/v1/alerts' "$A" >/dev/null
eq "a PolicyChange Start (not in types) and ordinary events open nothing" "1 2 2 2" \
  "$(jget "$TMP/body" 'len(j["alerts"])') $(fires) $(recoveries) $(grep -c '^Subject:' "$TMP/mail.txt")"
tk_done
