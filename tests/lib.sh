# Shared helpers for end-to-end test scripts (sourced). Each script prints TAP:
#   ok N - description / not ok N - description
# and cleans up its temporary directory and any server it started.
set -u
TK_N=0
TK_FAILS=0
TMP=$(mktemp -d /tmp/tk-test.XXXXXX)
TK_CLEANUP_PIDS=()
tk_cleanup() {
  for p in "${TK_CLEANUP_PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
  rm -rf "$TMP"
}
trap tk_cleanup EXIT

ok()   { TK_N=$((TK_N + 1)); echo "ok $TK_N - $*"; }
nok()  { TK_N=$((TK_N + 1)); TK_FAILS=$((TK_FAILS + 1)); echo "not ok $TK_N - $*"; }
# check "description" command...: ok when the command succeeds
check() { local d=$1; shift; if "$@"; then ok "$d"; else nok "$d"; fi; }
# eq "description" expected actual
eq() { if [ "$2" = "$3" ]; then ok "$1"; else nok "$1 (expected '$2', got '$3')"; fi; }
# A free TCP port on loopback.
free_port() { /usr/bin/python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
tk_done() { [ "$TK_FAILS" -eq 0 ]; exit $?; }
