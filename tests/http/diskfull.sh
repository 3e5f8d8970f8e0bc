#!/usr/bin/env bash
# End-to-end back-pressure on a full disk: the data directory lives on a
# 2 MiB tmpfs; ingest until the disk is full -> 503 + Retry-After with
# nothing of the refused batch acknowledged; after space is freed the same
# batch is accepted, and after a restart every acknowledged event is there
# exactly once. Needs root (mount); without it the script reports a skip.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/http_lib.bash"

MNT=$TMP/mnt
mkdir -p "$MNT"
if ! mount -t tmpfs -o size=2m tmpfs "$MNT" 2>/dev/null; then
  echo "# SKIP diskfull: cannot mount a tmpfs here (needs root); nothing tested"
  exit 0
fi
trap 'kill -9 "${TK_CLEANUP_PIDS[@]}" 2>/dev/null; sleep 0.2; umount -l "$MNT" 2>/dev/null; rm -rf "$TMP"' EXIT
D=$MNT/data
mkdir -p "$D"
# The server's own logs go outside the tmpfs.
start_server() {
  PORT=$(free_port); URL="http://127.0.0.1:$PORT"
  "$TK_BIN" serve --data "$D" --listen "127.0.0.1:$PORT" --access-log off "$@" >>"$TMP/out" 2>>"$TMP/err" &
  SERVER_PID=$!; TK_CLEANUP_PIDS+=("$SERVER_PID")
  for _ in $(seq 1 200); do curl -s -o /dev/null "$URL/healthz" && return 0; sleep 0.1; done
  return 1
}
start_server || { nok "server starts on the tmpfs"; tk_done; }
KEY_ID=$(sed -n 's/^ *key id: *//p' "$TMP/out" | head -1); KEY_SECRET=$(sed -n 's/^ *secret: *//p' "$TMP/out" | head -1)
A="$KEY_ID:$KEY_SECRET"
# Ballast we can delete later to make room.
dd if=/dev/zero of="$MNT/ballast" bs=64k count=8 2>/dev/null
NOW=$(date +%s)
: >"$TMP/acked"
full=0
# Random padding: the WAL compresses its frames, so a repetitive pad would
# never fill the disk.
for b in $(seq 0 200); do
  gen_events 100 100000000000000 $((NOW - 600)) 0 "b$b" |
    $PY -c 'import sys,os,base64
for l in sys.stdin: print(l.rstrip()[:-1] + ",\"pad\":\"" + base64.b64encode(os.urandom(450)).decode() + "\"}")' >"$TMP/batch"
  req POST /v1/events "$A" --data-binary @"$TMP/batch" >/dev/null
  if [ "$CODE" = 200 ]; then
    cut -d'"' -f4 "$TMP/batch" >>"$TMP/acked"
  elif [ "$CODE" = 503 ]; then
    full=1; break
  else
    nok "unexpected status $CODE while filling: $(cat "$TMP/body")"; break
  fi
done
eq "a full disk answers 503" 1 "$full"
eq "with code InsufficientStorage" InsufficientStorage "$(jget "$TMP/body" 'j["Code"]')"
check "and a Retry-After header" grep -qi '^Retry-After: [0-9]' "$TMP/hdr"
cp "$TMP/batch" "$TMP/refused"
NACK=$(wc -l <"$TMP/acked")
check "some batches were acknowledged before the disk filled ($NACK events)" test "$NACK" -ge 100
req GET /healthz "" >/dev/null
eq "the server stays up" 200 "$CODE"
rm -f "$MNT/ballast"
req POST /v1/events "$A" --data-binary @"$TMP/refused" >/dev/null
eq "after space is freed the refused batch is accepted whole" "200 100 0" "$CODE $(jget "$TMP/body" '"%d %d" % (j["accepted"], j["duplicates"])')"
cut -d'"' -f4 "$TMP/refused" >>"$TMP/acked"
stop_server
start_server --max-page 1000 --lookup-rate 0 || nok "restart"
ST=$(date -u -d @$((NOW - 4000)) +%Y-%m-%dT%H:%M:%SZ); ET=$(date -u -d @$((NOW + 60)) +%Y-%m-%dT%H:%M:%SZ)
: >"$TMP/stored"; tok=""
for _ in $(seq 1 100); do
  req GET "/v1/lookup?StartTime=$ST&EndTime=$ET&MaxResults=1000${tok:+&NextToken=$(printf %s "$tok" | $PY -c 'import sys,urllib.parse;print(urllib.parse.quote(sys.stdin.read(),safe=""))')}" "$A" >/dev/null
  [ "$CODE" = 200 ] || { nok "lookup: $CODE $(cat "$TMP/body")"; break; }
  jget "$TMP/body" '"\n".join(e["eventId"] for e in j["Events"])' | sed '/^$/d' >>"$TMP/stored"
  tok=$(jget "$TMP/body" 'j["NextToken"]'); [ -z "$tok" ] && break
done
eq "after restart: every acknowledged event is stored" 0 "$(comm -23 <(sort -u "$TMP/acked") <(sort -u "$TMP/stored") | wc -l)"
eq "after restart: nothing stored twice" 0 "$(sort "$TMP/stored" | uniq -d | wc -l)"
eq "after restart: nothing unacknowledged became visible" 0 "$(comm -13 <(sort -u "$TMP/acked") <(sort -u "$TMP/stored") | wc -l)"
stop_server
tk_done
