#!/usr/bin/env bash
# trailkeep import end to end: a folder tree with JSON Lines, a JSON array,
# gzip and the CloudTrail records of the Stratus detonation logs; exact summary
# numbers, idempotent re-import (skipped, then all duplicates with --force),
# a changed file read again, rejects listed (first 20 + count) and written
# with --rejects, --account for events without recipientAccountId, usage errors.
source "$(dirname "$0")/../lib.sh"
BIN=${TK_BIN:?TK_BIN must point at the trailkeep binary}
PY=/usr/bin/python3
MK="$PY $(dirname "$0")/mkevents.py"
STRATUS="${TK_SHARED:-/work/shared}/datasets/stratus-detonation-logs"
D=$TMP/data
A=1111222233334444
B=5555666677778888
S=$(date -u -d 2026-11-20T00:00:00Z +%s)
field() { $PY -c 'import json,sys; print(json.loads(sys.stdin.read().strip().splitlines()[-1])[sys.argv[1]])' "$1"; }

mkdir -p $TMP/in/a $TMP/in/b/c
$MK $TMP/in/a/part1.jsonl 100 $A $S 60
$MK $TMP/in/a/part2.json.gz 50 $A $((S + 86400)) 60 --format gz --prefix g
$MK $TMP/in/b/c/arr.json 30 $B $S 3600 --format array --prefix r
echo "not events" > $TMP/in/README.txt           # skipped: not a known extension
$MK $TMP/in/a/.hidden.jsonl 5 $A $S 60 --prefix h  # skipped: hidden

mkdir -p $TMP/in/AWSLogs/111122223333/CloudTrail-Digest/us-east-1
echo '{"digest": "not events"}' | gzip > $TMP/in/AWSLogs/111122223333/CloudTrail-Digest/us-east-1/d.json.gz  # skipped

out=$($BIN import --data $TMP/dry --dry-run --output json $TMP/in "$STRATUS"); rc=$?
eq "--dry-run: exit 0, all 490 events valid" "0 490 0" "$rc $(echo "$out" | field accepted) $(echo "$out" | field rejected)"
check "--dry-run: creates no store" test ! -e $TMP/dry

out=$($BIN import --data $D --output json $TMP/in "$STRATUS" 2>$TMP/err); rc=$?
eq "first import exits 0" 0 "$rc"
eq "first import reads 38 files (3 + 35 CloudTrail)" 38 "$(echo "$out" | field files)"
eq "first import accepts every event (150 + 30 + 310)" 490 "$(echo "$out" | field accepted)"
eq "first import has no duplicates" 0 "$(echo "$out" | field duplicates)"
eq "first import has no rejects" 0 "$(echo "$out" | field rejected)"
eq "first import prints nothing on stderr when not a terminal (no progress), only that the 2024 stratus events are past retention" \
  "trailkeep import: warning: 310 event(s) are older than their account's retention" "$(cut -c1-80 $TMP/err)"

cnt() { $BIN lookup --data $D --account "$1" --start 2000-01-01 --end 2100-01-01 --count "${@:2}"; }
eq "account A holds 150 events" 150 "$(cnt $A)"
eq "account B holds 30 events" 30 "$(cnt $B)"
eq "a CloudTrail account holds its 56 records" 56 "$(cnt 056392974792)"
eq "CloudTrail EventName lookup finds StopLogging" 1 "$(cnt 143434273843 --event-name StopLogging)"

out=$($BIN import --data $D $TMP/in "$STRATUS"); rc=$?
eq "re-import exits 0" 0 "$rc"
check "re-import skips all 38 files as already imported" grep -q "^files: *0 read, 38 skipped (already imported), 0 failed" <<<"$out"
check "re-import stores nothing" grep -q "^events: *0 accepted, 0 duplicates, 0 rejected" <<<"$out"

