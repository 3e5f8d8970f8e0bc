#!/usr/bin/env bash
# trailkeep benchmarks (`make bench`): one run, one generated data set, every
# system measured on it: trailkeep import vs SQLite vs PostgreSQL COPY (events/s),
# disk bytes per event (trailkeep, raw JSONL, gzip -6, SQLite, PostgreSQL), and
# LookupEvents latency p50/p99 (trailkeep in process vs SQLite, same queries);
# then alert rule throughput, Insights accuracy and trail delivery.
# Raw figures go to bench/work/*.json; bench/RESULTS.md is regenerated from
# them by bench/report.py. Peers in bench/peers/ are compiled here with cc so
# they never depend on trailkeep's modules building.
#
# Environment (all optional):
#   BENCH_EVENTS=1000000  events to generate       BENCH_DAYS=30   days they span
#   BENCH_QUERIES=1000    queries per (attribute, window) in the lookup test
#   BENCH_SEED=42         generator + query seed   BENCH_BIG=1     also the 10M lookup run
#   BENCH_START=2026-10-01  first day of the data (fixed, so runs are byte-identical)
#   BENCH_GEN_ARGS="--accounts 8 --users 16"  more `trailkeep gen` options
#   BENCH_SKIP=pg,sqlite  sections to leave out (pg, sqlite, gzip, parse, http, rules, insight, trail, alert)
#   BENCH_RULES_EVENTS=300000  events per bench_rules run
#   BENCH_INSIGHT_SEEDS=6 BENCH_INSIGHT_DAYS=28 BENCH_INSIGHT_PER_DAY=20000  bench_insight size
#   TRAIL_BENCH_EVENTS=100000 TRAIL_BENCH_S3_EVENTS=50000 TRAIL_BENCH_RATE=500
#   TRAIL_BENCH_LAT_EVENTS=5000 TRAIL_BENCH_S3=1  trail delivery (bench/trail_bench.sh)
#   BENCH_BUILD=build/release  where trailkeep and bench_* binaries are
#   BENCH_WORK=bench/work      scratch + raw results   BENCH_RESULTS=bench/RESULTS.md
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BENCH="$ROOT/bench"
WORK=$(mkdir -p "${BENCH_WORK:-$BENCH/work}" && cd "${BENCH_WORK:-$BENCH/work}" && pwd)
REL=$(cd "${BENCH_BUILD:-$ROOT/build/release}" 2>/dev/null && pwd || echo "${BENCH_BUILD:-$ROOT/build/release}")
EVENTS=${BENCH_EVENTS:-1000000}
DAYS=${BENCH_DAYS:-30}
NQ=${BENCH_QUERIES:-1000}
SEED=${BENCH_SEED:-42}
START=${BENCH_START:-2026-10-01}
GEN_ARGS=${BENCH_GEN_ARGS:---accounts 8 --users 16}
BIG=${BENCH_BIG:-0}
BIG_EVENTS=${BENCH_BIG_EVENTS:-10000000}
SKIP=",${BENCH_SKIP:-},"
RESULTS=${BENCH_RESULTS:-$BENCH/RESULTS.md}
PGBIN=${BENCH_PGBIN:-/usr/lib/postgresql/15/bin}
PY=/usr/bin/python3
SHARED=${TK_SHARED:-/work/shared}
RULES_EVENTS=${BENCH_RULES_EVENTS:-300000}
INSIGHT_SEEDS=${BENCH_INSIGHT_SEEDS:-6}
INSIGHT_DAYS=${BENCH_INSIGHT_DAYS:-28}
INSIGHT_PER_DAY=${BENCH_INSIGHT_PER_DAY:-20000}
LOGS="$WORK/logs"
TK="$REL/trailkeep"

die() { echo "bench: $*" >&2; exit 1; }
say() { printf '[bench %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
skipped() { [[ "$SKIP" == *",$1,"* ]]; }
FAILED=()
fail_step() { FAILED+=("$1"); say "FAILED: $1 (log: $2)"; }
# Ctrl-C reaches the children too; those that handle it (psql) make bash skip
# its INT trap, so a step that died of SIGINT/SIGTERM stops the run here.
stop_if_interrupted() { case "$1" in 130|143) die "interrupted";; esac; }

