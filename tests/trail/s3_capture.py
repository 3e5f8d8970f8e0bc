# A loopback HTTP listener for tests/trail/sigv4.sh: answers every PUT with
# 200, and every GET with a ListObjectsV2 page (the first truncated, with a
# continuation token full of characters that need encoding; the next one
# empty and final), appending each request (method, path, headers, body as
# hex) as one JSON line to the file given, so the test can check the
# signature trailkeep sent. A listing of prefix "slow/" names one object
# whose GET sends a few bytes and then stalls (to interrupt a download).
# Usage: s3_capture.py PORTFILE OUTFILE
import http.server, json, sys, time

TOKEN_XML = "tok+en/with=chars&amp;more"


class H(http.server.BaseHTTPRequestHandler):
    def record(self, body):
        with open(sys.argv[2], "a") as f:
            f.write(json.dumps({"method": self.command, "path": self.path,
                                "headers": [[k, v] for k, v in self.headers.items()],
                                "body": body.hex()}) + "\n")

    def do_PUT(self):
        n = int(self.headers.get("Content-Length", "0"))
        self.record(self.rfile.read(n))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self):
        self.record(b"")
        if self.path.endswith("/slow/x.gz"):
            self.send_response(200)
            self.send_header("Content-Length", "1000000")
            self.end_headers()
            self.wfile.write(b"\x1f\x8b partial")
            self.wfile.flush()
            time.sleep(20)
            return
        if "prefix=slow" in self.path:
            b = (b"<ListBucketResult><IsTruncated>false</IsTruncated>"
                 b"<Contents><Key>slow/x.gz</Key></Contents></ListBucketResult>")
            self.send_response(200)
            self.send_header("Content-Length", str(len(b)))
            self.end_headers()
            self.wfile.write(b)
            return
        first = "continuation-token=" not in self.path
        page = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult>"
                "<IsTruncated>%s</IsTruncated>%s</ListBucketResult>" %
                ("true" if first else "false",
                 "<NextContinuationToken>%s</NextContinuationToken>" % TOKEN_XML if first else ""))
        b = page.encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)

    def log_message(self, *a):
        pass

s = http.server.HTTPServer(("127.0.0.1", 0), H)
with open(sys.argv[1], "w") as f:
    f.write(str(s.server_address[1]))
s.serve_forever()
