#!/usr/bin/env bash
# End-to-end: ingest limits hold end to end. gzip is inflated once under one
# cap (nested gzip is refused, never inflated again); --max-events stops the
# parse at the limit; the request-memory budget answers 503 + Retry-After
# when concurrent large requests would exceed it, and peak RSS under the
# attack of the robustness issue stays bounded; a bad event is a per-event
# reject (times outside 1970..9999, over-long eventIds, bad account ids),
# also on import; out-of-range JSON numbers and LookupAttribute.0/.10 are
# refused; a truncated array is reported; concatenated CloudTrail files of
# any size are read record by record.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/http_lib.bash"

# Peak-memory checks run the release build: ASan's shadow memory and
# quarantine would measure the sanitizer, not trailkeep.
REL=${TK_BIN_REL:-$TK_ROOT/build/release/trailkeep}
D=$TMP/data
ACCT=100000000000000
NOW=$(date +%s)
T0=$((NOW - 7200))

hwm_kb() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

TK_BIN_SAVE=$TK_BIN
TK_BIN=$REL
start_server "$D" || { nok "server starts"; tk_done; }
bootstrap_key "$D"
A="$KEY_ID:$KEY_SECRET"
BASE_HWM=$(hwm_kb "$SERVER_PID")

# --- nested gzip: one decompression, one cap ------------------------------
# gzip(gzip(512 MiB of zeros)) is ~2 KB on the wire. Before the fix the route
# inflated the outer layer under --max-decompressed and the parser inflated
# the inner one under its own 1 GiB limit.
$PY - "$TMP/bomb.gz" <<'EOF'
import gzip, sys, zlib
co = zlib.compressobj(9, zlib.DEFLATED, 31)
chunk = b"\0" * (1 << 20)
inner = b"".join([co.compress(chunk) for _ in range(512)] + [co.flush()])
open(sys.argv[1], "wb").write(gzip.compress(inner, 9))
EOF
req POST /v1/events "$A" -H 'Content-Encoding: gzip' --data-binary @"$TMP/bomb.gz" >/dev/null
eq "gzip(gzip(512 MiB of zeros)) is refused with 400 InvalidGzip" "400 InvalidGzip" \
  "$CODE $(jget "$TMP/body" 'j["Code"]')"
check "  ... saying it is gzip inside gzip" grep -q 'gzip inside gzip' "$TMP/body"
HWM=$(hwm_kb "$SERVER_PID")
check "  ... and the inner layer was never inflated (peak RSS grew $(((HWM - BASE_HWM) / 1024)) MiB < 64 MiB)" \
  test $((HWM - BASE_HWM)) -lt $((64 * 1024))

gen_events 3 $ACCT $T0 1 nest | gzip -c | gzip -c >"$TMP/nested.gz"
req POST /v1/events "$A" --data-binary @"$TMP/nested.gz" >/dev/null
eq "gzip(gzip(JSON Lines)) without the header: 400 InvalidGzip" "400 InvalidGzip" "$CODE $(jget "$TMP/body" 'j["Code"]')"

# --- max-events stops the parse -------------------------------------------
# A gzipped JSON array of 1M small events (~100 KB on the wire).
$PY - "$TMP/million.gz" "$ACCT" <<'EOF'
import gzip, sys
ev = b'{"eventTime":"2026-11-24T10:00:00Z","eventName":"X","recipientAccountId":"%s"}' % sys.argv[2].encode()
body = b"[" + b",".join([ev] * 1000000) + b"]"
open(sys.argv[1], "wb").write(gzip.compress(body, 9))
EOF
# 1M of them decompress past --max-decompressed (64 MiB): refused while inflating.
req POST /v1/events "$A" --data-binary @"$TMP/million.gz" >/dev/null
eq "1M events (over 64 MiB decompressed) in one request: 413 RequestEntityTooLarge" "413 RequestEntityTooLarge" \
  "$CODE $(jget "$TMP/body" 'j["Code"]')"
# 400k events (~30 MiB) fit the cap: the parse stops at --max-events.
$PY - "$TMP/many.jsonl" "$ACCT" <<'EOF'
import sys
ev = b'{"eventTime":"2026-11-24T10:00:00Z","eventName":"X","recipientAccountId":"%s"}\n' % sys.argv[2].encode()
open(sys.argv[1], "wb").write(ev * 400000)
EOF
gzip -1 "$TMP/many.jsonl"
t0=$(date +%s%N)
req POST /v1/events "$A" --data-binary @"$TMP/many.jsonl.gz" >/dev/null
ms=$((($(date +%s%N) - t0) / 1000000))
eq "400,000 events in one request: 413 TooManyEvents" "413 TooManyEvents" "$CODE $(jget "$TMP/body" 'j["Code"]')"
check "  ... the message names the limit" grep -q 'more than 10000 events' "$TMP/body"
check "  ... answered in ${ms} ms (parsing stopped at the limit)" test "$ms" -lt 3000
req GET "/v1/lookup?StartTime=2026-11-24T00:00:00Z&EndTime=2026-11-25T00:00:00Z" "$A" >/dev/null
eq "  ... and nothing of it was stored" "200 0" "$CODE $(jget "$TMP/body" 'len(j["Events"])')"

