#!/usr/bin/env bash
# trailkeep lookup end to end: the three outputs (table, json, jsonl), paging
# with --next-token and --all (no repeat, no gap, order), attributes and
# --count against counts computed from the generator's arithmetic, relative
# times, and parameter errors with their LookupEvents codes (exit 2).
source "$(dirname "$0")/../lib.sh"
BIN=${TK_BIN:?TK_BIN must point at the trailkeep binary}
PY=/usr/bin/python3
MK="$PY $(dirname "$0")/mkevents.py"
D=$TMP/data
A=1111222233334444
R=7777888899990000
S=$(date -u -d 2026-11-20T00:00:00Z +%s)
NOW=$(date -u +%s)

$MK $TMP/a.jsonl 100 $A $S 60
# Relative-time data: 100 events ten minutes apart, the last 5 min ago; the
# 5 min offset keeps every boundary of -1h / -3h 5 min away from the
# lookup's "now", however slow the machine.
$MK $TMP/r.jsonl 100 $R $((NOW - 59700)) 600 --prefix rel
$BIN import --data $D --quiet $TMP/a.jsonl $TMP/r.jsonl; eq "import for lookup tests" 0 $?

L() { $BIN lookup --data $D --account $A --start 2026-11-19 --end 2026-11-21 "$@"; }
ids() { $PY -c 'import json,sys; print(" ".join(json.loads(l)["eventId"].rsplit("-",1)[1] for l in sys.stdin if l.strip()))'; }

# table
out=$(L --max 6); rc=$?
eq "table: exit 0" 0 "$rc"
eq "table: header" "TIME USER EVENT SOURCE IP RESULT RESOURCE" "$(echo "$out" | head -1 | tr -s ' ')"
eq "table: newest event first (i=99)" "2026-11-20T01:39:00Z user0 ConsoleSignin 10.0.0.99 ok i-4" "$(echo "$out" | sed -n 2p | tr -s ' ')"
eq "table: a failed call shows its error code (i=94)" "2026-11-20T01:34:00Z user1 DescribeRegions 10.0.1.94 Forbidden i-4" "$(echo "$out" | sed -n 7p | tr -s ' ')"
eq "table: 6 rows + header + more-line" 8 "$(echo "$out" | wc -l)"
check "table: ends with the next token" grep -q "^-- more events: --next-token [A-Za-z0-9_-]* (or --all)$" <<<"$out"
out=$(L --event-name NoSuchApi); eq "table: an empty result says so, without a header" "(no events matched)" "$out"

# json
out=$(L --output json --max 20)
eq "json: 20 events and a token" "20 1" "$(echo "$out" | $PY -c 'import json,sys; d=json.load(sys.stdin); print(len(d["Events"]), int(len(d["NextToken"])>20))')"
eq "json: range echoed" "2026-11-19T00:00:00Z 2026-11-21T00:00:00Z" "$(echo "$out" | $PY -c 'import json,sys; d=json.load(sys.stdin); print(d["StartTime"], d["EndTime"])')"
out=$(L --output json --all --max 7)
eq "json --all: every event once, newest first, no token" "100 True True" \
   "$(echo "$out" | $PY -c '
import json,sys; d=json.load(sys.stdin); ids=[int(e["eventId"].rsplit("-",1)[1]) for e in d["Events"]]
print(len(ids), ids==list(range(99,-1,-1)), d["NextToken"]=="")')"

# jsonl, --forward, --all
eq "jsonl --all --forward: oldest first, all 100" "$(seq -s ' ' 0 99)" "$(L --output jsonl --all --forward --max 9 | ids)"
eq "jsonl --all: newest first" "$(seq -s ' ' 99 -1 0)" "$(L --output jsonl --all --max 11 | ids)"

# manual paging with --next-token: pages join up exactly, whatever their size
p1=$(L --output jsonl --max 30 2>$TMP/tok1 | ids)
tok=$(sed -n 's/^next-token: //p' $TMP/tok1)
check "jsonl: next token on stderr" test -n "$tok"
p2=$(L --output jsonl --max 25 --next-token "$tok" 2>$TMP/tok2 | ids)
eq "paging: page 1 + page 2 = the newest 55" "$(seq -s ' ' 99 -1 45)" "$p1 $p2"
tok2=$(sed -n 's/^next-token: //p' $TMP/tok2)
p3=$($BIN lookup --data $D --account $A --output jsonl --max 50 --next-token "$tok2" 2>$TMP/tok3 | ids)
eq "paging: times may be omitted with a token" "$(seq -s ' ' 44 -1 0)" "$p3"
eq "paging: no token after the last page" "" "$(cat $TMP/tok3)"

