#!/usr/bin/env bash
# trailkeep verify and purge end to end: a clean store verifies; purge
# --dry-run removes nothing and reports what real purge then removes (whole
# days older than the retention, per-account overrides honoured); the store
# still verifies after a purge; a modified segment is reported MODIFIED and a
# deleted one MISSING, both with exit status 1.
source "$(dirname "$0")/../lib.sh"
BIN=${TK_BIN:?TK_BIN must point at the trailkeep binary}
PY=/usr/bin/python3
MK="$PY $(dirname "$0")/mkevents.py"
D=$TMP/data
A=1111222233334444
B=5555666677778888
ts() { date -u -d "$1" +%s; }
NOW=2026-11-24T12:00:00Z   # 90 days before: 2026-08-26T12:00:00Z

$MK $TMP/a1.jsonl 10 $A $(ts 2026-08-01T00:00:00Z) 60 --prefix a1
$MK $TMP/a2.jsonl 10 $A $(ts 2026-08-20T00:00:00Z) 60 --prefix a2
$MK $TMP/a3.jsonl 10 $A $(ts 2026-10-01T00:00:00Z) 60 --prefix a3
$MK $TMP/b1.jsonl 5 $B $(ts 2026-08-01T00:00:00Z) 60 --prefix b1
$BIN import --data $D --quiet $TMP/a1.jsonl $TMP/a2.jsonl $TMP/a3.jsonl $TMP/b1.jsonl; eq "import" 0 $?
cnt() { $BIN lookup --data $D --account $1 --start 2026-01-01 --end 2027-01-01 --count; }

out=$($BIN verify --data $D); rc=$?
eq "clean store verifies (exit 0)" 0 "$rc"
check "clean store: summary with 0 problems" grep -q "verified 2 account(s): 4 segment(s) ok, 0 problem(s)" <<<"$out"
out=$($BIN verify --data $D --account $B); rc=$?
eq "one account verifies" "0" "$rc"
check "one account: summary counts one account" grep -q "verified 1 account(s)" <<<"$out"
$BIN verify --data $D --account 9999000099990000 >$TMP/v.out 2>$TMP/v.err; rc=$?
eq "verify --account with no stored events: exit 1, says so (it used to 'verify 1 account')" \
  "1 1 0" "$rc $(grep -c 'has no stored events' $TMP/v.err) $(grep -c verified $TMP/v.out)"

# accounts list shows the accounts the store holds, registered or not.
$BIN accounts list --data $D >$TMP/al.txt; rc=$?
eq "accounts list: exit 0, both imported accounts with their event counts" "0 30 5" \
  "$rc $(awk -v a=$A '$1==a{print $3}' $TMP/al.txt) $(awk -v b=$B '$1==b{print $3}' $TMP/al.txt)"
check "  ... marked as not registered, with first and last event" \
  grep -qE "^$A +- +30 +2026-08-01T00:00:00Z +2026-10-01T00:09:00Z +90 \(default\) +- +not registered" $TMP/al.txt
eq "accounts list --output json: events, first/last event, registered" "30 2026-08-01T00:00:00.000Z 2026-10-01T00:09:00.000Z False" \
  "$($BIN accounts list --data $D --output json | $PY -c 'import json,sys; a=[x for x in json.load(sys.stdin)["accounts"] if x["id"]==sys.argv[1]][0]; print(a["events"], a["firstEvent"], a["lastEvent"], a["registered"])' $A)"

# lookup: an empty answer says why.
$BIN lookup --data $D --account 9999000099990000 --start 2026-01-01 >$TMP/l.out 2>$TMP/l.err
check "lookup of an account without events: the note says so" grep -q "has no stored events" $TMP/l.err
$BIN lookup --data $D --account $B --start 2026-11-01 --end 2026-11-02 >$TMP/l.out 2>$TMP/l.err
check "lookup with a window that misses the data: the note gives the account's range" \
  grep -q "has 5 events from 2026-08-01T00:00:00Z to 2026-08-01T00:04:00Z" $TMP/l.err

out=$($BIN purge --data $D --now $NOW --dry-run); rc=$?
eq "dry run exits 0" 0 "$rc"
check "dry run reports 3 days and 25 events" grep -q "^would remove 3 day(s), 3 segment(s), 25 event(s)" <<<"$out"
eq "dry run removes nothing" "30 5" "$(cnt $A) $(cnt $B)"

# Per-account retention from the accounts database, as serve applies it;
# --account-days on the command line wins over it.
$BIN accounts create $B --retention-days 365 --data $D >/dev/null; eq "account B gets 365 days" 0 $?
out=$($BIN purge --data $D --now $NOW --dry-run)
check "dry run honours B's 365 days from the accounts database" grep -q "^would remove 2 day(s), 2 segment(s), 20 event(s)" <<<"$out"
out=$($BIN purge --data $D --now $NOW --dry-run --account-days $B=30)
check "--account-days wins over the accounts database" grep -q "^would remove 3 day(s)" <<<"$out"

out=$($BIN purge --data $D --now $NOW --days 90); rc=$?
eq "purge exits 0" 0 "$rc"
check "purge removes A's two old days (20 events)" grep -q "^removed 2 day(s), 2 segment(s), 20 event(s)" <<<"$out"
eq "purge keeps A's recent day and all of B (365 days)" "10 5" "$(cnt $A) $(cnt $B)"
out=$($BIN purge --data $D --now $NOW --days 90); rc=$?
check "a second purge removes nothing" grep -q "^removed 0 day(s)" <<<"$out"
$BIN verify --data $D >/dev/null; eq "the store still verifies after a purge" 0 $?

seg=$(find $D/seg/$A -name '*.seg' | head -1)
check "a segment file exists for A" test -f "$seg"
printf '\xff' | dd of="$seg" bs=1 seek=20 conv=notrunc 2>/dev/null
out=$($BIN verify --data $D); rc=$?
eq "modified segment: exit 1" 1 "$rc"
check "modified segment: reported MODIFIED with its account" grep -q "^MODIFIED *$A" <<<"$out"
check "modified segment: summary counts the problem" grep -q "1 problem(s)" <<<"$out"

segb=$(find $D/seg/$B -name '*.seg' | head -1)
rm -f "$segb"
out=$($BIN verify --data $D --account $B); rc=$?
eq "deleted segment: exit 1" 1 "$rc"
check "deleted segment: reported MISSING" grep -q "^MISSING *$B" <<<"$out"

$BIN purge --data $D --days 0 >/dev/null 2>&1; eq "purge --days 0: exit 2" 2 $?
$BIN purge --data $D --account-days nope >/dev/null 2>&1; eq "purge bad --account-days: exit 2" 2 $?
$BIN verify --data $D --bogus >/dev/null 2>&1; eq "verify unknown option: exit 2" 2 $?
$BIN verify --data $TMP/nowhere >/dev/null 2>&1; eq "verify missing data dir: exit 1" 1 $?
tk_done
