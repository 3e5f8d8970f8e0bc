#!/usr/bin/env bash
# End-to-end: alert email over SMTP with STARTTLS to a real server (aiosmtpd
# with a certificate made here): with --smtp-ca the mail is delivered over
# TLS; without the CA the certificate is refused, the notice stays queued and
# is retried (never sent in clear); with a server requiring AUTH, the right
# password delivers and a wrong one is refused and retried.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../http/http_lib.bash"
/usr/bin/python3 -c 'import aiosmtpd' 2>/dev/null || { nok "python3-aiosmtpd is installed (run scripts/setup)"; tk_done; }
ACC=100000000000000
SPORT=$(free_port)
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1" \
  -keyout "$TMP/key.pem" -out "$TMP/cert.pem" >/dev/null 2>&1
check "a self-signed certificate for 127.0.0.1" [ -s "$TMP/cert.pem" ]
/usr/bin/python3 -u -m aiosmtpd -n -l "127.0.0.1:$SPORT" --tlscert "$TMP/cert.pem" --tlskey "$TMP/key.pem" \
  >>"$TMP/mail.txt" 2>>"$TMP/smtp.err" &
SMTP_PID=$!
TK_CLEANUP_PIDS+=("$SMTP_PID")
for _ in $(seq 1 100); do /usr/bin/python3 -c "import socket; socket.create_connection(('127.0.0.1',$SPORT),1)" 2>/dev/null && break; sleep 0.1; done
ingest_signin() {
  local now; now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  req POST /v1/events "$A" -d "{\"eventId\":\"$1\",\"eventTime\":\"$now\",\"eventName\":\"ConsoleSignin\",\"eventType\":\"ConsoleSignin\",\"eventSource\":\"signin\",\"serviceName\":\"AasSub\",\"acsRegion\":\"cn-hangzhou\",\"userIdentity\":{\"type\":\"ram-user\",\"accountId\":\"$ACC\",\"userName\":\"$1\"},\"recipientAccountId\":\"$ACC\"}" >/dev/null
}
mails() { grep -c '^Subject:' "$TMP/mail.txt" || true; }
setup_rules() {
  "$TK_BIN" rules user sec --email sec@example.test --data "$1" >/dev/null
  "$TK_BIN" rules create signin --json <(echo '{"id":"signin","match":{"field":"eventName","value":"ConsoleSignin"},"group_by":["userIdentity.userName"]}') \
    --recipients sec --data "$1" >/dev/null
}

# 1. With the CA: delivered over STARTTLS.
D=$TMP/d1
start_server "$D" --smtp-url "smtp://127.0.0.1:$SPORT" --smtp-starttls --smtp-ca "$TMP/cert.pem" || { nok "server starts"; tk_done; }
bootstrap_key "$D"; A="$KEY_ID:$KEY_SECRET"
setup_rules "$D"
sleep 0.5
ingest_signin alice
for _ in $(seq 1 100); do [ "$(mails)" = 1 ] && break; sleep 0.1; done
eq "STARTTLS with the server's CA: the mail arrives" 1 "$(mails)"
check "... to the user's address" grep -q '^To: sec@example.test' "$TMP/mail.txt"
stop_server

# 2. Without the CA: refused, kept in the outbox, retried; nothing in clear.
D=$TMP/d2
start_server "$D" --smtp-url "smtp://127.0.0.1:$SPORT" --smtp-starttls --alert-retry-max 1 || { nok "server starts"; tk_done; }
bootstrap_key "$D"; A="$KEY_ID:$KEY_SECRET"
setup_rules "$D"
sleep 0.5
ingest_signin bob
sleep 3
eq "an untrusted certificate: no mail" 1 "$(mails)"
check "the failure is logged with the TLS reason and retried" \
  bash -c "[ \$(grep -c 'email notice of alert 1 to sec .*failed' '$D.err') -ge 2 ]"
stop_server
eq "server stops cleanly" 0 $?
kill -TERM "$SMTP_PID" 2>/dev/null; wait "$SMTP_PID" 2>/dev/null

# 3. A server that requires AUTH after STARTTLS: the right password delivers
# (once), a wrong one is refused and the notice stays queued for retry.
APORT=$(free_port)
/usr/bin/python3 "$(dirname "$0")/smtp_auth_server.py" "$APORT" "$TMP/cert.pem" "$TMP/key.pem" \
  alerts s3cret-pw "$TMP/auth.txt" 2>>"$TMP/smtp-auth.err" &
TK_CLEANUP_PIDS+=($!)
for _ in $(seq 1 100); do /usr/bin/python3 -c "import socket; socket.create_connection(('127.0.0.1',$APORT),1)" 2>/dev/null && break; sleep 0.1; done
authmails() { grep -c '^MAIL login=alerts to=sec@example.test' "$TMP/auth.txt" 2>/dev/null || true; }
D=$TMP/d3
"$TK_BIN" serve --data "$TMP/d0" --smtp-user alerts --smtp-password s3cret-pw >/dev/null 2>"$TMP/pw.err"
eq "--smtp-password on the command line (visible in /proc/PID/cmdline) is refused: exit 2" 2 $?
check "... the message names --smtp-password-file and TRAILKEEP_SMTP_PASSWORD" \
  bash -c "grep -q -- '--smtp-password-file' '$TMP/pw.err' && grep -q TRAILKEEP_SMTP_PASSWORD '$TMP/pw.err'"
printf 's3cret-pw\n' >"$TMP/smtp.pw"; chmod 600 "$TMP/smtp.pw"
start_server "$D" --smtp-url "smtp://127.0.0.1:$APORT" --smtp-starttls --smtp-ca "$TMP/cert.pem" \
  --smtp-user alerts --smtp-password-file "$TMP/smtp.pw" || { nok "server starts"; tk_done; }
check "the password is not on serve's command line" bash -c "! grep -qa s3cret-pw /proc/$SERVER_PID/cmdline"
bootstrap_key "$D"; A="$KEY_ID:$KEY_SECRET"
setup_rules "$D"
sleep 0.5
ingest_signin carol
for _ in $(seq 1 100); do [ "$(authmails)" = 1 ] && break; sleep 0.1; done
eq "SMTP AUTH after STARTTLS with the right password: the mail arrives once, as that user" 1 "$(authmails)"
check "the SMTP password never appears in serve's logs" bash -c "! grep -q s3cret-pw '$D.err' '$D.out'"
stop_server
D=$TMP/d4
TRAILKEEP_SMTP_PASSWORD=wrong-pw start_server "$D" --smtp-url "smtp://127.0.0.1:$APORT" --smtp-starttls \
  --smtp-ca "$TMP/cert.pem" --smtp-user alerts --alert-retry-max 1 || { nok "server starts"; tk_done; }
bootstrap_key "$D"; A="$KEY_ID:$KEY_SECRET"
setup_rules "$D"
sleep 0.5
ingest_signin dave
authfails() { grep -c '^AUTH-FAIL alerts' "$TMP/auth.txt" 2>/dev/null || true; }
for _ in $(seq 1 150); do [ "$(authfails)" -ge 2 ] && break; sleep 0.1; done
eq "a wrong SMTP password: no mail" 1 "$(authmails)"
check "... the server saw the failed logins (retried)" [ "$(authfails)" -ge 2 ]
stop_server
tk_done
