#!/usr/bin/env bash
# End-to-end test of `trailkeep rules`: templates fire on the attack
# scenarios `trailkeep gen --attacks --label` injects (and only there, for the
# templates whose events background data never contains), `rules import
# --dry-run` reports the shared Sigma rules, `rules test` explains matches,
# and errors and --help behave.
. "$(dirname "$0")/../lib.sh"
BIN=${TK_BIN:-build/asan/trailkeep}
GEN=${TK_BIN_REL:-$BIN}
[ -x "$GEN" ] || GEN=$BIN
SHARED=${TK_SHARED:-/work/shared}

"$GEN" gen --start 2026-11-01 --events 20000 --accounts 9 --attacks --label --seed 7 > "$TMP/g.jsonl"
check "gen wrote labelled attack data" grep -q tkScenario "$TMP/g.jsonl"

# scenario instances = accounts that got one
instances() { grep "\"tkScenario\":\"$1\"" "$TMP/g.jsonl" | grep -o '"recipientAccountId":"[0-9]*"' | sort -u | wc -l; }

# labels of the events on the ALERT lines of `rules test`
alert_labels() {
  "$BIN" rules test --no-why "$1" "$TMP/g.jsonl" > "$TMP/out" || return 1
  awk '$1 == "ALERT" {print $3}' "$TMP/out" | while read -r l; do
    sed -n "${l}p" "$TMP/g.jsonl" | grep -o '"tkScenario":"[a-z-]*"' | cut -d'"' -f4 || echo unlabelled
  done | sort | uniq -c | awk '{print $2 "=" $1}' | tr '\n' ' '
}

n=$(instances brute-force-signin)
check "data has brute-force scenarios" [ "$n" -ge 1 ]
eq "consecutive-logon-failures: one alert per brute-force incident, nothing else" \
   "brute-force-signin=$n " "$(alert_labels template:consecutive-logon-failures)"
# every event an alert counted (lines=...) belongs to the scenario
counted=$("$BIN" rules test --no-why template:consecutive-logon-failures "$TMP/g.jsonl" | grep -o 'lines=[0-9,]*' | cut -d= -f2 | tr ',' '\n')
bad=0; total=0
for l in $counted; do
  total=$((total + 1))
  sed -n "${l}p" "$TMP/g.jsonl" | grep -q '"tkScenario":"brute-force-signin"' || bad=$((bad + 1))
done
eq "the alerts name the 5 failed sign-ins they counted, all from the attack" "$((5 * $(instances brute-force-signin))) 0" "$total $bad"
n=$(instances root-accesskey-created)
eq "root-accesskey-created fires exactly on the scenario" \
   "root-accesskey-created=$n " "$(alert_labels template:root-accesskey-created)"
eq "root-accesskey-used: the new root key's use, once per key (suppressed after)" \
   "root-accesskey-created=$n " "$(alert_labels template:root-accesskey-used)"
n=$(instances sg-open-world)
eq "network-open-to-world fires exactly on the scenario" \
   "sg-open-world=$n " "$(alert_labels template:network-open-to-world)"
n=$(grep -c '"tkScenario":"trail-concealment"' "$TMP/g.jsonl")
eq "StopLogging/DeleteTrail alerts are exactly the trail-concealment events" \
   "trail-concealment=$n " "$(alert_labels 'template:sensitive-api?apis=StopLogging,DeleteTrail')"
n=$(instances root-signin-no-mfa)
labels=$(alert_labels template:root-logon)
check "root-logon fires on every root sign-in scenario ($labels)" grep -q "root-signin-no-mfa=$n" <<<"$labels"

# a custom rule file, with why
cat > "$TMP/admin.json" <<'EOF'
{"id": "admin-attached", "severity": "critical",
 "match": {"all": [{"field": "eventName", "values": ["AttachPolicyToUser", "AttachUserPolicy"]},
                   {"field": "requestParameters.PolicyName", "op": "endswith", "value": "administratoraccess", "nocase": true}]}}
EOF
"$BIN" rules test "$TMP/admin.json" "$TMP/g.jsonl" > "$TMP/out"
eq "custom rule exits 0" 0 $?
n=$(instances admin-policy-attached)
eq "custom rule alerts once per admin-policy scenario" "$n" "$(grep -c '^ALERT' "$TMP/out")"
check "why names the condition and the value seen" \
  grep -q 'why: eventName in \["AttachPolicyToUser", "AttachUserPolicy"\] (got "AttachPolicyToUser") and requestParameters.PolicyName endswith/i "administratoraccess" (got "AdministratorAccess")' "$TMP/out"