# 8 of them in parallel, as in the issue (peak RSS was 3.97 GB, 638 MB after).
pids=()
for i in 1 2 3 4 5 6 7 8; do
  curl -s -o "$TMP/par$i" -w '%{http_code}\n' -H "Authorization: Bearer $A" \
    --data-binary @"$TMP/million.gz" "$URL/v1/events" >"$TMP/par$i.code" &
  pids+=($!)
done
wait "${pids[@]}"
HWM=$(hwm_kb "$SERVER_PID")
codes=$(cat "$TMP"/par*.code | sort | uniq -c | awk '{printf "%s:%s ", $2, $1}')
check "8 parallel 1M-event requests: each 413 or 503 ($codes)" \
  bash -c "! cat $TMP/par*.code | grep -vqE '^(413|503)$'"
check "  ... peak RSS $((HWM / 1024)) MiB stays under the 1 GiB request budget + 200 MiB" \
  test "$HWM" -lt $(((1024 + 200) * 1024))
sleep 0.5
RSS=$(rss_kb "$SERVER_PID")
check "  ... and memory is given back afterwards (RSS $((RSS / 1024)) MiB < 150 MiB)" test "$RSS" -lt $((150 * 1024))
req GET /healthz "" >/dev/null
eq "  ... the server still answers" 200 "$CODE"
stop_server
TK_BIN=$TK_BIN_SAVE

# A small budget: concurrent large requests get 503 + Retry-After.
D2=$TMP/data2
pids2=()
TK_BIN=$REL
start_server "$D2" --max-request-memory 100000000 || { nok "server starts"; tk_done; }
bootstrap_key "$D2"
A2="$KEY_ID:$KEY_SECRET"
for i in 1 2 3 4 5 6; do
  curl -s -o "$TMP/b$i" -D "$TMP/bh$i" -w '%{http_code}\n' -H "Authorization: Bearer $A2" \
    --data-binary @"$TMP/million.gz" "$URL/v1/events" >"$TMP/b$i.code" &
  pids2+=($!)
done
wait "${pids2[@]}"
n503=$(cat "$TMP"/b*.code | grep -c '^503$')
check "with --max-request-memory 100000000, some of 6 parallel gzip requests get 503 ($n503)" test "$n503" -ge 1
check "  ... with Retry-After" bash -c "grep -qi '^Retry-After:' $TMP/bh*"
HWM=$(hwm_kb "$SERVER_PID")
check "  ... peak RSS $((HWM / 1024)) MiB < 300 MiB" test "$HWM" -lt $((300 * 1024))
gen_events 5 $ACCT $T0 1 small >"$TMP/small.jsonl"
req POST /v1/events "$A2" --data-binary @"$TMP/small.jsonl" >/dev/null
eq "  ... and a normal request afterwards is stored" "200 5" "$CODE $(jget "$TMP/body" 'j["accepted"]')"
stop_server
TK_BIN=$TK_BIN_SAVE

