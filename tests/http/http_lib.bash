# Helpers for the HTTP end-to-end scripts (sourced after tests/lib.sh; not a
# test itself, hence not *.sh): start/stop a server on a free loopback port,
# create accounts and keys, make requests, generate events.
TK_ROOT=${TK_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
TK_BIN=${TK_BIN:-$TK_ROOT/build/asan/trailkeep}
PY=/usr/bin/python3
AWS=/usr/bin/aws
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"

# start_server DATA [serve options...]: sets PORT, URL, SERVER_PID; output in
# $DATA.out / $DATA.err, access log in $DATA.access. Waits for /healthz.
start_server() {
  local data=$1; shift
  PORT=$(free_port)
  URL="http://127.0.0.1:$PORT"
  "$TK_BIN" serve --data "$data" --listen "127.0.0.1:$PORT" --access-log "$data.access" "$@" \
    >>"$data.out" 2>>"$data.err" &
  SERVER_PID=$!
  TK_CLEANUP_PIDS+=("$SERVER_PID")
  for _ in $(seq 1 200); do
    curl -s -o /dev/null "$URL/healthz" && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "# server did not start:"; sed 's/^/#   /' "$data.err" | tail -20
  return 1
}

# stop_server: SIGTERM and wait; returns the exit status.
stop_server() {
  kill -TERM "$SERVER_PID" 2>/dev/null
  wait "$SERVER_PID"
}

# bootstrap_key DATA: reads the key printed on first start into KEY_ID/KEY_SECRET.
bootstrap_key() {
  for _ in $(seq 1 50); do grep -q '^ *secret:' "$1.out" 2>/dev/null && break; sleep 0.1; done
  KEY_ID=$(sed -n 's/^ *key id: *//p' "$1.out" | head -1)
  KEY_SECRET=$(sed -n 's/^ *secret: *//p' "$1.out" | head -1)
}

# mkkey DATA ACCOUNT ROLE: creates a key through the CLI; sets KEY_ID/KEY_SECRET.
mkkey() {
  local out
  out=$("$TK_BIN" keys create --data "$1" --account "$2" --role "$3" --name "test-$3" 2>&1)
  KEY_ID=$(printf '%s\n' "$out" | grep -oE '\bTK[A-Z0-9]{18}\b' | head -1)
  KEY_SECRET=$(printf '%s\n' "$out" | grep -oE '\b[A-Za-z0-9]{40}\b' | grep -v "^$KEY_ID" | head -1)
  [ -n "$KEY_ID" ] && [ -n "$KEY_SECRET" ] || { echo "# mkkey failed: $out"; return 1; }
}

# req METHOD PATH AUTH [curl args...]: prints the body, sets CODE (HTTP status).
# AUTH is "KEYID:SECRET" or "" for none. Headers go to $TMP/hdr.
req() {
  local m=$1 p=$2 auth=$3; shift 3
  local a=()
  [ -n "$auth" ] && a=(-H "Authorization: Bearer $auth")
  CODE=$(curl -s -o "$TMP/body" -D "$TMP/hdr" -w '%{http_code}' -X "$m" "${a[@]}" "$@" "$URL$p")
  cat "$TMP/body"
}

# jget JSON-FILE EXPR: evaluates a Python expression over j (the parsed file).
jget() { $PY -c "import json,sys; j=json.load(open(sys.argv[1])); print($2)" "$1"; }

# gen_events N ACCOUNT START_EPOCH STEP_S [PREFIX] [extra python dict]: JSON Lines
# of ActionTrail events with eventIds PREFIX-<i> (zero-padded), times START+i*STEP.
gen_events() {
  $PY - "$@" <<'EOF'
import json, sys, datetime
n, acct, start, step = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
prefix = sys.argv[5] if len(sys.argv) > 5 else "ev"
extra = json.loads(sys.argv[6]) if len(sys.argv) > 6 else {}
for i in range(n):
    t = datetime.datetime.fromtimestamp(start + i * step, datetime.timezone.utc)
    e = {"eventId": "%s-%06d" % (prefix, i), "eventVersion": "1",
         "eventTime": t.strftime("%Y-%m-%dT%H:%M:%SZ"), "eventType": "ApiCall",
         "eventRW": "Read" if i % 3 else "Write", "eventSource": "ecs.aliyuncs.com",
         "serviceName": "Ecs", "eventName": "DescribeInstances" if i % 3 else "StopInstance",
         "acsRegion": "cn-hangzhou", "requestId": "req-%d" % i, "apiVersion": "2014-05-26",
         "sourceIpAddress": "10.0.0.%d" % (i % 250 + 1), "userAgent": "test",
         "userIdentity": {"type": "ram-user", "principalId": "2000", "accountId": acct,
                          "userName": "alice" if i % 2 else "bob", "accessKeyId": "LTAItest%04d" % (i % 7)},
         "requestParameters": {"InstanceId": "i-%d" % (i % 5)}, "errorCode": "", "errorMessage": "",
         "resourceType": "ACS::ECS::Instance", "resourceName": "i-%d" % (i % 5),
         "recipientAccountId": acct}
    e.update(extra)
    print(json.dumps(e, separators=(",", ":")))
EOF
}
