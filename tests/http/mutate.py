#!/usr/bin/python3
"""HTTP mutation fuzzer against a running trailkeep serve (tests/http/mutate.sh).

Takes real requests (ingest, LookupEvents both ways, CloudTrail JSON, trails,
rules, users, Insights, metrics), mutates them at the byte level (bit flips,
cuts, duplicated or deleted spans, inserted junk, NULs and CR/LF, huge
numbers, broken percent-escapes, wrong Content-Length and chunking, other
methods) and sends each over a raw socket, 8 at a time (an incomplete request
waits for the server's header timeout). After every request /healthz must
answer 200; a 500 (an internal error on bad input) is a finding too.
Deterministic for a seed: a failure prints the seed and the request number,
and the request bytes are written next to the log for replay.

usage: mutate.py HOST PORT COUNT SEED OUTDIR KEY_ADMIN KEY_WRITER ACCOUNT
"""
import concurrent.futures
import json
import os
import random
import socket
import sys
import threading
import time

HOST, PORT, COUNT, SEED, OUT = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
ADMIN, WRITER, ACC = sys.argv[6], sys.argv[7], sys.argv[8]


def event(i):
    return {"eventId": "mut-%d" % i, "eventVersion": "1", "eventTime": "2026-12-01T10:00:%02dZ" % (i % 60),
            "eventType": "ApiCall", "eventSource": "ecs.aliyuncs.com", "eventName": "StopInstance",
            "acsRegion": "cn-hangzhou", "sourceIpAddress": "203.0.113.7", "requestId": "R%d" % i,
            "userIdentity": {"type": "ram-user", "accountId": ACC, "userName": "alice",
                             "accessKeyId": "LTAI0000"}, "requestParameters": {"InstanceId": "i-%d" % i},
            "recipientAccountId": ACC}


def http(method, path, key, body=b"", ctype=None, extra=()):
    h = ["%s %s HTTP/1.1" % (method, path), "Host: %s:%d" % (HOST, PORT), "Connection: close"]
    if key:
        h.append("Authorization: Bearer " + key)
    if ctype:
        h.append("Content-Type: " + ctype)
    h.extend(extra)
    if body or method in ("POST", "PUT"):
        h.append("Content-Length: %d" % len(body))
    return ("\r\n".join(h) + "\r\n\r\n").encode() + body


lines = "\n".join(json.dumps(event(i)) for i in range(5)).encode()
ct_lookup = json.dumps({"LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": "StopInstance"}],
                        "MaxResults": 5, "StartTime": 1764000000, "EndTime": 1765000000}).encode()
SEEDS = [
    http("POST", "/v1/events", WRITER, lines, "application/x-ndjson"),
    http("POST", "/v1/events", WRITER, json.dumps([event(9), event(10)]).encode(), "application/json"),
    http("POST", "/v1/events", WRITER, json.dumps({"Records": [{"eventVersion": "1.08", "eventTime":
         "2026-12-01T10:00:00Z", "eventName": "RunInstances", "awsRegion": "us-east-1",
         "eventID": "ct-1", "recipientAccountId": ACC, "userIdentity": {"type": "IAMUser"}}]}).encode(),
         "application/json"),
    http("GET", "/v1/lookup?LookupAttribute.1.Key=EventName&LookupAttribute.1.Value=StopInstance"
                "&StartTime=2026-11-01T00:00:00Z&MaxResults=3", ADMIN),
    http("GET", "/v1/lookup?LookupAttribute.1.Key=UserName&LookupAttribute.1.Value=alice&Direction=asc"
                "&NextToken=abc", ADMIN),
    http("POST", "/", ADMIN, ct_lookup, "application/x-amz-json-1.1",
         ("X-Amz-Target: com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents",)),
    http("GET", "/v1/resources/ACS::ECS::Instance/i-1/history?MaxResults=5", ADMIN),
    http("GET", "/v1/trails?Action=DescribeTrails", ADMIN),
    http("GET", "/v1/trails?Action=GetTrailStatus&Name=mut-trail", ADMIN),
    http("POST", "/v1/trails?Action=CreateTrail&Name=mut-trail-x&DestinationType=folder&Dest.path=/tmp/x",
         ADMIN),
    http("POST", "/v1/alert-rules", ADMIN, json.dumps({"id": "mut-rule", "match": {"all": [
         {"field": "eventName", "op": "glob", "value": "Stop*"},
         {"field": "sourceIpAddress", "op": "cidr", "value": "203.0.113.0/24"}]},
         "threshold": {"count": 3, "window": "5m", "group_by": ["userIdentity.userName"]}}).encode(),
         "application/json"),
    http("PUT", "/v1/alert-rules/mut-rule", ADMIN, json.dumps({"template":
         "consecutive-logon-failures?failures=5&window=30m"}).encode(), "application/json"),
    http("GET", "/v1/alert-rules/mut-rule", ADMIN),
    http("POST", "/v1/users", ADMIN, json.dumps({"name": "mut", "email": "mut@example.com",
         "webhook_url": "https://example.com/hook", "webhook_secret": "s"}).encode(), "application/json"),
    http("GET", "/v1/alerts?state=triggered&limit=5", ADMIN),
    http("GET", "/v1/insights?InsightType=ApiCallRateInsight&MaxResults=5", ADMIN),
    http("PUT", "/v1/insights/settings", ADMIN, json.dumps({"ApiCallRateInsight": True}).encode(),
         "application/json"),
    http("GET", "/metrics", ADMIN),
]

