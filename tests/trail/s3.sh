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
T() { "$TK_BIN" trails "$@" --data "$D" --account $ACC; }
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
check "GetTrailStatus shows a backlog of the new events" $PY -c "import json; j=json.load(open('$TMP/st2.json')); assert j['Backlog'] >= 200, j"

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
f=$(find "$TMP/got2" -path '*cn-beijing*' -name 'Actiontrail_*.gz' | head -1)
printf 'X' | dd of="$f" bs=1 seek=20 conv=notrunc 2>/dev/null
"$TK_BIN" trails verify --folder "$TMP/got2" --public-key "$TMP/pub.pem" >"$TMP/v.out"
eq "a flipped byte in a fetched file: exit 1" 1 $?
check "... and the file is reported modified" grep -q "^modified .*$(basename "$f")" "$TMP/v.out"
"$TK_BIN" verify --folder "$TMP/got2" --public-key "$TMP/pub.pem" >"$TMP/v2.out"
eq "trailkeep verify --folder (the issue's spelling) reports the same: exit 1" 1 $?
check "... with the same report" cmp -s "$TMP/v.out" "$TMP/v2.out"

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
