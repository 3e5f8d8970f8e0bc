#!/usr/bin/env bash
# End-to-end tenant isolation: accounts A and B, an organization whose
# management account M has member A. Every endpoint is tried with the other
# account's keys, no key, a revoked key, a forged NextToken and a token taken
# from another account: each answer is 401/403/400 and never carries another
# tenant's events; M's reader sees A but not B.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/http_lib.bash"

D=$TMP/data
start_server "$D" || { nok "server starts"; tk_done; }
A=111111111111111; B=222222222222222; M=333333333333333
for acct in $A $B $M; do
  "$TK_BIN" accounts create $acct --data "$D" --name "acct-$acct" >/dev/null 2>"$TMP/acc.err" \
    || { nok "accounts create $acct: $(cat "$TMP/acc.err")"; tk_done; }
done
"$TK_BIN" accounts org create --data "$D" --id o-test --management $M >/dev/null 2>&1 &&
  "$TK_BIN" accounts org add-member --data "$D" $A >/dev/null 2>&1
check "organization with management M and member A" test $? -eq 0
mkkey "$D" $A writer && AW="$KEY_ID:$KEY_SECRET"
mkkey "$D" $A reader && AR="$KEY_ID:$KEY_SECRET"
mkkey "$D" $B writer && BW="$KEY_ID:$KEY_SECRET"
mkkey "$D" $B reader && BR="$KEY_ID:$KEY_SECRET"
mkkey "$D" $M reader && MR="$KEY_ID:$KEY_SECRET"
mkkey "$D" $M admin && MA="$KEY_ID:$KEY_SECRET"
mkkey "$D" $B admin && BA="$KEY_ID:$KEY_SECRET"
mkkey "$D" $A reader && REV="$KEY_ID:$KEY_SECRET" && REV_ID=$KEY_ID
"$TK_BIN" keys revoke --data "$D" "$REV_ID" >/dev/null 2>&1
check "keys created and one revoked" test -n "$AW" -a -n "$BR" -a -n "$MA" -a -n "$REV"

NOW=$(date +%s); T0=$((NOW - 3600))
gen_events 30 $A $T0 5 aaa >"$TMP/a.jsonl"
gen_events 30 $B $T0 5 bbb >"$TMP/b.jsonl"
req POST /v1/events "$AW" --data-binary @"$TMP/a.jsonl" >/dev/null
eq "A's writer records A's events" "200 30" "$CODE $(jget "$TMP/body" 'j["accepted"]')"
req POST /v1/events "$BW" --data-binary @"$TMP/b.jsonl" >/dev/null
eq "B's writer records B's events" "200 30" "$CODE $(jget "$TMP/body" 'j["accepted"]')"
gen_events 2 $B $T0 5 forgedb >"$TMP/ab.jsonl"
req POST /v1/events "$AW" --data-binary @"$TMP/ab.jsonl" >/dev/null
eq "A's writer cannot record events for B (AccountMismatch per event)" "400 0 AccountMismatch AccountMismatch" \
  "$CODE $(jget "$TMP/body" '"%d %s" % (j["accepted"], " ".join(r["code"] for r in j["rejected"]))')"
req POST /v1/events "$AR" --data-binary @"$TMP/a.jsonl" >/dev/null
eq "a reader key cannot ingest: 403" 403 "$CODE"

ST=$(date -u -d @$((T0 - 60)) +%Y-%m-%dT%H:%M:%SZ)
Q="StartTime=$ST&MaxResults=50"
ids() { jget "$TMP/body" '" ".join(sorted(set(e["eventId"].split("-")[0] for e in j.get("Events", []))))'; }
req GET "/v1/lookup?$Q" "$AR" >/dev/null;  eq "A's reader sees only A" "200 aaa" "$CODE $(ids)"
req GET "/v1/lookup?$Q" "$BR" >/dev/null;  eq "B's reader sees only B" "200 bbb" "$CODE $(ids)"
req GET "/v1/lookup?$Q&AccountId=$A" "$BR" >/dev/null; eq "B's reader asking for A: 403" 403 "$CODE"
req GET "/v1/lookup?$Q&AccountId=$B" "$AR" >/dev/null; eq "A's reader asking for B: 403" 403 "$CODE"
req GET "/v1/lookup?$Q&AccountId=$A" "$MR" >/dev/null; eq "M's reader sees member A" "200 aaa" "$CODE $(ids)"
req GET "/v1/lookup?$Q&AccountId=$B" "$MR" >/dev/null; eq "M's reader cannot see non-member B" 403 "$CODE"
req GET "/v1/lookup?$Q" "$AW" >/dev/null;  eq "a writer key cannot read: 403" 403 "$CODE"
req POST /v1/lookup "$BR" -H 'Content-Type: application/json' --data "{\"AccountId\":\"$A\"}" >/dev/null
eq "JSON POST with another AccountId: 403" 403 "$CODE"