# attributes and --count (the generator's arithmetic: name = i%4, user = i%3, error when i%7==3)
eq "count all" 100 "$(L --count)"
eq "count EventName=DeleteInstance (i%4==0)" 25 "$(L --count --event-name DeleteInstance)"
eq "count two attributes ANDed (i%12==0)" 9 "$(L --count --event-name DeleteInstance --user user0)"
eq "count --attr form equals the option form" 9 "$(L --count --attr EventName=DeleteInstance --attr User=user0)"
eq "count EventRW=Write (even i)" 50 "$(L --count --event-rw Write)"
eq "count ResourceName=i-2" 20 "$(L --count --resource-name i-2)"
eq "count SourceIpAddress" 1 "$(L --count --source-ip 10.0.1.94)"
eq "count EventId" 1 "$(L --count --event-id e-$A-17)"
eq "count EventType=ConsoleSignin" 25 "$(L --count --event-type ConsoleSignin)"
eq "count ServiceName, EventSource" "100 100" "$(L --count --service-name Ecs) $(L --count --event-source ecs.aliyuncs.com)"
eq "count AccessKeyId" 34 "$(L --count --access-key-id LTAIkey0)"
eq "values are case-sensitive" 0 "$(L --count --event-name deleteinstance)"
eq "time range is inclusive at both ends" 3 "$($BIN lookup --data $D --account $A --start 2026-11-20T00:10:00Z --end 2026-11-20T00:12:00Z --count)"
eq "another account sees none of A's events" 0 "$($BIN lookup --data $D --account 1234 --start 2026-11-19 --end 2026-11-21 --count)"

# relative times and defaults
eq "relative --start -1h" 6 "$($BIN lookup --data $D --account $R --start -1h --count)"
eq "relative --start -3h --end -1h" 12 "$($BIN lookup --data $D --account $R --start -3h --end -1h --count)"
eq "default range (last 7 days) holds all recent events" 100 "$($BIN lookup --data $D --account $R --count)"
eq "default range excludes older events" 0 "$($BIN lookup --data $D --account $A --end 2026-11-19T23:59:59Z --count)"

# errors: LookupEvents codes, exit 2
err() { "$@" >/dev/null 2>$TMP/err; echo "$? $(grep -o 'Invalid[A-Za-z]*' $TMP/err | head -1)"; }
eq "start after end" "2 InvalidParameterCombination" "$(err $BIN lookup --data $D --account $A --start 2026-11-21 --end 2026-11-20)"
eq "three attributes" "2 InvalidParameterLookupAttribute" "$(err L --user a --event-name b --event-rw Read)"
eq "unknown attribute key" "2 InvalidParameterLookupAttribute" "$(err L --attr UserName=x)"
eq "empty attribute value" "2 InvalidParameterLookupAttribute" "$(err L --user '')"
eq "sensitive-action must be true/false" "2 InvalidParameterLookupAttribute" "$(err L --sensitive-action yes)"
eq "max out of range" "2 InvalidParameterMaxResults" "$(err L --max 0)"
eq "forged token" "2 InvalidNextToken" "$(err L --next-token AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA)"
eq "token with a changed query" "2 InvalidNextToken" "$(err L --user user1 --next-token "$tok")"
eq "token with another account" "2 InvalidNextToken" "$(err $BIN lookup --data $D --account $R --next-token "$tok")"
$BIN lookup --data $D --account $A --start yesterday >/dev/null 2>$TMP/err; eq "unparsable --start: exit 2" 2 $?
$BIN lookup --data $D --account $A --output xml >/dev/null 2>&1; eq "unknown --output: exit 2" 2 $?
$BIN lookup --data $D --start -1h >/dev/null 2>$TMP/err; eq "missing --account: exit 2" 2 $?
check "missing --account: lists the accounts" grep -q "$A" $TMP/err
$BIN lookup --data $TMP/nowhere --account $A >/dev/null 2>$TMP/err; eq "missing data dir: exit 1" 1 $?

# CSV output: header once (also with --all), columns by field path.
$BIN lookup --data $D --account $A --start 2000-01-01 --end 2100-01-01 --output csv --all >$TMP/all.csv; rc=$?
eq "--output csv --all: exit 0, one header, a row per event" "0 1 $($BIN lookup --data $D --account $A --start 2000-01-01 --end 2100-01-01 --count)" \
  "$rc $(grep -c '^eventTime,eventName,' $TMP/all.csv) $(( $(wc -l <$TMP/all.csv) - 1 ))"
$BIN lookup --data $D --account $A --start 2000-01-01 --end 2100-01-01 --output csv --columns eventName,userIdentity.type --max 1 >$TMP/one.csv
eq "--columns picks the fields" "eventName,userIdentity.type" "$(head -1 $TMP/one.csv | tr -d '\r')"
$BIN lookup --data $D --account $A --columns eventName >/dev/null 2>&1
eq "--columns without --output csv is a usage error" 2 $?
# --format renders each event through the format registry (event/format.h).
$BIN lookup --data $D --account $A --start 2000-01-01 --end 2100-01-01 --output jsonl --format ocsf --max 5 >$TMP/ocsf.jsonl
eq "--format ocsf: 5 OCSF API Activity records (class_uid 6003)" 5 \
  "$(/usr/bin/python3 -c 'import json,sys; print(sum(json.loads(l)["class_uid"]==6003 for l in open(sys.argv[1])))' $TMP/ocsf.jsonl)"
$BIN lookup --data $D --account $A --start 2000-01-01 --end 2100-01-01 --output json --format cloudtrail --max 2 >$TMP/ct.json
eq "--format cloudtrail --output json: the response shape with CloudTrail records" "2 1.08" \
  "$(/usr/bin/python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(len(j["Events"]), j["Events"][0]["eventVersion"])' $TMP/ct.json)"
$BIN lookup --data $D --account $A --format nope >/dev/null 2>$TMP/f.err
eq "--format nope: usage error listing the formats" "2 1" "$? $(grep -c 'canonical, cloudtrail, ocsf' $TMP/f.err)"
$BIN lookup --data $D --account $A --format ocsf >/dev/null 2>&1
eq "--format with the table output: usage error" 2 $?
tk_done