# ---- checks: say exactly what is missing and how to get it ------------------
need_tool() { command -v "$1" >/dev/null 2>&1 || die "'$1' not found: $2"; }
need_tool cc "install build-essential (or run ./scripts/setup)"
need_tool c++ "install g++ (or run ./scripts/setup)"
need_tool gzip "install gzip"
[ -x "$PY" ] || die "$PY not found: install python3 (Debian)"
[ -f /usr/include/simdjson.h ] || die "simdjson headers missing: apt-get install libsimdjson-dev"
[ -f /usr/include/sqlite3.h ] || die "SQLite headers missing: apt-get install libsqlite3-dev"
[ -x "$TK" ] || die "$TK not found: run 'make build' (or set BENCH_BUILD to a release build)"
[ -x "$REL/bench_lookup" ] || die "$REL/bench_lookup not found: run 'make build' (bench/bench_lookup.c)"
if ! skipped pg; then
  [ -x "$PGBIN/initdb" ] && [ -x "$PGBIN/pg_ctl" ] ||
    die "PostgreSQL 15 server binaries not in $PGBIN: apt-get install postgresql (or BENCH_SKIP=pg)"
  need_tool psql "apt-get install postgresql-client (or BENCH_SKIP=pg)"
fi
"$TK" gen --help >/dev/null 2>&1 || die "'trailkeep gen' is not available in $TK"
"$TK" import --help >/dev/null 2>&1 || die "'trailkeep import' is not available in $TK"
case "$EVENTS" in ''|*[!0-9]*) die "BENCH_EVENTS must be a number, got '$EVENTS'";; esac
case "$BIG_EVENTS" in ''|*[!0-9]*) die "BENCH_BIG_EVENTS must be a number, got '$BIG_EVENTS'";; esac
# Disk needed at the peak: the JSON (~1.2 KB/event), SQLite (~2.1 KB/event),
# PostgreSQL (~2.2 KB/event, removed before the lookups), trailkeep (small).
need_kb=$(( EVENTS * 6 ))
[ "$BIG" = 1 ] && need_kb=$(( need_kb + BIG_EVENTS * 4 ))
avail_kb=$(df -Pk "$WORK" | awk 'NR==2 {print $4}')
[ "$avail_kb" -ge "$need_kb" ] ||
  die "not enough free disk under $WORK: ~$((need_kb / 1048576 + 1)) GiB needed, $((avail_kb / 1048576)) GiB free (set BENCH_WORK elsewhere or lower BENCH_EVENTS)"

