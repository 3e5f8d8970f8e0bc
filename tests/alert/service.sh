#!/usr/bin/env bash
# End-to-end: alerting inside `trailkeep serve` with real receivers on
# loopback: a webhook receiver checking the HMAC signature and a Debian SMTP
# server (aiosmtpd). A template rule (consecutive logon failures) fires once
# for 5 failed sign-ins (one alert, one webhook, one mail); an outage of both
# receivers while an alert fires loses nothing and sends once when they are
# back; a kill -9 of the server mid-window neither re-alerts nor misses.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../http/http_lib.bash"
HERE=$(cd "$(dirname "$0")" && pwd)

/usr/bin/python3 -c 'import aiosmtpd' 2>/dev/null || { nok "python3-aiosmtpd is installed (run scripts/setup)"; tk_done; }
D=$TMP/data
ACC=100000000000000
SECRET=s3cr3t-hook
WPORT=$(free_port)
SPORT=$(free_port)
start_rx() {
  /usr/bin/python3 "$HERE/webhook_rx.py" "$WPORT" "$SECRET" "$TMP/hooks.jsonl" 2>>"$TMP/rx.err" &
  RX_PID=$!
  TK_CLEANUP_PIDS+=("$RX_PID")
  /usr/bin/python3 -u -m aiosmtpd -n -l "127.0.0.1:$SPORT" >>"$TMP/mail.txt" 2>>"$TMP/smtp.err" &
  SMTP_PID=$!
  TK_CLEANUP_PIDS+=("$SMTP_PID")
  for _ in $(seq 1 100); do
    curl -s -o /dev/null "http://127.0.0.1:$WPORT/" && /usr/bin/python3 -c "import socket; socket.create_connection(('127.0.0.1',$SPORT),1)" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}
stop_rx() { kill -TERM "$RX_PID" "$SMTP_PID" 2>/dev/null; wait "$RX_PID" "$SMTP_PID" 2>/dev/null; }
hooks() { [ -f "$TMP/hooks.jsonl" ] && grep -c -- "$1" "$TMP/hooks.jsonl" || true; }
mails() { [ -f "$TMP/mail.txt" ] && grep -c -- "^Subject: .*$1" "$TMP/mail.txt" || true; }
# wait_for CMD EXPECTED: polls up to 15 s until CMD prints EXPECTED.
wait_for() { for _ in $(seq 1 150); do [ "$($1)" = "$2" ] && return 0; sleep 0.1; done; return 1; }
# failures USER N PREFIX: N failed console sign-ins of USER, one second apart, now.
failures() {
  /usr/bin/python3 - "$@" "$ACC" <<'PYEOF'
import json, sys, time, datetime
user, n, prefix, acc = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
t0 = int(time.time()) - n
for i in range(n):
    t = datetime.datetime.fromtimestamp(t0 + i, datetime.timezone.utc)
    print(json.dumps({"eventId": "%s-%d" % (prefix, i), "eventVersion": "1",
        "eventTime": t.strftime("%Y-%m-%dT%H:%M:%SZ"), "eventType": "ConsoleSignin",
        "eventSource": "signin.aliyun.com", "serviceName": "AasSub", "eventName": "ConsoleSignin",
        "acsRegion": "cn-hangzhou", "sourceIpAddress": "203.0.113.9", "errorCode": "InvalidPassword",
        "userIdentity": {"type": "ram-user", "accountId": acc, "userName": user},
        "recipientAccountId": acc}))
PYEOF
}
ingest() { req POST /v1/events "$A" --data-binary @"$1" >/dev/null; }
alerts_n() { "$TK_BIN" rules alerts list --data "$D" 2>/dev/null | wc -l | tr -d ' '; }
# The receivers are on loopback: private endpoints allowed (rules user, serve).
R() { "$TK_BIN" rules "$@" --data "$D" --allow-private-endpoints; }

start_rx || { nok "webhook receiver and aiosmtpd start"; tk_done; }
ok "webhook receiver on :$WPORT and aiosmtpd on :$SPORT"
SOPTS=(--smtp-url "smtp://127.0.0.1:$SPORT" --smtp-from alerts@trailkeep.test --alert-retry-max 1 --allow-private-endpoints)
start_server "$D" "${SOPTS[@]}" || { nok "server starts"; tk_done; }
bootstrap_key "$D"
A="$KEY_ID:$KEY_SECRET"

check "user alice with email and a signed webhook" \
  R user alice --email alice@example.test --webhook "http://127.0.0.1:$WPORT/hook" --secret "$SECRET"
eq "the webhook secret is sealed in meta.db: not there in clear, sealed text is" "0 1" \
  "$(cat "$D"/meta.db* | grep -ac "$SECRET") $(cat "$D"/meta.db* | grep -ac 'tkenc1:' | sed 's/^[1-9][0-9]*$/1/')"
