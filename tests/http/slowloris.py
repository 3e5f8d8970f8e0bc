# Slow-client attack on a running trailkeep serve (driven by slowloris.sh).
# Opens attacker sockets from other loopback addresses: PER_IP_FLOOD from
# 127.0.0.2 (more than --max-connections-per-ip), and SPREAD from each of
# 127.0.0.3..10 (under the per-IP limit, together more than the old global
# limit of 512). Half of them never send a byte, half send one byte of a
# never-ending header every 2 s. Meanwhile a legitimate client on 127.0.0.1
# calls /healthz, ingests and looks up. Prints "ok<TAB>..." / "not ok<TAB>..."
# lines and "# " notes for slowloris.sh.
import errno
import http.client
import json
import select
import socket
import sys
import threading
import time

HOST, PORT, KEY, ACCOUNT = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
HEADER_TIMEOUT = float(sys.argv[5])
PER_IP_FLOOD, SPREAD = int(sys.argv[6]), int(sys.argv[7])
DURATION = HEADER_TIMEOUT + 6

results = []


def report(desc, cond, note=""):
    results.append((desc, bool(cond), note))


class Attacker:
    def __init__(self, src, trickle):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.s.bind((src, 0))
        self.s.setblocking(False)
        self.trickle = trickle
        self.closed_at = None
        self.t0 = time.monotonic()
        try:
            self.s.connect((HOST, PORT))
        except BlockingIOError:
            pass
        self.sent = 0

    def poke(self):
        """Sends the next byte of a header that never ends."""
        msg = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 100000
        try:
            self.s.send(msg[self.sent:self.sent + 1])
            self.sent += 1
        except BlockingIOError:
            pass
        except OSError:
            self.mark_closed()

    def mark_closed(self):
        if self.closed_at is None:
            self.closed_at = time.monotonic() - self.t0


def legit(out):
    """The legitimate client: each call must answer, and fast."""
    def call(method, path, body=None, auth=True):
        t = time.monotonic()
        try:
            c = http.client.HTTPConnection(HOST, PORT, timeout=5)
            h = {"Authorization": "Bearer " + KEY} if auth else {}
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            data = r.read()
            c.close()
            return r.status, data, time.monotonic() - t
        except OSError as e:
            return None, repr(e).encode(), time.monotonic() - t

    time.sleep(1.0)  # the attack is in place
    now = int(time.time())
    ev = {"eventId": "legit-1", "eventVersion": "1", "eventTime":
          time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 60)), "eventType": "ApiCall",
          "eventRW": "Write", "eventSource": "ecs.aliyuncs.com", "serviceName": "Ecs",
          "eventName": "StopInstance", "acsRegion": "cn-hangzhou", "requestId": "r1",
          "sourceIpAddress": "10.0.0.1", "userAgent": "t", "userIdentity": {
              "type": "ram-user", "principalId": "1", "accountId": ACCOUNT, "userName": "alice"},
          "recipientAccountId": ACCOUNT}
    for rnd in range(3):
        st, data, dt = call("GET", "/healthz", auth=False)
        out.append(("/healthz from 127.0.0.1 answers during the attack (round %d)" % rnd,
                    st == 200 and dt < 3, "%s in %.2f s %s" % (st, dt, data[:100])))
        st, data, dt = call("POST", "/v1/events", json.dumps(dict(ev, eventId="legit-%d" % rnd)))
        out.append(("an authenticated ingest answers during the attack (round %d)" % rnd,
                    st == 200 and dt < 3, "%s in %.2f s %s" % (st, dt, data[:100])))
        st, data, dt = call("GET", "/v1/lookup?StartTime=%s&LookupAttribute.1.Key=EventId&"
                            "LookupAttribute.1.Value=legit-%d" %
                            (time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 3600)), rnd))
        out.append(("  ... and the lookup finds the event (round %d)" % rnd,
                    st == 200 and b"legit-%d" % rnd in data and dt < 3,
                    "%s in %.2f s %s" % (st, dt, data[:100])))
        time.sleep(HEADER_TIMEOUT / 2 + 0.5)


attackers = []
for i in range(PER_IP_FLOOD):
    attackers.append(Attacker("127.0.0.2", i % 2 == 1))
for ip in range(3, 11):
    for i in range(SPREAD):
        attackers.append(Attacker("127.0.0.%d" % ip, i % 2 == 1))
time.sleep(0.3)
for a in attackers:
    if a.trickle:
        a.poke()

legit_out = []
th = threading.Thread(target=legit, args=(legit_out,))
th.start()
t_start = time.monotonic()
next_poke = t_start + 2
while time.monotonic() - t_start < DURATION:
    live = [a for a in attackers if a.closed_at is None]
    if not live:
        break
    p = select.poll()
    by_fd = {}
    for a in live:
        p.register(a.s.fileno(), select.POLLIN)
        by_fd[a.s.fileno()] = a
    for fd, _ in p.poll(200):
        a = by_fd[fd]
        s = a.s
        try:
            if not s.recv(4096):
                a.mark_closed()
        except OSError as e:
            if e.errno != errno.EAGAIN:
                a.mark_closed()
    if time.monotonic() >= next_poke:
        next_poke += 2
        for a in live:
            if a.trickle and a.closed_at is None:
                a.poke()
th.join()

flood = attackers[:PER_IP_FLOOD]
spread = attackers[PER_IP_FLOOD:]
refused = [a for a in flood if a.closed_at is not None and a.closed_at < 1.0]
report("--max-connections-per-ip: most of %d sockets from one address are closed at once" % PER_IP_FLOOD,
       len(refused) >= PER_IP_FLOOD // 2, "%d closed within 1 s" % len(refused))
held = [a for a in attackers if a.closed_at is None or a.closed_at >= 1.0]
report("the attacker held %d connections past the first second" % len(held),
       len(held) > 512, "more than the old global limit of 512")
for name, group in (("idle", [a for a in held if not a.trickle]),
                    ("trickling", [a for a in held if a.trickle])):
    cut = [a.closed_at for a in group if a.closed_at is not None]
    late = [t for t in cut if t > HEADER_TIMEOUT + 2.5]
    report("every %s attacker socket (%d) is cut by the header deadline (%.0f s)" %
           (name, len(group), HEADER_TIMEOUT), len(cut) == len(group) and not late,
           "%d of %d cut, latest at %.1f s" % (len(cut), len(group), max(cut) if cut else -1))
    early = [t for t in cut if t < HEADER_TIMEOUT - 0.5]
    report("  ... and none of them before it", not early,
           "%d cut early, first at %.1f s" % (len(early), min(early) if early else -1))
for d, okv, note in legit_out:
    report(d, okv, note)
for a in attackers:
    a.s.close()
for d, okv, note in results:
    print(("ok\t" if okv else "not ok\t") + d)
    if not okv and note:
        print("# " + note)
