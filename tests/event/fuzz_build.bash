#!/usr/bin/env bash
# Builds the libFuzzer target for src/event into build/fuzz/fuzz_parse (clang
# + ASan/UBSan) and seeds a corpus from the stratus logs. Named .bash so
# tests/run.sh (which runs tests/*/*.sh as TAP scripts) leaves it alone; run
# it by hand:
#   tests/event/fuzz_build.bash && build/fuzz/fuzz_parse build/fuzz/corpus -max_total_time=120
set -eu
cd "$(dirname "$0")/../.."
out=build/fuzz
mkdir -p "$out/obj" "$out/corpus"
flags="-g -O1 -fsanitize=fuzzer-no-link,address,undefined -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Isrc"
for f in src/event/*.c src/base/*.c; do
  clang -std=c11 $flags -c "$f" -o "$out/obj/$(basename "$f" .c).o"
done
clang++ -std=c++17 $flags -c src/event/json_simd.cpp -o "$out/obj/json_simd.o"
clang -std=c11 $flags -c tests/event/fuzz_parse.c -o "$out/obj/fuzz_parse.o"
clang++ -fsanitize=fuzzer,address,undefined "$out"/obj/*.o -o "$out/fuzz_parse" \
  -lsimdjson -ldeflate -lz -lcrypto -lxxhash -lm
shared=${TK_SHARED:-$(cd .. && pwd)/shared}
for f in "$shared"/datasets/stratus-detonation-logs/*.json; do
  head -c 4096 "$f" >"$out/corpus/$(basename "$f")"
done
printf '{"eventTime":"2026-11-24T10:00:00Z","recipientAccountId":"1","userIdentity":{"type":"assumed-role","arn":"acs:ram::1:role/r"},"referencedResources":{"T":["a","b"]},"resourceName":"a,b;c"}\n' >"$out/corpus/at.jsonl"
echo "built $out/fuzz_parse; corpus in $out/corpus"
