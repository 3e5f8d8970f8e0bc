#!/usr/bin/env bash
# Alerting benchmark (issue 5), run by bench/run.sh or alone:
#  1. ingest -> webhook latency: single-event POSTs, each firing a rule with
#     no threshold; a loopback receiver stamps each webhook's arrival;
#     latency = arrival - the moment before the POST was sent. p50/p99.
#  2. HTTP ingest throughput with every template + every loadable Sigma rule
#     stored (evaluated by serve's alert thread after the durable ack) vs
#     the same server with --no-alerts: the ratio shows what rules cost ingest.
# Prints a markdown table and writes $BENCH_WORK/alert.json.
# Env: BENCH_BUILD (build/release), BENCH_WORK (bench/work), ALERT_N (100
# latency samples), ALERT_EVENTS (60000 events for the throughput pair).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
B=${BENCH_BUILD:-build/release}/trailkeep
WORK=${BENCH_WORK:-bench/work}
N=${ALERT_N:-100}
NEV=${ALERT_EVENTS:-60000}
SHARED=${TK_SHARED:-$(cd .. && pwd)/shared}
PY=/usr/bin/python3
[ -x "$B" ] || { echo "alert_latency: $B missing (make build)" >&2; exit 1; }
mkdir -p "$WORK"
T=$(mktemp -d /tmp/tk-alertbench.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$T"; }
trap cleanup EXIT
port() { $PY -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
ACC=100000000000000

start() { # DATA [serve options...] -> URL, AUTH, SPID
  local d=$1; shift
  local p; p=$(port)
  "$B" serve --data "$d" --listen "127.0.0.1:$p" --access-log off --lookup-rate 0 "$@" >"$d.out" 2>"$d.err" &
  SPID=$!; PIDS+=("$SPID")
  for _ in $(seq 1 100); do grep -q '^ *secret:' "$d.out" 2>/dev/null && curl -s -o /dev/null "http://127.0.0.1:$p/healthz" && break; sleep 0.1; done
  URL="http://127.0.0.1:$p"
  AUTH="$(sed -n 's/^ *key id: *//p' "$d.out" | head -1):$(sed -n 's/^ *secret: *//p' "$d.out" | head -1)"
}
stop() { kill -TERM "$SPID"; wait "$SPID" || true; }

# ---- 1. latency -------------------------------------------------------------
WP=$(port)
cat >"$T/rx.py" <<'PY'
import http.server, sys, time, json
out = open(sys.argv[2], "a", buffering=1)
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        b = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        out.write("%s %.6f\n" % (b.get("group_key", ""), time.time()))
        self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
$PY "$T/rx.py" "$WP" "$T/arr.txt" & PIDS+=($!)
mkdir -p "$T/lat"
"$B" rules user u --webhook "http://127.0.0.1:$WP/" --secret k --data "$T/lat" >/dev/null 2>&1 || true
start "$T/lat"
"$B" rules user u --webhook "http://127.0.0.1:$WP/" --secret k --data "$T/lat" >/dev/null
echo '{"id":"sig","match":{"field":"eventName","value":"ConsoleSignin"},"group_by":["userIdentity.userName"]}' >"$T/rule.json"
"$B" rules create sig --json "$T/rule.json" --recipients u --data "$T/lat" >/dev/null
sleep 1
$PY - "$URL" "$AUTH" "$N" "$ACC" "$T/sent.txt" <<'PY'
import sys, time, json, http.client, urllib.parse, datetime
url, auth, n, acc, sent = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
u = urllib.parse.urlparse(url); out = open(sent, "w")
c = http.client.HTTPConnection(u.hostname, u.port)
for i in range(n):
    t = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    ev = {"eventId": "lat%d" % i, "eventTime": t, "eventName": "ConsoleSignin", "eventType": "ConsoleSignin",
          "serviceName": "AasSub", "acsRegion": "cn-hangzhou", "recipientAccountId": acc,
          "userIdentity": {"type": "ram-user", "accountId": acc, "userName": "user%d" % i}}
    t0 = time.time()
    c.request("POST", "/v1/events", json.dumps(ev), {"Authorization": "Bearer " + auth})
    c.getresponse().read()
    out.write("user%d %.6f\n" % (i, t0)); out.flush()
    time.sleep(0.15)
PY
sleep 3
stop
# ---- 2. ingest throughput with and without rules ------------------------------
"$B" gen --seed 11 --events "$NEV" --days 1 --accounts 1 --attacks >"$T/g.jsonl"
sed -E 's/"recipientAccountId":"[0-9]+"/"recipientAccountId":"'$ACC'"/; s/"accountId":"[0-9]+"/"accountId":"'$ACC'"/g' "$T/g.jsonl" >"$T/ev.jsonl"
ingest_rate() { # DATA -> events/s over the whole file, 4 clients, batches of 500
  $PY - "$URL" "$AUTH" "$T/ev.jsonl" <<'PY'
import sys, time, http.client, urllib.parse, threading
url, auth, path = sys.argv[1:4]
u = urllib.parse.urlparse(url)
lines = open(path).read().splitlines()
batches = ["\n".join(lines[i:i + 500]) for i in range(0, len(lines), 500)]
lock = threading.Lock(); idx = [0]; bad = [0]
def w():
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
    while True:
        with lock:
            if idx[0] >= len(batches): return
            b = batches[idx[0]]; idx[0] += 1
        c.request("POST", "/v1/events", b, {"Authorization": "Bearer " + auth})
        r = c.getresponse(); r.read()
        if r.status != 200: bad[0] += 1
t0 = time.time(); ts = [threading.Thread(target=w) for _ in range(4)]
[t.start() for t in ts]; [t.join() for t in ts]
dt = time.time() - t0
print("%.0f %d" % (len(lines) / dt, bad[0]))
PY
}
mkdir -p "$T/norules" "$T/rules"
start "$T/norules" --no-alerts
read -r R0 BAD0 < <(ingest_rate)
stop
start "$T/rules"
NR=0
for t in $("$B" rules templates 2>/dev/null | grep -E '^[a-z][a-z0-9-]+ ' | awk '{print $1}'); do
  "$B" rules create "t-$t" --template "$t" --data "$T/rules" >/dev/null 2>&1 && NR=$((NR + 1))
done
NS=0
if [ -d "$SHARED/sigma/rules/cloudtrail" ]; then
  for f in "$SHARED"/sigma/rules/cloudtrail/*.yml; do
    "$B" rules create "s-$(basename "$f" .yml | tr '_' '-' | cut -c1-50)" --sigma "$f" --data "$T/rules" >/dev/null 2>&1 && NS=$((NS + 1))
  done
fi
sleep 1
read -r R1 BAD1 < <(ingest_rate)
# wait until the alert thread has evaluated everything, to report its own rate
t0=$(date +%s.%N)
for _ in $(seq 1 600); do
  ck=$(curl -s -H "Authorization: Bearer $AUTH" "$URL/metrics" | awk '$1=="trailkeep_alert_events_total"{print $2}')
  [ "${ck:-0}" -ge "$NEV" ] && break; sleep 0.1
done
t1=$(date +%s.%N)
stop

$PY - "$T/sent.txt" "$T/arr.txt" "$R0" "$R1" "$BAD0" "$BAD1" "$NR" "$NS" "$NEV" "$N" "$WORK/alert.json" "$t0" "$t1" <<'PY'
import sys, json
sent, arr = sys.argv[1], sys.argv[2]
r0, r1 = float(sys.argv[3]), float(sys.argv[4]); bad0, bad1 = int(sys.argv[5]), int(sys.argv[6])
nr, ns, nev, n = int(sys.argv[7]), int(sys.argv[8]), int(sys.argv[9]), int(sys.argv[10])
drain = float(sys.argv[13]) - float(sys.argv[12])
s = dict(l.split() for l in open(sent))
a = {}
for l in open(arr):
    k, t = l.split(); a.setdefault(k, t)
lat = sorted((float(a[k]) - float(s[k])) * 1000 for k in s if k in a)
def pct(p): return lat[min(len(lat) - 1, int(round(p * (len(lat) - 1))))] if lat else float("nan")
res = {"latency_samples": len(lat), "latency_sent": len(s), "latency_p50_ms": pct(0.5), "latency_p99_ms": pct(0.99),
       "ingest_no_rules_eps": r0, "ingest_with_rules_eps": r1, "ratio": r1 / r0 if r0 else None,
       "rejected_batches": bad0 + bad1, "templates": nr, "sigma_rules": ns, "events": nev,
       "alert_drain_after_ingest_s": drain}
json.dump(res, open(sys.argv[11], "w"), indent=1)
print("| measure | value |\n|---|---:|")
print("| ingest -> webhook latency p50 / p99 (%d of %d single-event POSTs alerted) | %.0f / %.0f ms |" % (len(lat), len(s), pct(0.5), pct(0.99)))
print("| HTTP ingest without rules (4 clients, batches of 500, %d events) | %.0f events/s |" % (nev, r0))
print("| HTTP ingest with %d templates + %d Sigma rules stored | %.0f events/s |" % (nr, ns, r1))
print("| ratio with rules / without | %.2fx |" % (r1 / r0 if r0 else float("nan")))
print("| alert thread still evaluating after the last ack | %.1f s |" % drain)
PY
