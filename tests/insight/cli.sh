#!/usr/bin/env bash
# End-to-end tests of `trailkeep insights`: three weeks of generated traffic
# with labelled attacks are imported; `insights run` must find the trail
# concealment, the mass deletion and the brute-force sign-in, attribute each
# to the labelled actor, pair every Start with one End, raise nothing outside
# the labelled attacks, and give the same bytes twice. Plus help and usage errors.
. "$(dirname "$0")/../lib.sh"
BIN=${TK_BIN:-$TK_ROOT/build/asan/trailkeep}
FAST=${TK_BIN_REL:-$BIN}
[ -x "$FAST" ] || FAST=$BIN
PY=/usr/bin/python3
D="$TMP/data"

$BIN insights --help >"$TMP/help" 2>&1
check "--help exits 0 and documents run, types and every run option" \
  bash -c "for o in 'insights run' 'insights types' --data --account --since --until --type \
    --set --output --explain; do grep -q -- \"\$o\" $TMP/help || { echo missing \$o; exit 1; }; done"
$BIN insights types >"$TMP/types"
eq "types lists the seven Insights types" 7 \
  "$(grep -cE '^(ApiCallRate|ApiErrorRate|Ip|Ak|PolicyChange|PasswordChange|TrailConcealment)Insight$' "$TMP/types")"
check "types lists every knob" bash -c "for k in alpha k m close_quiet min_count floor_rate sigma \
  min_history_h by_events k_events enabled; do grep -q \"^  \$k \" $TMP/types || exit 1; done"

$FAST gen --seed 7 --start 2026-10-01 --days 21 --per-day 4000 --accounts 3 --attacks --label \
  -o "$TMP/g.jsonl" 2>/dev/null
$FAST import --data "$D" "$TMP/g.jsonl" >/dev/null 2>&1
check "generated history imported" test -d "$D"

$BIN insights run --data "$D" --until 2026-10-23 --output jsonl >"$TMP/a.jsonl" 2>"$TMP/a.err"
eq "run exits 0" 0 $?
$BIN insights run --data "$D" --until 2026-10-23 --output jsonl >"$TMP/b.jsonl" 2>/dev/null
check "two runs over the same history give identical bytes" cmp -s "$TMP/a.jsonl" "$TMP/b.jsonl"

eq "every labelled rate-shaped attack is found, attributed to its actor, and nothing else is raised" \
  "ok" "$($PY - "$TMP/g.jsonl" "$TMP/a.jsonl" <<'EOF'
import json, sys
from datetime import datetime
def minute(t): return int(datetime.strptime(t[:19], "%Y-%m-%dT%H:%M:%S").timestamp() // 60)
scen = {}
for l in open(sys.argv[1]):
    e = json.loads(l)
    s = e.get("tkScenario")
    if s:
        k = (s, e["recipientAccountId"])
        scen.setdefault(k, []).append((minute(e["eventTime"]), e["userIdentity"].get("userName"),
                                       e["sourceIpAddress"]))
ins = [json.loads(l) for l in open(sys.argv[2])]
starts = {i["sharedEventId"]: i for i in ins if i["insightDetails"]["state"] == "Start"}
ends = {i["sharedEventId"]: i for i in ins if i["insightDetails"]["state"] == "End"}
out = []
if set(starts) != set(ends) or len(ins) != 2 * len(starts):
    out.append("Start/End records do not pair one to one")
for i in ins:
    if i["eventType"] != "ActionTrailInsight" or i["eventCategory"] != "Insight":
        out.append("bad shape " + i["eventId"])
want = {"trail-concealment": "TrailConcealmentInsight", "mass-delete-instances": "ApiCallRateInsight",
        "brute-force-signin": "ApiErrorRateInsight"}
covered = set()
for sid, s in starts.items():
    a, b = minute(s["eventTime"]), minute(ends[sid]["eventTime"])
    hit = [k for k, ev in scen.items() if k[1] == s["recipientAccountId"]
           and any(a - 10 <= m <= b + 10 for m, _, _ in ev)]
    if not hit:
        out.append("unexpected %s %s" % (s["insightDetails"]["insightType"], s["eventTime"]))
        continue
    for k in hit:
        covered.add((k, s["insightDetails"]["insightType"]))
        users = [a for a in s["insightDetails"]["insightContext"]["attributions"]
                 if a["attribute"] == "userIdentity"][0]["insight"]
        if not users or users[0]["value"] != scen[k][0][1]:
            out.append("%s top user %s, labelled %s" % (k[0], users[:1], scen[k][0][1]))
for k in scen:
    if k[0] in want and (k, want[k[0]]) not in covered:
        out.append("missed %s in %s" % k)
print("; ".join(out) or "ok")
EOF
)"

