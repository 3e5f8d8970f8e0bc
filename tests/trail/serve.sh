#!/usr/bin/env bash
# End-to-end: trails inside `trailkeep serve`: the /v1/trails API (ActionTrail
# actions, roles, errors), background delivery of events ingested over HTTP
# into a folder (files close by age), the trail's own changes delivered as
# ActionTrail events, and a kill -9 of the server mid-stream: after a restart
# every event is delivered, none twice.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../http/http_lib.bash"
source "$(dirname "$0")/trail_lib.bash"

D=$TMP/data
OUT=$TMP/out
ACC=100000000000000
OTHER=200000000000000
start_server "$D" --trail-folder-root "$TMP" --trail-file-age 1 --seal-interval 1 --trail-digest-period 1 || { nok "server starts"; tk_done; }
bootstrap_key "$D"
A="$KEY_ID:$KEY_SECRET"
T() { req POST "/v1/trails?Action=$1" "$A" "${@:2}"; }

T CreateTrail --data-urlencode "Name=api-trail" --data-urlencode "DestinationType=folder" \
  --data-urlencode "Dest.path=$OUT" --data-urlencode "EventRW=All" >/dev/null
eq "CreateTrail over HTTP: 200 and the trail" "200 api-trail Disable" "$CODE $(jget "$TMP/body" 'j["Name"]+" "+j["Status"]')"
T CreateTrail --data-urlencode "Name=api-trail" --data-urlencode "DestinationType=folder" --data-urlencode "Dest.path=$OUT" >/dev/null
eq "the same name again: 409 TrailAlreadyExists" "409 TrailAlreadyExists" "$CODE $(jget "$TMP/body" 'j["Code"]')"
T CreateTrail --data-urlencode "Name=Bad" --data-urlencode "DestinationType=folder" --data-urlencode "Dest.path=$OUT" >/dev/null
eq "a bad name: 400 InvalidParameter" "400 InvalidParameter" "$CODE $(jget "$TMP/body" 'j["Code"]')"
T NoSuchAction >/dev/null
eq "an unknown action: 400 InvalidAction" "400 InvalidAction" "$CODE $(jget "$TMP/body" 'j["Code"]')"
req POST "/v1/trails?Action=DescribeTrails" "" >/dev/null
eq "no key: 401" 401 "$CODE"
mkkey "$D" $ACC reader
R="$KEY_ID:$KEY_SECRET"
req POST "/v1/trails?Action=StopLogging&Name=api-trail" "$R" >/dev/null
eq "a reader key cannot StopLogging: 403" 403 "$CODE"
req GET "/v1/trails?Action=DescribeTrails" "$R" >/dev/null
eq "a reader key can DescribeTrails" "200 api-trail" "$CODE $(jget "$TMP/body" '",".join(t["Name"] for t in j["TrailList"])')"
"$TK_BIN" accounts create $OTHER --data "$D" >/dev/null
mkkey "$D" $OTHER admin
O="$KEY_ID:$KEY_SECRET"
req GET "/v1/trails?Action=DescribeTrails" "$O" >/dev/null
eq "another account's admin sees none of its trails" "200 0" "$CODE $(jget "$TMP/body" 'len(j["TrailList"])')"
req POST "/v1/trails?Action=DeleteTrail&Name=api-trail" "$O" >/dev/null
eq "... and cannot delete it (404 in its own account)" "404 TrailNotFound" "$CODE $(jget "$TMP/body" 'j["Code"]')"
T StartLogging --data-urlencode "Name=api-trail" >/dev/null
eq "StartLogging" 200 "$CODE"

gen_events 300 0 >"$TMP/ev1.jsonl"
req POST /v1/events "$A" --data-binary @"$TMP/ev1.jsonl" >/dev/null
eq "ingest 225 events of the account (75 of another are refused for this key)" 225 "$(jget "$TMP/body" 'j["accepted"]')"
grep -v "\"$OTHER\"" "$TMP/ev1.jsonl" >"$TMP/ev1.own"
wait_backlog() { # waits until GetTrailStatus shows no backlog and a delivery
  for _ in $(seq 1 100); do
    T GetTrailStatus --data-urlencode "Name=api-trail" >/dev/null
    [ "$(jget "$TMP/body" 'j["Backlog"]==0 and j["DeliveredEvents"]>0')" = True ] && return 0
    sleep 0.2
  done
  return 1
}
check "delivered in the background (file age 1 s): backlog 0" wait_backlog
# 4 trail events: CreateTrail, two refused CreateTrail attempts (recorded with
# their errorCode), StartLogging.
eq "the folder holds every ingested event once, equal field by field" \
  "ok 225 events, 4 trail events, " "$(check_delivered "$OUT" "$TMP/ev1.own" | sed 's/[0-9]* files$//')"

