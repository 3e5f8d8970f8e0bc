#!/usr/bin/env bash
# End-to-end: `trailkeep accounts` and `trailkeep keys` on a fresh data
# directory: exit codes, JSON output, the secret shown once and stored
# nowhere in clear, revocation, organization membership, retention checks.
. "$(dirname "$0")/../lib.sh"
BIN=${TK_BIN:-${TK_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}/build/asan/trailkeep}
if [ ! -x "$BIN" ]; then nok "trailkeep binary $BIN is missing: build it first"; tk_done; fi
D="$TMP/data"
PY=/usr/bin/python3
tk() { "$BIN" "$@" --data "$D"; }
json() { $PY -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

for c in keys accounts; do
  "$BIN" $c --help >"$TMP/help" 2>&1; eq "$c --help exits 0" 0 $?
  check "$c --help documents --data" grep -q -- '--data DIR' "$TMP/help"
  "$BIN" $c >/dev/null 2>&1; eq "$c without a command is a usage error" 2 $?
  "$BIN" $c frobnicate >/dev/null 2>&1; eq "$c with an unknown command is a usage error" 2 $?
done

tk keys list >/dev/null 2>&1; eq "keys list on a missing data directory fails" 1 $?

tk accounts create 1234567890123456 --name prod --retention-days 365 >/dev/null
eq "accounts create succeeds" 0 $?
tk accounts create 1234567890123456 >/dev/null 2>"$TMP/err"; eq "duplicate account fails with 1" 1 $?
check "duplicate account message says so" grep -q "already exists" "$TMP/err"
tk accounts create 'bad id' >/dev/null 2>&1; eq "malformed account id is a usage error" 2 $?
tk accounts create 6543210987654321 --retention-days 30 >/dev/null 2>"$TMP/err"
eq "short retention is accepted" 0 $?
check "short retention warns about MLPS 2.0" grep -q "MLPS 2.0" "$TMP/err"
tk accounts create 1111 --retention-days 99999 >/dev/null 2>&1; eq "retention over 36500 refused" 2 $?
tk accounts set 6543210987654321 --retention-days 180 >/dev/null; eq "accounts set succeeds" 0 $?
tk accounts set 404 --retention-days 180 >/dev/null 2>&1; eq "accounts set on unknown account fails" 1 $?
tk accounts set 6543210987654321 --retention-days x >/dev/null 2>&1; eq "non-numeric retention refused" 2 $?
eq "accounts list json shows retention" "365 180" \
  "$(tk accounts list --output json | json '" ".join(str(a["retentionDays"]) for a in d["accounts"])')"

tk keys create --account 1234567890123456 --role reader --name ci --output json >"$TMP/key.json" 2>"$TMP/err"
eq "keys create succeeds" 0 $?
check "keys create warns the secret is shown once" grep -q "cannot be shown again" "$TMP/err"
KID=$(json 'd["keyId"]' <"$TMP/key.json"); SECRET=$(json 'd["secret"]' <"$TMP/key.json")
check "key id is TK + 18 upper-case alphanumerics" bash -c "[[ '$KID' =~ ^TK[A-Z0-9]{18}$ ]]"
check "secret is 40 base62 characters" bash -c "[[ '$SECRET' =~ ^[A-Za-z0-9]{40}$ ]]"
eq "key role" reader "$(json 'd["role"]' <"$TMP/key.json")"
tk keys create --account 404 --role admin >/dev/null 2>&1; eq "key for unknown account fails" 1 $?
tk keys create --account 1234567890123456 --role root >/dev/null 2>&1; eq "unknown role is a usage error" 2 $?
tk keys create --account 1234567890123456 >/dev/null 2>&1; eq "missing --role is a usage error" 2 $?

tk keys list >"$TMP/list.txt"; tk keys list --output json >"$TMP/list.json"
check "keys list shows the key" grep -q "$KID" "$TMP/list.txt"
check "keys list never prints the secret" bash -c "! grep -q '$SECRET' '$TMP/list.txt' '$TMP/list.json'"
# The database and its WAL hold neither the secret nor a long piece of it.
check "secret not stored in clear" bash -c "! grep -a -q -e '$SECRET' -e '${SECRET:5:20}' '$D'/meta.db* '$D/master.key'"
check "meta.db does hold the key id (the check above can see)" grep -a -q "$KID" "$D/meta.db"
eq "master.key is private" 600 "$(stat -c %a "$D/master.key")"

tk keys revoke "$KID" >/dev/null; eq "keys revoke succeeds" 0 $?
eq "revoked key listed as revoked" revoked "$(tk keys list --output json | json 'd["keys"][0]["status"]')"
tk keys revoke "$KID" >/dev/null; eq "revoking twice is fine" 0 $?
tk keys revoke TKZZZZZZZZZZZZZZZZZZ >/dev/null 2>&1; eq "revoking an unknown key fails" 1 $?
tk keys revoke notakey >/dev/null 2>&1; eq "revoking a malformed id is a usage error" 2 $?

tk accounts org show >/dev/null 2>&1; eq "org show without an organization fails" 1 $?
tk accounts org add-member 6543210987654321 >/dev/null 2>&1; eq "add-member without an organization fails" 1 $?
tk accounts org create --id rd-a1b2 --management 404 >/dev/null 2>&1; eq "org with unknown management fails" 1 $?
tk accounts org create --id rd-a1b2 --management 1234567890123456 >/dev/null; eq "org create succeeds" 0 $?
tk accounts org create --id rd-x --management 1234567890123456 >/dev/null 2>&1; eq "a second organization is refused" 1 $?
tk accounts org add-member 6543210987654321 >/dev/null; eq "add-member succeeds" 0 $?
tk accounts org add-member 6543210987654321 >/dev/null 2>&1; eq "adding a member twice fails" 1 $?
eq "org show lists management and member" "rd-a1b2 1234567890123456 1234567890123456,6543210987654321" \
  "$(tk accounts org show --output json | json 'd["id"]+" "+d["managementAccount"]+" "+",".join(d["members"])')"
eq "accounts list shows org roles" "management member" \
  "$(tk accounts list --output json | json '" ".join(a["organization"] for a in d["accounts"])')"
tk accounts org remove-member 1234567890123456 >/dev/null 2>&1; eq "management account cannot leave" 2 $?
tk accounts org remove-member 6543210987654321 >/dev/null; eq "remove-member succeeds" 0 $?
tk accounts delete 1234567890123456 >/dev/null 2>&1; eq "management account cannot be deleted" 2 $?
tk accounts org delete >/dev/null; eq "org delete succeeds" 0 $?
tk keys create --account 6543210987654321 --role writer >/dev/null 2>&1
tk accounts delete 6543210987654321 >/dev/null; eq "accounts delete succeeds" 0 $?
eq "deleting an account revokes its keys" revoked \
  "$(tk keys list --account 6543210987654321 --output json | json 'd["keys"][0]["status"]')"
tk_done
