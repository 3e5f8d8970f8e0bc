#!/usr/bin/env bash
# End-to-end tests of `trailkeep gen`: options, determinism through the CLI,
# formats, gzip, the folder layout, and usage errors (exit status 2).
. "$(dirname "$0")/../lib.sh"
BIN=${TK_BIN:-$TK_ROOT/build/asan/trailkeep}
PY=/usr/bin/python3
S="--start 2026-11-01"

$BIN gen --help >"$TMP/help" 2>&1
check "--help exits 0 and documents every option" \
  bash -c "for o in --seed --events --per-day --days --start --accounts --users --error-rate \
    --signin-failure-rate --attacks --label --format --gzip --out --files-per-day --stats; do \
    grep -q -- \"\$o\" $TMP/help || { echo missing \$o; exit 1; }; done"

$BIN gen $S --events 2000 --seed 5 >"$TMP/a.jsonl"
$BIN gen $S --events 2000 --seed 5 >"$TMP/b.jsonl"
$BIN gen $S --events 2000 --seed 6 >"$TMP/c.jsonl"
check "same seed and options give identical bytes" cmp -s "$TMP/a.jsonl" "$TMP/b.jsonl"
check "another seed gives other bytes" bash -c "! cmp -s $TMP/a.jsonl $TMP/c.jsonl"
eq "--events N writes N lines" 2000 "$(wc -l <"$TMP/a.jsonl" | tr -d ' ')"

$BIN gen $S --days 3 --per-day 500 --accounts 4 --users 5 >"$TMP/d.jsonl"
eq "--per-day N over --days D writes N*D events" 1500 "$(wc -l <"$TMP/d.jsonl" | tr -d ' ')"
eq "--accounts 4 gives 4 recipient accounts" 4 \
  "$($PY -c 'import json,sys; print(len({json.loads(l)["recipientAccountId"] for l in open(sys.argv[1])}))' "$TMP/d.jsonl")"
eq "events stay within --start and --days" "ok" "$($PY - "$TMP/d.jsonl" <<'EOF'
import json, sys
t = [json.loads(l)["eventTime"] for l in open(sys.argv[1])]
print("ok" if t == sorted(t) and t[0] >= "2026-11-01T00:00:00Z" and t[-1] < "2026-11-04T00:00:00Z" else t[:1] + t[-1:])
EOF
)"

$BIN gen $S --events 3000 --accounts 9 --attacks --label >"$TMP/att.jsonl"
eq "--attacks --label labels all seven scenarios" 7 \
  "$($PY -c 'import json,sys; print(len({json.loads(l).get("tkScenario") for l in open(sys.argv[1])} - {None}))' "$TMP/att.jsonl")"
$BIN gen $S --events 3000 --accounts 9 --attacks >"$TMP/att2.jsonl"
check "--attacks without --label leaves no label" bash -c "! grep -q tkScenario $TMP/att2.jsonl"
check "--attacks without --label still has the attack events" grep -q '"eventName":"StopLogging"' "$TMP/att2.jsonl"

$BIN gen $S --events 300 --format cloudtrail >"$TMP/ct.json"
eq "--format cloudtrail writes {\"Records\":[...]}" 300 \
  "$($PY -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["Records"]))' "$TMP/ct.json")"
$BIN gen $S --events 300 --format array >"$TMP/arr.json"
eq "--format array writes one JSON array" 300 \
  "$($PY -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$TMP/arr.json")"

$BIN gen $S --events 2000 --seed 5 --out "$TMP/z.jsonl.gz"
check "--out FILE.gz is gzip of the same JSON Lines" bash -c "gzip -dc $TMP/z.jsonl.gz | cmp -s - $TMP/a.jsonl"

$BIN gen $S --days 2 --events 4000 --accounts 2 --out "$TMP/tree" --files-per-day 24 --gzip --stats 2>"$TMP/stats"
nfiles=$(find "$TMP/tree" -type f | wc -l | tr -d ' ')
check "folder layout: ActionTrail paths and names" bash -c \
  "find $TMP/tree -type f | grep -Eq '/AliyunLogs/Actiontrail/[0-9]{16}/[a-z0-9-]+/2026/11/0[12]/Actiontrail_[a-z0-9-]+_202611[0-9]{8}_1002_[0-9]+_[0-9]+_[0-9a-f]{32}\.gz$'"
eq "folder layout holds every event" 4000 \
  "$(find "$TMP/tree" -type f -name '*.gz' -exec gzip -dc {} + | wc -l | tr -d ' ')"
check "--stats reports the file count" grep -q "$nfiles files" "$TMP/stats"

$BIN gen $S --events 10 --bogus >/dev/null 2>"$TMP/err"; rc=$?
eq "an unknown option exits 2" 2 "$rc"
check "the message names the option" grep -q -- "--bogus" "$TMP/err"
$BIN gen $S --events abc >/dev/null 2>"$TMP/err"; rc=$?
eq "a bad number exits 2" 2 "$rc"
$BIN gen $S --events 10 --attacks >/dev/null 2>"$TMP/err"; rc=$?
eq "--attacks with too few events exits 2" 2 "$rc"
check "and says how many are needed" grep -q "needs at least" "$TMP/err"
$BIN gen $S --events 10 --format xml >/dev/null 2>"$TMP/err"; rc=$?
eq "an unknown format exits 2" 2 "$rc"
$BIN gen $S --events 10 --out /nonexistent-dir/x.jsonl 2>"$TMP/err"; rc=$?
eq "an unwritable --out exits 1" 1 "$rc"
# --insight-attacks injects each Insights scenario, labelled with --label.
$BIN gen --seed 3 --days 14 --per-day 2000 --accounts 2 --insight-attacks --label --start 2026-11-01 \
  | grep -o '"tkScenario":"[^"]*"' | cut -d'"' -f4 | sort -u >"$TMP/isc"
eq "--insight-attacks injects the five Insights scenarios" \
  "accesskey-leak-new-ip ak-new-network error-storm password-reset-spree permission-escalation" "$(tr '\n' ' ' <"$TMP/isc" | sed 's/ $//')"
tk_done