out=$($BIN import --data $D --force --output json $TMP/in "$STRATUS"); rc=$?
eq "--force re-reads all files" 38 "$(echo "$out" | field files)"
eq "--force finds every event a duplicate" 490 "$(echo "$out" | field duplicates)"
eq "--force stores nothing new" 0 "$(echo "$out" | field accepted)"
eq "event count unchanged after re-imports" 150 "$(cnt $A)"

# A file that grew is read again; only its new events are stored.
$MK $TMP/in/a/part1.jsonl 120 $A $S 60
sleep 0.01; touch $TMP/in/a/part1.jsonl
out=$($BIN import --data $D --output json $TMP/in); rc=$?
eq "changed file: 1 read, 2 skipped" "1 2" "$(echo "$out" | field files) $(echo "$out" | field skipped)"
eq "changed file: 20 new events accepted" 20 "$(echo "$out" | field accepted)"
eq "changed file: 100 old events are duplicates" 100 "$(echo "$out" | field duplicates)"

# Rejects: 3 good lines, invalid JSON on line 2, missing eventTime on line 4.
for k in 1 2 3; do $MK $TMP/good$k.jsonl 1 $A $S 60 --prefix bad$k; done
{
  cat $TMP/good1.jsonl
  echo '{"eventId": "x", broken'
  cat $TMP/good2.jsonl
  echo '{"eventId":"nt","recipientAccountId":"'$A'","eventName":"X"}'
  cat $TMP/good3.jsonl
} > $TMP/bad.jsonl
out=$($BIN import --data $D --output json --rejects $TMP/rej.jsonl $TMP/bad.jsonl 2>$TMP/err); rc=$?
eq "rejects make import exit 1" 1 "$rc"
eq "3 good events accepted beside the rejects" 3 "$(echo "$out" | field accepted)"
eq "2 events rejected" 2 "$(echo "$out" | field rejected)"
check "invalid JSON reported as file:line code" grep -q "bad.jsonl:2 InvalidJson" $TMP/err
check "missing eventTime reported with its field" grep -q "bad.jsonl:4 MissingField eventTime" $TMP/err
check "stderr says events were rejected" grep -q "2 event(s) rejected" $TMP/err
eq "--rejects file has one JSON line per reject" 2 "$(wc -l < $TMP/rej.jsonl)"
eq "--rejects lines carry file, line and code" "2 InvalidJson|4 MissingField" \
   "$($PY -c 'import json,sys; print("|".join("%d %s" % (r["line"], r["code"]) for r in map(json.loads, open(sys.argv[1]))))' $TMP/rej.jsonl)"

# More than 20 rejects: the first 20 are listed, then a count.
for i in $(seq 1 25); do echo "{\"broken\": $i"; done > $TMP/many.jsonl
$BIN import --data $D --quiet $TMP/many.jsonl 2>$TMP/err; rc=$?
eq "25 rejects: exit 1" 1 "$rc"
eq "25 rejects: 20 listed" 20 "$(grep -c '^.*many.jsonl:[0-9]* ' $TMP/err)"
check "25 rejects: the remaining 5 are counted" grep -q "and 5 more rejected events" $TMP/err

# CloudTrail's S3 layout as `trailkeep gen` writes it ({"Records":[...]} in .json.gz).
$BIN gen --format cloudtrail --events 1000 --start 2026-11-01 --days 2 --out $TMP/ct/ --gzip >/dev/null 2>&1
nct=$(find $TMP/ct -name '*.json.gz' | wc -l)
out=$($BIN import --data $D --output json $TMP/ct); rc=$?
eq "gen CloudTrail layout: every file read, all 1000 records accepted" "0 $nct 1000 0" \
   "$rc $(echo "$out" | field files) $(echo "$out" | field accepted) $(echo "$out" | field rejected)"