check "summary line" grep -q "^1 rule(s), 20000 event(s), $n match(es), $n alert(s)" "$TMP/out"

# Sigma over a Stratus capture (a JSON array file), and a folder of rules
"$BIN" rules test "$SHARED/sigma/rules/cloudtrail/aws_cloudtrail_disable_logging.yml" \
  "$SHARED/datasets/stratus-detonation-logs/aws.defense-evasion.cloudtrail-stop.json" > "$TMP/out"
check "Sigma rule alerts on the Stratus StopLogging capture" grep -q "^ALERT  line 1 .*sigma:4db60cc0" "$TMP/out"
"$BIN" rules test --quiet "$SHARED/sigma/rules/cloudtrail" \
  "$SHARED/datasets/stratus-detonation-logs/aws.initial-access.console-login-without-mfa.json" > "$TMP/out"
eq "a folder of Sigma rules loads all 57 and alerts on console login without MFA" \
  "57 rule(s), 1 event(s), 1 match(es), 1 alert(s), 0 suppressed, 0 unreadable" "$(cat "$TMP/out")"

# import --dry-run
"$BIN" rules import "$SHARED/sigma" --dry-run > "$TMP/out"
eq "import --dry-run exits 1 when a rule is refused" 1 $?
eq "import --dry-run summary" "64 loaded, 1 refused (dry run: nothing stored)" "$(tail -1 "$TMP/out")"
check "the refusal names near" grep -q "^refused  .*aws_lambda_function_created_or_invoked.yml  condition 'near' (temporal correlation) is not supported" "$TMP/out"
"$BIN" rules import "$SHARED/sigma/rules/cloudtrail" --dry-run --quiet > "$TMP/out"
eq "import of the supported folder exits 0" 0 $?
eq "quiet import prints only the summary" "57 loaded, 0 refused (dry run: nothing stored)" "$(cat "$TMP/out")"
# import (not a dry run) stores each rule under its id; again: updated, not duplicated
RD=$TMP/rdata
"$BIN" accounts create 100000000000000 --data "$RD" >/dev/null 2>&1
"$BIN" rules import "$SHARED/sigma/rules/cloudtrail" --data "$RD" --quiet > "$TMP/out"; rc=$?
eq "import stores the 57 supported rules (exit 0)" "0 57 stored in account 100000000000000 (57 created, 0 updated), 0 refused" "$rc $(tail -1 "$TMP/out")"
"$BIN" rules import "$SHARED/sigma/rules/cloudtrail" --data "$RD" --quiet > "$TMP/out"
eq "importing again updates them: still 57 rules" "57 stored in account 100000000000000 (0 created, 57 updated), 0 refused 57" \
  "$(tail -1 "$TMP/out") $("$BIN" rules list --data "$RD" --output jsonl | wc -l | tr -d ' ')"
"$BIN" rules list --data "$RD" --output table > "$TMP/out"
check "rules list --output table: a header and the sigma rules" \
  bash -c "head -1 '$TMP/out' | grep -q '^ID  *KIND  *SEVERITY' && grep -c ' sigma ' '$TMP/out' | grep -qx 57"
eq "rules list --output json: one object with the 57 rules" 57 \
  "$("$BIN" rules list --data "$RD" --output json | /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)["rules"]))')"