# Tokens: from A's page, replayed by B (same query), forged, and altered.
Q5="StartTime=$ST&MaxResults=5"
req GET "/v1/lookup?$Q5" "$AR" >/dev/null
TOK=$(jget "$TMP/body" 'j["NextToken"]')
ENC=$(printf %s "$TOK" | $PY -c 'import sys,urllib.parse;print(urllib.parse.quote(sys.stdin.read(),safe=""))')
check "A's first page has a NextToken" test -n "$TOK"
req GET "/v1/lookup?$Q5&NextToken=$ENC" "$AR" >/dev/null
eq "A's token works for A" "200 aaa" "$CODE $(ids)"
req GET "/v1/lookup?$Q5&NextToken=$ENC" "$BR" >/dev/null
eq "A's token replayed by B: 400 InvalidNextToken, no data" "400 InvalidNextToken " "$CODE $(jget "$TMP/body" 'j.get("Code","")') $(ids)"
ALT=$(printf %s "$TOK" | $PY -c 'import sys; t=sys.stdin.read(); i=len(t)//2; print(t[:i]+("A" if t[i]!="A" else "B")+t[i+1:])')
req GET "/v1/lookup?$Q5&NextToken=$ALT" "$AR" >/dev/null
eq "altered token: 400" 400 "$CODE"
req GET "/v1/lookup?$Q&NextToken=Zm9yZ2VkLXRva2Vu" "$BR" >/dev/null
eq "forged token: 400" 400 "$CODE"

# History: B's keys never see A's resource history.
HP="/v1/resources/ACS::ECS::Instance/i-1/history"
req GET "$HP" "$BR" >/dev/null
eq "B's history of i-1 holds only B's events" "200 bbb" "$CODE $(jget "$TMP/body" '" ".join(sorted(set(i["eventId"].split("-")[0] for i in j["Items"])))')"
req GET "$HP?AccountId=$A" "$BR" >/dev/null; eq "B's reader on A's history: 403" 403 "$CODE"
req GET "$HP?AccountId=$A" "$MR" >/dev/null
eq "M's reader on member A's history" "200 aaa" "$CODE $(jget "$TMP/body" '" ".join(sorted(set(i["eventId"].split("-")[0] for i in j["Items"])))')"
req GET "/v1/resources/ACS::ECS::Instance/i-1/history?MaxResults=1" "$AR" >/dev/null
HT=$(jget "$TMP/body" 'j["NextToken"]')
req GET "$HP?NextToken=$HT" "$BR" >/dev/null
eq "A's history token replayed by B: 400" 400 "$CODE"

# CloudTrail endpoint: B's key sees B's events only.
ct() { curl -s -o "$TMP/body" -w '%{http_code}' -X POST "$URL/" \
  -H 'X-Amz-Target: com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents' \
  -H 'Content-Type: application/x-amz-json-1.1' "$@" --data '{"MaxResults":50}'; }
CODE=$(ct -H "Authorization: Bearer $BR")
eq "CloudTrail endpoint with B's key: only B" "200 bbb" "$CODE $(jget "$TMP/body" '" ".join(sorted(set(e["EventId"].split("-")[0] for e in j["Events"])))')"

# Metrics: admin only; per-account lines only for readable accounts.
req GET /metrics "$BR" >/dev/null; eq "metrics with a reader key: 403" 403 "$CODE"
req GET /metrics "$BA" >/dev/null
eq "B's admin: metrics list only B" "200 $B" "$CODE $(grep -o '^trailkeep_account_events{account="[0-9]*"}' "$TMP/body" | grep -o '[0-9]\{15\}' | sort | tr '\n' ' ' | sed 's/ $//')"
req GET /metrics "$MA" >/dev/null
eq "M's admin: metrics list M's members (A), not B" "200 $A" "$CODE $(grep -o '^trailkeep_account_events{account="[0-9]*"}' "$TMP/body" | grep -o '[0-9]\{15\}' | sort | tr '\n' ' ' | sed 's/ $//')"

# No key and the revoked key on every authenticated endpoint.
LEAK=0
for auth in none revoked; do
  a=""; [ $auth = revoked ] && a=$REV
  for ep in "POST /v1/events" "GET /v1/lookup" "POST /v1/lookup" "GET $HP" "GET /metrics"; do
    req ${ep% *} "${ep#* }" "$a" $( [ "${ep% *}" = POST ] && echo --data-binary @"$TMP/a.jsonl" ) >/dev/null
    eq "$auth key on $ep: 401" 401 "$CODE"
    grep -q '"eventId"' "$TMP/body" && LEAK=$((LEAK + 1))
  done
  if [ $auth = revoked ]; then CODE=$(ct -H "Authorization: Bearer $REV"); else CODE=$(ct); fi
  eq "$auth key on the CloudTrail endpoint: 403" 403 "$CODE"
  grep -q -e '"eventId"' -e '"EventId"' "$TMP/body" && LEAK=$((LEAK + 1))
done
eq "no refused answer carried an event" 0 "$LEAK"
stop_server >/dev/null
tk_done
