#!/usr/bin/env bash
# End-to-end crash safety of the HTTP ingest path: concurrent clients post
# batches and record every acknowledged one; the server is killed with -9 at
# random moments and restarted, several times; clients resend what was not
# acknowledged. Afterwards every acknowledged event is stored exactly once.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/http_lib.bash"

ROUNDS=${TK_CRASH_ROUNDS:-6}
D=$TMP/data
: >"$TMP/acked"
cat >"$TMP/client.py" <<'EOF'
# client.py URL AUTH ACCOUNT ROUND ACKED_FILE: 4 threads post batches of 40
# events until the server dies; each acknowledged batch's eventIds are
# appended (flushed) to ACKED_FILE. Each thread first resends its previous
# round's batches that were never acknowledged (must dedup, never double).
import http.client, json, os, sys, threading, time, datetime, urllib.parse
url, auth, acct, rnd, acked_path = sys.argv[1:6]
rnd = int(rnd)
u = urllib.parse.urlparse(url)
lock = threading.Lock()
acked = open(acked_path, "a")
def body(tid, r, b):
    t = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    ids = ["r%d-t%d-b%d-e%d" % (r, tid, b, i) for i in range(40)]
    lines = [json.dumps({"eventId": i, "eventTime": t, "eventName": "RunInstances", "serviceName": "Ecs",
                         "eventRW": "Write", "recipientAccountId": acct, "pad": "x" * 300,
                         "userIdentity": {"type": "ram-user", "userName": "crash", "accountId": acct}}) for i in ids]
    return ids, "\n".join(lines)
def post(conn, data):
    conn.request("POST", "/v1/events", data, {"Authorization": "Bearer " + auth})
    resp = conn.getresponse()
    return resp.status, json.loads(resp.read() or b"{}")
def worker(tid):
    pend_path = "%s.pending.%d" % (acked_path, tid)
    pending = []
    if os.path.exists(pend_path):
        pending = [l.split() for l in open(pend_path) if l.strip()]
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    b = 0
    try:
        # Resend unacknowledged batches of the previous round first.
        for r, t, bb in pending:
            ids, data = body(int(t), int(r), int(bb))
            st, j = post(conn, data)
            if st == 200:
                with lock:
                    acked.write("\n".join(ids) + "\n"); acked.flush()
        open(pend_path, "w").close()
        while True:
            ids, data = body(tid, rnd, b)
            with open(pend_path, "a") as p:
                p.write("%d %d %d\n" % (rnd, tid, b))
            st, j = post(conn, data)
            if st == 200 and j.get("accepted", 0) + j.get("duplicates", 0) == 40:
                with lock:
                    acked.write("\n".join(ids) + "\n"); acked.flush()
                # acknowledged: drop it from pending
                lines = [l for l in open(pend_path) if l.strip() != "%d %d %d" % (rnd, tid, b)]
                open(pend_path, "w").write("".join(lines))
            b += 1
    except Exception:
        pass  # server killed: stop
ths = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
[t.start() for t in ths]
[t.join() for t in ths]
EOF

start_server "$D" --max-page 1000 --lookup-rate 0 --seal-interval 1 || { nok "server starts"; tk_done; }
bootstrap_key "$D"
AUTH="$KEY_ID:$KEY_SECRET"
ACCT=100000000000000
for r in $(seq 1 "$ROUNDS"); do
  [ "$r" -gt 1 ] && { start_server "$D" --max-page 1000 --lookup-rate 0 --seal-interval 1 || { nok "restart $r"; break; }; }
  $PY "$TMP/client.py" "$URL" "$AUTH" "$ACCT" "$r" "$TMP/acked" &
  CPID=$!
  sleep "$($PY -c 'import random; print(round(random.uniform(0.3, 1.0), 2))')"
  kill -9 "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null
  wait "$CPID"
done
start_server "$D" --max-page 1000 --lookup-rate 0 --seal-interval 1 || { nok "final restart"; tk_done; }
# One more client round so pending batches of the last kill are resent.
$PY "$TMP/client.py" "$URL" "$AUTH" "$ACCT" 999 "$TMP/acked" &
CPID=$!; sleep 0.5; kill -TERM "$SERVER_PID"; wait "$SERVER_PID"; rc=$?; wait "$CPID"
eq "SIGTERM under concurrent ingest: clean exit" 0 "$rc"
start_server "$D" --max-page 1000 --lookup-rate 0 --seal-interval 1 || { nok "verify restart"; tk_done; }

ST=$(date -u -d '-1 day' +%Y-%m-%dT%H:%M:%SZ); ET=$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)
: >"$TMP/stored"; tok=""; pages=0
while :; do
  req GET "/v1/lookup?StartTime=$ST&EndTime=$ET&MaxResults=1000${tok:+&NextToken=$(printf %s "$tok" | $PY -c 'import sys,urllib.parse;print(urllib.parse.quote(sys.stdin.read(),safe=""))')}" "$AUTH" >/dev/null
  [ "$CODE" = 200 ] || { nok "lookup page $pages: $CODE"; grep -A12 -e 'ERROR: AddressSanitizer' -e 'runtime error' "$D.err" | head -30 | sed 's/^/# /'; break; }
  jget "$TMP/body" '"\n".join(e["eventId"] for e in j["Events"])' | sed '/^$/d' >>"$TMP/stored"
  tok=$(jget "$TMP/body" 'j["NextToken"]'); pages=$((pages + 1))
  [ -z "$tok" ] && break
done
NACK=$(sort -u "$TMP/acked" | wc -l)
check "clients had batches acknowledged ($NACK events over $ROUNDS kills)" test "$NACK" -gt 200
eq "every acknowledged event is stored" 0 "$(comm -23 <(sort -u "$TMP/acked") <(sort -u "$TMP/stored") | wc -l)"
eq "no event is stored twice" 0 "$(sort "$TMP/stored" | uniq -d | wc -l)"
stop_server
check "the store verifies clean after the crashes" "$TK_BIN" verify --data "$D"
tk_done
