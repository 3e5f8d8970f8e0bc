#!/usr/bin/python3
"""trailkeep bench (bench/trail_bench.sh): end-to-end trail latency. Posts
N events to `trailkeep serve` at a steady RATE (a batch every 100 ms, one
keep-alive connection) while a thread polls the trail's folder every 20 ms;
an event's latency is the time its gzip file was first seen in the folder
minus the time its POST was sent. Standard library only.
usage: trail_latency.py URL KEYID:SECRET ACCOUNT FOLDER N RATE
Prints one JSON object: percentiles in seconds, POST ack latency, counts."""
import gzip
import http.client
import json
import os
import sys
import threading
import time
import urllib.parse

url, auth, acct, folder, n, rate = sys.argv[1:7]
n, rate = int(n), float(rate)
u = urllib.parse.urlparse(url)
sent = {}      # eventId -> POST send time
seen = {}      # eventId -> first time its file was seen
done = threading.Event()


def watch():
    known = set()
    while True:
        last = done.is_set()
        now = time.time()
        for root, _, names in os.walk(folder):
            if "-Digest" in root:
                continue
            for nm in names:
                p = os.path.join(root, nm)
                if not nm.endswith(".gz") or nm.startswith(".") or p in known:
                    continue
                known.add(p)
                for e in json.loads(gzip.open(p).read()):
                    eid = e.get("eventId")
                    if eid in sent and eid not in seen:
                        seen[eid] = now
        if last:
            return
        time.sleep(0.02)


def event(i, t):
    return json.dumps({
        "eventId": "lat-%07d" % i, "eventVersion": "1",
        "eventTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t)),
        "eventType": "ApiCall", "eventRW": "Write", "eventSource": "ecs.aliyuncs.com",
        "serviceName": "Ecs", "eventName": "StopInstance", "acsRegion": "cn-hangzhou",
        "requestId": "R%d" % i, "sourceIpAddress": "10.0.0.1",
        "userIdentity": {"type": "ram-user", "accountId": acct, "userName": "bench"},
        "requestParameters": {"i": i}, "recipientAccountId": acct}, separators=(",", ":"))


th = threading.Thread(target=watch)
th.start()
conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
hdr = {"Authorization": "Bearer " + auth, "Content-Type": "application/x-ndjson"}
batch = max(1, int(rate / 10))
acks = []
t_start = time.time()
i = 0
while i < n:
    k = min(batch, n - i)
    due = t_start + i / rate
    delay = due - time.time()
    if delay > 0:
        time.sleep(delay)
    t0 = time.time()
    body = "\n".join(event(j, t0) for j in range(i, i + k)) + "\n"
    for j in range(i, i + k):
        sent["lat-%07d" % j] = t0
    conn.request("POST", "/v1/events", body=body, headers=hdr)
    r = conn.getresponse()
    data = r.read()
    if r.status != 200:
        done.set()
        th.join()
        sys.exit("POST /v1/events: HTTP %d %s" % (r.status, data[:200]))
    acks.append(time.time() - t0)
    i += k
send_secs = time.time() - t_start
deadline = time.time() + 30
while len(seen) < n and time.time() < deadline:
    time.sleep(0.05)
done.set()
th.join()

lat = sorted(seen[e] - sent[e] for e in seen)
acks.sort()


def pct(v, p):
    """nearest-rank percentile"""
    if not v:
        return None
    k = max(0, min(len(v) - 1, int(-(-p * len(v) // 100)) - 1))
    return round(v[k], 4)


print(json.dumps({"events": n, "rate": rate, "achieved_rate": round(n / send_secs, 1),
                  "batch": batch, "seen": len(seen), "p50_s": pct(lat, 50), "p99_s": pct(lat, 99),
                  "max_s": pct(lat, 100), "ack_p50_s": pct(acks, 50), "ack_p99_s": pct(acks, 99)}))
