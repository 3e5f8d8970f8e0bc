# Route matrix against a running trailkeep serve (driven by matrix.sh): every
# route x {no key, malformed keys, each role, another account's key} x
# methods x bodies (empty, malformed JSON, JSON of the wrong type, over-long
# strings, binary), plus explicit probes for unknown ids and cross-account
# access. After every request /healthz must answer 200. Prints one line per
# check, "ok<TAB>description" or "not ok<TAB>description", and "# " notes
# (the first failures of each check); matrix.sh turns them into TAP.
import http.client
import json
import sys
import time

URL_HOST, URL_PORT = sys.argv[1], int(sys.argv[2])
A, B = sys.argv[3], sys.argv[4]
KEYS = {"a-admin": sys.argv[5], "a-reader": sys.argv[6], "a-writer": sys.argv[7],
        "b-admin": sys.argv[8]}
OWNER = {"a-admin": A, "a-reader": A, "a-writer": A, "b-admin": B}
# Strings only one account's data holds (set up by matrix.sh).
MARKERS = {A: [b"secretA-", b"rule-of-a", b"user-of-a", b"trail-of-a"],
           B: [b"secretB-", b"rule-of-b", b"user-of-b", b"trail-of-b"]}

LONG = "x" * 100000
CT = {"X-Amz-Target": "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents"}
BAD_AUTH = {
    "no key": {},
    "garbage bearer": {"Authorization": "Bearer garbage"},
    "unknown key": {"Authorization": "Bearer TKAAAAAAAAAAAAAAAAAA:" + "a" * 40},
    "junk sigv4": {"Authorization": "AWS4-HMAC-SHA256 Credential=TKZZ/2026/x/y/aws4_request, "
                                    "SignedHeaders=host, Signature=00"},
    "long bearer": {"Authorization": "Bearer " + "T" * 6000 + ":" + "s" * 6000},
}
BODIES = [
    ("no body", None),
    ("empty", b""),
    ("malformed JSON", b'{"id": "x", '),
    ("array", b"[]"),
    ("array of numbers", b"[1, 2, 3]"),
    ("number", b"42"),
    ("string", b'"just a string"'),
    ("null", b"null"),
    ("over-long strings", json.dumps({k: LONG for k in (
        "id", "name", "template", "email", "members", "webhook_url", "Action", "AccountId",
        "account", "StartTime", "NextToken", "eventId", "recipientAccountId", "Sensitivity")}).encode()),
    ("wrong member types", b'{"id": 5, "name": [], "template": {}, "rule": 7, "members": 3, '
                           b'"LookupAttributes": "x", "MaxResults": "x", "Enable": 5, "Overrides": {}}'),
    ("deep nesting", b"[" * 5000 + b"]" * 5000),
    ("binary", b"\x00\xff\xfe{\x00}"),
    ("form", b"Action=DescribeTrails&Name=" + LONG.encode()),
]
# Methods no route allows, and those that do.
METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]