check "group secops containing alice" R group secops --members alice
R create brute --template 'consecutive-logon-failures?failures=5&window=30m' --recipients 'alice,group:secops' >/dev/null
eq "rule from a template is stored (alice named twice: once directly, once by group)" \
  "brute template high true" "$(R list | /usr/bin/python3 -c 'import json,sys; j=json.loads(sys.stdin.readline()); print(j["id"],j["kind"],j["severity"],str(j["enabled"]).lower())')"
R create bad --template 'no-such-template' >/dev/null 2>"$TMP/bad.err"
eq "an unknown template is refused (exit 1)" 1 $?
sleep 0.5  # the service reloads rules on its next poll

failures alice 5 a1 >"$TMP/a1.jsonl"
ingest "$TMP/a1.jsonl"
check "5 failed sign-ins: a webhook arrives" wait_for "hooks brute" 1
check "... and a mail arrives" wait_for "mails brute" 1
sleep 1
eq "exactly one alert, one webhook, one mail (recipients deduplicated)" "1 1 1" "$(alerts_n) $(hooks brute) $(mails brute)"
curl -s -H "Authorization: Bearer $A" "$URL/metrics" >"$TMP/metrics"
eq "/metrics: one alert created, both notices sent, window caps never hit" "1 2 0 0" \
  "$(awk '$1=="trailkeep_alert_alerts_created_total"{a=$2} $1=="trailkeep_alert_notices_sent_total"{b=$2} $1=="trailkeep_alert_group_cap_hits"{c=$2} $1=="trailkeep_alert_entry_cap_hits"{d=$2} END{print a+0, b+0, c, d}' "$TMP/metrics")"
eq "/metrics: time per rule: brute was evaluated on the 5 sign-ins, with its time" "5 1" \
  "$(awk -F'[ ]' '/^trailkeep_alert_rule_evaluations_total\{account="'$ACC'",rule="brute"\}/{e=$2} /^trailkeep_alert_rule_eval_seconds_total\{account="'$ACC'",rule="brute"\}/{s=($2>=0)} END{print e+0, s+0}' "$TMP/metrics")"

# A regex that passes the compile-time check but backtracks: bounded, and
# each stopped match is counted per rule in /metrics.
printf '%s' '{"id":"redos","match":{"field":"userAgent","op":"regex","value":"(a|aa)+$"}}' >"$TMP/redos.json"
check "a rule with a backtracking regex (a|aa)+\$ is accepted" R create redos --json "$TMP/redos.json"
/usr/bin/python3 - "$ACC" >"$TMP/redos.jsonl" <<'PYEOF2'
import json, sys, time
for i in range(20):
    print(json.dumps({"eventId": "redos-%d" % i, "eventVersion": "1", "eventName": "DescribeRegions",
        "eventTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "eventType": "ApiCall",
        "eventSource": "ecs.aliyuncs.com", "userAgent": "a" * 4000 + "b",
        "userIdentity": {"type": "ram-user", "accountId": sys.argv[1], "userName": "x"},
        "recipientAccountId": sys.argv[1]}))
