#!/usr/bin/env bash
# End-to-end: the syslog destination into a real rsyslog (Debian) started
# here with an imtcp input on a loopback port and its own config: every event
# of the account arrives as one RFC 5424 message whose MSG is the stored JSON,
# equal field by field to what was ingested; an outage of rsyslog shows in the
# trail's status and, once it is back, everything recorded meanwhile arrives.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/trail_lib.bash"

RSYSLOGD=$(command -v rsyslogd || echo /usr/sbin/rsyslogd)
[ -x "$RSYSLOGD" ] || { nok "rsyslog is installed (scripts/setup)"; tk_done; }
D=$TMP/data
RPORT=$(free_port)
mkdir -p "$TMP/rs"
cat >"$TMP/rs/rs.conf" <<CONF
global(workDirectory="$TMP/rs" maxMessageSize="256k")
module(load="imtcp")
template(name="msgonly" type="string" string="%msg%\n")
template(name="hdr" type="string" string="%syslogfacility% %syslogseverity% %app-name% %msgid% %structured-data%\n")
ruleset(name="trail") {
  action(type="omfile" file="$TMP/rs/out.log" template="msgonly")
  action(type="omfile" file="$TMP/rs/hdr.log" template="hdr")
}
input(type="imtcp" port="$RPORT" address="127.0.0.1" ruleset="trail")
CONF
start_rs() {
  "$RSYSLOGD" -n -f "$TMP/rs/rs.conf" -i "$TMP/rs/rs.pid" >>"$TMP/rs/rs.log" 2>&1 &
  RS_PID=$!
  TK_CLEANUP_PIDS+=("$RS_PID")
  for _ in $(seq 1 50); do
    (exec 3<>/dev/tcp/127.0.0.1/$RPORT) 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}
stop_rs() { kill -TERM "$RS_PID"; wait "$RS_PID" 2>/dev/null; }
# lines of out.log that are not probe connections: waits for N of them
wait_lines() { for _ in $(seq 1 100); do [ "$(grep -c . "$TMP/rs/out.log" 2>/dev/null)" -ge "$1" ] && return 0; sleep 0.1; done; return 1; }
compare() { # the received JSON messages hold every event of $ACC once
  $PY - "$TMP/rs/out.log" "$ACC" "$@" <<'PYEOF'
import json, sys
out, acc, files = sys.argv[1], sys.argv[2], sys.argv[3:]
want = {}
for f in files:
    for l in open(f):
        e = json.loads(l)
        if e["recipientAccountId"] == acc:
            want[e["eventId"]] = e
got, dup, trail = {}, 0, 0
for l in open(out):
    if not l.strip():
        continue
    e = json.loads(l)
    if e.get("serviceName") == "ActionTrail":
        trail += 1; continue
    dup += e["eventId"] in got
    got[e["eventId"]] = e
bad = [k for k in want if got.get(k) != want[k]]
extra = set(got) - set(want)
print("ok %d events, %d trail events" % (len(got), trail) if not bad and not extra and not dup
      else "missing/different %d extra %d dup %d" % (len(bad), len(extra), dup))
PYEOF
}

start_rs || { nok "rsyslogd starts on 127.0.0.1:$RPORT"; tk_done; }
ok "rsyslogd listening on 127.0.0.1:$RPORT"
mkdir -p "$D"
"$TK_BIN" accounts create $ACC --data "$D" >/dev/null
# rsyslog listens on loopback: private endpoints allowed.
T() { "$TK_BIN" trails "$@" --data "$D" --account $ACC --allow-private-endpoints; }
Tq() { T "$@" >/dev/null 2>&1; }
check "create a syslog trail" \
  Tq create syslog-feed --dest syslog --opt host=127.0.0.1 --opt port=$RPORT --opt facility=13 --event-rw All
check "start it" T start syslog-feed
gen_events 400 0 >"$TMP/ev1.jsonl"
"$TK_BIN" import --data "$D" "$TMP/ev1.jsonl" >/dev/null 2>&1
check "deliver --once" Tq deliver --once
wait_lines 302
eq "rsyslog received every event of the account once, MSG = the stored JSON" \
  "ok 300 events, 2 trail events" "$(compare "$TMP/ev1.jsonl")"
eq "RFC 5424 fields: facility 13 (log audit), severity info, APP-NAME, MSGID, structured data" \
  "13 6 trailkeep ActionTrail [trailkeep@32473 account=\"$ACC\"" "$(head -1 "$TMP/rs/hdr.log" | cut -d' ' -f1-6)"

