#!/usr/bin/env bash
# End-to-end: unauthenticated slow clients cannot lock the service out.
# 600 sockets from 127.0.0.2 (over --max-connections-per-ip 64) and 8 x 60 from
# 127.0.0.3-10 (under it, together over the old global limit of 512), half
# idle, half sending one header byte every 2 s (slowloris.py): /healthz and
# an authenticated ingest + lookup from 127.0.0.1 keep answering; every
# attacker socket is cut at the header deadline; the server ends with no open
# connection. Then: handlers blocked in an append (test hook) do not hold
# /healthz back, a slow body is cut at its deadline, and the new options are
# refused when out of range.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/http_lib.bash"

D=$TMP/data
A=100000000000000
HT=3

start_server "$D" --header-timeout "$HT" --max-connections-per-ip 64 || { nok "server starts"; tk_done; }
bootstrap_key "$D"
KEY="$KEY_ID:$KEY_SECRET"

$PY "$(dirname "$0")/slowloris.py" 127.0.0.1 "$PORT" "$KEY" "$A" "$HT" 600 60 >"$TMP/sl.out" 2>&1
while IFS= read -r line; do
  case "$line" in
    "ok	"*) ok "${line#ok	}" ;;
    "not ok	"*) nok "${line#not ok	}" ;;
    *) echo "$line" ;;
  esac
done <"$TMP/sl.out"
grep -q '^ok	' "$TMP/sl.out" || nok "slowloris.py ran"

# After the attack every attacker socket is gone on the server side too.
open_conns() {
  req GET /metrics "$KEY" >/dev/null
  sed -n 's/^trailkeep_http_connections //p' "$TMP/body"
}
n=""
for _ in $(seq 1 30); do n=$(open_conns); [ "${n:-99}" -le 1 ] && break; sleep 0.2; done
eq "no attacker connection is left open on the server" 1 "${n:-none}"
req GET /metrics "$KEY" >/dev/null
check "/metrics counts the header timeouts" \
  bash -c "awk '/^trailkeep_http_header_timeouts_total/ {exit !(\$2 >= 300)}' '$TMP/body'"

# A body that never completes is cut at --body-timeout, with a 408 in the log.
stop_server
start_server "$D" --header-timeout "$HT" --body-timeout 2 --body-idle-timeout 30 ||
  { nok "server restarts"; tk_done; }
t0=$(date +%s%N)
$PY - 127.0.0.1 "$PORT" "$KEY" <<'EOF' >"$TMP/body.out" 2>&1
import socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
s.sendall(b"POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + sys.argv[3].encode() +
          b"\r\nContent-Length: 1000\r\n\r\n[")
t = time.monotonic()
s.settimeout(1.0)
while time.monotonic() - t < 15:
    try:
        if not s.recv(100):
            break
    except socket.timeout:
        s.send(b" ")   # one byte a second: never idle, never done
    except OSError:
        break
print("cut after %.1f s" % (time.monotonic() - t))
EOF
ms=$((($(date +%s%N) - t0) / 1000000))
check "a body trickling one byte a second is cut at --body-timeout 2 ($(cat "$TMP/body.out"))" \
  test "$ms" -lt 6000
sleep 0.3
check "  ... and the access log says 408" grep -q '"route":"events","status":408' "$D.access"

# Handlers blocked in an append do not hold /healthz back (epoll I/O threads
# answer it; the appends wait on the handler pool).
stop_server
TK_TEST_APPEND_DELAY_MS=2500 start_server "$D" --workers 2 --threads 2 ||
  { nok "server restarts with the append delay"; tk_done; }
gen_events 1 "$A" $(($(date +%s) - 60)) 1 slow >"$TMP/one.jsonl"
CURLS=()
for i in 1 2 3 4; do
  curl -s -o /dev/null -H "Authorization: Bearer $KEY" --data-binary @"$TMP/one.jsonl" "$URL/v1/events" &
  CURLS+=($!)
done
sleep 0.5
t0=$(date +%s%N)
hc=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$URL/healthz")
ms=$((($(date +%s%N) - t0) / 1000000))
eq "/healthz answers while every handler thread waits in an append" 200 "$hc"
check "  ... at once (${ms} ms < 500 ms)" test "$ms" -lt 500
wait "${CURLS[@]}"
stop_server
eq "the server stops cleanly" 0 "$?"

# The options are checked.
for bad in "--header-timeout 0" "--max-connections-per-ip 0" "--body-timeout x" "--workers -1"; do
  "$TK_BIN" serve --data "$D" --listen 127.0.0.1:0 $bad >/dev/null 2>"$TMP/opt.err"
  eq "serve $bad is refused (exit 2)" 2 "$?"
done
check "no AddressSanitizer, LeakSanitizer or UBSan report" \
  bash -c "! grep -qE 'AddressSanitizer|LeakSanitizer|runtime error|SUMMARY:' '$D.err'"
tk_done
