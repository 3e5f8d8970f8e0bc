# A loopback HTTP listener for tests/trail/sigv4.sh: answers every PUT with
# 200 and appends the request (method, path, headers, body as hex) as one
# JSON line to the file given, so the test can check the signature trailkeep
# sent. Usage: s3_capture.py PORTFILE OUTFILE
import http.server, json, sys

class H(http.server.BaseHTTPRequestHandler):
    def do_PUT(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        with open(sys.argv[2], "a") as f:
            f.write(json.dumps({"method": "PUT", "path": self.path,
                                "headers": [[k, v] for k, v in self.headers.items()],
                                "body": body.hex()}) + "\n")
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *a):
        pass

s = http.server.HTTPServer(("127.0.0.1", 0), H)
with open(sys.argv[1], "w") as f:
    f.write(str(s.server_address[1]))
s.serve_forever()
