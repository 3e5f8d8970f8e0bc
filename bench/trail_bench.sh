#!/usr/bin/env bash
# trailkeep benchmark: trail delivery (src/trail), run by bench/run.sh.
# 1. Throughput into a folder trail: generated events imported into a fresh
#    data dir with a logging folder trail, then `trails deliver --once` timed.
# 2. The same into an S3 bucket served by s3rver on loopback (skipped when
#    s3rver is not installed or TRAIL_BENCH_S3=0).
# 3. End-to-end latency: `trailkeep serve --trail-file-age 1` with a folder
#    trail, a Python client posting events at a steady rate and watching the
#    folder; latency = file visible (gzip named in the folder) - POST sent.
# Writes $WORK/trail.json (raw figures, read by bench/report.py).
# Environment: TRAIL_BENCH_EVENTS=100000 (folder), TRAIL_BENCH_S3_EVENTS=50000,
#   TRAIL_BENCH_RATE=500 events/s and TRAIL_BENCH_LAT_EVENTS=5000 (latency),
#   TRAIL_BENCH_S3=1, BENCH_BUILD, BENCH_WORK as for run.sh.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
REL=${BENCH_BUILD:-$ROOT/build/release}
WORK=$(mkdir -p "${BENCH_WORK:-$ROOT/bench/work}" && cd "${BENCH_WORK:-$ROOT/bench/work}" && pwd)
TK=$REL/trailkeep
N=${TRAIL_BENCH_EVENTS:-100000}
N_S3=${TRAIL_BENCH_S3_EVENTS:-50000}
RATE=${TRAIL_BENCH_RATE:-500}
N_LAT=${TRAIL_BENCH_LAT_EVENTS:-5000}
DO_S3=${TRAIL_BENCH_S3:-1}
PY=/usr/bin/python3
S3RVER=$ROOT/build/npm/node_modules/.bin/s3rver
AWS=/usr/bin/aws
T=$WORK/trail
say() { printf '[trail-bench %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { echo "trail_bench: $*" >&2; exit 1; }
[ -x "$TK" ] || die "$TK not found: run 'make build'"
[ -x "$PY" ] || die "$PY not found: install python3 (Debian)"

rm -rf "$T" && mkdir -p "$T"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done; PIDS=(); }
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM
free_port() { $PY -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

# One account, so a single-account trail delivers every generated event.
say "gen: $N events, 1 account"
"$TK" gen --events "$N" --days 1 --start 2026-11-01 --seed 7 --accounts 1 --out "$T/events.jsonl" 2>"$T/gen.err" ||
  die "gen failed: $(tail -3 "$T/gen.err")"
ACC=$($PY -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["recipientAccountId"])' "$T/events.jsonl")
head -n "$N_S3" "$T/events.jsonl" >"$T/events_s3.jsonl"
BYTES=$(stat -c %s "$T/events.jsonl")

# setup_trail DATA NAME create-args...: account, trail, StartLogging.
setup_trail() {
  local d=$1 name=$2; shift 2
  "$TK" accounts create "$ACC" --data "$d" >/dev/null 2>&1
  # Folders under $T and s3rver on loopback: the operator's policy allows both.
  "$TK" trails create "$name" --data "$d" --account "$ACC" --event-rw All "$@" \
    --trail-folder-root "$T" --allow-private-endpoints >"$d.create.log" 2>&1 ||
    die "trails create $name failed: $(tail -3 "$d.create.log")"
  "$TK" trails start "$name" --data "$d" --account "$ACC" >/dev/null 2>&1 || die "trails start $name failed"
}

# time_deliver DATA NAME FILE OUTFILES_DIR: import FILE, then time deliver --once;
# prints {"events":..,"seconds":..,"cpu_seconds":..,"files":..,"delivered":..}.
time_deliver() {
  local d=$1 name=$2 file=$3 tf
  "$TK" import --data "$d" --quiet "$file" >"$d.import.log" 2>&1 || die "import failed: $(tail -3 "$d.import.log")"
  tf=$T/$name.time
  # bash's time: wall, user, system seconds of deliver --once alone.
  { TIMEFORMAT='%R %U %S'; time "$TK" trails deliver --once --data "$d" --account "$ACC" --trail-folder-root "$T" --allow-private-endpoints >"$d.deliver.log" 2>&1; } 2>"$tf" ||
    die "deliver --once ($name) failed: $(tail -3 "$d.deliver.log")"
  "$TK" trails status "$name" --data "$d" --account "$ACC" --output json >"$d.status.json" 2>/dev/null
  $PY - "$(wc -l <"$file")" "$tf" "$d.status.json" <<'EOF'
import json, sys
n = int(sys.argv[1]); wall, user, sys_ = map(float, open(sys.argv[2]).read().split())
st = json.load(open(sys.argv[3]))
print(json.dumps({"events": n, "seconds": wall, "cpu_seconds": user + sys_,
                  "files": st.get("DeliveredFiles"), "delivered": st.get("DeliveredEvents"),
                  "backlog": st.get("Backlog"), "error": st.get("LatestDeliveryError")}))
EOF
}

say "folder: import $N events, time trails deliver --once"
setup_trail "$T/fdata" bench-folder --dest folder --opt "path=$T/fout"
FOLDER=$(time_deliver "$T/fdata" bench-folder "$T/events.jsonl")
FOLDER_BYTES=$(du -sb --apparent-size "$T/fout" | cut -f1)
rm -rf "$T/fdata" "$T/fout"

S3=null
if [ "$DO_S3" = 1 ] && [ -x "$S3RVER" ]; then
  say "s3: s3rver on loopback, import $N_S3 events, time trails deliver --once"
  S3PORT=$(free_port)
  mkdir -p "$T/s3"
  "$S3RVER" -d "$T/s3" -a 127.0.0.1 -p "$S3PORT" --configure-bucket bench-logs --silent >"$T/s3.log" 2>&1 &
  PIDS+=($!)
  up=0
  for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$S3PORT/" && { up=1; break; }; sleep 0.1; done
  if [ "$up" = 1 ]; then
    export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER
    setup_trail "$T/sdata" bench-s3 --oss-bucket bench-logs --oss-prefix bench \
      --opt "endpoint=http://127.0.0.1:$S3PORT" --opt path_style=true --opt region=us-east-1
    S3=$(time_deliver "$T/sdata" bench-s3 "$T/events_s3.jsonl")
  else
    say "s3rver did not start: $(tail -3 "$T/s3.log")"
  fi
  cleanup
  rm -rf "$T/sdata" "$T/s3"
fi

say "latency: serve --trail-file-age 1, $N_LAT events at $RATE events/s over HTTP"
D=$T/ldata
setup_trail "$D" bench-latency --dest folder --opt "path=$T/lout"
KEYOUT=$("$TK" keys create --data "$D" --account "$ACC" --role writer --name bench 2>&1)
KEY_ID=$(printf '%s\n' "$KEYOUT" | grep -oE '\bTK[A-Z0-9]{18}\b' | head -1)
KEY_SECRET=$(printf '%s\n' "$KEYOUT" | grep -oE '\b[A-Za-z0-9]{40}\b' | grep -v "^$KEY_ID" | head -1)
[ -n "$KEY_ID" ] && [ -n "$KEY_SECRET" ] || die "keys create failed: $KEYOUT"
PORT=$(free_port)
"$TK" serve --data "$D" --listen "127.0.0.1:$PORT" --access-log off --trail-file-age 1 --trail-folder-root "$T" >"$D.out" 2>"$D.err" &
SRV=$!
PIDS+=("$SRV")
for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT/healthz" && break; sleep 0.1; done
LAT=$($PY "$ROOT/bench/trail_latency.py" "http://127.0.0.1:$PORT" "$KEY_ID:$KEY_SECRET" "$ACC" "$T/lout" "$N_LAT" "$RATE" 2>"$T/latency.err") ||
  { say "latency client failed: $(tail -3 "$T/latency.err")"; LAT=null; }
cleanup
rm -rf "$D" "$T/lout" "$T/events.jsonl" "$T/events_s3.jsonl"

cat >"$WORK/trail.json" <<EOF
{"account":"$ACC","events":$N,"bytes":$BYTES,"folder":$FOLDER,"folder_bytes":$FOLDER_BYTES,"s3":$S3,"latency":$LAT}
EOF
cat "$WORK/trail.json"