stop_rs
gen_events 200 400 >"$TMP/ev2.jsonl"
"$TK_BIN" import --data "$D" "$TMP/ev2.jsonl" >/dev/null 2>&1
T deliver --once >/dev/null 2>&1
eq "delivery fails while rsyslog is down (exit 1)" 1 $?
check "the status names the error and the backlog" $PY -c "
import json, subprocess
j = json.loads(subprocess.check_output(['$TK_BIN','trails','status','syslog-feed','--data','$D','--account','$ACC','--output','json']))
assert 'syslog' in j['LatestDeliveryError'] and j['Backlog'] == 150, j"  # the trail's own events: 3 of 4
start_rs || nok "rsyslogd restarts"
check "deliver --once after the outage" Tq deliver --once
wait_lines 452
eq "after the outage: all 450 events, none twice" \
  "ok 450 events, 2 trail events" "$(compare "$TMP/ev1.jsonl" "$TMP/ev2.jsonl")"
stop_rs

# TLS (RFC 5425): a TLS receiver with a certificate made here parses the
# octet-counted frames; with the CA the events arrive, without it the trail
# refuses the certificate and keeps its backlog.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1" \
  -keyout "$TMP/key.pem" -out "$TMP/cert.pem" >/dev/null 2>&1
TPORT=$(free_port)
cat >"$TMP/tlsrx.py" <<'PYEOF'
import socket, ssl, sys, threading
port, cert, key, out = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.load_cert_chain(cert, key)
srv = socket.create_server(("127.0.0.1", port))
def serve(c):
    try:
        c = ctx.wrap_socket(c, server_side=True)
    except Exception:
        return
    buf = b""
    f = open(out, "ab", buffering=0)
    while True:
        d = c.recv(65536)
        if not d:
            return
        buf += d
        while b" " in buf:          # octet counting: "LEN SP MSG"
            n, rest = buf.split(b" ", 1)
            if len(rest) < int(n):
                break
            msg, buf = rest[:int(n)], rest[int(n):]
            f.write(msg.split(b" - ", 1)[-1].split(b"] ", 1)[-1] + b"\n")
while True:
    c, _ = srv.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
PYEOF
T stop syslog-feed >/dev/null   # its rsyslog is gone: keep it out of deliver's exit status
$PY "$TMP/tlsrx.py" "$TPORT" "$TMP/cert.pem" "$TMP/key.pem" "$TMP/tls.out" & TK_CLEANUP_PIDS+=($!)
for _ in $(seq 1 50); do (exec 3<>/dev/tcp/127.0.0.1/$TPORT) 2>/dev/null && break; sleep 0.1; done
check "a syslog trail over TLS without the CA" \
  Tq create tls-noca --dest syslog --opt host=127.0.0.1 --opt port=$TPORT --opt tls=true --event-rw All
T start tls-noca >/dev/null
T deliver --once >/dev/null 2>&1
check "an untrusted certificate: delivery refused, error in the status" $PY -c "
import json, subprocess
j = json.loads(subprocess.check_output(['$TK_BIN','trails','status','tls-noca','--data','$D','--account','$ACC','--output','json']))
assert j['LatestDeliveryError'] and j['Backlog'] > 0, j"
eq "... and nothing reached the receiver" 0 "$(grep -c eventId "$TMP/tls.out" 2>/dev/null || echo 0)"
T delete tls-noca >/dev/null
check "a syslog trail over TLS with the CA" \
  Tq create tls-feed --dest syslog --opt host=127.0.0.1 --opt port=$TPORT --opt tls=true --opt tls_ca=$TMP/cert.pem --event-rw All
T start tls-feed >/dev/null
gen_events 50 600 >"$TMP/ev3.jsonl"
"$TK_BIN" import --data "$D" "$TMP/ev3.jsonl" >/dev/null 2>&1
check "deliver --once over TLS" Tq deliver --once
for _ in $(seq 1 50); do [ "$($PY -c "import json;print(sum(1 for l in open('$TMP/tls.out') if l.strip() and json.loads(l).get('serviceName')!='ActionTrail'))" 2>/dev/null)" -ge 1 ] && break; sleep 0.1; done
eq "over TLS: the account's new events arrive as JSON, each once" "ok" "$($PY -c "
import json
want = {json.loads(l)['eventId'] for l in open('$TMP/ev3.jsonl') if json.loads(l)['recipientAccountId'] == '$ACC'}
got = [json.loads(l)['eventId'] for l in open('$TMP/tls.out') if l.strip() and json.loads(l).get('serviceName') != 'ActionTrail']
print('ok' if want and want <= set(got) and len(got) == len(set(got)) else 'want %d got %d' % (len(want), len(got)))")"
tk_done
