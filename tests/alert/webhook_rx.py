# Webhook receiver for tests/alert/service.sh (not a test itself): accepts
# POSTs on 127.0.0.1:PORT, checks X-Trailkeep-Signature (hex HMAC-SHA256 of
# the body with SECRET) and appends one JSON line per request to OUT:
# {"sig": "ok"|"bad", "kind": <X-Trailkeep-Notification>, "body": <parsed body>}.
import hashlib, hmac, http.server, json, sys

port, secret, out = int(sys.argv[1]), sys.argv[2].encode(), sys.argv[3]


class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        want = hmac.new(secret, body, hashlib.sha256).hexdigest()
        got = self.headers.get("X-Trailkeep-Signature", "")
        rec = {"sig": "ok" if hmac.compare_digest(want, got) else "bad",
               "kind": self.headers.get("X-Trailkeep-Notification", ""),
               "body": json.loads(body)}
        with open(out, "a") as f:
            f.write(json.dumps(rec) + "\n")
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *a):
        pass


http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
