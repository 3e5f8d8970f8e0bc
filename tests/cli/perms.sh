#!/usr/bin/env bash
# The data dir is private: created 0700 (an existing one made 0700), every
# file the store, meta.db, the import state and the token key write is 0600,
# so no other local user reads any tenant's events or the master key. Runs
# with a permissive umask (022) so the modes come from trailkeep, not from it.
source "$(dirname "$0")/../lib.sh"
BIN=${TK_BIN:?TK_BIN must point at the trailkeep binary}
MK="/usr/bin/python3 $(dirname "$0")/mkevents.py"
umask 022
A=1111222233334444
S=$(date -u -d '-2 days' +%s)
$MK $TMP/ev.jsonl 300 $A $S 60
D=$TMP/data
$BIN import --data $D $TMP/ev.jsonl >/dev/null 2>&1; eq "import into a new data dir" 0 $?
eq "the new data dir is 0700" 700 "$(stat -c %a $D)"
eq "no directory under it is open to others" "" "$(find $D -type d -perm /077 | head -3)"
eq "no file under it is readable by group or others" "" "$(find $D -type f -perm /077 | head -3)"
check "the check sees the files (a segment, MANIFEST, import-state)" \
  bash -c "[ -n \"\$(find $D -name '*.seg')\" ] && [ -f $D/MANIFEST ] && [ -f $D/import-state ]"

# A data dir an older version (or mkdir) left 0755: made private on open.
D2=$TMP/old
mkdir -m 0755 $D2
$BIN import --data $D2 $TMP/ev.jsonl >/dev/null 2>&1
eq "an existing 0755 data dir becomes 0700" 700 "$(stat -c %a $D2)"

# serve: meta.db, master.key and the store's files.
D3=$TMP/srv
PORT=$(free_port)
"$BIN" serve --data $D3 --listen 127.0.0.1:$PORT >$TMP/serve.out 2>&1 &
SP=$!
for _ in $(seq 100); do grep -q "listening" $TMP/serve.out 2>/dev/null && break; sleep 0.1; done
kill -TERM $SP; wait $SP 2>/dev/null
eq "serve's data dir is 0700" 700 "$(stat -c %a $D3)"
eq "serve's files are 0600" "" "$(find $D3 -type f -perm /077 | head -3)"
check "... meta.db and master.key among them" test -f $D3/meta.db -a -f $D3/master.key
tk_done