$BIN insights run --data "$D" --until 2026-10-23 --type TrailConcealmentInsight --explain >"$TMP/t.txt" 2>&1
eq "--type keeps only that type (one incident row)" 1 "$(grep -c '^2026-.*TrailConcealmentInsight' "$TMP/t.txt")"
check "--type leaves the other types out" bash -c "! grep -qE 'IpInsight|ApiCallRateInsight' $TMP/t.txt"
check "--explain names the actor" grep -q "mostly user ivan" "$TMP/t.txt"

$BIN insights run --data "$D" --until 2026-10-23 --set 'TrailConcealmentInsight.enabled=0' \
  --type TrailConcealmentInsight >"$TMP/off.txt" 2>&1
eq "--set T.enabled=0 disables a type" "no Insights" "$(cat "$TMP/off.txt")"

$BIN insights run --data "$D" --until 2026-10-23 --output json >"$TMP/a.json" 2>/dev/null
eq "--output json is one array holding the same records" "$(wc -l <"$TMP/a.jsonl" | tr -d ' ')" \
  "$($PY -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$TMP/a.json")"

$BIN insights run --data "$D" --since 2026-10-10 --until 2026-10-23 --output jsonl >"$TMP/s.jsonl" 2>/dev/null
check "--since judges only later activity (the 10-04 concealment is left out)" \
  bash -c "! grep -q TrailConcealmentInsight $TMP/s.jsonl && grep -q ApiCallRateInsight $TMP/s.jsonl"

ACC=$($PY -c 'import json,sys
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e.get("tkScenario") == "mass-delete-instances": print(e["recipientAccountId"]); break' "$TMP/g.jsonl")
$BIN insights run --data "$D" --until 2026-10-23 --account "$ACC" --output jsonl >"$TMP/acc.jsonl" 2>/dev/null
eq "--account keeps that account's records only" "$ACC" \
  "$($PY -c 'import json,sys; print(",".join(sorted({json.loads(l)["recipientAccountId"] for l in open(sys.argv[1])})))' "$TMP/acc.jsonl")"
eq "... and all of them" "$(grep -c "\"$ACC\"" "$TMP/a.jsonl")" "$(wc -l <"$TMP/acc.jsonl" | tr -d ' ')"

# Insights events are events: imported, they are looked up by EventType and
# a later run ignores them (it learns from activity, not from its own output).
$FAST import --data "$D" "$TMP/a.jsonl" >"$TMP/imp.txt" 2>&1
check "the Insights records import without a reject" grep -q " 0 rejected" "$TMP/imp.txt"
eq "lookup finds them by EventType ActionTrailInsight" "$(grep -c "\"$ACC\"" "$TMP/a.jsonl")" \
  "$($BIN lookup --data "$D" --account "$ACC" --event-type ActionTrailInsight --start 2026-10-01 \
     --end 2026-10-23 --count 2>/dev/null)"
$BIN insights run --data "$D" --until 2026-10-23 --output jsonl >"$TMP/c.jsonl" 2>/dev/null
check "a run over history holding Insights events gives the same records" cmp -s "$TMP/a.jsonl" "$TMP/c.jsonl"

$BIN insights run --data "$D" --set 'IpInsight.alpha=7' >/dev/null 2>"$TMP/e1"
eq "a knob out of range is a usage error" 2 $?
check "... saying which knob and range" grep -q "alpha must be a number in" "$TMP/e1"
$BIN insights run --data "$D" --type NoSuchInsight >/dev/null 2>&1
eq "an unknown type is a usage error" 2 $?
$BIN insights run --data "$D" --bogus >/dev/null 2>&1
eq "an unknown option is a usage error" 2 $?
$BIN insights run --data "$D" --output xml >/dev/null 2>&1
eq "an unknown output format is a usage error" 2 $?
$BIN insights run --data "$TMP/nope" >/dev/null 2>"$TMP/e2"
eq "a missing data directory exits 1" 1 $?
check "... and says so" grep -q "does not exist" "$TMP/e2"
$BIN insights >/dev/null 2>&1
eq "no subcommand is a usage error" 2 $?

echo "1..$TK_N"
tk_done
