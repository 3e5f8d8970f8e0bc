#!/usr/bin/env bash
# End-to-end: a trail delivering to an S3 server (s3rver on loopback, started
# here), objects listed and fetched back with the real aws CLI and compared
# event by event with what was ingested; then an outage: the S3 server stops
# while events keep arriving, delivery fails visibly (status, backlog), and
# once it is back every event arrives, none twice.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/trail_lib.bash"

[ -x "$AWS" ] || { nok "Debian awscli is installed ($AWS)"; tk_done; }
[ -x "$S3RVER" ] || { nok "s3rver is installed ($S3RVER; run scripts/setup)"; tk_done; }
D=$TMP/data
S3PORT=$(free_port)
start_s3 "$TMP/s3" "$S3PORT" audit-logs || { nok "s3rver starts"; tk_done; }
ok "s3rver listening on 127.0.0.1:$S3PORT"
export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_DEFAULT_REGION=us-east-1
# s3rver listens on loopback: the operator must allow private endpoints.
T() { "$TK_BIN" trails "$@" --data "$D" --account $ACC --allow-private-endpoints; }
Tq() { T "$@" >/dev/null 2>&1; }

mkdir -p "$D"
"$TK_BIN" accounts create $ACC --data "$D" >/dev/null
"$TK_BIN" accounts create $OTHER --data "$D" >/dev/null
check "create an S3 trail (OssBucketName, OssKeyPrefix, path-style endpoint)" \
  Tq create s3-archive --oss-bucket audit-logs --oss-prefix prod/trail --event-rw All \
    --opt endpoint=http://127.0.0.1:$S3PORT --opt path_style=true --opt region=us-east-1 \
    --opt timeout_s=5
eq "a new trail is stopped" "false" "$(T status s3-archive --output json | $PY -c 'import json,sys; print(str(json.load(sys.stdin)["IsLogging"]).lower())')"
check "start logging" T start s3-archive

gen_events 400 0 >"$TMP/ev1.jsonl"
"$TK_BIN" import --data "$D" "$TMP/ev1.jsonl" >/dev/null 2>&1
check "deliver --once" Tq deliver --once --max-events 100
"$AWS" --endpoint-url "http://127.0.0.1:$S3PORT" s3 ls --recursive s3://audit-logs/ >"$TMP/ls1" 2>"$TMP/aws.err"
check "aws s3 ls: objects under prod/trail/AliyunLogs/Actiontrail/<region>/YYYY/MM/DD/" \
  grep -qE ' prod/trail/AliyunLogs/Actiontrail/cn-beijing/[0-9]{4}/[0-9]{2}/[0-9]{2}/Actiontrail_cn-beijing_[0-9]{14}_1002_[0-9]+_[0-9]+_[0-9a-f]{32}\.gz$' "$TMP/ls1"
"$AWS" --endpoint-url "http://127.0.0.1:$S3PORT" s3 cp --recursive --quiet s3://audit-logs/ "$TMP/got1" 2>>"$TMP/aws.err"
eq "fetched with aws s3 cp: every event of the account once, equal field by field" \
  "ok 300 events, 2 trail events, " "$(check_delivered "$TMP/got1" "$TMP/ev1.jsonl" | sed 's/[0-9]* files$//')"
check "file names carry the event count: they add up" \
  $PY -c "import re,sys; t=sum(int(re.search(r'_1002_(\d+)_',l).group(1)) for l in open('$TMP/ls1') if '_1002_' in l); sys.exit(t!=302)"

# Outage: the S3 server goes away while events keep arriving.
stop_s3
gen_events 200 400 >"$TMP/ev2.jsonl"
"$TK_BIN" import --data "$D" "$TMP/ev2.jsonl" >/dev/null 2>&1
T deliver --once >/dev/null 2>"$TMP/d2.err"
eq "delivery fails while S3 is down (exit 1)" 1 $?
T status s3-archive --output json >"$TMP/st2.json"
check "GetTrailStatus shows the error" $PY -c "import json; j=json.load(open('$TMP/st2.json')); assert j['LatestDeliveryError'].startswith('PUT '), j"
check "GetTrailStatus: the backlog counts the trail's own new events only (150 of 200)" $PY -c "import json; j=json.load(open('$TMP/st2.json')); assert j['Backlog'] == 150, j"

start_s3 "$TMP/s3" "$S3PORT" audit-logs || nok "s3rver restarts"
check "deliver --once after the outage" Tq deliver --once --max-events 100
T status s3-archive --output json >"$TMP/st3.json"
check "status: no error, no backlog" $PY -c "import json; j=json.load(open('$TMP/st3.json')); assert j['LatestDeliveryError']=='' and j['Backlog']==0, j"
"$AWS" --endpoint-url "http://127.0.0.1:$S3PORT" s3 cp --recursive --quiet s3://audit-logs/ "$TMP/got2" 2>>"$TMP/aws.err"
eq "after the outage: all 450 events of the account delivered, none twice" \
  "ok 450 events, 2 trail events, " "$(check_delivered "$TMP/got2" "$TMP/ev1.jsonl" "$TMP/ev2.jsonl" | sed 's/[0-9]* files$//')"

