#!/usr/bin/env bash
# End-to-end: the SigV4 signature of the s3 destination. A loopback listener
# captures the PUTs trailkeep sends (libcurl's CURLOPT_AWS_SIGV4 plus our
# x-amz-content-sha256); for each, botocore's S3 SigV4 signer (Debian
# python3-botocore) recomputes the signature over the same request, time and
# signed headers, and must find the very same Authorization header; the
# payload hash must be the body's SHA-256; a wrong secret gives a different
# signature. The same for the GETs of `verify --bucket` (ListObjectsV2 with a
# prefix and a continuation token that need encoding, a session token).
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/trail_lib.bash"

$PY -c 'import botocore' 2>/dev/null || { nok "python3-botocore is installed"; tk_done; }
D=$TMP/data
$PY "$(dirname "$0")/s3_capture.py" "$TMP/port" "$TMP/reqs.jsonl" &
CAP_PID=$!
TK_CLEANUP_PIDS+=($CAP_PID)
for _ in $(seq 1 50); do [ -s "$TMP/port" ] && break; sleep 0.1; done
CPORT=$(cat "$TMP/port")
mkdir -p "$D"
"$TK_BIN" accounts create $ACC --data "$D" >/dev/null
export AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY='wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY'
# The capture listener is on loopback: private endpoints allowed.
T() { "$TK_BIN" trails "$@" --data "$D" --account $ACC --allow-private-endpoints >/dev/null 2>&1; }
check "trail to the capture listener (virtual-host style off, region cn-hangzhou)" \
  T create sig-trail --oss-bucket sig-bucket --event-rw All --opt endpoint=http://127.0.0.1:$CPORT \
    --opt path_style=true --opt region=cn-hangzhou
T start sig-trail
gen_events 40 0 >"$TMP/ev.jsonl"
"$TK_BIN" import --data "$D" "$TMP/ev.jsonl" >/dev/null 2>&1
check "deliver --once to the listener" T deliver --once
eq "one PUT per region file, plus the digest and its signature" 5 "$(wc -l <"$TMP/reqs.jsonl")"
"$TK_BIN" trails public-key --data "$D" >"$TMP/pub.pem"
AWS_SESSION_TOKEN='FwoGZXIvYXdzEJr+session/token=' "$TK_BIN" verify --bucket "s3://sig-bucket/pre fix+&=~" \
  --endpoint http://127.0.0.1:$CPORT --path-style --region cn-hangzhou --public-key "$TMP/pub.pem" >"$TMP/vb.out" 2>"$TMP/vb.err"
eq "verify --bucket against the listener: two list pages, nothing to verify (exit 1)" \
  "1 2" "$? $(grep -c '"method": "GET"' "$TMP/reqs.jsonl")"
eq "ListObjectsV2 queries: sorted, prefix and continuation token URI-encoded" \
  "/sig-bucket?list-type=2&prefix=pre%20fix%2B%26%3D~%2F /sig-bucket?continuation-token=tok%2Ben%2Fwith%3Dchars%26more&list-type=2&prefix=pre%20fix%2B%26%3D~%2F" \
  "$($PY -c "import json,sys; print(' '.join(json.loads(l)['path'] for l in open(sys.argv[1]) if '\"GET\"' in l))" "$TMP/reqs.jsonl")"

$PY - "$TMP/reqs.jsonl" >"$TMP/verdict" <<'PYEOF'
import hashlib, json, re, sys
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
good = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
bad = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEZ")
out = []
for line in open(sys.argv[1]):
    r = json.loads(line)
    h = {k.lower(): v for k, v in r["headers"]}
    body = bytes.fromhex(r["body"])
    m = re.match(r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/s3/aws4_request, "
                 r"SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$", h["authorization"])
    if not m:
        out.append("bad header " + h["authorization"]); continue
    akid, day, region, signed, sig = m.groups()
    out.append("payload-hash " + str(h["x-amz-content-sha256"] == hashlib.sha256(body).hexdigest()))
    out.append("signed-has-sha256 " + str("x-amz-content-sha256" in signed.split(";")))
    if r["method"] == "GET":
        out.append("get-session-token-signed " + str("x-amz-security-token" in signed.split(";") and
                   h["x-amz-security-token"] == "FwoGZXIvYXdzEJr+session/token="))
    def sign(creds):
        req = AWSRequest(method=r["method"], url="http://" + h["host"] + r["path"], data=body,
                         headers={k: h[k] for k in signed.split(";")})
        req.context["timestamp"] = h["x-amz-date"]
        a = S3SigV4Auth(creds, "s3", region)
        cr = a.canonical_request(req)
        return a.signature(a.string_to_sign(req, cr), req)
    out.append("botocore-equal " + str(sign(good) == sig and akid == "AKIDEXAMPLE" and region == "cn-hangzhou"))
    out.append("wrong-secret-differs " + str(sign(bad) != sig))
print("\n".join(sorted(set(out))))
PYEOF
eq "botocore computes the same signature for every PUT and GET; payload hash = SHA-256 of the body; session token signed; a wrong secret differs" \
  "botocore-equal True|get-session-token-signed True|payload-hash True|signed-has-sha256 True|wrong-secret-differs True" "$(paste -sd'|' "$TMP/verdict")"

# Interrupted while an object downloads: the private folder goes away.
mkdir -p "$TMP/itmp"
TMPDIR="$TMP/itmp" "$TK_BIN" verify --bucket s3://sig-bucket/slow --endpoint http://127.0.0.1:$CPORT \
  --path-style --public-key "$TMP/pub.pem" >"$TMP/int.out" 2>"$TMP/int.err" &
VP=$!
for _ in $(seq 1 100); do [ -n "$(find "$TMP/itmp" -name x.gz 2>/dev/null)" ] && break; sleep 0.1; done
eq "a stalled download is written inside a private (0700) temporary folder" \
  "700 trailkeep-verify-" "$(stat -c %a "$TMP"/itmp/trailkeep-verify-* 2>&1) $(ls "$TMP/itmp" | cut -c1-17)"
kill -INT "$VP"
wait "$VP"
eq "SIGINT during the download: exit 130" 130 $?
eq "... the temporary folder was removed" "" "$(ls -A "$TMP/itmp")"
check "... and the message says so" grep -q "interrupted; the temporary folder was removed" "$TMP/int.err"
kill "$CAP_PID"; wait "$CAP_PID" 2>/dev/null
tk_done