sid=$("$BIN" rules list --data "$RD" --output jsonl | head -1 | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
"$BIN" rules show "$sid" --data "$RD" > "$TMP/out"; rc=$?
check "rules show ID reads the stored rule ($sid)" bash -c "[ $rc -eq 0 ] && grep -q '^stored: *account 100000000000000, sigma, enabled' '$TMP/out' && grep -q '^condition:' '$TMP/out'"
"$BIN" rules show no-such-rule --data "$RD" > /dev/null 2> "$TMP/err"
eq "rules show of an unknown id: exit 1, says what it looked for" "1 1" "$? $(grep -c 'neither a stored rule' "$TMP/err")"
"$BIN" rules import "$SHARED/sigma/rules/cloudtrail" --data "$RD" --recipients nobody > /dev/null 2> "$TMP/err"
eq "import with a recipient that does not exist: exit 1, said so" "1 1" "$? $(grep -c "no user 'nobody'" "$TMP/err")"
"$BIN" alerts list --data "$RD" --output table > "$TMP/out"
check "alerts list --output table with none: says so" grep -q "^no alerts in account" "$TMP/out"
"$BIN" rules list --data "$RD" --output yaml > /dev/null 2> "$TMP/err"
eq "an unknown --output is a usage error" 2 $?

# templates, show, errors, help
"$BIN" rules templates > "$TMP/out"
eq "templates lists 20 (19 rule families and insight)" 20 "$(grep -c '^[a-z]' "$TMP/out")"
check "templates show parameters with defaults" grep -q "failures     = 5 " "$TMP/out"
"$BIN" rules show 'template:consecutive-logon-failures?failures=7' > "$TMP/out"
check "show prints the compiled threshold" grep -q "count >= 7 within 1800s by userIdentity.userName" "$TMP/out"
"$BIN" rules test template:nope "$TMP/g.jsonl" > /dev/null 2> "$TMP/err"
eq "unknown template exits 1" 1 $?
check "and names it" grep -q "unknown template 'nope'" "$TMP/err"
echo '{"id":"x","match":{"field":"a","op":"equal","value":1}}' > "$TMP/bad.json"
"$BIN" rules test "$TMP/bad.json" "$TMP/g.jsonl" > /dev/null 2> "$TMP/err"
eq "bad rule exits 1" 1 $?
check "and says which operator" grep -q "unknown operator 'equal'" "$TMP/err"
printf '{"eventName":"StopLogging"}\nnot json\n{"eventName":"DeleteTrail"}\n' > "$TMP/mixed.jsonl"
"$BIN" rules test template:trail-changed "$TMP/mixed.jsonl" > "$TMP/out" 2> "$TMP/err"
eq "bad lines are skipped, good ones evaluated" "1 rule(s), 3 event(s), 2 match(es), 2 alert(s), 0 suppressed, 1 unreadable" "$(tail -1 "$TMP/out")"
check "the bad line is reported with its number" grep -q "line 2: event is not a well-formed JSON object" "$TMP/err"
"$BIN" rules test template:trail-changed > /dev/null 2>&1
eq "missing EVENTS is a usage error" 2 $?
for sub in test templates import show; do
  "$BIN" rules $sub --help > "$TMP/out"
  check "rules $sub --help" grep -q "usage: trailkeep rules $sub" "$TMP/out"
done
"$BIN" rules frobnicate > /dev/null 2>&1
eq "unknown subcommand is a usage error" 2 $?

# An Insights incident is one alert (Start) cleared by its End: `rules test`
# shows the CLEAR of each group it raised, with the rule's title.
"$GEN" gen --seed 3 --start 2026-10-01 --days 3 --per-day 3000 --accounts 1 --insight-attacks \
  -o "$TMP/ig.jsonl" 2>/dev/null
"$GEN" import --data "$TMP/ins" "$TMP/ig.jsonl" >/dev/null 2>&1
"$GEN" insights run --data "$TMP/ins" --until 2026-10-05 --output jsonl >"$TMP/ins.jsonl" 2>/dev/null
"$BIN" rules test --no-why template:insight "$TMP/ins.jsonl" > "$TMP/out" 2> "$TMP/err"
eq "rules test template:insight exits 0" 0 $?
nalert=$(grep -c '^ALERT ' "$TMP/out"); nclear=$(grep -c '^CLEAR ' "$TMP/out")
check "Insights records raise alerts ($nalert)" test "$nalert" -gt 0
eq "every alert is cleared by its End record" "$nalert" "$nclear"
eq "the groups cleared are the groups alerted" \
  "$(grep '^ALERT ' "$TMP/out" | grep -o 'group=[^ ]*' | sort)" "$(grep '^CLEAR ' "$TMP/out" | grep -o 'group=[^ ]*' | sort)"
check "the summary counts the clears" grep -q ", $nclear cleared\$" "$TMP/out"
check "alert lines carry the rule's title" grep -q '^       title: [A-Za-z]*Insight .*/min against a baseline of' "$TMP/out"
tk_done
