#!/usr/bin/env bash
# valgrind memcheck over the release build's main paths (the ASan build
# covers the rest of the suite; valgrind also sees uninitialised reads and
# runs the optimised code that ships): gen, import (plain, gz, CloudTrail),
# lookup, verify, purge, rules test, insights run, and a serve session with
# ingest and lookup. Any memcheck error or definite leak fails the step.
source "$(dirname "$0")/../lib.sh"
B=${TK_BIN_REL:-$TK_ROOT/build/release/trailkeep}
command -v valgrind >/dev/null || { nok "valgrind is installed (scripts/setup installs it)"; tk_done; }
VG=(valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --log-file="$TMP/vg.%p")
vg() { local d=$1; shift; "${VG[@]}" "$@" >"$TMP/out" 2>&1; local rc=$?
  if [ "$rc" -eq 99 ]; then nok "$d (memcheck:) $(cat "$TMP"/vg.* | head -20 | tr '\n' ' ')"
  elif [ "$rc" -ne 0 ]; then nok "$d (exit $rc: $(tail -3 "$TMP/out" | tr '\n' ' '))"; else ok "$d"; fi
  rm -f "$TMP"/vg.*; }

"$B" gen --seed 5 --events 3000 --days 2 --accounts 2 --attacks --start 2026-11-20 --out "$TMP/e.jsonl"
gzip -c "$TMP/e.jsonl" >"$TMP/e.jsonl.gz"
A=$(head -1 "$TMP/e.jsonl" | grep -o '"recipientAccountId":"[^"]*"' | cut -d'"' -f4)
vg "gen under memcheck" "$B" gen --seed 6 --events 500 --days 1 --start 2026-11-20 --out "$TMP/g.jsonl"
vg "import under memcheck" "$B" import --data "$TMP/d" --quiet "$TMP/e.jsonl"
vg "import of .gz (all duplicates) under memcheck" "$B" import --data "$TMP/d" --quiet --force "$TMP/e.jsonl.gz"
ST=$TK_SHARED/datasets/stratus-detonation-logs
[ -d "$ST" ] && vg "import of CloudTrail captures under memcheck" "$B" import --data "$TMP/d" --quiet --account 111122223333 "$ST"
vg "lookup under memcheck" "$B" lookup --data "$TMP/d" --account "$A" --start 2026-11-19T00:00:00Z \
  --end 2026-11-23T00:00:00Z --event-name DescribeInstances --max 5 --output json
vg "verify under memcheck" "$B" verify --data "$TMP/d"
vg "purge --dry-run under memcheck" "$B" purge --data "$TMP/d" --days 1 --dry-run --now 2026-11-30T00:00:00Z
vg "rules test (templates) under memcheck" "$B" rules test template:root-logon "$TMP/e.jsonl"
vg "insights run under memcheck" "$B" insights run --data "$TMP/d" --account "$A"

PORT=$(free_port)
"${VG[@]}" "$B" serve --data "$TMP/s" --listen "127.0.0.1:$PORT" --access-log off >"$TMP/serve.out" 2>"$TMP/serve.err" &
SP=$!; TK_CLEANUP_PIDS+=("$SP")
for _ in $(seq 1 300); do grep -q '^ *secret:' "$TMP/serve.out" 2>/dev/null && curl -s -o /dev/null "http://127.0.0.1:$PORT/healthz" && break; sleep 0.1; done
K=$(sed -n 's/^ *key id: *//p' "$TMP/serve.out" | head -1):$(sed -n 's/^ *secret: *//p' "$TMP/serve.out" | head -1)
head -200 "$TMP/e.jsonl" | sed 's/"recipientAccountId":"[0-9]*"/"recipientAccountId":"100000000000000"/' >"$TMP/post.jsonl"
code=$(curl -s -o "$TMP/r1" -w '%{http_code}' -H "Authorization: Bearer $K" --data-binary @"$TMP/post.jsonl" "http://127.0.0.1:$PORT/v1/events")
eq "serve under memcheck: ingest answers 200" 200 "$code"
code=$(curl -s -o "$TMP/r2" -w '%{http_code}' -H "Authorization: Bearer $K" "http://127.0.0.1:$PORT/v1/lookup?StartTime=2026-11-19T00:00:00Z&EndTime=2026-11-23T00:00:00Z&MaxResults=5")
eq "serve under memcheck: lookup answers 200" 200 "$code"
kill -TERM "$SP"; wait "$SP"; rc=$?
if [ "$rc" -eq 99 ]; then nok "serve under memcheck: $(cat "$TMP"/vg.* | head -20 | tr '\n' ' ')"; else eq "serve under memcheck: clean exit" 0 "$rc"; fi
tk_done