# kill -9 mid-stream, then restart: nothing lost, nothing twice.
gen_events 2000 1000 | grep -v "\"$OTHER\"" >"$TMP/ev2.own"
req POST /v1/events "$A" --data-binary @"$TMP/ev2.own" >/dev/null
sleep 0.5
kill -9 "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null
start_server "$D" --trail-folder-root "$TMP" --trail-file-age 1 --trail-file-events 200 --trail-digest-period 1 || nok "server restarts"
check "after kill -9 and restart: backlog drains" wait_backlog
eq "after kill -9: every event delivered once (re-sent files replaced themselves)" \
  "ok 1725 events, 4 trail events, " "$(check_delivered "$OUT" "$TMP/ev1.own" "$TMP/ev2.own" | sed 's/[0-9]* files$//')"

T StopLogging --data-urlencode "Name=api-trail" >/dev/null
T GetTrailStatus --data-urlencode "Name=api-trail" >/dev/null
eq "StopLogging: IsLogging false" "200 False" "$CODE $(jget "$TMP/body" 'j["IsLogging"]')"
req GET "/v1/lookup?LookupAttribute.1.Key=ServiceName&LookupAttribute.1.Value=ActionTrail&MaxResults=50" "$A" >/dev/null
check "the trail's changes are ActionTrail events (lookup ServiceName=ActionTrail)" \
  $PY -c "import json; j=json.load(open('$TMP/body')); n=sorted(json.loads(e['CloudTrailEvent'])['eventName'] if 'CloudTrailEvent' in e else e.get('eventName', e.get('EventName')) for e in j['Events']); assert {'CreateTrail','StartLogging','StopLogging'} <= set(n), n"
req GET "/v1/trails?Action=ListPublicKeys" "$R" >/dev/null
"$TK_BIN" trails public-key --data "$D" | grep -v '^#' >"$TMP/pub.pem"
check "ListPublicKeys lists the key that signs the digests" \
  $PY -c "import json; j=json.load(open('$TMP/body')); k=j['PublicKeyList']; assert len(k)==1 and k[0]['PublicKey']==open('$TMP/pub.pem').read(), j"
curl -s -o "$TMP/ctk.json" -X POST "$URL/" -H 'Content-Type: application/x-amz-json-1.1' \
  -H 'X-Amz-Target: com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.ListPublicKeys' \
  -H "Authorization: Bearer $R" --data '{}'
check "CloudTrail ListPublicKeys: the same key, its DER in base64 as Value" \
  $PY -c "import json; k=json.load(open('$TMP/ctk.json'))['PublicKeyList']; pem=''.join(l.strip() for l in open('$TMP/pub.pem') if l.strip() and not l.startswith('-')); assert len(k)==1 and k[0]['Value']==pem and k[0]['ValidityStartTime']>0, k"
check "the folder's digests verify (chain intact) after the kill -9" \
  "$TK_BIN" trails verify --folder "$OUT" --public-key "$TMP/pub.pem"
req GET /metrics "$A" >/dev/null
check "/metrics exports the trail's backlog and delivered events" \
  $PY -c "import re; t=open('$TMP/body').read(); b=re.search(r'^trailkeep_trail_backlog\{account=\"[0-9]+\",trail=\"api-trail\"\} ([0-9]+)$', t, re.M); d=re.search(r'^trailkeep_trail_delivered_events_total\{account=\"[0-9]+\",trail=\"api-trail\"\} ([0-9]+)$', t, re.M); assert b and d and int(d.group(1)) > 0, t[-800:]"
T DeleteTrail --data-urlencode "Name=api-trail" >/dev/null
eq "DeleteTrail" 200 "$CODE"
stop_server
eq "the server stops cleanly with the delivery thread" 0 $?
tk_done