JUNK = [b"\x00", b"\r\n", b"\n", b"\r", b"%", b"%0", b"%zz", b"%00", b"%0d%0a", b"\xff\xfe", b"\xc3",
        b"{", b"}", b"[", b"]", b"\"", b"\\", b"\\u0000", b"\\ud800", b"1e400", b"-0", b"99999999999999999999",
        b"NaN", b"null", b"true", b",", b":", b"&", b"=", b"?", b"/..", b"/", b"*", b" ", b"\t",
        b"Transfer-Encoding: chunked\r\n", b"Content-Length: 99999999999\r\n", b"Content-Encoding: gzip\r\n",
        b"Content-Length: -1\r\n", b"Expect: 100-continue\r\n", b"\x1f\x8b\x08\x00",
        b"A" * 300, b"9" * 40]
METHODS = [b"GET", b"POST", b"PUT", b"DELETE", b"HEAD", b"PATCH", b"OPTIONS", b"TRACE", b"G\x00T", b""]


def mutate_bytes(rng, data):
    b = bytearray(data)
    for _ in range(rng.choice((1, 1, 1, 2, 3, 5, 8))):
        op = rng.randrange(9)
        if not b:
            b = bytearray(rng.choice(SEEDS))
        p = rng.randrange(len(b))
        if op == 0:                                   # flip a bit
            b[p] ^= 1 << rng.randrange(8)
        elif op == 1:                                 # cut here
            b = b[:p]
        elif op == 2:                                 # delete a span
            del b[p:p + rng.randrange(1, 64)]
        elif op == 3:                                 # duplicate a span
            n = rng.randrange(1, 128)
            b[p:p] = b[p:p + n] * rng.choice((1, 2, 10, 100))
        elif op == 4:                                 # insert junk
            b[p:p] = rng.choice(JUNK)
        elif op == 5:                                 # replace the method
            sp = b.find(b" ")
            if 0 < sp < 10:
                b[:sp] = rng.choice(METHODS)
        elif op == 6:                                 # a byte of random value
            b[p] = rng.randrange(256)
        elif op == 7:                                 # splice another request's tail
            o = rng.choice(SEEDS)
            b = b[:p] + o[rng.randrange(len(o)):]
        else:                                         # a digit run becomes something odd
            q = p
            while q < len(b) and 48 <= b[q] <= 57:
                q += 1
            b[p:q] = rng.choice((b"0", b"-1", b"18446744073709551616", b"1e400", b"9" * 30, b"0x10"))
    return bytes(b)


def mutate(rng, req):
    """Mutates the head, the body or both; usually (4 in 5) Content-Length is
    then set to the body's real length, so the body reaches the parsers."""
    head, sep, body = req.partition(b"\r\n\r\n")
    what = rng.randrange(4)
    if what in (0, 2):
        head = mutate_bytes(rng, head)
    if what in (1, 2) or (what == 3 and not body):
        body = mutate_bytes(rng, body) if body else mutate_bytes(rng, rng.choice(SEEDS))
    if what == 3:
        return mutate_bytes(rng, req)
    if rng.randrange(5):
        lines = [l for l in head.split(b"\r\n") if not l.lower().startswith(b"content-length:")]
        if body:
            lines.append(b"Content-Length: %d" % len(body))
        head = b"\r\n".join(lines)
    return head + b"\r\n\r\n" + body


def send(raw, timeout=0.5):
    """Status code of the reply, or None (no reply: closed, or still waiting
    for the rest of a cut request). The write side is not shut: clients
    do not half-close, and libmicrohttpd 0.9.75 drops the reply of a request
    it resumes (the handler pool) after reading the client's FIN."""
    s = socket.create_connection((HOST, PORT), timeout=timeout)
    try:
        s.sendall(raw)
        data = b""
        while len(data) < 64:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        if data.startswith(b"HTTP/1.") and len(data) >= 12:
            return int(data[9:12])
        return None
    except (socket.timeout, ConnectionResetError, BrokenPipeError):
        return None
    finally:
        s.close()


def healthz():
    for _ in range(3):
        try:
            if send(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 5.0) == 200:
                return True
        except OSError:
            pass
        time.sleep(0.2)
    return False


rng = random.Random(SEED)
reqs = [mutate(rng, rng.choice(SEEDS)) for _ in range(COUNT)]  # fixed by the seed, sent 8 at a time
statuses, fails, t0, lock = {}, [], time.time(), threading.Lock()


def one(i):
    raw = reqs[i]
    try:
        st = send(raw)
    except OSError as e:
        st = "refused: %s" % e
    alive = healthz()
    with lock:
        statuses[st] = statuses.get(st, 0) + 1
        if st == 500 or not alive:
            path = os.path.join(OUT, "mutate-%d-%d.req" % (SEED, i))
            with open(path, "wb") as f:
                f.write(raw)
            fails.append("request %d (seed %d): %s; bytes in %s" % (
                i, SEED, "500 Internal Error" if alive else "server not answering /healthz", path))
    return alive


with concurrent.futures.ThreadPoolExecutor(8) as ex:
    for alive in ex.map(one, range(COUNT)):
        if not alive:
            break
summary = ", ".join("%s: %d" % (k, v) for k, v in sorted(statuses.items(), key=lambda kv: str(kv[0])))
print("# %d mutated requests in %.1f s (seed %d); statuses %s" % (sum(statuses.values()), time.time() - t0,
                                                                    SEED, summary))
for f in fails[:10]:
    print("# " + f)
print(("ok" if not fails else "not ok") + "\t%d mutated requests: /healthz answered after every one, no 500"
      % sum(statuses.values()))