rm -rf "$LOGS" "$WORK"/*.json "$WORK"/*.txt "$WORK"/*.md "$WORK"/*queries.tsv
mkdir -p "$LOGS"
echo "{\"events\":$EVENTS,\"days\":$DAYS,\"start\":\"$START\",\"gen_args\":\"$GEN_ARGS\",\"queries\":$NQ,\"seed\":$SEED,\"big\":$BIG,\"skip\":\"${BENCH_SKIP:-}\",\"started\":\"$(date -u +%FT%TZ)\"}" >"$WORK/params.json"

# ---- cleanup: PostgreSQL is stopped whatever happens -----------------------
PG_STARTED=0
PGDATA="$WORK/pg/data"
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() {
  if [ "$PG_STARTED" = 1 ]; then
    as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -m fast -w stop >>"$LOGS/pg_server.log" 2>&1 ||
      echo "bench: could not stop PostgreSQL in $PGDATA: stop it with pg_ctl -D $PGDATA stop" >&2
    PG_STARTED=0
  fi
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM

# ---- peers -------------------------------------------------------------------
say "building peers (bench/peers -> $WORK/peers)"
PB="$WORK/peers"; mkdir -p "$PB"
CF=(-O2 -g -Wall -Wextra -Werror -D_DEFAULT_SOURCE -I"$BENCH/peers")
{
  c++ "${CF[@]}" -std=c++17 -c "$BENCH/peers/extract.cpp" -o "$PB/extract.o" &&
  cc "${CF[@]}" -std=c11 -c "$BENCH/peers/lines.c" -o "$PB/lines.o" &&
  cc "${CF[@]}" -std=c11 "$BENCH/peers/sqlite_load.c" "$PB/extract.o" "$PB/lines.o" -lsimdjson -lsqlite3 -lstdc++ -o "$PB/sqlite_load" &&
  cc "${CF[@]}" -std=c11 "$BENCH/peers/pg_copy_text.c" "$PB/extract.o" "$PB/lines.o" -lsimdjson -lstdc++ -o "$PB/pg_copy_text" &&
  cc "${CF[@]}" -std=c11 "$BENCH/peers/sqlite_lookup.c" -lsqlite3 -o "$PB/sqlite_lookup" &&
  cc "${CF[@]}" -std=c11 "$BENCH/peers/runstat.c" -o "$PB/runstat"
} >"$LOGS/peers_build.log" 2>&1 || { cat "$LOGS/peers_build.log" >&2; die "building the peers failed"; }

# ---- machine facts -------------------------------------------------------------
machine_facts() {
  local cpu mem fs dsync commit dirty
  cpu=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)
  mem=$(awk '/MemTotal/ {printf "%.1f", $2/1048576}' /proc/meminfo)
  fs=$(df -PhT "$WORK" | awk 'NR==2 {print $2" on "$1", "$3" total, "$5" free"}')
  # Synchronous 4 KiB writes: what an fsync costs here (bounds every durable import).
  dsync=$(dd if=/dev/zero of="$WORK/dsync.test" bs=4k count=200 oflag=dsync 2>&1 | awk '/copied/ {print $(NF-1)" "$NF}')
  rm -f "$WORK/dsync.test"
  commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
  dirty=$(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null | grep -c . || true)
  untracked=$(git -C "$ROOT" status --porcelain 2>/dev/null | grep -c '^??' || true)
  cat >"$WORK/machine.json" <<EOF
{"nproc":$(nproc),"cpu":"$cpu","mem_gib":$mem,"disk":"$fs","dsync_4k":"$dsync","kernel":"$(uname -r)",
 "date":"$(date -u +%FT%TZ)","loadavg_start":"$(cut -d' ' -f1-3 /proc/loadavg)","commit":"$commit","modified_files":$dirty,"untracked_files":$untracked,
 "cc":"$(cc --version | head -1)","sqlite":"$(sqlite3 --version 2>/dev/null | cut -d' ' -f1)",
 "postgres":"$("$PGBIN/postgres" --version 2>/dev/null | awk '{print $3}')","simdjson":"$(dpkg-query -W -f='${Version}' libsimdjson-dev 2>/dev/null)"}
EOF
}
machine_facts

# timed NAME cmd...: runs cmd under runstat (peers/runstat.c), which writes
# $WORK/NAME.time.json {seconds, user, sys, max_rss_kib}; stdout to $LOGS/NAME.out.
timed() {
  local name=$1; shift
  "$PB/runstat" "$WORK/$name.time.json" "$@" >"$LOGS/$name.out" 2>"$LOGS/$name.log"
  local rc=$?
  stop_if_interrupted "$rc"
  return "$rc"
}
warm() { cat "$1" >/dev/null; }   # same page-cache state for every importer
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", b - a}'; }
bytes_of() { du -sb --apparent-size "$1" | cut -f1; }

# run_dataset TAG N_EVENTS: generate, import into every system, measure.
# TAG "" is the main run; "big_" the 10M lookup run (trailkeep + SQLite only).
run_dataset() {
  local tag=$1 n=$2
  local data="$WORK/${tag}events.jsonl" tkdata="$WORK/${tag}tk-data" db="$WORK/${tag}sqlite.db"

  say "${tag}gen: $n events over $DAYS days -> $data"
  # shellcheck disable=SC2086 # GEN_ARGS is a list of options
  if ! timed "${tag}gen" "$TK" gen --events "$n" --days "$DAYS" --start "$START" --seed "$SEED" $GEN_ARGS --out "$data" --stats; then
    fail_step "${tag}gen" "$LOGS/${tag}gen.log"; return 1
  fi
  local lines bytes
  lines=$(wc -l <"$data"); bytes=$(stat -c %s "$data")
  echo "{\"events\":$lines,\"bytes\":$bytes}" >"$WORK/${tag}gen.json"

  if [ -z "$tag" ] && [ -x "$REL/bench_parse" ] && ! skipped parse; then
    # bench_parse (src/event's own benchmark) generates its events in memory.
    say "parse: bench_parse 200000 3 (tk_event_parse, one core)"
    "$REL/bench_parse" 200000 3 >"$WORK/parse.txt" 2>&1 || { stop_if_interrupted $?; mv "$WORK/parse.txt" "$LOGS/parse.log"; fail_step parse "$LOGS/parse.log"; }
  fi

  say "${tag}import: trailkeep import (fsync on) -> $tkdata"
  rm -rf "$tkdata"; warm "$data"
  if timed "${tag}import_tk" "$TK" import --data "$tkdata" --quiet --output json "$data"; then
    tail -1 "$LOGS/${tag}import_tk.out" >"$WORK/${tag}import_tk.json"
    echo "{\"disk_bytes\":$(bytes_of "$tkdata"),\"seg_bytes\":$(bytes_of "$tkdata/seg" 2>/dev/null || echo 0),\"wal_bytes\":$(bytes_of "$tkdata/wal" 2>/dev/null || echo 0),\"files\":$(find "$tkdata" -type f | wc -l)}" >"$WORK/${tag}disk_tk.json"
  else
    fail_step "${tag}import_tk" "$LOGS/${tag}import_tk.log"
  fi

  if ! skipped sqlite; then
    say "${tag}import: SQLite (WAL, synchronous=NORMAL, 10k rows/txn, 6 indexes${tag:+ built after the rows}) -> $db"
    warm "$data"
    # The big run only needs SQLite for lookups: rows first, indexes after.
    local idx_after=(); [ -n "$tag" ] && idx_after=(--index-after)
    if timed "${tag}import_sqlite" "$PB/sqlite_load" "${idx_after[@]}" "$data" "$db"; then
      cp "$LOGS/${tag}import_sqlite.out" "$WORK/${tag}import_sqlite.json"
    else
      fail_step "${tag}import_sqlite" "$LOGS/${tag}import_sqlite.log"
    fi
  fi

  if [ -z "$tag" ] && ! skipped pg; then pg_import "$data"; fi

  if [ -z "$tag" ] && ! skipped gzip; then
    say "gzip -6 of the JSON Lines"
    local t0 t1 gz
    t0=$(date +%s.%N); gz=$(gzip -6 -c "$data" | wc -c); t1=$(date +%s.%N)
    echo "{\"bytes\":$gz,\"seconds\":$(elapsed "$t0" "$t1")}" >"$WORK/gzip.json"
  fi

  if [ -f "$db" ] && [ -f "$WORK/${tag}import_sqlite.json" ]; then
    say "${tag}lookup: $NQ queries per (attribute, window), drawn from the data"
    "$PB/sqlite_lookup" pick "$db" "$WORK/${tag}queries.tsv" "$NQ" "$SEED" 2>"$LOGS/${tag}pick.log"
    local pick_rc=$?
    stop_if_interrupted "$pick_rc"
    if [ "$pick_rc" -eq 0 ]; then
      "$PB/sqlite_lookup" run "$db" "$WORK/${tag}queries.tsv" "$WORK/${tag}counts_sqlite.txt" \
        >"$WORK/${tag}lookup_sqlite.json" 2>"$LOGS/${tag}lookup_sqlite.log" ||
        { stop_if_interrupted $?; rm -f "$WORK/${tag}lookup_sqlite.json"; fail_step "${tag}lookup_sqlite" "$LOGS/${tag}lookup_sqlite.log"; }
      if [ -f "$WORK/${tag}disk_tk.json" ]; then
        if "$REL/bench_lookup" "$tkdata" "$WORK/${tag}queries.tsv" "$WORK/${tag}counts_tk.txt" \
             >"$LOGS/${tag}lookup_tk.out" 2>"$LOGS/${tag}lookup_tk.log"; then
          sed -n 1p "$LOGS/${tag}lookup_tk.out" >"$WORK/${tag}lookup_tk.json"
          sed -n 2p "$LOGS/${tag}lookup_tk.out" >"$WORK/${tag}lookup_tk_api.json"
        else
          stop_if_interrupted $?
          fail_step "${tag}lookup_tk" "$LOGS/${tag}lookup_tk.log"
        fi
      fi
      if [ -f "$WORK/${tag}counts_tk.txt" ] && [ -f "$WORK/${tag}counts_sqlite.txt" ]; then
        # Result counts per query must agree. SQLite's exact match on the
        # flattened column finds a subset of what trailkeep's per-name terms
        # find, so "trailkeep fewer" is always a bug, "more" may not be.
        paste <(cut -f1 "$WORK/${tag}queries.tsv") "$WORK/${tag}counts_tk.txt" "$WORK/${tag}counts_sqlite.txt" |
          awk 'function obj(m,   k, sep) { sep = ""; printf "{"; for (k in m) { printf "%s\"%s\":%d", sep, k, m[k]; sep = "," } printf "}" }
               { n++; if ($2 < $3) { fewer[$1]++; bad++ } else if ($2 > $3) { more[$1]++; bad++ } }
               END { printf "{\"queries\":%d,\"count_mismatches\":%d,\"tk_fewer\":", n, bad
                     obj(fewer); printf ",\"tk_more\":"; obj(more); print "}" }' >"$WORK/${tag}lookup_check.json"
      fi
    else
      fail_step "${tag}pick" "$LOGS/${tag}pick.log"
    fi
  else
    say "${tag}lookup: skipped (the query set is drawn from the SQLite load)"
  fi
  return 0
}

# CPU clock ticks used so far by the PostgreSQL server: the postmaster, its
# live children (checkpointer, WAL writer, ...) and its exited children (the
# COPY backend, counted in the postmaster's cutime/cstime once reaped).
pg_cpu_ticks() {
  local pm pid total=0 t
  pm=$(head -1 "$PGDATA/postmaster.pid" 2>/dev/null) || { echo 0; return; }
  for pid in "$pm" $(pgrep -P "$pm"); do
    # fields after "(comm)": utime stime cutime cstime are 14-17 of the full line
    t=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | awk '{print $12 + $13 + $14 + $15}') || t=0
    total=$((total + ${t:-0}))
  done
  echo "$total"
}

# pg_import FILE: a private PostgreSQL 15 server on a loopback port, a table
# with the same columns and indexes, then COPY fed by pg_copy_text (same
# simdjson extraction as the SQLite loader). Timed: the whole pipe, from
# reading the JSON to COPY's commit; index maintenance included.
pg_import() {
  local data=$1 port t0 t1
  say "import: PostgreSQL COPY (server under $WORK/pg)"
  rm -rf "$WORK/pg"; mkdir -p "$PGDATA" "$WORK/pg/sock"
  [ "$(id -u)" -eq 0 ] && chown -R postgres "$WORK/pg"
  if ! as_pg "$PGBIN/initdb" -D "$PGDATA" -U postgres --auth=trust -E UTF8 --locale=C >"$LOGS/pg_initdb.log" 2>&1; then
    fail_step pg_initdb "$LOGS/pg_initdb.log"; return 1
  fi
  port=$($PY -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
  # Bulk-load friendly, durable settings (fsync and full_page_writes stay on).
  if ! as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -l "$WORK/pg/server.log" -w -t 60 \
       -o "-p $port -k $WORK/pg/sock -c listen_addresses=127.0.0.1 -c shared_buffers=1GB -c max_wal_size=8GB -c checkpoint_timeout=30min -c maintenance_work_mem=512MB" \
       start >"$LOGS/pg_server.log" 2>&1; then
    cat "$WORK/pg/server.log" >>"$LOGS/pg_server.log" 2>/dev/null
    fail_step pg_start "$LOGS/pg_server.log"; return 1
  fi
  PG_STARTED=1
  local PSQL=(psql -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1)
  if ! "${PSQL[@]}" >"$LOGS/pg_schema.log" 2>&1 <<'EOF'
CREATE TABLE events(time bigint NOT NULL, account text NOT NULL, event_id text NOT NULL,
  service_name text, event_name text, user_name text, resource_type text, resource_name text,
  event_rw text, access_key_id text, source_ip text, event_type text, role_name text,
  event_source text, sensitive boolean, json json NOT NULL);
CREATE UNIQUE INDEX ev_id ON events(account, event_id);
CREATE INDEX ev_name ON events(account, event_name, time);
CREATE INDEX ev_user ON events(account, user_name, time);
CREATE INDEX ev_res ON events(account, resource_name, time);
CREATE INDEX ev_ak ON events(account, access_key_id, time);
CREATE INDEX ev_time ON events(account, time);
EOF
  then fail_step pg_schema "$LOGS/pg_schema.log"; cleanup; return 1; fi
  warm "$data"
  local cpu0 cpu1
  cpu0=$(pg_cpu_ticks)
  t0=$(date +%s.%N)
  "$PB/runstat" "$WORK/pg_feed.json" "$PB/pg_copy_text" "$data" 2>"$LOGS/pg_copy_text.log" |
    "${PSQL[@]}" -c "COPY events FROM STDIN" >"$LOGS/import_pg.log" 2>&1
  local st=("${PIPESTATUS[@]}")
  stop_if_interrupted "${st[0]}"
  if [ "${st[0]}" -eq 0 ] && [ "${st[1]}" -eq 0 ]; then
    t1=$(date +%s.%N)
    sleep 0.5   # let the postmaster reap the COPY backend so its CPU is counted
    cpu1=$(pg_cpu_ticks)
    local rows size cpu
    # CPU of the whole pipe: the feeder (extraction) + the server's processes.
    cpu=$("$PY" -c 'import json,sys; f=json.load(open(sys.argv[1])); print("%.2f" % (f["user"] + f["sys"] + (int(sys.argv[3]) - int(sys.argv[2])) / int(sys.argv[4])))' \
      "$WORK/pg_feed.json" "$cpu0" "$cpu1" "$(getconf CLK_TCK)")
    rm -f "$WORK/pg_feed.json"
    rows=$("${PSQL[@]}" -At -c "SELECT count(*) FROM events")
    "${PSQL[@]}" -c "CHECKPOINT" >/dev/null 2>&1
    size=$("${PSQL[@]}" -At -c "SELECT pg_total_relation_size('events')")
    echo "{\"events\":$rows,\"seconds\":$(elapsed "$t0" "$t1"),\"cpu_seconds\":$cpu,\"disk_bytes\":$size,\"port\":$port}" >"$WORK/import_pg.json"
  else
    cat "$LOGS/pg_copy_text.log" >>"$LOGS/import_pg.log"
    echo "pipe status: ${st[*]} (pg_copy_text, psql)" >>"$LOGS/import_pg.log"
    fail_step import_pg "$LOGS/import_pg.log"
  fi
  cleanup
  rm -rf "$WORK/pg"
}

run_dataset "" "$EVENTS"

# HTTP ingest and lookup through `trailkeep serve` (bench/http_bench.sh, owned
# by src/http): its own data set, its table copied into RESULTS.md.
if [ -f "$BENCH/http_bench.sh" ] && ! skipped http; then
  say "http: bench/http_bench.sh (serve + wrk)"
  BENCH_BUILD="$REL" BENCH_WORK="$WORK" bash "$BENCH/http_bench.sh" >"$WORK/http.md" 2>"$LOGS/http.log" ||
    { stop_if_interrupted $?; rm -f "$WORK/http.md" "$WORK/http.json"; fail_step http "$LOGS/http.log"; }
fi
# Alert rules (bench/bench_rules.c, owned by src/alert): events/s on one core
# with no rules, the templates, the Sigma rules, and all of them; both shapes.
if ! skipped rules; then
  if [ -x "$REL/bench_rules" ]; then
    for shape in actiontrail cloudtrail; do
      say "rules: bench_rules $RULES_EVENTS 3 $shape (every template + the Sigma rules of $SHARED/sigma)"
      if timed "rules_$shape" env TK_SHARED="$SHARED" "$REL/bench_rules" "$RULES_EVENTS" 3 "$shape"; then
        cp "$LOGS/rules_$shape.out" "$WORK/rules_$shape.txt"
      else
        fail_step "rules_$shape" "$LOGS/rules_$shape.log"
      fi
    done
  else
    say "rules: $REL/bench_rules not built, skipped"
  fi
fi

# Insights accuracy (bench/bench_insight.c, owned by src/insight): Markdown
# tables as it prints them, over several seeds of generated weeks.
if ! skipped insight; then
  if [ -x "$REL/bench_insight" ]; then
    say "insight: bench_insight --seeds $INSIGHT_SEEDS --days $INSIGHT_DAYS --per-day $INSIGHT_PER_DAY --accounts 8"
    if timed insight "$REL/bench_insight" --seeds "$INSIGHT_SEEDS" --days "$INSIGHT_DAYS" --per-day "$INSIGHT_PER_DAY" --accounts 8; then
      cp "$LOGS/insight.out" "$WORK/insight.md"
      echo "{\"seeds\":$INSIGHT_SEEDS,\"days\":$INSIGHT_DAYS,\"per_day\":$INSIGHT_PER_DAY,\"accounts\":8}" >"$WORK/insight.json"
    else
      fail_step insight "$LOGS/insight.log"
    fi
  else
    say "insight: $REL/bench_insight not built, skipped"
  fi
fi

# Trail delivery (bench/trail_bench.sh): folder and S3 throughput of
# `trails deliver --once`, end-to-end latency through `serve`.
if ! skipped trail; then
  say "trail: bench/trail_bench.sh (folder, s3rver, latency)"
  BENCH_BUILD="$REL" BENCH_WORK="$WORK" bash "$BENCH/trail_bench.sh" >"$LOGS/trail.out" 2>"$LOGS/trail.log" ||
    { stop_if_interrupted $?; rm -f "$WORK/trail.json"; fail_step trail "$LOGS/trail.log"; }
fi

# Alerting inside serve (bench/alert_latency.sh): ingest -> webhook latency,
# and HTTP ingest with every template + Sigma rule stored vs none.
if ! skipped alert; then
  say "alert: bench/alert_latency.sh (webhook latency, ingest with/without rules)"
  BENCH_BUILD="$REL" BENCH_WORK="$WORK" bash "$BENCH/alert_latency.sh" >"$WORK/alert.md" 2>"$LOGS/alert.log" ||
    { stop_if_interrupted $?; rm -f "$WORK/alert.md" "$WORK/alert.json"; fail_step alert "$LOGS/alert.log"; }
fi

if [ "$BIG" = 1 ]; then
  run_dataset big_ "$BIG_EVENTS"
fi

# Large scratch files are not kept between runs (the raw figures are).
[ -n "${BENCH_KEEP:-}" ] || rm -rf "$WORK"/events.jsonl "$WORK"/big_events.jsonl "$WORK"/*sqlite.db "$WORK"/*tk-data
say "writing $RESULTS"
echo "{\"loadavg_end\":\"$(cut -d' ' -f1-3 /proc/loadavg)\",\"failed\":\"${FAILED[*]:-}\",\"finished\":\"$(date -u +%FT%TZ)\"}" >"$WORK/status.json"
"$PY" "$BENCH/report.py" "$WORK" "$RESULTS" || die "report.py failed"
cat "$RESULTS"
[ ${#FAILED[@]} -eq 0 ] || die "failed steps: ${FAILED[*]} (logs in $LOGS)"