# Digests: the bucket copy verifies with the public key alone.
"$TK_BIN" trails public-key --data "$D" >"$TMP/pub.pem"
check "trails verify --folder (bucket copy) --public-key: chain intact, no problem" \
  "$TK_BIN" trails verify --folder "$TMP/got2" --public-key "$TMP/pub.pem"
"$AWS" --endpoint-url "http://127.0.0.1:$S3PORT" s3 cp --recursive --quiet s3://audit-logs/prod "$TMP/sub" 2>>"$TMP/aws.err"
check "a copy of a folder of the bucket (aws s3 cp s3://audit-logs/prod) verifies too" \
  "$TK_BIN" trails verify --folder "$TMP/sub" --public-key "$TMP/pub.pem"
f=$(find "$TMP/got2" -path '*cn-beijing*' -name 'Actiontrail_*.gz' | head -1)
printf 'X' | dd of="$f" bs=1 seek=20 conv=notrunc 2>/dev/null
"$TK_BIN" trails verify --folder "$TMP/got2" --public-key "$TMP/pub.pem" >"$TMP/v.out"
eq "a flipped byte in a fetched file: exit 1" 1 $?
check "... and the file is reported modified" grep -q "^modified .*$(basename "$f")" "$TMP/v.out"
"$TK_BIN" verify --folder "$TMP/got2" --public-key "$TMP/pub.pem" >"$TMP/v2.out"
eq "trailkeep verify --folder (the issue's spelling) reports the same: exit 1" 1 $?
check "... with the same report" cmp -s "$TMP/v.out" "$TMP/v2.out"

# verify --bucket: the same check straight from the bucket (list, download to
# a private temporary folder, verify, remove), problems named by object key.
"$AWS" --endpoint-url "http://127.0.0.1:$S3PORT" s3 ls --recursive s3://audit-logs/ >"$TMP/ls2" 2>>"$TMP/aws.err"
awk '{print $4}' "$TMP/ls2" | grep -E '\.gz$' | sed 's|^|s3://audit-logs/|' | sort >"$TMP/want_gz"
mkdir -p "$TMP/vtmp"
SECRET=Not-A-Real-Secret-7f3a9c
VB() { TMPDIR="$TMP/vtmp" AWS_SECRET_ACCESS_KEY=$SECRET "$TK_BIN" verify --bucket "$@" \
         --endpoint "http://127.0.0.1:$S3PORT" --path-style --public-key "$TMP/pub.pem"; }
VB s3://audit-logs --all >"$TMP/vb1.out" 2>"$TMP/vb1.err"
eq "verify --bucket s3://audit-logs (untouched): exit 0" 0 $?
check "... summary: every .gz and .sig object fetched, chain intact, no problem" \
  grep -qE "^verified s3://audit-logs/: $(awk '{print $4}' "$TMP/ls2" | grep -cE '\.(gz|sig)$') object\(s\) fetched, [1-9][0-9]* digest\(s\) .*, 0 problem\(s\); digest chain intact$" "$TMP/vb1.out"
eq "... --all reports every log file and digest of the bucket by its s3:// key, all valid" \
  "$(sed 's/^/valid /' "$TMP/want_gz")" "$(grep -v '^verified' "$TMP/vb1.out" | awk '{print $1, $3}' | sort -k2)"
eq "... the temporary folder is gone afterwards" "" "$(ls -A "$TMP/vtmp")"
# Pages: s3rver orders a listing by directory walk ("Actiontrail/" before
# "Actiontrail-Digest/") but resumes a continuation token by byte order, so it
# loses keys across such a boundary (real S3 orders by bytes). Under the log
# folder both orders agree: 2 keys a page must give the very same report.
LP=s3://audit-logs/prod/trail/AliyunLogs/Actiontrail
VB $LP --all >"$TMP/vb1a.out" 2>"$TMP/vb1a.err"; rca=$?
VB $LP --all --page-size 2 >"$TMP/vb1p.out" 2>"$TMP/vb1p.err"; rcp=$?
eq "--page-size 2 (continuation tokens over $(awk '{print $4}' "$TMP/ls2" | grep -c '/Actiontrail/') keys): the same report as one page" \
  "$rca $(cat "$TMP/vb1a.out")" "$rcp $(cat "$TMP/vb1p.out")"
eq "... which lists every log file once (not covered: the digests are outside the prefix)" \
  "$(grep -c '/Actiontrail/.*\.gz$' "$TMP/ls2")" "$(grep -c "^not-covered log    $LP/" "$TMP/vb1p.out")"