# A JSON Lines file larger than the 8 MiB parse chunk: line numbers and
# counts stay exact across chunks (bad lines near the start and the end).
$MK $TMP/big.jsonl 30000 $A $((S + 5 * 86400)) 1 --prefix big
$PY - $TMP/big.jsonl <<'PY'
import sys
p = sys.argv[1]
lines = open(p).read().splitlines(True)
lines[9] = "{not json\n"          # line 10
lines[29000] = "{also not json\n" # line 29001, in a later chunk
open(p, "w").write("".join(lines))
PY
big_size=$(stat -c %s $TMP/big.jsonl)
check "big file spans several parse chunks ($big_size bytes)" test "$big_size" -gt 16777216
out=$($BIN import --data $D --output json $TMP/big.jsonl 2>$TMP/err); rc=$?
eq "big file: 29998 accepted, 2 rejected" "29998 2" "$(echo "$out" | field accepted) $(echo "$out" | field rejected)"
check "big file: reject in the first chunk at its line" grep -q "big.jsonl:10 InvalidJson" $TMP/err
check "big file: reject in a later chunk at its line" grep -q "big.jsonl:29001 InvalidJson" $TMP/err

# On a terminal (script(1) gives one) a progress line is drawn on stderr.
if command -v script >/dev/null; then
  script -qec "$BIN import --data $TMP/data4 $TMP/big.jsonl" /dev/null > $TMP/tty 2>&1
  tr '\r' '\n' < $TMP/tty > $TMP/tty.lines
  check "terminal: progress shows files, events, rate, MB/s and ETA" \
    grep -Eq '\[[#.]{20}\] +[0-9]+%  files [01]/1  events [0-9,]+  [0-9]+ ev/s  [0-9.]+ MB/s  ETA ' $TMP/tty.lines
  check "terminal: the last progress line shows 1/1 files" grep -q 'files 1/1  events 30,000' $TMP/tty.lines
fi

# Events without recipientAccountId: rejected, unless --account gives one.
$PY - $TMP/noacct.jsonl <<'PY'
import json, sys
with open(sys.argv[1], "w") as f:
    for i in range(4):
        f.write(json.dumps({"eventId": "na-%d" % i, "eventTime": "2026-11-20T01:00:0%dZ" % i, "eventName": "Ping"}) + "\n")
PY
out=$($BIN import --data $D --output json $TMP/noacct.jsonl 2>$TMP/err); rc=$?
eq "no account: exit 1" 1 "$rc"
eq "no account: 4 rejected" 4 "$(echo "$out" | field rejected)"
out=$($BIN import --data $D --output json --account 9999000011112222 $TMP/noacct.jsonl 2>$TMP/err); rc=$?
eq "--account: exit 0" 0 "$rc"
eq "--account: 4 accepted" 4 "$(echo "$out" | field accepted)"
eq "--account: events are found under that account" 4 "$(cnt 9999000011112222 --event-name Ping)"

# Usage and path errors.
$BIN import --data $D >/dev/null 2>$TMP/err; eq "no PATH: exit 2" 2 $?
check "no PATH: says what to do" grep -q "no PATH given" $TMP/err
$BIN import --data $D --bogus $TMP/in >/dev/null 2>&1; eq "unknown option: exit 2" 2 $?
$BIN import --data $D --format xml $TMP/in >/dev/null 2>&1; eq "unknown --format: exit 2" 2 $?
$BIN import --data $D --batch 0 $TMP/in >/dev/null 2>&1; eq "--batch 0: exit 2" 2 $?
out=$($BIN import --data $D --output json $TMP/does-not-exist 2>$TMP/err); rc=$?
eq "missing path: exit 1" 1 "$rc"
eq "missing path: counted as failed" 1 "$(echo "$out" | field failed)"
check "missing path: named in the message" grep -q "does-not-exist" $TMP/err

# A truncated .gz fails that file (exit 1) with a clear message.
head -c $(( $(stat -c %s $TMP/in/a/part2.json.gz) / 2 )) $TMP/in/a/part2.json.gz > $TMP/cut.json.gz
out=$($BIN import --data $TMP/data3 --output json $TMP/cut.json.gz 2>$TMP/err); rc=$?
eq "truncated .gz: exit 1, counted as failed" "1 1" "$rc $(echo "$out" | field failed)"
check "truncated .gz: names the file and says it is truncated" grep -q "skipping .*cut.json.gz.*truncated" $TMP/err

