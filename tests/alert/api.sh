#!/usr/bin/env bash
# End-to-end: the alerting API of `trailkeep serve`: /v1/alert-rules (create
# from a template or rule JSON, list, get, update, enable/disable, delete),
# /v1/users and /v1/user-groups, /v1/alerts (list with filters, get,
# acknowledge, close), roles (reader reads, admin writes) and account scoping.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../http/http_lib.bash"
D=$TMP/data
ACC=100000000000000
OTHER=200000000000000
start_server "$D" --allow-private-endpoints || { nok "server starts"; tk_done; }  # a webhook on 127.0.0.1
bootstrap_key "$D"
A="$KEY_ID:$KEY_SECRET"
J=(-H 'Content-Type: application/json')

req POST /v1/alert-rules "$A" "${J[@]}" -d '{"id":"brute","template":"consecutive-logon-failures?failures=3","recipients":"ops","repeat":"30m"}' >/dev/null
eq "a rule whose recipient does not exist: 400 naming it and how to create it" "400 1" \
  "$CODE $(grep -c "there is no user 'ops' in account" "$TMP/body")"
req POST /v1/users "$A" "${J[@]}" -d '{"name":"ops","email":"ops@example.test"}' >/dev/null
req POST /v1/alert-rules "$A" "${J[@]}" -d '{"id":"brute","template":"consecutive-logon-failures?failures=3","recipients":"group:nosuch"}' >/dev/null
eq "a rule naming a group that does not exist: 400" "400 1" "$CODE $(grep -c "there is no group 'nosuch'" "$TMP/body")"
req POST /v1/user-groups "$A" "${J[@]}" -d '{"name":"g1","members":["ops","nobody"]}' >/dev/null
eq "a group with a member that is no user: 400 naming it" "400 1" "$CODE $(grep -c "there is no user 'nobody'" "$TMP/body")"
req POST /v1/alert-rules "$A" "${J[@]}" -d '{"id":"brute","template":"consecutive-logon-failures?failures=3","recipients":"ops","repeat":"30m"}' >/dev/null
eq "POST /v1/alert-rules from a template: 201, kind, severity from the template" "201 template high 1800" \
  "$CODE $(jget "$TMP/body" 'j["kind"]+" "+j["severity"]+" "+str(j["repeat_interval_s"])')"
eq "  ... with a warning: ops has only an email and this server has no --smtp-url" "1" \
  "$(jget "$TMP/body" 'sum("ops has only an email" in w for w in j.get("warnings", []))')"
# A typo must not store a rule that silently has no recipients (it used to: 201).
req POST /v1/alert-rules "$A" "${J[@]}" -d '{"id":"typo","template":"consecutive-logon-failures","recipient":"ops"}' >/dev/null
eq "an unknown field (recipient): 400 naming it and the nearest valid one" "400 1" \
  "$CODE $(grep -c 'unknown field \\"recipient\\" in the rule body: did you mean \\"recipients\\"' "$TMP/body")"