VB s3://audit-logs/prod/trail >"$TMP/vb2.out" 2>"$TMP/vb2.err"
eq "a prefix (s3://audit-logs/prod/trail): exit 0" 0 $?
check "... summary names the prefix" grep -q "^verified s3://audit-logs/prod/trail/: .*; digest chain intact$" "$TMP/vb2.out"
VB s3://audit-logs/prod/other >"$TMP/vb3.out" 2>"$TMP/vb3.err"
eq "a prefix with no objects: exit 1" 1 $?
check "... the summary says no digest was found" \
  grep -q "^verified s3://audit-logs/prod/other/: 0 object(s) fetched, 0 digest(s) .*absent (no digest found)$" "$TMP/vb3.out"

# Tamper with one object in the bucket: replace it with a modified copy.
k=$(awk '{print $4}' "$TMP/ls2" | grep -E '/Actiontrail/cn-beijing/.*\.gz$' | head -1)
"$AWS" --endpoint-url "http://127.0.0.1:$S3PORT" s3 cp --quiet "s3://audit-logs/$k" "$TMP/orig.gz" 2>>"$TMP/aws.err"
gzip -dc "$TMP/orig.gz" | sed 's/StopInstance/StartInstance/' | gzip -n >"$TMP/mod.gz"
"$AWS" --endpoint-url "http://127.0.0.1:$S3PORT" s3 cp --quiet "$TMP/mod.gz" "s3://audit-logs/$k" 2>>"$TMP/aws.err"
VB s3://audit-logs >"$TMP/vb4.out" 2>"$TMP/vb4.err"
eq "one object replaced in the bucket (aws s3 cp): exit 1" 1 $?
eq "... exactly that object is reported modified, by its s3:// key" \
  "modified log s3://audit-logs/$k - SHA-256 differs from the digest's" \
  "$(grep -v '^verified' "$TMP/vb4.out" | tr -s ' ')"
VB s3://audit-logs/prod/trail >"$TMP/vb5.out" 2>"$TMP/vb5.err"
eq "... and through the prefix too: exit 1, same line" "1 1" \
  "$? $(grep -c "^modified .*s3://audit-logs/$k " "$TMP/vb5.out")"
"$AWS" --endpoint-url "http://127.0.0.1:$S3PORT" s3 cp --quiet "$TMP/orig.gz" "s3://audit-logs/$k" 2>>"$TMP/aws.err"
VB s3://audit-logs >/dev/null 2>&1
eq "the original put back: exit 0 again" 0 $?

"$TK_BIN" verify --trail s3-archive --data "$D" --account $ACC --allow-private-endpoints >"$TMP/vbt.out" 2>"$TMP/vbt.err"
eq "verify --trail NAME of an s3 trail reads its own bucket, prefix and endpoint: exit 0" 0 $?
check "... and names them" grep -q "^verified s3://audit-logs/prod/trail/: .*0 problem(s); digest chain intact$" "$TMP/vbt.out"
VB s3://no-such-bucket >"$TMP/vb6.out" 2>"$TMP/vb6.err"
eq "a missing bucket: exit 1 (documented: could not be read)" 1 $?
check "... with a clear error naming the bucket and S3's NoSuchBucket" \
  grep -q "^trailkeep trails verify: GET s3://no-such-bucket/: HTTP 404 NoSuchBucket" "$TMP/vb6.err"
(unset AWS_ACCESS_KEY_ID; "$TK_BIN" verify --bucket s3://audit-logs --public-key "$TMP/pub.pem" \
   --endpoint "http://127.0.0.1:$S3PORT" --path-style >/dev/null 2>"$TMP/vb7.err")
eq "no credentials in the environment: exit 2" 2 $?
check "... the message says which variables to set" grep -q "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY" "$TMP/vb7.err"
VB s3://audit-logs >/dev/null 2>&1 </dev/null
check "the secret access key appears in no output" \
  bash -c "! cat '$TMP'/vb*.out '$TMP'/vb*.err | grep -q '$SECRET'"
eq "every temporary folder was removed" "" "$(ls -A "$TMP/vtmp")"

# s3rver does not check signatures (sigv4.sh proves them); a bucket that
# does not exist is refused, and that is reported.
check "a trail to a missing bucket" Tq create no-bucket --oss-bucket missing-bucket --opt endpoint=http://127.0.0.1:$S3PORT --opt path_style=true
T start no-bucket >/dev/null
gen_events 4 1000 >"$TMP/ev3.jsonl"
"$TK_BIN" import --data "$D" "$TMP/ev3.jsonl" >/dev/null 2>&1
T deliver --once >/dev/null 2>&1
check "missing bucket: the S3 error is in the status" \
  $PY -c "import json,subprocess; j=json.loads(subprocess.check_output(['$TK_BIN','trails','status','no-bucket','--data','$D','--account','$ACC','--output','json'])); assert 'HTTP 404' in j['LatestDeliveryError'], j"
stop_s3
tk_done
