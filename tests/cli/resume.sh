#!/usr/bin/env bash
# Resumable import: `trailkeep gen` writes a delivered-layout folder of .gz
# files; an import is killed with SIGKILL part-way; the re-run skips the files
# already finished, re-reads the rest (events of the interrupted file that
# were stored count as duplicates) and the store then holds every event
# exactly once (per-account counts equal the generated files'), verifies
# clean, and a --force re-import finds only duplicates.
source "$(dirname "$0")/../lib.sh"
BIN=${TK_BIN:?TK_BIN must point at the trailkeep binary}
PY=/usr/bin/python3
D=$TMP/data
field() { $PY -c 'import json,sys; print(json.loads(sys.stdin.read().strip().splitlines()[-1])[sys.argv[1]])' "$1"; }

$BIN gen --seed 7 --start 2026-11-01 --days 2 --events 40k --accounts 3 --out $TMP/logs/ \
    --gzip >/dev/null 2>&1
nfiles=$(find $TMP/logs -name '*.gz' | wc -l)
check "gen wrote a folder of .gz files ($nfiles)" test "$nfiles" -ge 6
# Expected events per account, straight from the files.
$PY - $TMP/logs > $TMP/expected <<'PY'
import collections, gzip, json, os, sys
c = collections.Counter()
for root, _, files in os.walk(sys.argv[1]):
    for f in files:
        for line in gzip.open(os.path.join(root, f), "rt"):
            if line.strip():
                c[json.loads(line)["recipientAccountId"]] += 1
for a in sorted(c):
    print(a, c[a])
PY
total=$(awk '{s += $2} END {print s}' $TMP/expected)
eq "generated 40000 events" 40000 "$total"

# Small batches: many durable appends, so the kill lands mid-import.
$BIN import --data $D --batch 200 --quiet $TMP/logs & pid=$!
walbytes() { cat $D/wal/*.wal 2>/dev/null | wc -c; }
for i in $(seq 1 1000); do   # until the first file is recorded
  n=$(grep -c . $D/import-state 2>/dev/null || true)
  [ "${n:-0}" -ge 1 ] && break
  kill -0 $pid 2>/dev/null || break
  sleep 0.01
done
# A lookup runs beside the importing process (read-only open, no lock).
acc1=$(head -1 $TMP/expected | cut -d' ' -f1)
n_during=$($BIN lookup --data $D --account $acc1 --start 2026-10-01 --end 2026-12-01 --count 2>$TMP/lerr); rc=$?
eq "lookup works while an import holds the store ($n_during events so far)" "0" "$rc"
w0=$(walbytes)
for i in $(seq 1 1000); do   # then until the next file's first batch is durable
  [ "$(walbytes)" -gt "$w0" ] && break
  kill -0 $pid 2>/dev/null || break
  sleep 0.01
done
kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
done1=$(grep -c . $D/import-state 2>/dev/null || echo 0)
check "the import was killed part-way ($done1 of $nfiles files recorded)" test "$done1" -ge 1 -a "$done1" -lt "$nfiles"

# Events in the files the re-run must read (those not recorded as finished).
reread=$($PY - $TMP/logs $D/import-state <<'PY'
import gzip, os, sys
done = {l.rstrip("\n").split("\t")[3] for l in open(sys.argv[2]) if l.startswith("v1\t")}
n = 0
for root, _, files in os.walk(sys.argv[1]):
    for f in files:
        p = os.path.realpath(os.path.join(root, f))
        if p not in done:
            n += sum(1 for l in gzip.open(p, "rt") if l.strip())
print(n)
PY
)
out=$($BIN import --data $D --batch 200 --output json $TMP/logs); rc=$?
eq "re-run exits 0" 0 "$rc"
eq "re-run skips the files finished before the kill" "$done1" "$(echo "$out" | field skipped)"
eq "re-run reads the others" "$((nfiles - done1))" "$(echo "$out" | field files)"
eq "re-run rejects nothing" 0 "$(echo "$out" | field rejected)"
dups=$(echo "$out" | field duplicates)
eq "re-run: accepted + duplicates = events of the re-read files" "$reread" "$(( $(echo "$out" | field accepted) + dups ))"
if [ "$done1" -eq 1 ]; then
  check "re-run: the interrupted file's stored events are duplicates ($dups)" test "$dups" -gt 0
fi
while read -r acc n; do
  eq "account $acc holds each of its $n events exactly once" "$n" \
     "$($BIN lookup --data $D --account $acc --start 2026-10-01 --end 2026-12-01 --count)"
done < $TMP/expected
$BIN verify --data $D --quiet; eq "store verifies after the interrupted import" 0 $?

# Ctrl-C (SIGINT) stops cleanly: exit 130, a message saying how to resume,
# and the re-run completes the import exactly.
D2=$TMP/data2
$BIN import --data $D2 --batch 200 --quiet $TMP/logs 2>$TMP/int.err & pid=$!
for i in $(seq 1 1000); do
  [ "$(grep -c . $D2/import-state 2>/dev/null || echo 0)" -ge 1 ] && break
  kill -0 $pid 2>/dev/null || break
  sleep 0.01
done
kill -INT $pid; wait $pid; rc=$?
eq "SIGINT: exit status 130" 130 "$rc"
check "SIGINT: says how to continue" grep -q "interrupted; .*Run the same command again" $TMP/int.err
out=$($BIN import --data $D2 --output json $TMP/logs); rc=$?
eq "after SIGINT: the re-run completes" 0 "$rc"
eq "after SIGINT: all events stored exactly once" "$total" \
   "$(while read -r acc n; do $BIN lookup --data $D2 --account $acc --start 2026-10-01 --end 2026-12-01 --count; done < $TMP/expected | awk '{s += $1} END {print s}')"

out=$($BIN import --data $D --force --output json $TMP/logs); rc=$?
eq "--force re-import: every event a duplicate" "0 $total 0" \
   "$(echo "$out" | field accepted) $(echo "$out" | field duplicates) $(echo "$out" | field rejected)"
tk_done
