#!/usr/bin/env bash
# --help of import, lookup, verify and purge: exits 0, prints usage to stdout,
# names every option the command accepts, and shows examples.
source "$(dirname "$0")/../lib.sh"
BIN=${TK_BIN:?TK_BIN must point at the trailkeep binary}

declare -A OPTS=(
  [import]="--data --account --format --batch --rejects --force --dry-run --output --quiet auto actiontrail cloudtrail jsonl"
  [lookup]="--data --account --start --end --event-name --user --service-name --event-id --resource-type --resource-name --event-rw --access-key-id --sensitive-action --source-ip --event-type --role-name --event-source --attr --max --forward --next-token --all --count --output table json jsonl"
  [verify]="--data --account --quiet --trail --folder --public-key --bucket --endpoint --region --path-style --page-size"
  [purge]="--data --days --account-days --dry-run --now"
)
for cmd in import lookup verify purge; do
  for flag in --help -h; do
    out=$($BIN $cmd $flag 2>$TMP/err); rc=$?
    eq "$cmd $flag exits 0" 0 "$rc"
    eq "$cmd $flag prints nothing on stderr" "" "$(cat $TMP/err)"
  done
  out=$($BIN $cmd --help)
  check "$cmd --help starts with usage" grep -q "^usage: trailkeep $cmd" <<<"$out"
  check "$cmd --help has examples" grep -q "^examples:" <<<"$out"
  check "$cmd --help explains the exit status" grep -q "^exit status:" <<<"$out"
  missing=""
  for o in ${OPTS[$cmd]}; do grep -q -- "$o" <<<"$out" || missing="$missing $o"; done
  eq "$cmd --help mentions every option" "" "$missing"
  check "$cmd --help states the default data directory" grep -q 'TRAILKEEP_DATA or ./data' <<<"$out"
done

# Every command and sub-command answers --help on stdout with exit 0.
for c in "serve" "gen" "keys" "keys create" "keys list" "keys revoke" "accounts" "accounts create" \
         "accounts list" "accounts org" "rules" "rules test" "rules templates" "rules import" \
         "rules show" "rules create" "rules list" "rules user" "rules alerts" "alerts" "alerts list" \
         "alerts ack" "trails" "trails create" "trails status" "trails verify" "trails deliver" \
         "insights" "insights run" "insights types" "insights settings"; do
  # shellcheck disable=SC2086
  out=$($BIN $c --help 2>$TMP/err); rc=$?
  if [ "$rc" -eq 0 ] && grep -qi "usage" <<<"$out"; then ok "trailkeep $c --help"; else nok "trailkeep $c --help (exit $rc, stderr: $(head -2 $TMP/err | tr '\n' ' '))"; fi
done
# "trailkeep help CMD" is "trailkeep CMD --help" (it used to print the global help).
for c in lookup import serve trails; do
  eq "trailkeep help $c prints what $c --help prints" "$($BIN $c --help 2>&1 | md5sum)" "$($BIN help $c 2>&1 | md5sum)"
done
$BIN help no-such-command >/dev/null 2>$TMP/err; rc=$?
eq "trailkeep help of an unknown command: exit 2, says so" "2 1" "$rc $(grep -c "unknown command 'no-such-command'" $TMP/err)"

# The unknown-LookupAttribute error lists every valid key, uncut.
D=$TMP/la
$BIN accounts create 1234567890123456 --data $D >/dev/null 2>&1
$BIN lookup --data $D --account 1234567890123456 --attr Bogus=1 >/dev/null 2>$TMP/la.err
check "an unknown LookupAttribute lists every key, the last one (EventSource) included" \
  grep -q "RoleName, EventSource" $TMP/la.err
tk_done