# (path, extra headers, allowed methods, kind): kind "auth" (needs a key),
# "public" (no key), "metrics", "none" (no such route: 404 for everything),
# "none-auth" (404 after authentication), "verb405" (a known route where
# every method is refused after auth), "forbidden" (403 for every key: the
# account parameter names no account the key may act on), "badid" (400 for an
# admin key, whatever the method).
ROUTES = [
    ("/v1/events", {}, {"POST"}, "auth"),
    ("/v1/lookup", {}, {"GET", "HEAD", "POST"}, "auth"),
    ("/v1/lookup?MaxResults=" + LONG[:3000], {}, {"GET", "HEAD", "POST"}, "auth"),
    ("/", CT, {"POST"}, "auth"),
    ("/v1/resources/ACS::ECS::Instance/i-1/history", {}, {"GET", "HEAD"}, "auth"),
    ("/v1/resources/nope/" + LONG[:2000] + "/history", {}, {"GET", "HEAD"}, "auth"),
    ("/v1/trails?Action=DescribeTrails", {}, {"GET", "HEAD", "POST"}, "auth"),
    ("/v1/trails?Action=GetTrailStatus&Name=nope", {}, {"GET", "HEAD", "POST"}, "auth"),
    ("/v1/trails", {}, {"GET", "HEAD", "POST"}, "auth"),
    ("/v1/alert-rules", {}, {"GET", "POST"}, "auth"),
    ("/v1/alert-rules/nope", {}, {"GET", "PUT", "DELETE"}, "auth"),
    ("/v1/alert-rules/nope/enable", {}, {"POST"}, "auth"),
    ("/v1/alert-rules/nope/test", {}, {"POST"}, "auth"),
    ("/v1/alert-rules/nope/bogus", {}, set(), "verb405"),
    ("/v1/alert-rules/" + LONG[:5000], {}, set(), "none-auth"),
    ("/v1/alert-rules/%zz", {}, set(), "none-auth"),
    ("/v1/alert-rules?account=" + LONG[:3000], {}, set(), "forbidden"),
    ("/v1/alerts", {}, {"GET"}, "auth"),
    ("/v1/alerts?state=bogus&limit=99999&since=x", {}, {"GET"}, "auth"),
    ("/v1/alerts/999999", {}, {"GET"}, "auth"),
    ("/v1/alerts/abc", {}, set(), "badid"),
    ("/v1/alerts/999999/acknowledge", {}, {"POST"}, "auth"),
    ("/v1/users", {}, {"GET", "POST"}, "auth"),
    ("/v1/users/nobody", {}, {"GET", "PUT", "DELETE"}, "auth"),
    ("/v1/user-groups", {}, {"GET", "POST"}, "auth"),
    ("/v1/user-groups/nogroup", {}, {"PUT", "DELETE"}, "auth"),
    ("/v1/insights", {}, {"GET", "HEAD"}, "auth"),
    ("/v1/insights?InsightType=" + LONG[:3000], {}, {"GET", "HEAD"}, "auth"),
    ("/v1/insights/settings", {}, {"GET", "HEAD", "PUT"}, "auth"),
    ("/v1/insights/bogus", {}, set(), "none-auth"),
    ("/healthz", {}, {"GET", "HEAD"}, "public"),
    ("/", {}, {"GET", "HEAD"}, "public"),
    ("/metrics", {}, {"GET", "HEAD"}, "metrics"),
    ("/v1/history", {}, set(), "none"),
    ("/v1/accounts", {}, set(), "none"),
    ("/v1/accounts/" + B, {}, set(), "none"),
    ("/v1/keys", {}, set(), "none"),
    ("/v1/keys/TKAAAAAAAAAAAAAAAAAA", {}, set(), "none"),
    ("/v1/nothing/" + LONG[:3000], {}, set(), "none"),
]

checks = {}   # description -> list of failure notes
order = []


def check(desc, cond, note=""):
    if desc not in checks:
        checks[desc] = []
        order.append(desc)
    if not cond:
        checks[desc].append(note)


class Client:
    """One keep-alive connection that reconnects once when the server closed it."""

    def __init__(self):
        self.c = None

    def request(self, method, path, body=None, headers=None):
        for attempt in range(2):
            if self.c is None:
                self.c = http.client.HTTPConnection(URL_HOST, URL_PORT, timeout=30)
            try:
                self.c.request(method, path, body=body, headers=headers or {})
                resp = self.c.getresponse()
                data = resp.read()
                if resp.will_close:
                    self.c.close()
                    self.c = None
                return resp.status, data
            except (http.client.HTTPException, OSError) as e:
                self.c.close()
                self.c = None
                err = e
        return None, repr(err).encode()


main, health = Client(), Client()
nreq = 0
dead = False


def alive(after):
    global dead
    st, body = health.request("GET", "/healthz")
    check("/healthz answers 200 after every request", st == 200, "after %s: %s" % (after, st))
    if st != 200:
        dead = True
    return st