# --- per-event rejects; ranges ---------------------------------------------
start_server "$TMP/data3" || { nok "server starts"; tk_done; }
bootstrap_key "$TMP/data3"
A3="$KEY_ID:$KEY_SECRET"
$PY - "$ACCT" "$T0" >"$TMP/bad.jsonl" <<'EOF'
import json, sys, datetime
acct, t0 = sys.argv[1], int(sys.argv[2])
def ev(i, **kw):
    e = {"eventId": "b-%d" % i, "eventTime": datetime.datetime.fromtimestamp(t0 + i, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
         "eventName": "DescribeInstances", "recipientAccountId": acct}
    e.update(kw)
    return e
print(json.dumps(ev(0)))
print(json.dumps(ev(1, eventTime="1969-12-31T23:59:59Z")))
print(json.dumps(ev(2, eventTime="10000-01-01T00:00:00Z")))
print(json.dumps(ev(3, eventId="x" * 1025)))
print(json.dumps(ev(4)))
print(json.dumps(ev(5, eventTime="9999-12-31T23:59:59Z")))
EOF
req POST /v1/events "$A3" --data-binary @"$TMP/bad.jsonl" >/dev/null
eq "bad events between good ones: 200, 2 accepted" "200 2" "$CODE $(jget "$TMP/body" 'j["accepted"]')"
eq "  ... rejects by index with codes (9999-12-31 is storable, but past --max-future-skew 1 day)" \
  "1:InvalidEventTime 2:InvalidEventTime 3:FieldTooLong 5:EventTimeInFuture" \
  "$(jget "$TMP/body" '" ".join("%d:%s" % (r["index"], r["code"]) for r in j["rejected"])')"

# eventTime year 10000 (out of range) on import: a per-event reject, the
# rest of the file is stored (was: 0 of 5,000 stored).
$PY - "$ACCT" "$T0" >"$TMP/imp.jsonl" <<'EOF'
import json, sys, datetime
acct, t0 = sys.argv[1], int(sys.argv[2])
for i in range(5000):
    t = "10000-01-01T00:00:00Z" if i == 2500 else datetime.datetime.fromtimestamp(t0 + i, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    print(json.dumps({"eventId": "imp-%d" % i, "eventTime": t, "eventName": "X", "recipientAccountId": acct if i != 100 else "../etc"}))
EOF
out=$("$TK_BIN" import --data "$TMP/data4" "$TMP/imp.jsonl" 2>&1)
check "import of 5,000 events with 2 bad ones stores 4,998 (was: 0)" grep -q '4,998 accepted, 0 duplicates, 2 rejected' <<<"$out"
check "  ... naming both by line and code" bash -c "grep -q 'imp.jsonl:101 InvalidAccountId' <<<'$out' && grep -q 'imp.jsonl:2501 InvalidEventTime' <<<'$out'"

req POST /v1/lookup "$A3" -H 'Content-Type: application/json' -d '{"StartTime":1e400}' >/dev/null
eq "StartTime 1e400 on /v1/lookup: 400" 400 "$CODE"
req POST /v1/lookup "$A3" -H 'Content-Type: application/json' -d '{"EndTime":-1e300}' >/dev/null
eq "EndTime -1e300: 400" 400 "$CODE"
req POST /v1/lookup "$A3" -H 'Content-Type: application/json' -d '{"MaxResults":1e400}' >/dev/null
eq "MaxResults 1e400: 400" 400 "$CODE"
req POST / "$A3" -H 'Content-Type: application/x-amz-json-1.1' \
  -H 'X-Amz-Target: com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents' \
  -d '{"StartTime":1e400}' >/dev/null
eq "CloudTrail LookupEvents StartTime 1e400: 400 InvalidTimeRangeException" "400 InvalidTimeRangeException" \
  "$CODE $(jget "$TMP/body" 'j.get("__type","")')"
for n in 0 10 01; do
  req GET "/v1/lookup?LookupAttribute.$n.Key=EventName&LookupAttribute.$n.Value=X" "$A3" >/dev/null
  eq "LookupAttribute.$n is refused (ignoring it would widen the query)" "400 InvalidParameterLookupAttribute" \
    "$CODE $(jget "$TMP/body" 'j["Code"]')"
done
req GET "/v1/lookup?LookupAttribute.1.Key=EventName&LookupAttribute.1.Value=DescribeInstances&StartTime=$(date -u -d @$((T0 - 60)) +%Y-%m-%dT%H:%M:%SZ)" "$A3" >/dev/null
eq "LookupAttribute.1 still works (the two events of the last hours)" "200 2" "$CODE $(jget "$TMP/body" 'len(j["Events"])')"

# --- truncated containers --------------------------------------------------
printf '[{"eventTime":"2026-11-24T10:00:00Z","eventName":"A","recipientAccountId":"%s","eventId":"tr-1"},' $ACCT >"$TMP/trunc.json"
req POST /v1/events "$A3" --data-binary @"$TMP/trunc.json" >/dev/null
eq "an array cut off after a complete element: the element is stored, the truncation is a reject" \
  "200 1 InvalidJson" "$CODE $(jget "$TMP/body" '"%d %s" % (j["accepted"], j["rejected"][0]["code"])')"
check "  ... that says the array is not closed" grep -q 'array is not closed' "$TMP/body"

# --- concatenated CloudTrail files -----------------------------------------
# The second file is over the 256 KiB event limit; each record is small.
$PY - "$TMP/ct.json" "$ACCT" <<'EOF'
import json, sys
acct = sys.argv[2]
def rec(i):
    return {"eventVersion": "1.08", "eventTime": "2026-11-24T10:%02d:%02dZ" % (i // 60 % 60, i % 60),
            "eventSource": "ec2.amazonaws.com", "eventName": "DescribeInstances", "awsRegion": "us-east-1",
            "sourceIPAddress": "203.0.113.9", "userAgent": "aws-cli/2", "eventID": "ct-%05d" % i,
            "eventType": "AwsApiCall", "recipientAccountId": acct, "readOnly": True,
            "userIdentity": {"type": "IAMUser", "userName": "u", "accountId": acct},
            "requestParameters": {"pad": "p" * 300}}
with open(sys.argv[1], "w") as f:
    f.write(json.dumps({"Records": [rec(i) for i in range(10)]}))
    f.write(json.dumps({"Records": [rec(i) for i in range(10, 1510)]}))
    f.write("\n")
    f.write(json.dumps({"Records": [rec(i) for i in range(1510, 3010)]}))
EOF
out=$("$TK_BIN" import --data "$TMP/data5" --account $ACCT "$TMP/ct.json" 2>&1)
n=$("$TK_BIN" lookup --data "$TMP/data5" --account $ACCT --start 2026-11-24T00:00:00Z --end 2026-11-25T00:00:00Z --count 2>/dev/null)
eq "cat of 3 CloudTrail files (2 over 256 KiB, not first): every record stored" 3010 "$n"

stop_server
tk_done
