#!/usr/bin/env bash
# HTTP-level mutation fuzzing (mutate.py) against the ASan server on
# loopback: real requests of every route family mutated at the byte level,
# a bounded count (MUTATE_COUNT, default 4000) from a seed (MUTATE_SEED,
# default: the date, printed, so a failure can be replayed), the server
# alive and /healthz answering after every request, no 500; then a clean stop
# with no sanitizer report.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/http_lib.bash"
D=$TMP/data
COUNT=${MUTATE_COUNT:-4000}
SEED=${MUTATE_SEED:-$(date +%Y%m%d)}
start_server "$D" --lookup-rate 0 --trail-folder-root "$TMP" --header-timeout 2 --body-timeout 3 \
  || { nok "server starts"; tk_done; }
bootstrap_key "$D"; ADMIN="$KEY_ID:$KEY_SECRET"
mkkey "$D" 100000000000000 writer; WRITER="$KEY_ID:$KEY_SECRET"
echo "# seed $SEED (replay: MUTATE_SEED=$SEED MUTATE_COUNT=$COUNT bash tests/http/mutate.sh)"
$PY "$(dirname "$0")/mutate.py" 127.0.0.1 "$PORT" "$COUNT" "$SEED" "$TMP" "$ADMIN" "$WRITER" \
  100000000000000 >"$TMP/mutate.out" 2>&1
while IFS= read -r line; do
  case "$line" in
    "ok	"*) ok "${line#ok	}" ;;
    "not ok	"*) nok "${line#not ok	}"; cp "$TMP"/mutate-*.req "$TK_ROOT/build/" 2>/dev/null ;;
    *) echo "$line" ;;
  esac
done <"$TMP/mutate.out"
grep -qE '^(not )?ok	' "$TMP/mutate.out" || { nok "mutate.py ran to the end"; sed 's/^/#   /' "$TMP/mutate.out" | tail; }
stop_server
eq "the server stops cleanly after the mutations" 0 $?
check "no sanitizer report in the server's log" bash -c "! grep -qE 'AddressSanitizer|LeakSanitizer|runtime error' '$D.err'"
tk_done
