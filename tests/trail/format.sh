#!/usr/bin/env bash
# A trail's record format (--opt format=, common to every destination): the
# same registry as lookup --format and /v1/lookup?EventFormat= (event/format.h).
# A folder trail with format=ocsf delivers OCSF 1.1 API Activity records, one
# per delivered event; an unknown format is refused when the trail is made.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/trail_lib.bash"
D=$TMP/data
OUT=$TMP/out
mkdir -p "$D"
"$TK_BIN" accounts create "$ACC" --data "$D" >/dev/null
T() { "$TK_BIN" trails "$@" --data "$D" --account "$ACC" --trail-folder-root "$TMP"; }
T create ocsf-archive --dest folder --opt path="$OUT" --opt format=ocsf --event-rw All >/dev/null 2>&1
eq "a folder trail with --opt format=ocsf" 0 $?
T create bad-format --dest folder --opt path="$OUT" --opt format=xml >/dev/null 2>"$TMP/bad.err"
eq "--opt format=xml: refused as a parameter error (exit 2), listing the formats" "2 1" "$? $(grep -c 'canonical, cloudtrail, ocsf' "$TMP/bad.err")"
T start ocsf-archive >/dev/null 2>&1
gen_events 40 0 >"$TMP/ev.jsonl"
"$TK_BIN" import --data "$D" "$TMP/ev.jsonl" >/dev/null 2>&1
T deliver --once >/dev/null 2>&1
eq "deliver --once" 0 $?
$PY - "$OUT" "$TMP/ev.jsonl" "$ACC" >"$TMP/verdict" <<'PYEOF'
import gzip, json, os, sys
out, evf, acc = sys.argv[1], sys.argv[2], sys.argv[3]
want = {json.loads(l)["eventId"] for l in open(evf) if json.loads(l)["recipientAccountId"] == acc}
recs = []
for d, _, fs in os.walk(out):
    for f in fs:
        if f.endswith(".gz") and "Digest" not in d:
            recs += json.loads(gzip.open(os.path.join(d, f)).read())
ocsf = [r for r in recs if r.get("class_uid") == 6003]
got = {r["metadata"]["uid"] for r in ocsf}
print("ok" if recs and len(ocsf) == len(recs) and want <= got else "bad %d %d %d" % (len(recs), len(ocsf), len(want - got)))
PYEOF
eq "every delivered record is OCSF API Activity, every event of the account among them" ok "$(cat "$TMP/verdict")"
tk_done
