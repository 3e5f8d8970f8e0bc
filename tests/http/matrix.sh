#!/usr/bin/env bash
# End-to-end route matrix against the ASan server: every route x {no key,
# malformed keys, each role, another account's key} x methods x bodies
# (matrix.py). Never a 5xx (503 allowed), the expected 4xx for auth, unknown
# ids and methods, no account sees another's data, /healthz answers after
# every request; then the server stops cleanly with no sanitizer report.
# Also the scoping of what is shown: /healthz says only that the server is
# alive, and a trail's Backlog counts only its own account's events.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/http_lib.bash"

D=$TMP/data
A=100000000000000
B=200000000000000
NOW=$(date +%s)

start_server "$D" --lookup-rate 0 --trail-folder-root "$TMP" || { nok "server starts"; tk_done; }
bootstrap_key "$D"
A_ADMIN="$KEY_ID:$KEY_SECRET"
"$TK_BIN" accounts create "$B" --data "$D" >/dev/null
mkkey "$D" "$A" reader && A_READER="$KEY_ID:$KEY_SECRET"
mkkey "$D" "$A" writer && A_WRITER="$KEY_ID:$KEY_SECRET"
mkkey "$D" "$B" admin && B_ADMIN="$KEY_ID:$KEY_SECRET"
mkkey "$D" "$B" writer && B_WRITER="$KEY_ID:$KEY_SECRET"

# --- each account's own data: events, a rule, a user, a trail ----------------
gen_events 20 "$A" $((NOW - 3600)) 10 secretA >"$TMP/a.jsonl"
gen_events 20 "$B" $((NOW - 3600)) 10 secretB >"$TMP/b.jsonl"
req POST /v1/events "$A_WRITER" --data-binary @"$TMP/a.jsonl" >/dev/null
eq "account A's events are stored" 200 "$CODE"
req POST /v1/events "$B_WRITER" --data-binary @"$TMP/b.jsonl" >/dev/null
eq "account B's events are stored" 200 "$CODE"
for x in "a $A_ADMIN" "b $B_ADMIN"; do
  set -- $x
  req POST /v1/alert-rules "$2" -H 'Content-Type: application/json' \
    -d "{\"id\":\"rule-of-$1\",\"template\":\"consecutive-logon-failures\"}" >/dev/null
  eq "rule-of-$1 is created" 201 "$CODE"
  req POST /v1/users "$2" -H 'Content-Type: application/json' \
    -d "{\"name\":\"user-of-$1\",\"email\":\"user-of-$1@example.com\"}" >/dev/null
  eq "user-of-$1 is created" 200 "$CODE"
  mkdir -p "$TMP/dest-$1"
  req POST "/v1/trails?Action=CreateTrail&Name=trail-of-$1&DestinationType=folder&Dest.path=$TMP/dest-$1" "$2" >/dev/null
  eq "trail-of-$1 is created (not logging)" 200 "$CODE"
done

# --- a trail's Backlog counts its own account's events only ------------------
backlog() {
  req GET "/v1/trails?Action=GetTrailStatus&Name=trail-of-a" "$A_ADMIN" >/dev/null
  jget "$TMP/body" 'j.get("Backlog", j.get("Status", {}).get("Backlog") if isinstance(j.get("Status"), dict) else None)'
}
B0=$(backlog)
gen_events 7 "$B" $((NOW - 600)) 1 moreB >"$TMP/b2.jsonl"
req POST /v1/events "$B_WRITER" --data-binary @"$TMP/b2.jsonl" >/dev/null
B1=$(backlog)
eq "7 events of account B do not show in A's trail backlog" "$B0" "$B1"
gen_events 3 "$A" $((NOW - 600)) 1 moreA >"$TMP/a2.jsonl"
req POST /v1/events "$A_WRITER" --data-binary @"$TMP/a2.jsonl" >/dev/null
B2=$(backlog)
eq "3 events of account A do" "$((B1 + 3))" "$B2"

# --- /healthz: liveness only ---------------------------------------------------
req GET /healthz "" >/dev/null
eq "/healthz without a key: 200" 200 "$CODE"
check "  ... and it shows no counts (no last_seq, no inflight_appends)" \
  bash -c "! grep -qE 'last_seq|inflight|uptime|events' '$TMP/body'"
req GET /metrics "$A_ADMIN" >/dev/null
check "the store counts are in /metrics (admin key)" grep -q '^trailkeep_store_last_seq ' "$TMP/body"

# --- the matrix ------------------------------------------------------------
$PY "$(dirname "$0")/matrix.py" 127.0.0.1 "$PORT" "$A" "$B" "$A_ADMIN" "$A_READER" "$A_WRITER" \
  "$B_ADMIN" >"$TMP/matrix.out" 2>&1
while IFS= read -r line; do
  case "$line" in
    "ok	"*) ok "${line#ok	}" ;;
    "not ok	"*) nok "${line#not ok	}" ;;
    *) echo "$line" ;;
  esac
done <"$TMP/matrix.out"
grep -q '^ok	/healthz answers 200 after every request' "$TMP/matrix.out" || nok "matrix.py ran to the end"

# --- clean stop, no sanitizer report ---------------------------------------
stop_server
eq "the server stops cleanly (exit 0)" 0 "$?"
check "no AddressSanitizer, LeakSanitizer or UBSan report" \
  bash -c "! grep -qE 'AddressSanitizer|LeakSanitizer|runtime error|SUMMARY:' '$D.err'"
grep -E 'AddressSanitizer|LeakSanitizer|runtime error|SUMMARY:' -A12 "$D.err" | head -40 | sed 's/^/# /'
tk_done
