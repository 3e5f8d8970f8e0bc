#!/usr/bin/env bash
# The libFuzzer targets in make test: builds them (clang, ASan+UBSan,
# incremental: tests/fuzz/fuzz.mk), replays each target's corpus under
# tests/fuzz/corpus/NAME (every input once: a crash fixed once stays fixed)
# and then fuzzes each for FUZZ_SECONDS (default 4) from a scratch copy of
# the corpus, two targets at a time. One TAP line per replay and per run; a
# crash names its saved input and how to reproduce it. `make fuzz` runs the
# same with FUZZ_SECONDS=300 and prints executions and coverage per target.
source "$(dirname "$0")/../lib.sh"
cd "$TK_ROOT"
SECONDS_EACH=${FUZZ_SECONDS:-4}
# make test fuzzes from a fixed seed, so a run repeats the last one (a slower
# machine explores a prefix of it); make fuzz passes FUZZ_SEED=random.
SEED=${FUZZ_SEED:-1}
SEEDOPT=(); [ "$SEED" != random ] && SEEDOPT=(-seed="$SEED")
OUT=build/fuzz
ART=$OUT/artifacts
mkdir -p "$ART"
command -v clang >/dev/null || { nok "clang is installed (scripts/setup installs clang and libclang-rt-14-dev)"; tk_done; }
if ! make -s -f tests/fuzz/fuzz.mk -j"$(nproc)" OUT="$OUT" >"$TMP/build.log" 2>&1; then
  nok "the fuzz targets build (make -f tests/fuzz/fuzz.mk)"; sed 's/^/#   /' "$TMP/build.log" | tail -20; tk_done
fi
targets=$(ls tests/fuzz/fuzz_*.c | sed 's|tests/fuzz/fuzz_||; s|\.c$||' | grep -v '^common$')
ok "$(echo $targets | wc -w) fuzz targets built: $(echo $targets)"
echo "# seed: $SEED (FUZZ_SEED=N or random to change it)"

# Every target has a corpus, and replays it without a crash.
for t in $targets; do
  c=tests/fuzz/corpus/$t
  if [ ! -d "$c" ] || [ -z "$(ls -A "$c")" ]; then nok "$t: has a seed corpus in $c"; continue; fi
  if "$OUT/fuzz_$t" "$c" -runs=0 -rss_limit_mb=2048 >"$TMP/replay_$t.log" 2>&1; then
    ok "$t: replays its corpus ($(ls "$c" | wc -l) inputs)"
  else
    nok "$t: replaying $c crashed"; grep -E 'ERROR|invariant|runtime error|SUMMARY' "$TMP/replay_$t.log" | head -5 | sed 's/^/#   /'
  fi
done

# Short runs, two at a time; the corpus copy grows in $TMP, not in the tree.
run_one() {
  local t=$1 w=$TMP/work_$1
  mkdir -p "$w"; cp tests/fuzz/corpus/"$t"/* "$w"/ 2>/dev/null
  "$OUT/fuzz_$t" "$w" -max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 -timeout=20 $SEEDOPT \
    -artifact_prefix="$ART/$t-" -print_final_stats=1 >"$TMP/run_$t.log" 2>&1
  echo $? >"$TMP/rc_$t"
}
SEEDOPT=${SEEDOPT[*]:-}
export -f run_one; export TMP OUT ART SECONDS_EACH SEEDOPT
printf '%s\n' $targets | xargs -P 2 -I{} bash -c 'run_one {}'
for t in $targets; do
  stats=$(grep -E '^#[0-9]+.*DONE' "$TMP/run_$t.log" | tail -1 | sed -E 's/^#([0-9]+).*cov: ([0-9]+).*corp: ([0-9]+).*/\1 execs, cov \2, corpus \3/')
  if [ "$(cat "$TMP/rc_$t")" = 0 ]; then
    ok "$t: ${SECONDS_EACH}s of fuzzing, no crash ($stats)"
  else
    art=$(grep -oE "Test unit written to [^ ]+" "$TMP/run_$t.log" | head -1 | sed 's/Test unit written to //')
    nok "$t: crashed; input saved as $art (reproduce: $OUT/fuzz_$t $art; once fixed, add it to tests/fuzz/corpus/$t/)"
    grep -E 'ERROR|invariant|runtime error|SUMMARY' "$TMP/run_$t.log" | head -6 | sed 's/^/#   /'
  fi
done
tk_done