def send(method, path, headers, body, label):
    """One request of the matrix; returns (status, body) and checks the invariants."""
    global nreq
    h = dict(headers)
    if body is not None:
        h.setdefault("Content-Type", "application/json")
    st, data = main.request(method, path, body, h)
    nreq += 1
    short = "%s %s [%s]" % (method, path[:60], label)
    check("no request fails or gets a 5xx (503 allowed)", st is not None and (st < 500 or st == 503),
          "%s -> %s %s" % (short, st, data[:120]))
    alive(short)
    return st, data, short


def leaks(owner, req_text, data):
    """Marker strings of the other account in a response it did not ask about."""
    other = B if owner == A else A
    return [m for m in MARKERS[other] if m in data and m not in req_text]


def json_object(body):
    try:
        return isinstance(json.loads(body), dict)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return False


def matrix():
    for path, extra, allowed, kind in ROUTES:
        if dead:
            return
        # -- without a valid key --
        for aname, ah in BAD_AUTH.items():
            for m in METHODS:
                body = b'{"x":' if m in ("POST", "PUT", "PATCH") else None
                st, data, short = send(m, path, {**extra, **ah}, body, aname)
                if st is None:
                    continue
                if kind == "none":
                    check("an unknown route is 404 for everyone", st == 404, "%s -> %s" % (short, st))
                elif kind == "public":
                    want = 200 if m in allowed else 405
                    check("/healthz and / answer without a key; other methods 405", st == want,
                          "%s -> %s" % (short, st))
                else:
                    check("without a valid key: never 2xx", not 200 <= st < 300, "%s -> %s" % (short, st))
                    check("without a valid key: 401, 403, 404 or 405", st in (401, 403, 404, 405),
                          "%s -> %s %s" % (short, st, data[:100]))
                    for mk in MARKERS[A] + MARKERS[B]:
                        check("without a valid key: no account's data", mk not in data,
                              "%s leaks %s" % (short, mk))
        # -- with each role --
        for kname, key in KEYS.items():
            for m in METHODS:
                bodies = BODIES if m in ("POST", "PUT", "PATCH") else [BODIES[0]]
                if kname in ("a-reader", "a-writer") and m in ("POST", "PUT", "PATCH"):
                    bodies = BODIES[:3] + BODIES[8:9]
                for bname, body in bodies:
                    hdr = {**extra, "Authorization": "Bearer " + key}
                    st, data, short = send(m, path, hdr, body, kname + ", " + bname)
                    if st is None:
                        continue
                    req_text = (path + (body or b"").decode("latin-1")).encode("latin-1")
                    lk = leaks(OWNER[kname], req_text, data)
                    check("another account's data never appears in a response", not lk,
                          "%s leaks %s" % (short, lk))
                    # A body that is not a JSON object may be refused (400)
                    # before the method or the id is looked at.
                    if body not in (None, b"") and not json_object(body) and st == 400:
                        continue
                    if kind == "none":
                        check("an unknown route is 404 for everyone", st == 404, "%s -> %s" % (short, st))
                    elif kind == "none-auth":
                        check("an unknown sub-route or malformed id is 404", st == 404,
                              "%s -> %s" % (short, st))
                    elif kind == "forbidden":
                        check("an account parameter naming no account of the key: 403", st == 403,
                              "%s -> %s" % (short, st))
                    elif kind == "badid":
                        check("a non-numeric alert id: 400 (403 when the role may not)",
                              st == 400 if kname == "a-admin" else st in (400, 403),
                              "%s -> %s" % (short, st))
                    elif kind == "public" and m in allowed:
                        check("/healthz and / answer without a key; other methods 405", st == 200,
                              "%s -> %s" % (short, st))
                    elif m not in allowed and kname == "a-admin":
                        check("an admin key with a method the route does not allow gets 405",
                              st == 405, "%s -> %s" % (short, st))
                    elif m not in allowed:
                        check("other keys with a method the route does not allow get 403 or 405",
                              st in (403, 405), "%s -> %s" % (short, st))


def probe(desc, method, path, key, want, body=None, extra=None):
    h = dict(extra or {})
    if key:
        h["Authorization"] = "Bearer " + KEYS[key]
    st, data, short = send(method, path, h, body, key or "no key")
    check(desc, st in want, "%s -> %s %s" % (short, st, data[:160]))
    return st, data


