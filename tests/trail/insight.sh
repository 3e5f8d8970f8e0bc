#!/usr/bin/env bash
# End-to-end: Insights records in trail deliveries. Real Insights records
# (`trailkeep insights run --output jsonl` over a `gen --insight-attacks` data
# set) are ingested with normal events into a store with two folder trails:
# the ActionTrail layout files them only under
# AliyunLogs/Actiontrail-Insight/<region>/YYYY/MM/DD/ with ActionTrail's file
# names and the normal events only under Actiontrail/; the CloudTrail layout
# puts them under AWSLogs/<account>/CloudTrail-Insight/ (as CloudTrail does)
# even for a Write-only, one-region trail, since Insights records are neither
# Read nor Write and carry no region. Digests cover the Insights files.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/trail_lib.bash"

G=$TMP/gen
"$TK_BIN" gen --insight-attacks --accounts 8 --days 10 --per-day 3000 --start 2026-11-01 >"$TMP/ev.jsonl"
"$TK_BIN" import --data "$G" "$TMP/ev.jsonl" >/dev/null 2>&1
"$TK_BIN" insights run --data "$G" --output jsonl >"$TMP/ins.jsonl"
# The account with the most Insights records, its records and 600 of its events.
ACC=$($PY -c "
import collections, json, sys
c = collections.Counter(json.loads(l)['recipientAccountId'] for l in open(sys.argv[1]))
print(max(sorted(c), key=lambda a: c[a]) if c else 'none')" "$TMP/ins.jsonl")
grep -F "\"recipientAccountId\":\"$ACC\"" "$TMP/ins.jsonl" >"$TMP/ins.own"
grep -F "\"recipientAccountId\":\"$ACC\"" "$TMP/ev.jsonl" | head -600 >"$TMP/norm.own"
check "insights run found Start and End Insights records for account $ACC" \
  $PY -c "
import json, sys
r = [json.loads(l) for l in open(sys.argv[1])]
s = {e['insightDetails']['state'] for e in r}
assert len(r) >= 2 and s == {'Start', 'End'}, (len(r), s)
assert all(e['eventType'] == 'ActionTrailInsight' and e['eventCategory'] == 'Insight' for e in r)" "$TMP/ins.own"

D=$TMP/data
OUT=$TMP/out-at
OUT2=$TMP/out-ct
mkdir -p "$D"
"$TK_BIN" accounts create "$ACC" --data "$D" >/dev/null
# The archives are folders under $TMP (beside the data directory): a folder root.
T() { "$TK_BIN" trails "$@" --data "$D" --account "$ACC" --trail-folder-root "$TMP"; }
Tq() { T "$@" >/dev/null 2>&1; }
check "an ActionTrail-layout folder trail (EventRW All)" \
  Tq create ins-archive --dest folder --opt path="$OUT" --event-rw All
check "a CloudTrail-layout folder trail (default EventRW Write, TrailRegion cn-hangzhou)" \
  Tq create ins-cloudtrail --dest folder --opt path="$OUT2" --opt layout=cloudtrail \
    --trail-region cn-hangzhou
T start ins-archive >/dev/null 2>&1
T start ins-cloudtrail >/dev/null 2>&1
cat "$TMP/norm.own" "$TMP/ins.own" >"$TMP/in.jsonl"
"$TK_BIN" import --data "$D" "$TMP/in.jsonl" >"$TMP/import.out" 2>&1
check "import of the events and the Insights records" grep -q " $(wc -l <"$TMP/in.jsonl") " "$TMP/import.out"
check "deliver --once" Tq deliver --once

# ActionTrail layout: every object classified by its folder and file name.
$PY - "$OUT" "$TMP/norm.own" "$TMP/ins.own" >"$TMP/at.verdict" <<'PYEOF'
import gzip, json, os, re, sys
out, norm, ins = sys.argv[1], sys.argv[2], sys.argv[3]
want_ins = {json.loads(l)["eventId"] for l in open(ins)}
want_norm = {json.loads(l)["eventId"] for l in open(norm)}
pat = re.compile(r"^AliyunLogs/(Actiontrail|Actiontrail-Insight)/([a-z0-9-]+)/(\d{4})/(\d{2})/(\d{2})/"
                 r"Actiontrail_\2_(\d{14})_1002_(\d+)_(\d+)_[0-9a-f]{32}\.gz$")
got = {"Actiontrail": [], "Actiontrail-Insight": []}
bad = []
for root, _, names in os.walk(out):
    for n in names:
        rel = os.path.relpath(os.path.join(root, n), out)
        if rel.startswith("AliyunLogs/Actiontrail-Digest/"):
            continue
        m = pat.match(rel)
        if not m:
            bad.append("name " + rel); continue
        ev = json.loads(gzip.open(os.path.join(out, rel)).read())
        folder, region, y, mo, d, stamp, cnt, size = m.groups()
        t0 = ev[0]["eventTime"]
        if (int(cnt) != len(ev) or int(size) != os.path.getsize(os.path.join(out, rel)) or
                stamp != re.sub(r"\D", "", t0)[:14] or (y, mo, d) != (t0[:4], t0[5:7], t0[8:10])):
            bad.append("fields " + rel)
        is_ins = [e.get("eventCategory") == "Insight" for e in ev]
        if folder == "Actiontrail-Insight" and (not all(is_ins) or region != "cn-hangzhou"):
            bad.append("not only Insights, or not the home region: " + rel)
        if folder == "Actiontrail" and any(is_ins):
            bad.append("an Insights record among normal events: " + rel)
        got[folder] += [e["eventId"] for e in ev]
ins_ids, norm_ids = got["Actiontrail-Insight"], got["Actiontrail"]
trail_ev = [i for i in norm_ids if i not in want_norm]
print("insights %s %s" % (len(ins_ids), set(ins_ids) == want_ins and len(set(ins_ids)) == len(ins_ids)))
print("normal %s" % (want_norm <= set(norm_ids) and len(set(norm_ids)) == len(norm_ids)))
print("other %d" % len(trail_ev))
print("bad %d %s" % (len(bad), bad[:3]))
PYEOF
NINS=$(wc -l <"$TMP/ins.own")
eq "ActionTrail layout: the $NINS Insights records once each, only under Actiontrail-Insight/cn-hangzhou/YYYY/MM/DD/, with ActionTrail file names" \
  "insights $NINS True" "$(sed -n 1p "$TMP/at.verdict")"
eq "... every normal event once, only under Actiontrail/" "normal True" "$(sed -n 2p "$TMP/at.verdict")"
eq "... besides them only the trails' own 4 changes (CreateTrail x2, StartLogging x2)" "other 4" "$(sed -n 3p "$TMP/at.verdict")"
eq "... names (count, size, time, date folders) match the content; no stray object" "bad 0 []" "$(sed -n 4p "$TMP/at.verdict")"

# CloudTrail layout.
$PY - "$OUT2" "$ACC" "$TMP/ins.own" >"$TMP/ct.verdict" <<'PYEOF'
import gzip, json, os, re, sys
out, acc, ins = sys.argv[1], sys.argv[2], sys.argv[3]
want_ins = {json.loads(l)["eventId"] for l in open(ins)}
pat = re.compile(r"^AWSLogs/%s/(CloudTrail|CloudTrail-Insight)/([a-z0-9-]+)/(\d{4})/(\d{2})/(\d{2})/"
                 r"%s_\1_\2_(\d{8}T\d{4}Z)_[0-9A-F]{16}\.json\.gz$" % (acc, acc))
got = {"CloudTrail": [], "CloudTrail-Insight": []}
bad = []
for root, _, names in os.walk(out):
    for n in names:
        rel = os.path.relpath(os.path.join(root, n), out)
        if "/CloudTrail-Digest/" in rel:
            continue
        m = pat.match(rel)
        if not m:
            bad.append("name " + rel); continue
        folder, region = m.group(1), m.group(2)
        recs = json.loads(gzip.open(os.path.join(out, rel)).read())["Records"]
        for r in recs:
            ins_rec = r.get("eventCategory") == "Insight"
            if folder == "CloudTrail-Insight" and not (ins_rec and r.get("eventType") == "AwsCloudTrailInsight"):
                bad.append("not an Insights record: " + rel)
            if folder == "CloudTrail" and (ins_rec or r.get("awsRegion") != "cn-hangzhou"):
                bad.append("Insights record or another region under CloudTrail/: " + rel)
            got[folder].append(r.get("eventID"))
        if folder == "CloudTrail-Insight" and region != "cn-hangzhou":
            bad.append("region " + rel)
ids = got["CloudTrail-Insight"]
print("insights %d %s" % (len(ids), set(ids) == want_ins and len(set(ids)) == len(ids)))
print("normal %s" % (len(got["CloudTrail"]) > 0))
print("bad %d %s" % (len(bad), bad[:3]))
PYEOF
eq "CloudTrail layout (Write-only, one region): the $NINS Insights records once each, only under AWSLogs/<account>/CloudTrail-Insight/cn-hangzhou/ as AwsCloudTrailInsight records" \
  "insights $NINS True" "$(sed -n 1p "$TMP/ct.verdict")"
eq "... normal records (Write, cn-hangzhou) only under CloudTrail/; names match the layout" \
  "normal True|bad 0 []" "$(sed -n 2,3p "$TMP/ct.verdict" | paste -sd'|')"

# Digests cover the Insights files.
for t in ins-archive ins-cloudtrail; do
  T verify "$t" --all >"$TMP/v-$t.out" 2>&1
  eq "trails verify $t: exit 0" 0 $?
done
NF=$(find "$OUT" -path '*/Actiontrail-Insight/*' -name '*.gz' | wc -l)
eq "... the $NF Actiontrail-Insight files are listed valid in the digests" "$NF" \
  "$(grep -cE '^valid +log +AliyunLogs/Actiontrail-Insight/' "$TMP/v-ins-archive.out")"
NF2=$(find "$OUT2" -path '*/CloudTrail-Insight/*' -name '*.gz' | wc -l)
eq "... and the $NF2 CloudTrail-Insight files" "$NF2" \
  "$(grep -cE "^valid +log +AWSLogs/$ACC/CloudTrail-Insight/" "$TMP/v-ins-cloudtrail.out")"
f=$(find "$OUT" -path '*/Actiontrail-Insight/*' -name '*.gz' | head -1)
printf 'X' | dd of="$f" bs=1 seek=12 conv=notrunc 2>/dev/null
T verify ins-archive >"$TMP/v2.out" 2>&1
eq "a changed Insights file: exit 1, reported modified" "1 1" "$? $(grep -c "^modified .*$(basename "$f")" "$TMP/v2.out")"
tk_done
