# Helpers for the trail end-to-end scripts (sourced after tests/lib.sh; not a
# test itself): s3rver on loopback, event generation for one account, and a
# checker that compares delivered objects with what was ingested.
TK_ROOT=${TK_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
TK_BIN=${TK_BIN:-$TK_ROOT/build/asan/trailkeep}
PY=/usr/bin/python3
AWS=/usr/bin/aws
S3RVER=$TK_ROOT/build/npm/node_modules/.bin/s3rver
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_PAGER="" AWS_EC2_METADATA_DISABLED=true
ACC=1234567890123456
OTHER=6543210987654321

# start_s3 DIR PORT BUCKET: s3rver in the background, sets S3_PID; waits until it answers.
start_s3() {
  mkdir -p "$1"
  # DES (continuation tokens) needs the legacy provider under OpenSSL 3.
  NODE_OPTIONS=--openssl-legacy-provider "$S3RVER" -d "$1" -a 127.0.0.1 -p "$2" --configure-bucket "$3" --silent >>"$1.log" 2>&1 &
  S3_PID=$!
  TK_CLEANUP_PIDS+=("$S3_PID")
  for _ in $(seq 1 100); do
    curl -s -o /dev/null "http://127.0.0.1:$2/" && return 0
    sleep 0.1
  done
  return 1
}
stop_s3() { kill -TERM "$S3_PID" 2>/dev/null; wait "$S3_PID" 2>/dev/null; }

# gen_events N FIRST: N ActionTrail events, 3 of 4 of account $ACC and 1 of
# 4 of $OTHER, regions and Read/Write alternating, ids ev-FIRST.. (JSON Lines).
gen_events() {
  $PY - "$1" "$2" "$ACC" "$OTHER" <<'PYEOF'
import json, sys, time
n, first, A, O = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
t0 = int(time.time()) - 3600
regions = ["cn-hangzhou", "cn-beijing", "ap-southeast-1"]
for i in range(first, first + n):
    acc = A if i % 4 != 3 else O
    print(json.dumps({"eventId": "ev-%06d" % i, "eventVersion": "1",
        "eventTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t0 + i)),
        "eventType": "ApiCall", "eventRW": "Read" if i % 2 else "Write",
        "eventSource": "ecs.aliyuncs.com", "serviceName": "Ecs",
        "eventName": "DescribeInstances" if i % 2 else "StopInstance",
        "acsRegion": regions[i % 3], "requestId": "R%d" % i, "sourceIpAddress": "10.0.0.1",
        "userIdentity": {"type": "ram-user", "accountId": acc, "userName": "u%d" % (i % 5)},
        "requestParameters": {"i": i}, "recipientAccountId": acc}, separators=(",", ":")))
PYEOF
}

# check_delivered OBJDIR EVENTS_JSONL...: every event of $ACC in the files
# appears exactly once among the delivered objects (ActionTrail layout, gzip
# JSON arrays), equal field by field; prints "ok" or what differs. Events of
# service ActionTrail (the trail's own changes) are counted separately.
check_delivered() {
  $PY - "$ACC" "$@" <<'PYEOF'
import gzip, json, os, sys
acc, objdir, files = sys.argv[1], sys.argv[2], sys.argv[3:]
want = {}
for f in files:
    for line in open(f):
        e = json.loads(line)
        if e["recipientAccountId"] == acc:
            want[e["eventId"]] = e
got, trail_events, nfiles = {}, 0, 0
dups = []
for root, _, names in os.walk(objdir):
    for n in names:
        if not n.endswith(".gz") or n.startswith(".") or "-Digest" in root:
            continue
        nfiles += 1
        for e in json.loads(gzip.open(os.path.join(root, n)).read()):
            if e.get("serviceName") == "ActionTrail":
                trail_events += 1
                continue
            if e["eventId"] in got:
                dups.append(e["eventId"])
            got[e["eventId"]] = e
missing = sorted(set(want) - set(got))
extra = sorted(set(got) - set(want))
diff = [k for k in want if k in got and want[k] != got[k]]
if missing or extra or diff or dups:
    print("missing %d %s extra %d %s differ %d %s dup %d %s" % (len(missing), missing[:3], len(extra), extra[:3], len(diff), diff[:3], len(dups), dups[:3]))
else:
    print("ok %d events, %d trail events, %d files" % (len(got), trail_events, nfiles))
PYEOF
}