def probes():
    # unknown ids: 404 (400 where the id is malformed)
    probe("GET of an alert rule that does not exist: 404 (was a crash)", "GET",
          "/v1/alert-rules/does-not-exist", "a-admin", {404})
    probe("GET of an alert rule that does not exist, reader key: 404", "GET",
          "/v1/alert-rules/does-not-exist", "a-reader", {404})
    probe("PUT of an alert rule that does not exist: 404", "PUT", "/v1/alert-rules/does-not-exist",
          "a-admin", {404}, b'{"template":"consecutive-logon-failures"}')
    probe("enable of an alert rule that does not exist: 404", "POST",
          "/v1/alert-rules/does-not-exist/enable", "a-admin", {404})
    probe("DELETE of an alert rule that does not exist: 404", "DELETE",
          "/v1/alert-rules/does-not-exist", "a-admin", {404})
    probe("GET of an alert that does not exist: 404", "GET", "/v1/alerts/424242", "a-admin", {404})
    probe("acknowledge of an alert that does not exist: 404", "POST", "/v1/alerts/424242/acknowledge",
          "a-admin", {404})
    probe("GET of a non-numeric alert id: 400", "GET", "/v1/alerts/abc", "a-admin", {400})
    probe("GET of a user that does not exist: 404", "GET", "/v1/users/nobody", "a-admin", {404})
    probe("GetTrailStatus of a trail that does not exist: 404", "GET",
          "/v1/trails?Action=GetTrailStatus&Name=nope", "a-admin", {404})
    # another account: its ids are unknown here, its account parameter is refused
    for who, mine, other, rule, user, trail in (("a-admin", A, B, "rule-of-b", "user-of-b", "trail-of-b"),
                                                ("b-admin", B, A, "rule-of-a", "user-of-a", "trail-of-a")):
        probe("another account's alert rule is not found", "GET", "/v1/alert-rules/" + rule, who, {404})
        probe("another account's alert rule cannot be deleted", "DELETE", "/v1/alert-rules/" + rule, who, {404})
        probe("another account's user is not found", "GET", "/v1/users/" + user, who, {404})
        probe("another account's trail is not found", "GET",
              "/v1/trails?Action=GetTrailStatus&Name=" + trail, who, {404})
        for p in ("/v1/alert-rules?account=", "/v1/alerts?account=", "/v1/users?account=",
                  "/v1/user-groups?account=", "/v1/lookup?AccountId=", "/v1/insights?AccountId=",
                  "/v1/insights/settings?AccountId="):
            probe("another account's %s...: 403" % p.split("?")[0], "GET", p + other, who, {403})
        probe("another account's lookup in a POST body: 403", "POST", "/v1/lookup", who, {403},
              json.dumps({"AccountId": other}).encode())
        st, data = probe("/metrics with an admin key: 200", "GET", "/metrics", who, {200})
        check("/metrics never names another account", other.encode() not in data,
              "%s's /metrics names %s" % (who, other))
    st, data = probe("the own account's lookup sees its own events", "GET",
                     "/v1/lookup?StartTime=2020-01-01T00:00:00Z&MaxResults=50", "a-reader", {200})
    check("  ... and they are there", b"secretA-" in data, data[:200])


def healthz_content():
    st, data = health.request("GET", "/healthz")
    check("/healthz without a key answers liveness only: {\"status\":\"ok\"}",
          st == 200 and json.loads(data) == {"status": "ok"}, "%s %s" % (st, data[:200]))


t0 = time.time()
healthz_content()
probes()
matrix()
for d in order:
    fails = checks[d]
    print(("ok\t" if not fails else "not ok\t") + d + ("" if not fails else " (%d failures)" % len(fails)))
    for n in fails[:8]:
        print("# " + n.replace("\n", " ")[:300])
print("# %d requests (+ as many /healthz) in %.1f s" % (nreq, time.time() - t0))