PYEOF2
ingest "$TMP/redos.jsonl"
hits() { curl -s -H "Authorization: Bearer $A" "$URL/metrics" | awk '/^trailkeep_alert_rule_regex_limit_hits_total\{account="'$ACC'",rule="redos"\}/{print $2}'; }
for _ in $(seq 1 100); do [ "$(hits)" = 20 ] && break; sleep 0.1; done
eq "/metrics: the 20 stopped matches are counted for rule redos" 20 "$(hits)"
"$TK_BIN" accounts create 2000000000000002 --data "$D" >/dev/null
SAVED="$KEY_ID:$KEY_SECRET"; mkkey "$D" 2000000000000002 admin; OTHER_ADMIN="$KEY_ID:$KEY_SECRET"
KEY_ID=${SAVED%%:*}; KEY_SECRET=${SAVED#*:}
curl -s -H "Authorization: Bearer $OTHER_ADMIN" "$URL/metrics" >"$TMP/metrics2"
eq "/metrics for another account's admin: served, but no line about this account's rules" "1 0" \
  "$(grep -c '^# TYPE trailkeep_alert_rule_evaluations_total' "$TMP/metrics2") $(grep -c 'rule="' "$TMP/metrics2")"
check "delete rule redos" R delete redos
eq "the webhook's HMAC signature verifies with alice's secret" "0" "$(grep -c '"sig": "bad"' "$TMP/hooks.jsonl")"
eq "the alert: rule, group, count 5, 5 events, triggered" "brute alice 5 5 triggered fire" \
  "$(tail -1 "$TMP/hooks.jsonl" | /usr/bin/python3 -c 'import json,sys; r=json.load(sys.stdin); b=r["body"]; print(b["rule"],b["group_key"],b["count"],len(b["event_seqs"]),b["state"],b["notification"])')"
aid=$("$TK_BIN" alerts list --data "$D" --rule brute --output jsonl | head -1 | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
req GET "/v1/alerts/$aid/events" "$A" >/dev/null
eq "alerts show ID (CLI, beside the running serve): the alert and its 5 events" "5 brute" \
  "$("$TK_BIN" alerts show "$aid" --data "$D" | /usr/bin/python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["event_count"], j["alert"]["rule"])')"
eq "GET /v1/alerts/{id}/events: the 5 failed sign-ins of alice, oldest first" "5 alice alice ConsoleSignin True" \
  "$(jget "$TMP/body" '" ".join([str(j["Count"]), j["Events"][0]["userIdentity"]["userName"], j["Events"][-1]["userIdentity"]["userName"], j["Events"][0]["eventName"], str(j["Events"][0]["eventTime"] <= j["Events"][-1]["eventTime"])])')"
check "the mail is addressed to alice" grep -q '^To: alice@example.test' "$TMP/mail.txt"

# Outage of both receivers while an alert fires.
stop_rx
failures bob 5 b1 >"$TMP/b1.jsonl"
ingest "$TMP/b1.jsonl"
check "during the outage the alert is recorded" wait_for alerts_n 2
sleep 2
check "delivery is retried (failures logged by serve)" grep -q 'notice of alert .* failed' "$D.err"
start_rx || nok "receivers restart"
check "after the outage: bob's webhook arrives" wait_for "hooks bob" 1
check "... and bob's mail" wait_for "mails bob" 1
sleep 2
eq "each exactly once, and nothing for alice again" "1 1 1 1" "$(hooks bob) $(mails bob) $(hooks '"group_key": "alice"') $(mails '(alice)')"

# Restart mid-window: 3 failures, kill -9, 2 more failures -> exactly one alert.
failures carol 3 c1 >"$TMP/c1.jsonl"
ingest "$TMP/c1.jsonl"
sleep 1
kill -9 "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null
start_server "$D" "${SOPTS[@]}" || { nok "server restarts"; tk_done; }
/usr/bin/python3 - "$TMP/c1.jsonl" >"$TMP/c2.jsonl" <<'PYEOF'
import json, sys
for l in open(sys.argv[1]).readlines()[:2]:
    e = json.loads(l); e["eventId"] += "-late"; print(json.dumps(e))
PYEOF
ingest "$TMP/c2.jsonl"
check "after the restart the 4th and 5th failure complete carol's window" wait_for "hooks carol" 1
sleep 2
eq "one alert for carol, no repeat for alice or bob: 3 alerts, 3 webhooks, 3 mails" "3 3 3" \
  "$(alerts_n) $(wc -l <"$TMP/hooks.jsonl" | tr -d ' ') $(grep -c '^Subject:' "$TMP/mail.txt")"
id=$("$TK_BIN" rules alerts list --data "$D" --rule brute | head -1 | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
check "alerts ack --note" "$TK_BIN" rules alerts ack "$id" --data "$D" --note "on it"
eq "the CLI's ack is in the alert's history, with who and the note" "acknowledged cli: on it" \
  "$("$TK_BIN" alerts list --data "$D" --state acknowledged --output jsonl | head -1 | /usr/bin/python3 -c 'import json,sys; h=json.load(sys.stdin)["history"][-1]; print(h["state"], h["by"][:4], h["note"])')"
eq "the alert is acknowledged" acknowledged "$("$TK_BIN" alerts list --data "$D" --state acknowledged | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])')"
check "alerts close" "$TK_BIN" rules alerts close "$id" --data "$D"
"$TK_BIN" rules alerts ack 99999 --data "$D" 2>/dev/null
eq "ack of an unknown alert fails" 1 $?
# "Send a test notification": every channel of every recipient, now, reported.
req POST /v1/alert-rules/brute/test "$A" >/dev/null
eq "POST /v1/alert-rules/brute/test: alice's webhook and mail sent, none failed" "200 2 0" \
  "$CODE $(jget "$TMP/body" 'j["sent"]') $(jget "$TMP/body" 'j["failed"]')"
test_hooks() { hooks '"notification": "test"'; }
check "  ... the webhook receiver got the test notice" wait_for test_hooks 1
check "  ... and the mail says it is a test" bash -c "grep -q 'test (no alert)' '$TMP/mail.txt'"
R notify-test brute --smtp-url "smtp://127.0.0.1:$SPORT" >"$TMP/nt.out"; rc=$?
eq "rules notify-test brute (CLI): exit 0, webhook and email sent" "0 2" "$rc $(grep -c '^sent ' "$TMP/nt.out")"
R notify-test brute >"$TMP/nt.out"; rc=$?
eq "rules notify-test without --smtp-url: exit 1, the email line says why" "1 1" "$rc $(grep -c '^FAILED .*email.*no SMTP server' "$TMP/nt.out")"
check "rules disable" R disable brute
check "rules delete" R delete brute
stop_server
eq "server stops cleanly" 0 $?
stop_rx
tk_done
