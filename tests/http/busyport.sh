#!/usr/bin/env bash
# serve on an address that is in use: it says which address and why, exits
# 1, and never prints (or creates) a first-start key for a server that did
# not start; the next start on a free port creates and shows the key.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/http_lib.bash"
start_server "$TMP/first" || { nok "a first server starts"; tk_done; }
"$TK_BIN" serve --data "$TMP/second" --listen "127.0.0.1:$PORT" >"$TMP/out" 2>"$TMP/err"; rc=$?
eq "a second serve on the same address exits 1" 1 "$rc"
check "  ... saying which address is busy and why" \
  grep -q "cannot listen on 127.0.0.1:$PORT: Address already in use" "$TMP/err"
eq "  ... and prints no key" 0 "$(grep -c 'secret' "$TMP/out")"
start_server "$TMP/second" || { nok "the second data dir starts on a free port"; tk_done; }
eq "on a free port, its first start creates and shows the admin key" 1 "$(grep -c '^  secret: ' "$TMP/second.out")"
"$TK_BIN" serve --data "$TMP/third" --listen "192.0.2.1:8460" >"$TMP/out3" 2>"$TMP/err3"; rc=$?
eq "an address no interface has: exit 1, said so, no key" "1 1 0" \
  "$rc $(grep -c 'no interface has that address' "$TMP/err3") $(grep -c secret "$TMP/out3")"
tk_done