req GET /v1/alert-rules/typo "$A" >/dev/null
eq "  ... and nothing was stored" 404 "$CODE"
req POST /v1/alert-rules "$A" "${J[@]}" -d '{"id":"typo","template":"consecutive-logon-failures","enabled":"yes"}' >/dev/null
eq "a field of the wrong type (enabled: \"yes\"): 400" "400 1" "$CODE $(grep -c 'must be true or false' "$TMP/body")"
req POST /v1/user-groups "$A" "${J[@]}" -d '{"name":"oncall","members":["ops"]}' >/dev/null
req POST /v1/alert-rules "$A" "${J[@]}" -d '{"id":"arr","template":"consecutive-logon-failures","recipients":["ops","group:oncall"]}' >/dev/null
eq "recipients as an array of names: 201, stored as the list" "201 ops,group:oncall" "$CODE $(jget "$TMP/body" 'j["recipients"]')"
req DELETE /v1/alert-rules/arr "$A" >/dev/null
req POST /v1/users "$A" "${J[@]}" -d '{"name":"typo","emial":"a@b.test"}' >/dev/null
eq "users: an unknown field (emial): 400 suggesting email" "400 1" "$CODE $(grep -c 'did you mean \\"email\\"' "$TMP/body")"
req POST /v1/alert-rules "$A" "${J[@]}" -d '{"id":"brute","template":"consecutive-logon-failures"}' >/dev/null
eq "the same id again: 409" "409 AlreadyExists" "$CODE $(jget "$TMP/body" 'j["Code"]')"
req POST /v1/alert-rules "$A" "${J[@]}" -d '{"id":"x","rule":{"id":"x","match":{"field":"eventName","op":"equal","value":"A"}}}' >/dev/null
eq "a bad custom rule: 400 naming the operator" "400 1" "$CODE $(jget "$TMP/body" 'int("equal" in j["Message"])')"
req POST /v1/alert-rules "$A" "${J[@]}" -d '{"id":"stop-instance","rule":{"id":"stop-instance","severity":"low","match":{"field":"eventName","value":"StopInstance"}},"severity":"critical"}' >/dev/null
eq "a custom rule JSON with a severity override" "201 json critical" "$CODE $(jget "$TMP/body" 'j["kind"]+" "+j["severity"]')"
SHARED=${TK_SHARED:-/work/shared}
sig=$(ls "$SHARED"/sigma/rules/cloudtrail/*.yml | head -1)
$PY -c 'import json,sys; print(json.dumps({"id":"sigma-1","sigma":open(sys.argv[1]).read()}))' "$sig" >"$TMP/sig.json"
req POST /v1/alert-rules "$A" "${J[@]}" --data-binary @"$TMP/sig.json" >/dev/null
eq "a SigmaHQ CloudTrail rule as YAML text" "201 sigma" "$CODE $(jget "$TMP/body" 'j["kind"]')"
$PY -c 'import json,sys; print(json.dumps({"id":"sigma-2","sigma":open(sys.argv[1]).read()}))' "$SHARED/sigma/unsupported/aws_lambda_function_created_or_invoked.yml" >"$TMP/sig2.json"
req POST /v1/alert-rules "$A" "${J[@]}" --data-binary @"$TMP/sig2.json" >/dev/null
eq "a Sigma rule using 'near' is refused whole, naming it" "400 1" "$CODE $(jget "$TMP/body" 'int("near" in j["Message"])')"
req DELETE /v1/alert-rules/sigma-1 "$A" >/dev/null
req GET /v1/alert-rules "$A" >/dev/null
eq "list: both rules, in id order" "200 brute,stop-instance" "$CODE $(jget "$TMP/body" '",".join(r["id"] for r in j["rules"])')"
req POST /v1/alert-rules/brute/disable "$A" >/dev/null
req GET /v1/alert-rules/brute "$A" >/dev/null
eq "disable, then get: enabled false" "200 False" "$CODE $(jget "$TMP/body" 'j["enabled"]')"
req PUT /v1/alert-rules/brute "$A" "${J[@]}" -d '{"template":"consecutive-logon-failures?failures=4","severity":"medium"}' >/dev/null
eq "PUT replaces the definition" "200 medium consecutive-logon-failures?failures=4" "$CODE $(jget "$TMP/body" 'j["severity"]+" "+j["definition"]')"
req DELETE /v1/alert-rules/nope "$A" >/dev/null
eq "DELETE of an unknown rule: 404" 404 "$CODE"
# Was a crash of the whole server (tk_stored_rule_free on an uninitialised
# struct when the get failed), reachable with any reader key.
req GET /v1/alert-rules/nope "$A" >/dev/null
eq "GET of an unknown rule: 404 (the server used to abort)" 404 "$CODE"
req GET /v1/alerts/999999 "$A" >/dev/null
eq "GET of an unknown alert: 404" 404 "$CODE"
req GET /healthz "" >/dev/null
eq "  ... and the server is alive" 200 "$CODE"

req POST /v1/users "$A" "${J[@]}" -d '{"name":"ops","email":"ops@example.test","webhook_url":"http://127.0.0.1:9/x","webhook_secret":"k","webhook_shape":"slack"}' >/dev/null
eq "POST /v1/users: the secret is never echoed" "200 True 0" "$CODE $(jget "$TMP/body" 'j["webhook_secret_set"]') $(grep -c '"k"' "$TMP/body")"
# SMTP command injection: a line break in an address used to reach the
# server's RCPT TO and the To: header unchanged.
req POST /v1/users "$A" "${J[@]}" -d '{"name":"inj","email":"a@b.test\r\nRCPT TO:<evil@x.test>"}' >/dev/null
eq "an email with CR LF (SMTP injection): 400 naming the line break" "400 1" \
  "$CODE $(grep -c 'line break' "$TMP/body")"
req POST /v1/users "$A" "${J[@]}" -d '{"name":"inj","email":"not an address"}' >/dev/null
eq "an email that is not an RFC 5321 mailbox: 400" 400 "$CODE"
req GET /v1/users/inj "$A" >/dev/null
eq "  ... and no such user was stored" 404 "$CODE"
req POST /v1/users "$A" "${J[@]}" -d '{"name":"bad","webhook_shape":"teams"}' >/dev/null
eq "an unknown webhook shape: 400" 400 "$CODE"
req POST /v1/users "$A" "${J[@]}" -d '{"name":"alice","email":"alice@example.test"}' >/dev/null
req POST /v1/user-groups "$A" "${J[@]}" -d '{"name":"secops","members":["ops","alice"]}' >/dev/null
req GET /v1/user-groups "$A" >/dev/null
eq "groups: members kept" "200 ops,alice" "$CODE $(jget "$TMP/body" '[g for g in j["groups"] if g["name"]=="secops"][0]["members"]')"

mkkey "$D" $ACC reader
R="$KEY_ID:$KEY_SECRET"
req GET /v1/alert-rules "$R" >/dev/null
eq "a reader lists rules" 200 "$CODE"
req POST /v1/alert-rules/brute/enable "$R" >/dev/null
eq "a reader cannot enable a rule: 403" 403 "$CODE"
"$TK_BIN" accounts create $OTHER --data "$D" >/dev/null
mkkey "$D" $OTHER admin
O="$KEY_ID:$KEY_SECRET"
req GET /v1/alert-rules "$O" >/dev/null
eq "another account sees none of these rules" "200 0" "$CODE $(jget "$TMP/body" 'len(j["rules"])')"
req GET "/v1/alert-rules?account=$ACC" "$O" >/dev/null
eq "... and may not read them with ?account=: 403" 403 "$CODE"

# An alert from the custom rule, then acknowledge and close over the API.
sleep 0.5
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
req POST /v1/events "$A" -d "{\"eventId\":\"s1\",\"eventVersion\":\"1\",\"eventTime\":\"$now\",\"eventType\":\"ApiCall\",\"eventSource\":\"ecs.aliyuncs.com\",\"serviceName\":\"Ecs\",\"eventName\":\"StopInstance\",\"acsRegion\":\"cn-hangzhou\",\"userIdentity\":{\"type\":\"ram-user\",\"accountId\":\"$ACC\",\"userName\":\"u\"},\"recipientAccountId\":\"$ACC\"}" >/dev/null
for _ in $(seq 1 100); do req GET "/v1/alerts?state=triggered" "$A" >/dev/null; [ "$(jget "$TMP/body" 'len(j["alerts"])')" = 1 ] && break; sleep 0.1; done
eq "GET /v1/alerts?state=triggered: the alert of stop-instance, critical" "200 stop-instance critical 1" \
  "$CODE $(jget "$TMP/body" 'j["alerts"][0]["rule"]+" "+j["alerts"][0]["severity"]+" "+str(j["alerts"][0]["count"])')"
id=$(jget "$TMP/body" 'j["alerts"][0]["id"]')
req GET "/v1/alerts/$id/events" "$R" >/dev/null
eq "GET /v1/alerts/{id}/events (a reader): the stored event that made the alert" "200 1 s1 StopInstance" \
  "$CODE $(jget "$TMP/body" 'j["Count"]') $(jget "$TMP/body" 'j["Events"][0]["eventId"]+" "+j["Events"][0]["eventName"]')"
req GET "/v1/alerts/$id/events" "$O" >/dev/null
eq "  ... not for another account (404)" 404 "$CODE"
req POST "/v1/alerts/$id/acknowledge" "$R" >/dev/null
eq "a reader cannot acknowledge: 403" 403 "$CODE"
req POST "/v1/alerts/$id/acknowledge" "$A" "${J[@]}" -d '{"note":"looking into it"}' >/dev/null
eq "acknowledge with a note" "200 acknowledged" "$CODE $(jget "$TMP/body" 'j["state"]')"
req POST "/v1/alerts/$id/close" "$A" >/dev/null
eq "close" "200 closed" "$CODE $(jget "$TMP/body" 'j["state"]')"
eq "the history: who (the key), what, the note" "acknowledged:${A%%:*}:looking into it closed:${A%%:*}:" \
  "$(jget "$TMP/body" '" ".join("%s:%s:%s" % (h["state"], h["by"], h.get("note","")) for h in j["history"])')"
req POST "/v1/alerts/$id/close" "$A" "${J[@]}" -d '{"nota":"x"}' >/dev/null
eq "an unknown field in the note body: 400" 400 "$CODE"
req GET "/v1/alerts?rule=brute" "$A" >/dev/null
eq "filter by rule: none for brute" "200 0" "$CODE $(jget "$TMP/body" 'len(j["alerts"])')"
req GET "/v1/alerts/$id" "$O" >/dev/null
eq "another account cannot see the alert (404 in its own account)" 404 "$CODE"
req GET "/v1/alerts?state=bogus" "$A" >/dev/null
eq "a bad state filter: 400" 400 "$CODE"
req DELETE /v1/alert-rules/brute "$A" >/dev/null
eq "DELETE a rule" 200 "$CODE"
stop_server
eq "server stops cleanly" 0 $?
tk_done
