#!/usr/bin/env bash
# trailkeep test runner: every cmocka binary (built with ASan+UBSan) and every
# end-to-end script under tests/, each speaking TAP ("ok N - name" /
# "not ok N - name"). A binary or script that exits non-zero without having
# reported a failure counts as one more failure. Last line: "N passed, N failed".
# TK_TEST_FILTER=regex runs only matching test programs.
set -u
cd "$(dirname "$0")/.."
ROOT=$(pwd)
export TK_ROOT="$ROOT"
export TK_BIN="$ROOT/build/asan/trailkeep"          # sanitized CLI for e2e tests
export TK_BIN_REL="$ROOT/build/release/trailkeep"   # fast CLI for bulk data set-up
export TK_SHARED="${TK_SHARED:-$(cd "$ROOT/.." && pwd)/shared}"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
export CMOCKA_MESSAGE_OUTPUT=TAP
LOGDIR="$ROOT/build/test-logs"
rm -rf "$LOGDIR" && mkdir -p "$LOGDIR"

pass=0; fail=0; failed_names=()
filter="${TK_TEST_FILTER:-.}"

run_one() { # name, command...
  local name=$1; shift
  local log="$LOGDIR/$name.log"
  local t0=$(date +%s)
  "$@" >"$log" 2>&1
  local rc=$?
  local p f
  p=$(grep -cE '^ok [0-9]+' "$log")
  f=$(grep -cE '^not ok [0-9]+' "$log")
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; echo "not ok - $name exited with status $rc" >>"$log"; fi
  pass=$((pass + p)); fail=$((fail + f))
  local t1=$(date +%s)
  if [ "$f" -gt 0 ]; then
    failed_names+=("$name")
    printf 'FAIL %-40s %3d passed, %d failed (%ds)  log: %s\n' "$name" "$p" "$f" $((t1 - t0)) "$log"
    grep -E '^not ok' "$log" | head -20 | sed 's/^/     /'
    grep -E 'ERROR: AddressSanitizer|runtime error:|LeakSanitizer' "$log" | head -5 | sed 's/^/     /'
  else
    printf 'ok   %-40s %3d passed (%ds)\n' "$name" "$p" $((t1 - t0))
  fi
}

for bin in "$ROOT"/build/asan/tests/*; do
  [ -x "$bin" ] || continue
  name=$(basename "$bin")
  [[ "$name" =~ $filter ]] || continue
  run_one "$name" "$bin"
done

for script in $(find "$ROOT/tests" -name '*.sh' -path '*/tests/*/*' | sort); do
  name="e2e_$(basename "$(dirname "$script")")_$(basename "$script" .sh)"
  [[ "$name" =~ $filter ]] || continue
  run_one "$name" bash "$script"
done

echo
if [ "$fail" -gt 0 ]; then echo "failed: ${failed_names[*]}"; fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