# --batch 1 gives the same result as big batches.
out=$($BIN import --data $TMP/data2 --batch 7 --output json $TMP/in/a); rc=$?
eq "--batch 7 accepts all 170 events of folder a" "0 170" "$rc $(echo "$out" | field accepted)"

# Digest folders beside delivered logs (ActionTrail's and CloudTrail's) hold
# digests, not events: import skips them instead of rejecting their records.
mkdir -p $TMP/dig/AliyunLogs/Actiontrail-Digest/x $TMP/dig/AWSLogs/1/CloudTrail-Digest/x
echo '{"digestStartTime":"2026-11-24T00:00:00Z","logFiles":[]}' | gzip >$TMP/dig/AliyunLogs/Actiontrail-Digest/x/d.json.gz
echo '{"digestStartTime":"2026-11-24T00:00:00Z","logFiles":[]}' | gzip >$TMP/dig/AWSLogs/1/CloudTrail-Digest/x/d.json.gz
cp $TMP/in/a/*.jsonl $TMP/dig/ 2>/dev/null || cp "$(find $TMP/in/a -type f | head -1)" $TMP/dig/
out=$($BIN import --data $TMP/data3 --output json $TMP/dig); rc=$?
eq "digest folders are skipped: nothing rejected" "0 0" "$rc $(echo "$out" | field rejected)"

# Nothing found is an error, so a wrong path or an empty export is noticed
# (it used to report "0 read" with exit 0).
mkdir -p $TMP/nothing/sub; : >$TMP/empty.jsonl; echo "notes" >$TMP/nothing/README.txt
$BIN import --data $TMP/data4 --quiet $TMP/nothing 2>$TMP/n.err; rc=$?
eq "a folder with no event file: exit 1, says so" "1 1" "$rc $(grep -c 'no events found in .*nothing: no event file there' $TMP/n.err)"
$BIN import --data $TMP/data4 --quiet $TMP/empty.jsonl 2>$TMP/n.err; rc=$?
eq "an empty file: exit 1, says the file holds no event" "1 1" "$rc $(grep -c 'hold no event' $TMP/n.err)"
# An eventTime past now + --max-future-skew (default a day) is a reject with
# its own code; 0 accepts any time (both were stored silently before).
$PY - >$TMP/future.jsonl <<'PYEOF'
import json, time
now = int(time.time())
for i, t in enumerate([now - 60, now + 3600, now + 3 * 86400, 4070908800]):  # 4070908800 = 2099-01-01
    print(json.dumps({"eventId": "fut-%d" % i, "eventName": "X", "recipientAccountId": "5555000055550000",
                      "eventTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))}))
PYEOF
out=$($BIN import --data $TMP/data5 $TMP/future.jsonl 2>&1); rc=$?
eq "future events: 2 stored (now, +1 h), 2 rejected (+3 days, 2099), exit 1" "1 1" \
  "$rc $(grep -c '2 accepted, 0 duplicates, 2 rejected' <<<"$out")"
check "  ... as EventTimeInFuture, saying how far" grep -q 'future.jsonl:4 EventTimeInFuture.*days in the future' <<<"$out"
out=$($BIN import --data $TMP/data6 --max-future-skew 0 $TMP/future.jsonl 2>&1); rc=$?
eq "--max-future-skew 0: all 4 stored" "0 1" "$rc $(grep -c '4 accepted' <<<"$out")"
# Events already past their account's retention: stored, and said so.
$MK $TMP/old.jsonl 10 $A $(date -u -d '-200 days' +%s) 60 --prefix old
out=$($BIN import --data $TMP/data7 --output json $TMP/old.jsonl 2>$TMP/old.err); rc=$?
eq "events 200 days old: stored, counted as past retention, exit 0" "0 10 10" "$rc $(echo "$out" | field accepted) $(echo "$out" | field past_retention)"
check "  ... and the warning says the next purge removes them" grep -q "10 event(s) are older than their account's retention" $TMP/old.err
tk_done
